{#- A mart's history by night: every version of each of its rows, valid from the night it first showed to the
    night it changed or left (exclusive; null while it is current). Built night by night from the mart as the
    night left it, so it is incremental only and never rebuilt by --full-refresh (like a dbt snapshot, but
    dated by the sync's night, not by the clock, so replaying nights gives their own dates). The first build
    dates each row from its last_changed_date. -#}

{% macro history_config(key) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=key + ['valid_from'],
        full_refresh=false,
        on_schema_change='fail',
        post_hook=["create index if not exists {{ this.name }}__as_of_idx on {{ this }} ("
            ~ (key | join(', ')) ~ ", valid_from)"]
    ) }}
{%- endmacro %}

{% macro history_of(mart, key, columns) -%}
    {#- `mart`: the mart's name; `key`: its grain; `columns`: the other columns a version carries. -#}
    {%- set all_columns = key + columns -%}
    {%- if is_incremental() -%}
        {%- set open_source = this ~ ' as history where history.valid_to is null' -%}
        {%- set first_valid = run_date() -%}
    {%- else -%}
        {#- the first build: nothing is open yet, and each row is dated from its last change -#}
        {%- set open_source = '(select current_rows.*, null::date as valid_from, null::date as valid_to'
            ~ ' from current_rows) as history where false' -%}
        {%- set first_valid = 'least(coalesce(current_rows.last_changed_date, ' ~ run_date() ~ '), '
            ~ run_date() ~ ')' -%}
    {%- endif -%}
    with

    current_rows as (

        select
            {{ qualified('mart', all_columns) }},
            md5(row({{ qualified('mart', columns) }})::text) as version_hash,
            mart.last_changed_date
        from {{ ref(mart) }} as mart

    ),

    open_versions as (

        select history.*
        from {{ open_source }}

    ),

    ended as (

        -- open versions the night changed or removed end tonight (one that began tonight is replaced)
        select
            {{ qualified('open_versions', all_columns) }},
            open_versions.version_hash,
            open_versions.valid_from,
            {{ run_date() }} as valid_to
        from open_versions
        left join current_rows
            on {{ same_key('open_versions', 'current_rows', key) }}
        where
            current_rows.version_hash is distinct from open_versions.version_hash
            and not (current_rows.version_hash is not null and open_versions.valid_from = {{ run_date() }})

    ),

    begun as (

        -- rows the night added or changed begin a version tonight (on the first build, on their last change)
        select
            {{ qualified('current_rows', all_columns) }},
            current_rows.version_hash,
            {{ first_valid }} as valid_from,
            null::date as valid_to
        from current_rows
        left join open_versions
            on {{ same_key('current_rows', 'open_versions', key) }}
        where open_versions.version_hash is distinct from current_rows.version_hash

    )

    select * from ended
    union all
    select * from begun
{%- endmacro %}

{% macro qualified(alias, columns) -%}
    {#- `alias.column` for each column, comma-separated. -#}
    {{- alias ~ '.' ~ (columns | join(', ' ~ alias ~ '.')) -}}
{%- endmacro %}

{% macro same_key(left, right, key) -%}
    {#- The join condition of two relations on the same key columns. -#}
    {%- set pairs = [] -%}
    {%- for column in key -%}
        {%- do pairs.append(left ~ '.' ~ column ~ ' = ' ~ right ~ '.' ~ column) -%}
    {%- endfor -%}
    {{- pairs | join(' and ') -}}
{%- endmacro %}
