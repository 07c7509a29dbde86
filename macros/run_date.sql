{#- The night being synced, as a SQL date literal: the `run_date` var (YYYY-MM-DD), else the
    SIS_SYNC_RUN_DATE environment variable (how `sis-sync` passes it: a var change makes dbt parse the whole
    project again, an environment variable does not), else today. -#}
{% macro run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none or value == '' -%}
        {%- set value = env_var('SIS_SYNC_RUN_DATE', '') -%}
    {%- endif -%}
    {%- if value is none or value == '' -%}
        {%- set value = modules.datetime.date.today().isoformat() -%}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
        {{ exceptions.raise_compiler_error("run_date must be YYYY-MM-DD, got " ~ value) }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}
