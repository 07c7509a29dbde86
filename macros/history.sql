-- noqa: disable=LT02
{#- A mart's history by night: every version of each of its rows, valid from the night it first showed to the
    night it changed or left (exclusive; null while it is current). Dated by the sync's night, not by the clock,
    so replaying nights gives their own dates. Two models per history mart, kept alike on Postgres and Spark
    (no row is ever updated in place):

    - the log (models/history/<mart>_history_log.sql), appended to night by night by dbt's `append`: a row for
      each key whose row in the mart began, changed or left that night (`is_removed` when it left), with
      `valid_from` (the night) and `logged_at` (when the build wrote it). It is never rebuilt (`--full-refresh`
      leaves it): it is what the nights showed. Its first build dates each current row from its
      last_changed_date; when a history mart exists already (one kept before the log, or the log was dropped),
      the first build takes its versions over instead.
    - the history mart (models/marts/<mart>_history.sql), a table made from the log on each build: per key and
      night the newest logged row (a night built again replaces what it logged before), valid until the next
      row of its key. -#}

{% macro history_log_config() -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
    ) }}
{%- endmacro %}

{% macro history_log_of(mart, key, columns) -%}
    {#- `mart`: the mart's name; `key`: its grain; `columns`: the other columns a version carries. One pass: the
        mart's rows and the open versions, fully joined on the key, keep only what differs. -#}
    {%- set all_columns = key + columns -%}
    {%- set kept = adapter.get_relation(database=this.database, schema='marts', identifier=mart ~ '_history')
        if execute and not is_incremental() else none -%}
    {%- if is_incremental() or kept is not none -%}
        {%- set first_valid = run_date() -%}
    {%- else -%}
        {%- set first_valid = 'least(coalesce(compared.last_changed_date, ' ~ run_date() ~ '), ' ~ run_date() ~ ')' -%}
    {%- endif -%}
    with

    current_rows as (

        select
            {{ qualified('mart', all_columns) }},
            mart.last_changed_date
        from {{ ref(mart) }} as mart

    ),

    logged as (

{%- if is_incremental() %}

        select
            {{ qualified('log', all_columns) }},
            log.valid_from,
            log.is_removed,
            log.logged_at
        from {{ this }} as log
{%- elif kept is not none %}

        -- the history mart kept so far: its versions, and the nights their rows left
        select
            {{ qualified('kept', all_columns) }},
            kept.valid_from,
            false as is_removed,
            current_timestamp as logged_at
        from {{ kept }} as kept

        union all

        select
            {{ qualified('kept', all_columns) }},
            kept.valid_to as valid_from,
            true as is_removed,
            current_timestamp as logged_at
        from {{ kept }} as kept
        left join {{ kept }} as next_version
            on {{ same_key('kept', 'next_version', key) }} and kept.valid_to = next_version.valid_from
        where kept.valid_to is not null and next_version.{{ key[0] }} is null
{%- else %}

        select
            {{ qualified('current_rows', all_columns) }},
            current_rows.last_changed_date as valid_from,
            false as is_removed,
            current_timestamp as logged_at
        from current_rows
        where false
{%- endif %}

    ),

    open_versions as (

        -- each key's newest logged row, unless it left
        select {{ distinct_on(qualified_list('logged', key)) }}
            {{ qualified('logged', all_columns) }},
            logged.is_removed
        from logged
        {{ first_by(qualified_list('logged', key), 'logged.valid_from desc, logged.logged_at desc') }}

    ),

    compared as (

        -- rows new, gone or changed since the open version (unchanged rows drop out here)
        select
            {{ renamed('current_rows', all_columns, 'now_') }},
            {{ renamed('open_versions', all_columns, 'was_') }},
            current_rows.{{ key[0] }} is not null as is_current,
            current_rows.last_changed_date
        from current_rows
        full outer join (select * from open_versions where not open_versions.is_removed) as open_versions
            on {{ same_key('current_rows', 'open_versions', key) }}
        where
            current_rows.{{ key[0] }} is null
            or open_versions.{{ key[0] }} is null
            or ({{ qualified('current_rows', columns) }}) is distinct from ({{ qualified('open_versions', columns) }})

    ),

    new_rows as (

        -- a row that began or changed tonight (on the first build, on its last change), or left tonight
        select
{%- for column in all_columns %}
            case when compared.is_current then compared.now_{{ column }} else compared.was_{{ column }} end
                as {{ column }},
{%- endfor %}
            case when compared.is_current then {{ first_valid }} else {{ run_date() }} end as valid_from,
            not compared.is_current as is_removed,
            current_timestamp as logged_at
        from compared

    )

    select * from new_rows
{%- if kept is not none %}
    union all
    select * from logged
{%- endif %}
{%- endmacro %}

{% macro history_config(key) -%}
    {#- The history mart: a table; its grain (the mart's key and valid_from) is a unique index on Postgres, which
        serves the as-of lookups too. -#}
    {{ config(
        materialized='table',
        indexes=[{'columns': key + ['valid_from'], 'unique': true}],
    ) }}
{%- endmacro %}

{% macro history_from_log(log, key, columns) -%}
    {%- set all_columns = key + columns -%}
    with

    logged as (

        -- per key and night, the newest logged row
        select {{ distinct_on(qualified_list('log', key) + ['log.valid_from']) }}
            {{ qualified('log', all_columns) }},
            log.valid_from,
            log.is_removed
        from {{ ref(log) }} as log
        {{ first_by(qualified_list('log', key) + ['log.valid_from'], 'log.logged_at desc') }}

    ),

    versions as (

        select
            {{ qualified('logged', all_columns) }},
            logged.valid_from,
            lead(logged.valid_from) over (
                partition by {{ qualified('logged', key) }} order by logged.valid_from
            ) as valid_to,
            logged.is_removed
        from logged

    )

    select
        {{ qualified('versions', all_columns) }},
        versions.valid_from,
        versions.valid_to
    from versions
    where not versions.is_removed
{%- endmacro %}

{% macro qualified(alias, columns) -%}
    {#- `alias.column` for each column, comma-separated. -#}
    {{- qualified_list(alias, columns) | join(', ') -}}
{%- endmacro %}

{% macro qualified_list(alias, columns) -%}
    {#- `alias.column` for each column, as a list. -#}
    {%- set items = [] -%}
    {%- for column in columns -%}
        {%- do items.append(alias ~ '.' ~ column) -%}
    {%- endfor -%}
    {{- return(items) -}}
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
