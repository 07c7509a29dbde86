{#- Canonical grade level: PK, KG, 01..12, UG. `K` reads as KG and `1` as 01; the validator has already
    rejected anything else, so an unknown value stays visible as itself. -#}
{% macro normalize_grade(column) -%}
    case
        when upper({{ column }}) = 'K' then 'KG'
        when {{ regex_matches(column, '^[0-9]{1,2}$') }} then lpad(trim(leading '0' from {{ column }}), 2, '0')
        else upper({{ column }})
    end
{%- endmacro %}

{#- A phone number in E.164 (`+15552017788`), or null when the value cannot be one: the delivered value as
    libphonenumber read it in the district's default country (raw_sis.phone_numbers, filled by ingestion:
    ingestion/phones.py). A scalar lookup by the map's primary key (country, phone); `settings` is the
    district's row of stg_sis__district_settings, joined by the model (none: US). -#}
{% macro phone_e164(column, settings) -%}
    (
        select phone_numbers.e164
        from {{ ref('stg_sis__phone_numbers') }} as phone_numbers
        where
            phone_numbers.phone = {{ column }}
            and phone_numbers.country = coalesce({{ settings }}.country, 'US')
    )
{%- endmacro %}
