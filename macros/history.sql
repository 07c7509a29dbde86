{#- A mart's history by night: every version of each of its rows, valid from the night it first showed to the
    night it changed or left (exclusive; null while it is current). Built night by night from the mart as the
    night left it, so it is incremental only and never rebuilt by --full-refresh (like a dbt snapshot, but
    dated by the sync's night, not by the clock, so replaying nights gives their own dates). The first build
    dates each row from its last_changed_date. Its grain (the mart's key and valid_from) is a unique index, which
    serves the as-of lookups too. -#}

{% macro history_config(key) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=key + ['valid_from'],
        full_refresh=false,
        on_schema_change='fail',
        post_hook=[
            "drop index if exists {{ this.schema }}.{{ this.name }}__as_of_idx",
            "create unique index if not exists {{ this.name }}__grain_idx on {{ this }} ("
            ~ (key | join(', ')) ~ ", valid_from)",
        ]
    ) }}
{%- endmacro %}

{% macro history_of(mart, key, columns) -%}
    {#- `mart`: the mart's name; `key`: its grain; `columns`: the other columns a version carries. One pass:
        the mart's rows and the open versions, fully joined on the key, keep only what differs. -#}
    {%- set all_columns = key + columns -%}
    {%- if is_incremental() -%}
        {%- set open_source = this ~ ' as history where history.valid_to is null' -%}
        {%- set first_valid = run_date() -%}
    {%- else -%}
        {#- the first build: nothing is open yet, and each row is dated from its last change -#}
        {%- set open_source = '(select ' ~ qualified('current_rows', all_columns) ~ ', null::date as valid_from'
            ~ ' from current_rows) as history where false' -%}
        {%- set first_valid = 'least(coalesce(compared.last_changed_date, ' ~ run_date() ~ '), '
            ~ run_date() ~ ')' -%}
    {%- endif -%}
    with

    current_rows as (

        select
            {{ qualified('mart', all_columns) }},
            mart.last_changed_date
        from {{ ref(mart) }} as mart

    ),

    open_versions as (

        select
            {{ qualified('history', all_columns) }},
            history.valid_from
        from {{ open_source }}

    ),

    compared as (

        -- rows new, gone or changed since the open version (unchanged rows drop out here)
        select
            {{ renamed('current_rows', all_columns, 'now_') }},
            {{ renamed('open_versions', all_columns, 'was_') }},
            current_rows.{{ key[0] }} is not null as is_current,
            open_versions.{{ key[0] }} is not null as was_open,
            open_versions.valid_from as was_valid_from,
            current_rows.last_changed_date
        from current_rows
        full outer join open_versions
            on {{ same_key('current_rows', 'open_versions', key) }}
        where
            current_rows.{{ key[0] }} is null
            or open_versions.{{ key[0] }} is null
            or ({{ qualified('current_rows', columns) }}) is distinct from ({{ qualified('open_versions', columns) }})

    ),

    ended as (

        -- open versions the night changed or removed end tonight (one that began tonight is replaced)
        select
            {{ renamed('compared', all_columns, '', 'was_') }},
            compared.was_valid_from as valid_from,
            {{ run_date() }} as valid_to
        from compared
        where compared.was_open and not (compared.is_current and compared.was_valid_from = {{ run_date() }})

    ),

    begun as (

        -- rows the night added or changed begin a version tonight (on the first build, on their last change)
        select
            {{ renamed('compared', all_columns, '', 'now_') }},
            {{ first_valid }} as valid_from,
            null::date as valid_to
        from compared
        where compared.is_current

    )

    select * from ended
    union all
    select * from begun
{%- endmacro %}

{% macro qualified(alias, columns) -%}
    {#- `alias.column` for each column, comma-separated. -#}
    {{- alias ~ '.' ~ (columns | join(', ' ~ alias ~ '.')) -}}
{%- endmacro %}

{% macro renamed(alias, columns, prefix, source_prefix='') -%}
    {#- `alias.<source_prefix>column as <prefix>column` for each column, comma-separated. -#}
    {%- set items = [] -%}
    {%- for column in columns -%}
        {%- do items.append(alias ~ '.' ~ source_prefix ~ column ~ ' as ' ~ prefix ~ column) -%}
    {%- endfor -%}
    {{- items | join(', ') -}}
{%- endmacro %}

{% macro same_key(left, right, key) -%}
    {#- The join condition of two relations on the same key columns. -#}
    {%- set pairs = [] -%}
    {%- for column in key -%}
        {%- do pairs.append(left ~ '.' ~ column ~ ' = ' ~ right ~ '.' ~ column) -%}
    {%- endfor -%}
    {{- pairs | join(' and ') -}}
{%- endmacro %}
