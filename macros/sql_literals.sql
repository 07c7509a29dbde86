{#- Text values as SQL string literals (quoted, their quotes doubled), comma-separated for `in (...)`, or
    `null` when there are none (so that `x in (null)` selects nothing). -#}
{% macro sql_strings(values) -%}
    {%- if values | length == 0 -%}
        null
    {%- else -%}
        '{{ values | map('string') | map('replace', "'", "''") | join("', '") }}'
    {%- endif -%}
{%- endmacro %}

{#- One text value as a SQL string literal. -#}
{% macro sql_string(value) -%}
    {{ sql_strings([value]) }}
{%- endmacro %}
