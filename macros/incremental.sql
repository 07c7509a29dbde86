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

{#- The current loads of one export file that an incremental mart builds from tonight: per district and
    school year, the night whose state it shows (as_of_date; read with `versions_as_of`).
    Full refresh: every district's current load of every school year.
    Incremental: only districts whose model group refreshes tonight (the season decision), and (unless
    `by_school_year` is false: files without a school year) only the school years from the newest one
    already built onwards, so the year that just ended is rebuilt once
    more on the rollover night (its rows stop being current) and older years stay as they are. -#}
{% macro loads_to_build(file_name, by_school_year=true) -%}
    {#- the refs districts_refreshing_tonight makes, also when the project is parsed (not incremental then) -#}
    {%- do ref('int_sync_nights') -%}
    {%- do ref('export_file_groups') -%}
    select current_loads.*
    from {{ ref('rec_nights') }} as current_loads
    where
        current_loads.file_name = '{{ file_name }}'
    {%- if is_incremental() %}
            and current_loads.district_id in (
                {{ districts_refreshing_tonight(file_name) }}
            )
    {%- endif %}
    {%- if is_incremental() and by_school_year %}
            and current_loads.school_year >= coalesce((
                select max(built.school_year)
                from {{ this }} as built
                where built.district_id = current_loads.district_id
            ), 0)
    {%- endif %}
{%- endmacro %}

{#- Every district's current loads of one export file, all school years (what a mart joins its lookup files
    with, e.g. sections for the roster). -#}
{% macro current_loads_of(file_name) -%}
    select current_loads.*
    from {{ ref('rec_nights') }} as current_loads
    where current_loads.file_name = '{{ file_name }}'
{%- endmacro %}

{#- For an incremental model built from another year-scoped mart (fct_student_teachers from fct_roster, the
    attendance counts from fct_attendance): `where` the upstream rows are in the partitions (district_id,
    school_year) that `loads_to_build` selects for the same file tonight, i.e. the ones the
    upstream mart has just rebuilt. Nothing on a full refresh (every partition). -#}
{% macro partitions_to_build_filter(alias, file_name) -%}
    {#- the refs loads_to_build makes, also when the project is parsed (is_incremental() is false then) -#}
    {%- do ref('rec_nights') -%}
    {%- do ref('int_sync_nights') -%}
    {%- do ref('export_file_groups') -%}
    {%- if is_incremental() %}
        where ({{ alias }}.district_id, {{ alias }}.school_year) in (
            select
                loads_to_build.district_id,
                loads_to_build.school_year
            from ({{ loads_to_build(file_name) }}) as loads_to_build
        )
    {%- endif %}
{%- endmacro %}

{#- The config of a year-scoped incremental model (the five year-scoped marts, and the models built from them):
    rebuilt per partition (district_id, school_year) by replace_partitions, with an index on the partition
    columns: the partitions replace_partitions deletes, the newest built year loads_to_build looks up, the
    current year the tests check, and what BI filters by. Keyword arguments add to it (e.g. a pre_hook). -#}
{% macro year_partitioned_config() -%}
    {%- set implementation = default__year_partitioned_config if var('portable_sql', false)
        else adapter.dispatch('year_partitioned_config') -%}
    {{ return(implementation(**kwargs)) }}
{%- endmacro %}

{#- Other engines (e.g. Spark): their own insert-overwrite of the partitions. -#}
{% macro default__year_partitioned_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=insert_overwrite_strategy(),
        partition_by=['district_id', 'school_year'],
        partition_columns=['district_id', 'school_year'],
        on_schema_change='fail',
        **kwargs
    ) }}
{%- endmacro %}

{#- The strategy of the portable implementations: `insert_overwrite` (the partitions a run writes replace
    theirs), which dbt-postgres does not know; Postgres running the portable SQL (the `portable_sql` var) uses
    its equivalent, replace_partitions. (`target is defined`: sqlfluff's templater has no target.) -#}
{% macro insert_overwrite_strategy() -%}
    {{ return('replace_partitions' if target is defined and target.type == 'postgres' else 'insert_overwrite') }}
{%- endmacro %}

{% macro postgres__year_partitioned_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='replace_partitions',
        partition_columns=['district_id', 'school_year'],
        indexes=[{'columns': ['district_id', 'school_year']}],
        on_schema_change='fail',
        **kwargs
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
    records. Incremental: the records the layer wrote since the night the mart's partition (district and school
    year, or district: `by_school_year` false) last changed, that night again (its newest `last_changed_date`;
    none: every record), retired ones included: their `last_changed_date` is null. -#}
{% macro records_to_build(records_model, by_school_year=true) -%}
    {%- set partition = ['district_id', 'school_year'] if by_school_year else ['district_id'] -%}
    {%- do ref('rec_nights') -%}
    select records.*
    from {{ ref(records_model) }} as records
    {%- if is_incremental() %}
    inner join (
        select
            nights.district_id,
            nights.school_year,
            (
                select max(built.last_changed_date)
                from {{ this }} as built
                where {{ same_values('built', 'nights', partition) }}
            ) as watermark
        from {{ ref('rec_nights') }} as nights
        where nights.records_model = '{{ records_model }}'
    ) as built_nights
        on
            {{ same_values('records', 'built_nights', partition) }}
            and (built_nights.watermark is null or records.changed_on >= built_nights.watermark)
    {%- else %}
    where not records.is_retired
    {%- endif %}
{%- endmacro %}

{#- The config of a mart built from the records layer, incremental by record (records_to_build,
    replace_records): `unique_key` is its grain. Indexes: the grain, unique, so that no night can add a
    duplicate row; and the partition with its newest last_changed_date (the watermark) without a scan. -#}
{% macro records_mart_config(unique_key, by_school_year=true) -%}
    {%- set partition = ['district_id', 'school_year'] if by_school_year else ['district_id'] -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='replace_records',
        unique_key=unique_key,
        indexes=[
            {'columns': unique_key, 'unique': true},
            {'columns': partition + ['last_changed_date']},
        ],
        on_schema_change='fail',
    ) }}
{%- endmacro %}
