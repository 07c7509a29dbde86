{#- The night being synced, as a SQL date literal: the `run_date` var (YYYY-MM-DD), else today. -#}
{% macro run_date() -%}
    {%- set value = var('run_date', none) -%}
    {%- if value is none or value == '' -%}
        {%- set value = modules.datetime.date.today().isoformat() -%}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
        {{ exceptions.raise_compiler_error("run_date must be YYYY-MM-DD, got " ~ value) }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}
