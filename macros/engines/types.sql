{#- Type names for both engines. The project writes Postgres's names (a contract's data_type, a seed's
    column_types, a cast); data_type() gives the engine's own. Spark has no arbitrary-precision numeric: a
    numeric is decimal(18, 6), enough for the shares and counts the project keeps (and never rounded to
    whole numbers, as Spark's own numeric, decimal(10, 0), would do). -#}

{% macro data_type(name) -%}
    {{- return(adapter.dispatch('data_type', 'sis_sync')(name)) -}}
{%- endmacro %}

{% macro default__data_type(name) -%}
    {{- return(name) -}}
{%- endmacro %}

{% macro spark__data_type(name) -%}
    {%- set lowered = name | lower | trim -%}
    {%- set names = {
        'text': 'string',
        'numeric': 'decimal(18, 6)',
        'integer': 'int',
        'timestamp with time zone': 'timestamp',
        'timestamptz': 'timestamp',
        'jsonb': 'string',
        'text[]': 'array<string>',
        'character varying': 'string',
    } -%}
    {{- return(names.get(lowered, lowered)) -}}
{%- endmacro %}

{#- A contract's columns on Spark: the yml's data_type (Postgres's names) in Spark's names, so a mart's contract
    is written once and enforced on both engines. -#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set typed = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name] -%}
        {%- set translated = {} -%}
        {%- do translated.update(column) -%}
        {%- if column.get('data_type') -%}
            {%- do translated.update({'data_type': data_type(column['data_type'])}) -%}
        {%- endif -%}
        {%- do typed.update({name: translated}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(typed)) }}
{%- endmacro %}
