{#- How the incremental models (the records layer and the marts built from it) are kept. Postgres: incremental,
    by the project's strategies (delete+insert, replace_partitions, replace_records), which delete rows. Spark
    without a table format has no row-level delete: there each is a table built whole every night, what a full
    refresh builds on Postgres (the suite shows both give the same marts). -#}
{% macro incremental_materialization() -%}
    {{- return(adapter.dispatch('incremental_materialization', 'sis_sync')()) -}}
{%- endmacro %}

{% macro default__incremental_materialization() -%}
    {{- return('incremental') -}}
{%- endmacro %}

{% macro spark__incremental_materialization() -%}
    {{- return('table') -}}
{%- endmacro %}

{#- Whether the engine keeps indexes (the records and history models' unique grain indexes, and the
    unique_index test that reads them from the catalog). -#}
{% macro keeps_indexes() -%}
    {{- return(adapter.dispatch('keeps_indexes', 'sis_sync')()) -}}
{%- endmacro %}

{% macro default__keeps_indexes() -%}
    {{- return(true) -}}
{%- endmacro %}

{% macro spark__keeps_indexes() -%}
    {{- return(false) -}}
{%- endmacro %}
