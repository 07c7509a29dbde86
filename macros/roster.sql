{#- Whether a roster row is active on the night its school year's roster shows (`as_of`): the row belongs to
    the district's current school year, the enrollment has not ended (the last day still counts), and it
    has started, or the year's classes have not started yet (next year's schedules count before the first
    day). One definition, read by fct_roster and by the rows it rebuilds (roster_rows_to_rebuild). -#}
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

{#- The first day of each school year's classes, per district (the earliest term start of the year's
    sections as of their current load). `section_loads`: a CTE of the current sections.csv loads. -#}
{% macro roster_first_days(section_loads) -%}
    select
        year_sections.district_id,
        year_sections.school_year,
        min(year_sections.term_start) as first_term_start
    from (
        {{ versions_as_of('stg_sis__sections', 'sections.csv', section_loads, ['section_id']) }}
    ) as year_sections
    group by year_sections.district_id, year_sections.school_year
{%- endmacro %}

{#- fct_roster's rows to rebuild tonight besides those whose enrollment has a new version
    (changed_records_config's `also`): the rows of the partitions built tonight (`applied`: district_id,
    school_year, as_of_date) whose section or course attributes (teacher, term, room, course name...) or
    activity differ from what tonight's state gives: a section or course changed or was retired, an
    enrollment ended or started, the year's classes began, the year stopped being current. Compared with the
    state, not with a night, so it holds whatever nights the lookup files were delivered or held on. -#}
{% macro roster_rows_to_rebuild(applied) -%}
    {%- set section_columns = ['course_id', 'school_id', 'teacher_id', 'term_name', 'term_start', 'term_end',
        'period', 'room'] -%}
    {%- set course_columns = ['course_name', 'subject'] -%}
    select
        built.district_id,
        built.school_year,
        built.student_id,
        built.section_id,
        built.start_date
    from {{ this }} as built
    inner join {{ applied }} as rebuilt
        on
            built.district_id = rebuilt.district_id
            and built.school_year = rebuilt.school_year
    left join {{ ref('int_district_school_years') }} as district_school_years
        on built.district_id = district_school_years.district_id
    left join (
        with section_loads as (
            {{ current_loads_of('sections.csv') }}
        )
        {{ roster_first_days('section_loads') }}
    ) as year_first_days
        on
            built.district_id = year_first_days.district_id
            and built.school_year = year_first_days.school_year
    left join (
        with section_loads as (
            {{ current_loads_of('sections.csv') }}
        )
        {{ versions_as_of('stg_sis__sections', 'sections.csv', 'section_loads', ['section_id']) }}
    ) as year_sections
        on
            built.district_id = year_sections.district_id
            and built.school_year = year_sections.school_year
            and built.section_id = year_sections.section_id
    left join (
        with course_loads as (
            {{ current_loads_of('courses.csv') }}
        )
        {{ versions_as_of('stg_sis__courses', 'courses.csv', 'course_loads', ['course_id']) }}
    ) as year_courses
        on
            year_sections.district_id = year_courses.district_id
            and year_sections.school_year = year_courses.school_year
            and year_sections.course_id = year_courses.course_id
    {%- set built_values, current_values = [], [] -%}
    {%- for column in section_columns -%}
        {%- do built_values.append('built.' ~ column) -%}
        {%- do current_values.append('year_sections.' ~ column) -%}
    {%- endfor -%}
    {%- for column in course_columns -%}
        {%- do built_values.append('built.' ~ column) -%}
        {%- do current_values.append('year_courses.' ~ column) -%}
    {%- endfor %}
    where
        ({{ built_values | join(', ') }}, built.is_active)
        is distinct from ({{ current_values | join(', ') }}, {{ roster_is_active('built', 'rebuilt.as_of_date',
            'district_school_years.current_school_year', 'year_first_days.first_term_start') }})
{%- endmacro %}
