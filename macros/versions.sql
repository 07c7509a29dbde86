{#- Two pieces of the version layer's SQL differ by engine (adapter.dispatch); everything else is shared:

    - `is_effective_load(column, file_name)`: whether a row's load is one of the file's effective loads
      (int_loads_effective). Postgres: `= any(array(...))`, which it reads through the raw table's BRIN index
      on _load_id; other engines: `in (select ...)`.
    - `newest_per(keys, newest_first, query)`: the newest row of `query` per `keys`. Postgres: `distinct on`;
      other engines: row_number(), keeping its `version_rank` column.

    With the `portable_sql` var true, Postgres runs the other engines' SQL too (their `default__`
    implementations, also of changed_records_config and year_partitioned_config), so a test checks that it
    gives the same marts (tests/python/test_versions.py). -#}
{% macro is_effective_load(column, file_name) -%}
    {%- set implementation = default__is_effective_load if var('portable_sql', false)
        else adapter.dispatch('is_effective_load') -%}
    {{ return(implementation(column, file_name)) }}
{%- endmacro %}

{% macro postgres__is_effective_load(column, file_name) -%}
    {{ column }} = any(array(
        select effective_loads.load_id
        from {{ ref('int_loads_effective') }} as effective_loads
        where effective_loads.file_name = '{{ file_name }}' and effective_loads.load_id is not null
    ))
{%- endmacro %}

{% macro default__is_effective_load(column, file_name) -%}
    {{ column }} in (
        select effective_loads.load_id
        from {{ ref('int_loads_effective') }} as effective_loads
        where effective_loads.file_name = '{{ file_name }}' and effective_loads.load_id is not null
    )
{%- endmacro %}

{% macro newest_per(keys, newest_first, query) -%}
    {%- set implementation = default__newest_per if var('portable_sql', false)
        else adapter.dispatch('newest_per') -%}
    {{ return(implementation(keys, newest_first, query)) }}
{%- endmacro %}

{% macro postgres__newest_per(keys, newest_first, query) -%}
    select distinct on ({{ keys | join(', ') }}) candidates.*
    from ({{ query }}) as candidates
    order by {{ keys | join(', ') }}, {{ newest_first }}
{%- endmacro %}

{% macro default__newest_per(keys, newest_first, query) -%}
    select ranked.*
    from (
        select
            candidates.*,
            row_number() over (partition by {{ keys | join(', ') }} order by {{ newest_first }}) as version_rank
        from ({{ query }}) as candidates
    ) as ranked
    where ranked.version_rank = 1
{%- endmacro %}

{#- The rows of one export file that a mart shows: for each district and school year that `loads` selects (a
    CTE or table with columns district_id, school_year, as_of_date: see int_loads_current), the file's state
    as of that night. The raw tables hold versions (what each night added, changed or retired:
    ingestion/versions.py), so the state as of a night is each record's newest version up to that night,
    unless it was retired. Only the versions of effective loads count (the newest delivery of each night;
    int_loads_effective): a corrected re-delivery replaces its night's changes, and rows of a crashed run are
    never read. `identity`: the columns that identify a record (the spec's key; school_year is added for files
    that have one). `changed`: on an incremental run, only the records whose `grain` columns (default:
    `identity`) are in that relation (changed_records_config; engines without record-level deletes ignore
    it). The result has the staging model's columns and as_of_date. -#}
{% macro versions_as_of(staging_model, file_name, loads, identity, has_school_year=true, changed=none,
    grain=none) -%}
    {%- set keys = identity + (['school_year'] if has_school_year and 'school_year' not in identity else []) -%}
    {%- set same_year = 'and file_rows.school_year = loads.school_year' if has_school_year else '' -%}
    {%- set only_changed = '' -%}
    {%- if changed is not none and is_incremental() and changed_records_by_delete() -%}
        {%- set matches = [] -%}
        {%- for column in ['district_id'] + (grain or identity) + (['school_year'] if has_school_year else []) -%}
            {%- do matches.append('file_rows.' ~ column ~ ' = changed.' ~ column) -%}
        {%- endfor -%}
        {%- set only_changed = 'inner join ' ~ changed ~ ' as changed on ' ~ (matches | unique | join(' and ')) -%}
    {%- endif -%}
    {%- set candidates -%}
        select
            file_rows.*,
            loads.as_of_date
        from {{ ref(staging_model) }} as file_rows
        inner join {{ loads }} as loads
            on
                file_rows.district_id = loads.district_id
                and file_rows.export_date <= loads.as_of_date
                {{ same_year }} {{ only_changed }}
        where {{ is_effective_load('file_rows.load_id', file_name) }}
    {%- endset -%}
    select versions.*
    from ({{ newest_per(['district_id', 'key_hash'] + keys, 'export_date desc', candidates) }}) as versions
    where versions.change_type != 'retired'
{%- endmacro %}

