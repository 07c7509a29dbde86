{#- Whether a roster row is active on the night its school year's roster shows (`as_of`): the row belongs to
    the district's current school year, the enrollment has not ended (the last day still counts), and it
    has started, or the year's classes have not started yet (next year's schedules count before the first
    day). One definition, read by fct_roster for the rows it builds and for those whose activity changed. -#}
{% macro roster_is_active(enrollment, as_of, current_school_year, first_term_start) -%}
    coalesce(
        {{ enrollment }}.school_year = {{ current_school_year }}
        and ({{ enrollment }}.end_date is null or {{ enrollment }}.end_date >= {{ as_of }})
        and (
            {{ enrollment }}.start_date <= {{ as_of }}
            or {{ as_of }} < {{ first_term_start }}
        ),
        false
    )
{%- endmacro %}
