{#- The rows of one export file that a mart shows: for each district and school year that `loads` selects (a
    CTE or table with columns district_id, school_year, as_of_date: see int_loads_current), the file's state
    as of that night. The raw tables hold versions (what each night added, changed or retired: ingestion/versions.py),
    so the state as of a night is each record's newest version up to that night, unless it was retired.
    Only the versions of effective loads count (the newest delivery of each night; int_loads_effective): a
    corrected re-delivery replaces its night's changes, and rows of a crashed run are never read.
    `identity`: the columns that identify a record (the spec's key; school_year is added for files that have
    one). The result has the staging model's columns and as_of_date. Effective load ids are selected by
    `= any(array(...))`, which Postgres reads through the raw table's BRIN index on _load_id. -#}
{% macro versions_as_of(staging_model, file_name, loads, identity, has_school_year=true) -%}
    {%- set keys = identity + (['school_year'] if has_school_year and 'school_year' not in identity else []) -%}
    {%- set same_year = 'and file_rows.school_year = loads.school_year' if has_school_year else '' -%}
    {%- set record = [] -%}
    {%- for column in ['district_id', 'key_hash'] + keys -%}
        {%- do record.append('file_rows.' ~ column) -%}
    {%- endfor -%}
    select versions.*
    from (
        select distinct on ({{ record | join(', ') }})
            file_rows.*,
            loads.as_of_date
        from {{ ref(staging_model) }} as file_rows
        inner join {{ loads }} as loads
            on
                file_rows.district_id = loads.district_id
                and file_rows.export_date <= loads.as_of_date
                {{ same_year }}
        where file_rows.load_id = any(array(
            select effective_loads.load_id
            from {{ ref('int_loads_effective') }} as effective_loads
            where
                effective_loads.file_name = '{{ file_name }}'
                and effective_loads.load_id is not null
        ))
        order by {{ record | join(', ') }}, file_rows.export_date desc
    ) as versions
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
        from {{ ref('int_loads_current') }} as current_loads
        where current_loads.file_name = '{{ file_name }}'

    ),

    file_versions as (

        select file_rows.*
        from {{ ref(staging_model) }} as file_rows
        inner join file_loads
            on
                file_rows.district_id = file_loads.district_id
                and file_rows.export_date <= file_loads.as_of_date
        where file_rows.load_id = any(array(
            select effective_loads.load_id
            from {{ ref('int_loads_effective') }} as effective_loads
            where effective_loads.file_name = '{{ file_name }}' and effective_loads.load_id is not null
        ))

    ),

    newest_versions as (

        -- each record's newest version: retired when the file no longer has it
        select distinct on (file_versions.district_id, file_versions.{{ key_column }})
            file_versions.district_id,
            file_versions.{{ key_column }},
            file_versions.change_type,
            file_versions.export_date
        from file_versions
        order by
            file_versions.district_id asc,
            file_versions.{{ key_column }} asc,
            file_versions.export_date desc

    ),

    newest_attributes as (

        select distinct on (file_versions.district_id, file_versions.{{ key_column }}) file_versions.*
        from file_versions
        where file_versions.change_type != 'retired'
        order by
            file_versions.district_id asc,
            file_versions.{{ key_column }} asc,
            file_versions.export_date desc

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
