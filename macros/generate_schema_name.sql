{#- Models land in the schema they are configured with (staging, intermediate, marts, seeds), not in
    "<target schema>_<custom schema>": the schema names are a contract BI tools depend on. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
