{#- A night's check is released when `sis-sync approve` approved its file on that night or a later one. -#}
{% macro is_released(approvals, district_id, file_name, night_date) -%}
    exists(
        select 1
        from {{ approvals }}
        where
            {{ approvals }}.district_id = {{ district_id }}
            and {{ approvals }}.file_name = {{ file_name }}
            and {{ approvals }}.export_date >= {{ night_date }}
    )
{%- endmacro %}

{#- The end of every hold message: the command that releases the night. -#}
{% macro release_hint(district_id, night_date) -%}
    '; release with `sis-sync approve --district ' || {{ district_id }} || ' --date ' || {{ night_date }} || '`'
{%- endmacro %}