{#- Every record a district's file ever had, up to the file's newest accepted night (int_loads_current), with
    its newest attributes (the staging model's columns), `is_current` (the file still has it as of that
    night) and `last_delivered_date` (that night when current; else the last accepted night before the file
    stopped carrying it). For files without a school year whose dims keep former records (staff, schools:
    earlier years' rows keep pointing at them). -#}
{% macro ever_delivered(staging_model, file_name, key_column) -%}
    with

    file_loads as (

        select
            current_loads.district_id,
            current_loads.as_of_date
        from {{ ref('rec_nights') }} as current_loads
        where current_loads.file_name = '{{ file_name }}'

    ),

    file_versions as (

        select file_rows.*
        from {{ ref(staging_model) }} as file_rows
        inner join file_loads
            on
                file_rows.district_id = file_loads.district_id
                and file_rows.export_date <= file_loads.as_of_date
        where {{ is_effective_load('file_rows.load_id', file_name) }}

    ),

    newest_versions as (

        -- each record's newest version: retired when the file no longer has it
        {{ newest_per(['district_id', key_column], 'export_date desc',
            'select district_id, ' ~ key_column ~ ', change_type, export_date from file_versions') }}

    ),

    newest_attributes as (

        {{ newest_per(['district_id', key_column], 'export_date desc',
            "select * from file_versions where change_type != 'retired'") }}

    )

    select
        newest_attributes.*,
        newest_versions.change_type != 'retired' as is_current,
        case
            when newest_versions.change_type != 'retired' then file_loads.as_of_date
            else coalesce((
                select max(accepted_loads.export_date)
                from {{ ref('int_loads_accepted') }} as accepted_loads
                where
                    accepted_loads.district_id = newest_versions.district_id
                    and accepted_loads.file_name = '{{ file_name }}'
                    and accepted_loads.export_date < newest_versions.export_date
            ), newest_attributes.export_date)
        end as last_delivered_date
    from newest_attributes
    inner join newest_versions
        on
            newest_attributes.district_id = newest_versions.district_id
            and newest_attributes.{{ key_column }} = newest_versions.{{ key_column }}
    inner join file_loads
        on newest_attributes.district_id = file_loads.district_id
{%- endmacro %}

{#- The config of a mart built from one export file, incremental by record: each night deletes and rebuilds
    only the mart's rows of the records that have a version after the night the mart last changed in their
    partition (district and school year, or district for files without one: its newest `last_changed_date`),
    up to the night it shows; and that night's too when its file was delivered more than once (a corrected
    file may have replaced the one the mart was built from). `grain`: the columns (within the partition) whose
    rows are rebuilt together, by default the record's `identity`; e.g. a contact's row is rebuilt when any
    of its links to students changed. `also`: the name of a macro giving more grain values to rebuild, for
    rows that change without a new version of their own file (called with the name of the CTE of the
    partitions built tonight, `applied`: district_id, school_year, as_of_date, watermark); e.g. the roster's
    rows whose section changed. The pre-hook writes those grain values into a temporary table
    (`<model>__changed`, read by `versions_as_of(..., changed=...)`) and deletes their rows from the mart;
    the model then appends their current rows (a retired record's rows are deleted and not appended). Full
    refresh: every row. The rows need `last_changed_date` (the export date of their newest version), and
    nothing in them may move every night. -#}
{% macro changed_records_config(staging_model, file_name, identity, grain=none,
    has_school_year=true, also=none, unique=none) -%}
    {%- set implementation = default__changed_records_config if var('portable_sql', false)
        else adapter.dispatch('changed_records_config') -%}
    {{ return(implementation(staging_model, file_name, identity,
        grain, has_school_year, also, unique, **kwargs)) }}
{%- endmacro %}

{#- Other engines: no record-level deletes (e.g. Spark offers appends and insert-overwrite by partition): a
    night replaces the partitions it builds, with the same model SQL (versions_as_of ignores `changed`). -#}
{% macro default__changed_records_config(staging_model, file_name, identity, grain, has_school_year,
    also, unique) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy=insert_overwrite_strategy(),
        partition_by=['district_id', 'school_year'] if has_school_year else ['district_id'],
        partition_columns=['district_id', 'school_year'] if has_school_year else ['district_id'],
        on_schema_change='fail',
        **kwargs
    ) }}
{%- endmacro %}

{% macro postgres__changed_records_config(staging_model, file_name, identity, grain, has_school_year,
    also, unique) -%}
    {#- the refs the pre-hook makes when it runs -#}
    {%- do ref(staging_model) -%}
    {%- do ref('stg_sis__load_ledger') -%}
    {%- do ref('rec_nights') -%}
    {%- do ref('int_sync_nights') -%}
    {%- do ref('export_file_groups') -%}
    {#- and, for a year-scoped mart, the one its tests' `__current_school_years__` filter reads
        (macros/test_where.sql): built first -#}
    {%- if has_school_year -%}
        {%- do ref('int_district_school_years') -%}
    {%- endif -%}
    {%- set hook = "{{ changed_records_hook('" ~ staging_model ~ "', '" ~ file_name
        ~ "', " ~ (grain or identity) ~ ", " ~ has_school_year
        ~ ((", also=" ~ also ~ "('applied')") if also else "") ~ ") }}" -%}
    {#- the versions' join with their loads is estimated at a few rows (the school_year cast in staging, and
        export_date <= as_of_date): no nested loops or merge joins over them (without: minutes where seconds
        do; an integer school_year without the cast is not enough: bench/README.md, "Structure, and why the
        planner settings stay"). The indexes: the mart's grain (the partition
        and `unique`, by default `identity`), unique, so that no night can add a duplicate row (built after
        the rows on a full refresh); and the partition with its newest last_changed_date (the watermark)
        without a scan. -#}
    {%- set partition = ['district_id', 'school_year'] if has_school_year else ['district_id'] -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[
            {'columns': partition + (unique or identity), 'unique': true},
            {'columns': partition + ['last_changed_date']},
        ],
        on_schema_change='fail',
        pre_hook=["set local enable_nestloop = off", "set local enable_mergejoin = off", hook],
        **kwargs
    ) }}
{%- endmacro %}

{#- Whether the record-level marts delete and rebuild changed records on this engine (Postgres), rather than
    replace whole partitions (other engines, and Postgres with the `portable_sql` var). -#}
{% macro changed_records_by_delete() -%}
    {%- set implementation = default__changed_records_by_delete if var('portable_sql', false)
        else adapter.dispatch('changed_records_by_delete') -%}
    {{ return(implementation()) }}
{%- endmacro %}

{% macro postgres__changed_records_by_delete() -%}
    {{ return(true) }}
{%- endmacro %}

{% macro default__changed_records_by_delete() -%}
    {{ return(false) }}
{%- endmacro %}

{#- The temporary table of the rows a night rebuilds (see changed_records_config). -#}
{% macro changed_records_relation() -%}
    {{ this.identifier }}__changed
{%- endmacro %}

{% macro changed_records_hook(staging_model, file_name, grain, has_school_year, also=none) -%}
    {%- if is_incremental() -%}
        {%- set partition = ['district_id', 'school_year'] if has_school_year else ['district_id'] -%}
        {%- set record, matches, in_partition, in_loads = [], [], [], [] -%}
        {%- for column in partition + grain -%}
            {%- do record.append('file_rows.' ~ column) -%}
            {%- do matches.append('built.' ~ column ~ ' = changed.' ~ column) -%}
        {%- endfor -%}
        {%- for column in partition -%}
            {%- do in_partition.append('built.' ~ column ~ ' = loads.' ~ column) -%}
            {%- do in_loads.append('file_rows.' ~ column ~ ' = applied.' ~ column) -%}
        {%- endfor -%}
        create temporary table {{ changed_records_relation() }} on commit drop as
        with

        loads as (

            {{ loads_to_build(file_name, by_school_year=has_school_year) }}

        ),

        built_nights as (

            -- the night each partition last changed; none for a partition not built yet
            select
                loads.*,
                (
                    select max(built.last_changed_date)
                    from {{ this }} as built
                    where {{ in_partition | join(' and ') }}
                ) as watermark
            from loads

        ),

        applied as (

            -- whether that night's file was delivered more than once (a corrected file may have replaced the
            -- one the mart was built from: that night's changes are applied again)
            select
                built_nights.*,
                (
                    select count(*) > 1
                    from {{ ref('stg_sis__load_ledger') }} as ledger
                    where
                        ledger.district_id = built_nights.district_id
                        and ledger.file_name = '{{ file_name }}'
                        and ledger.export_date = built_nights.watermark
                        and ledger.status in ('loaded', 'unchanged')
                ) as is_redelivered
            from built_nights

        ),

        since as (

            select case when bool_or(applied.watermark is null) then '-infinity' else min(applied.watermark) end
                as first_night
            from applied

        )

        select distinct {{ record | join(', ') }}
        from {{ ref(staging_model) }} as file_rows
        inner join applied
            on
                {{ in_loads | join(' and ') }}
                and file_rows.export_date <= applied.as_of_date
                and (
                    applied.watermark is null
                    or file_rows.export_date > applied.watermark
                    or (file_rows.export_date = applied.watermark and applied.is_redelivered)
                )
        where file_rows.load_id = any(array(
            select ledger.load_id
            from {{ ref('stg_sis__load_ledger') }} as ledger
            where
                ledger.file_name = '{{ file_name }}'
                and ledger.status = 'loaded'
                and ledger.export_date >= (select since.first_night from since)
        ))
        {%- if also %}
        union
        {{ also }}
        {%- endif %};

        delete from {{ this }} as built
        using {{ changed_records_relation() }} as changed
        where {{ matches | join(' and ') }}
    {%- endif -%}
{%- endmacro %}
