{#- Canonical grade level: PK, KG, 01..12, UG. `K` reads as KG and `1` as 01; the validator has already
    rejected anything else, so an unknown value stays visible as itself. -#}
{% macro normalize_grade(column) -%}
    case
        when upper({{ column }}) = 'K' then 'KG'
        when {{ column }} ~ '^[0-9]{1,2}$' then lpad(ltrim({{ column }}, '0'), 2, '0')
        else upper({{ column }})
    end
{%- endmacro %}

{#- A phone number in E.164 (`+15552017788`), or null when the value cannot be one.
    Accepts the common US forms ((555) 201-7788, 555-201-7788, 555.201.7788, 5552017788, 1-555-201-7788)
    and E.164 as given (+ and 8 to 15 digits). An extension (`x12`, `ext. 12`) is dropped. -#}
{% macro e164_phone(column) -%}
    {%- set extension_pattern = "'\\s*(x|ext\\.?|extension)\\s*[0-9]+\\s*$'" -%}
    {%- set without_extension = "regexp_replace(lower(" ~ column ~ "), " ~ extension_pattern ~ ", '')" -%}
    {%- set digits = "regexp_replace(" ~ without_extension ~ ", '[^0-9]', '', 'g')" -%}
    {%- set plus_digits = "regexp_replace(" ~ without_extension ~ ", '[^0-9+]', '', 'g')" -%}
    case
        when {{ plus_digits }} ~ '^\+[1-9][0-9]{7,14}$' then {{ plus_digits }}
        when {{ digits }} ~ '^[2-9][0-9]{2}[2-9][0-9]{6}$' then '+1' || {{ digits }}
        when {{ digits }} ~ '^1[2-9][0-9]{2}[2-9][0-9]{6}$' then '+' || {{ digits }}
    end
{%- endmacro %}
