{#- Post-hook of every table the project builds (dbt_project.yml). On Postgres, fresh planner statistics before
    the models downstream read it: a table dbt has just (re)built has none until autovacuum comes by, and
    without them Postgres picks nested loops whose cost grows with the square of the district's size (see
    bench/README.md). Spark plans without them (its cost-based optimiser is off unless configured). -#}
{% macro refresh_statistics() -%}
    {{- return(adapter.dispatch('refresh_statistics', 'sis_sync')()) -}}
{%- endmacro %}

{% macro default__refresh_statistics() -%}
{%- endmacro %}

{% macro postgres__refresh_statistics() -%}
    {%- if config.get('materialized') != 'view' -%}analyze {{ this }}{%- endif -%}
{%- endmacro %}
