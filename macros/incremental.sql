{#- `replace_partitions`: an incremental strategy that replaces whole partitions. Every partition (the
    distinct values of the model's `partition_columns`, e.g. district_id + school_year) present in tonight's
    new rows is deleted from the mart and inserted again. A set-based delete, unlike delete+insert with a
    non-unique key, which joins every old row to every new row of its partition. -#}
{% macro get_incremental_replace_partitions_sql(arg_dict) -%}
    {%- set partition_columns = config.get('partition_columns') -%}
    {%- if not partition_columns -%}
        {{ exceptions.raise_compiler_error("replace_partitions needs the partition_columns config") }}
    {%- endif -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where ({{ partition_columns | join(', ') }}) in (
        select distinct {{ partition_columns | join(', ') }} from {{ source }}
    );
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
{%- endmacro %}

{#- For a model built from a year-scoped mart (fct_student_teachers from fct_roster, the attendance counts
    from fct_attendance): `where` the upstream rows are in the school years (district_id, school_year) whose
    records moved tonight: the night `records_model` shows is the run date (its model group refreshed and the
    file came), or the district's school year was decided tonight; from the newest year already built on, so the
    year that just ended is rebuilt once more on the rollover night. Nothing on a full refresh (every partition). -#}
{% macro partitions_to_build_filter(alias, records_model) -%}
    {%- do ref('rec_nights') -%}
    {%- do ref('int_district_school_years') -%}
    {%- if is_incremental() %}
        where ({{ alias }}.district_id, {{ alias }}.school_year) in (
            select
                nights.district_id,
                nights.school_year
            from {{ ref('rec_nights') }} as nights
            left join {{ ref('int_district_school_years') }} as district_school_years
                on nights.district_id = district_school_years.district_id
            where
                nights.records_model = '{{ records_model }}'
                and (nights.as_of_date = {{ run_date() }} or district_school_years.as_of_date = {{ run_date() }})
                and nights.school_year >= coalesce((
                    select max(built.school_year)
                    from {{ this }} as built
                    where built.district_id = nights.district_id
                ), 0)
        )
    {%- endif %}
{%- endmacro %}

{#- The config of a year-scoped model rebuilt per partition (district_id, school_year) by replace_partitions,
    with an index on the partition columns: the partitions replace_partitions deletes, the newest built year
    partitions_to_build_filter looks up, and what BI filters by. -#}
{% macro year_partitioned_config() -%}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='replace_partitions',
        partition_columns=['district_id', 'school_year'],
        indexes=[{'columns': ['district_id', 'school_year']}],
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#- `replace_records`: dbt's delete+insert for the marts built from the records layer. The model's rows
    replace the mart's rows of their `unique_key`; a row without a `last_changed_date` (a record the records
    layer retired: records_to_build) deletes the rows of its key and adds none. -#}
{% macro get_incremental_replace_records_sql(arg_dict) -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- if not unique_key or unique_key is string -%}
        {{ exceptions.raise_compiler_error("replace_records needs a unique_key list") }}
    {%- endif -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    delete from {{ target }}
    where ({{ unique_key | join(', ') }}) in (
        select {{ unique_key | join(', ') }} from {{ source }}
    );
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }}
    where last_changed_date is not null
{%- endmacro %}

{#- The rows of a records model (models/records/) that a mart built from it reads. Full refresh: the live
    records. Incremental: the records the layer wrote after the night the mart's partition (district and school
    year, or district: `by_school_year` false) last changed (its newest `last_changed_date`; none: every record)
    or tonight (changed_since), retired ones included: their `last_changed_date` is null. -#}
{% macro records_to_build(records_model, by_school_year=true) -%}
    {%- set partition = record_partition(by_school_year) -%}
    {%- do ref('rec_nights') -%}
    {%- if is_incremental() %}
    with built_nights as materialized (

        -- per partition, the night it last changed in the mart (computed once, not per row read)
        select
            nights.district_id,
            nights.school_year,
            {{ newest_built('last_changed_date', 'nights', partition) }} as watermark
        from {{ ref('rec_nights') }} as nights
        where nights.records_model = '{{ records_model }}'

    )

    select records.*
    from {{ ref(records_model) }} as records
    inner join built_nights
        on
            {{ same_values('records', 'built_nights', partition) }}
            and {{ changed_since('records.changed_on', 'built_nights.watermark') }}
    {%- else %}
    select records.*
    from {{ ref(records_model) }} as records
    where not records.is_retired
    {%- endif %}
{%- endmacro %}

{#- The config of a mart built from the records layer, incremental by record (records_to_build,
    replace_records): `unique_key` is its grain. Indexes: the grain, unique, so that no night can add a
    duplicate row; the partition with its newest last_changed_date (the watermark) without a scan; and
    `extra_indexes`. -#}
{% macro records_mart_config(unique_key, by_school_year=true, extra_indexes=[]) -%}
    {%- set partition = record_partition(by_school_year) -%}
    {{ config(
        materialized=incremental_materialization(),
        incremental_strategy='replace_records',
        unique_key=unique_key,
        indexes=[
            {'columns': unique_key, 'unique': true},
            {'columns': partition + ['last_changed_date']},
        ] + extra_indexes,
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{#- Whether a records row was written after a mart's `watermark` (the night its partition last changed; none:
    every row) or tonight, by a build of the run date (a corrected file of the night may have rewritten rows
    the mart read earlier that night). -#}
{% macro changed_since(changed_on, watermark) -%}
    ({{ watermark }} is null or {{ changed_on }} > {{ watermark }} or {{ changed_on }} = {{ run_date() }})
{%- endmacro %}
