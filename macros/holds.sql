{#- A night's check is released when `sis-sync approve` approved its file on that night or a later one: the
    night is on or before the file's newest approval. `approved` is approvals_by_file() joined on the district
    and the file. -#}
{% macro is_released(approved, night_date) -%}
    coalesce({{ approved }}.approved_through >= {{ night_date }}, false)
{%- endmacro %}

{#- Each district's files' newest approval (approved_through), to join for is_released. -#}
{% macro approvals_by_file(approvals) -%}
    (
        select
            {{ approvals }}.district_id,
            {{ approvals }}.file_name,
            max({{ approvals }}.export_date) as approved_through
        from {{ approvals }}
        group by {{ approvals }}.district_id, {{ approvals }}.file_name
    )
{%- endmacro %}

{#- The end of every hold message: the command that releases the night. -#}
{% macro release_hint(district_id, night_date) -%}
    '; release with `sis-sync approve --district ' || {{ district_id }} || ' --date ' || {{ night_date }} || '`'
{%- endmacro %}
