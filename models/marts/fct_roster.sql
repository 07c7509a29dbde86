{#- No nested loops and no merge joins: the versions' join with their loads is estimated at a few rows (the
    school_year cast in staging has no statistics), and Postgres then nested-loops enrollments over sections
    and courses, or merge-joins them on district and year alone and filters the section on every pair
    (100k students: over 7 minutes, against seconds with hash joins). -#}
{{ year_partitioned_config(pre_hook=["set local enable_nestloop = off", "set local enable_mergejoin = off"]) }}

with

loads_to_build as (

    {{ loads_to_build('enrollments.csv', 'rosters') }}

),

district_school_years as (

    select * from {{ ref('int_district_school_years') }}

),

section_loads as (

    {{ current_loads_of('sections.csv') }}

),

course_loads as (

    {{ current_loads_of('courses.csv') }}

),

enrollments as (

    {{ versions_as_of('stg_sis__enrollments', 'enrollments.csv', 'loads_to_build',
        ['student_id', 'section_id', 'start_date']) }}

),

year_sections as (

    {{ versions_as_of('stg_sis__sections', 'sections.csv', 'section_loads', ['section_id']) }}

),

year_courses as (

    {{ versions_as_of('stg_sis__courses', 'courses.csv', 'course_loads', ['course_id']) }}

),

year_enrollments as (

    select
        enrollments.district_id,
        enrollments.school_year,
        enrollments.student_id,
        enrollments.section_id,
        enrollments.start_date,
        enrollments.end_date,
        enrollments.as_of_date
    from enrollments

),

year_first_days as (

    -- the first day of each school year's classes: before it, next year's schedules already count
    select
        year_sections.district_id,
        year_sections.school_year,
        min(year_sections.term_start) as first_term_start
    from year_sections
    group by year_sections.district_id, year_sections.school_year

),

final as (

    select
        year_enrollments.district_id,
        year_enrollments.school_year,
        year_enrollments.student_id,
        year_enrollments.section_id,
        year_enrollments.start_date,
        year_enrollments.end_date,
        year_sections.course_id,
        year_courses.course_name,
        year_courses.subject,
        year_sections.school_id,
        year_sections.teacher_id,
        year_sections.term_name,
        year_sections.term_start,
        year_sections.term_end,
        year_sections.period,
        year_sections.room,
        coalesce(
            year_enrollments.school_year = district_school_years.current_school_year
            and (year_enrollments.end_date is null or year_enrollments.end_date >= year_enrollments.as_of_date)
            and (
                year_enrollments.start_date <= year_enrollments.as_of_date
                or year_enrollments.as_of_date < year_first_days.first_term_start
            ),
            false
        ) as is_active,
        year_enrollments.as_of_date
    from year_enrollments
    left join district_school_years
        on year_enrollments.district_id = district_school_years.district_id
    left join year_first_days
        on
            year_enrollments.district_id = year_first_days.district_id
            and year_enrollments.school_year = year_first_days.school_year
    left join year_sections
        on
            year_enrollments.district_id = year_sections.district_id
            and year_enrollments.school_year = year_sections.school_year
            and year_enrollments.section_id = year_sections.section_id
    left join year_courses
        on
            year_sections.district_id = year_courses.district_id
            and year_sections.school_year = year_courses.school_year
            and year_sections.course_id = year_courses.course_id

)

select * from final
