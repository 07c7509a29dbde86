{#- Incremental by record (macros/versions.sql): a night rebuilds the enrollments that changed, and the rows
    whose section, course or activity differs tonight (macros/roster.sql). -#}
{{ changed_records_config('stg_sis__enrollments', 'enrollments.csv',
    ['student_id', 'section_id', 'start_date'], also='roster_rows_to_rebuild') }}

with

loads_to_build as (

    {{ loads_to_build('enrollments.csv') }}

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
        ['student_id', 'section_id', 'start_date'], changed=changed_records_relation()) }}

),

year_sections as (

    {{ versions_as_of('stg_sis__sections', 'sections.csv', 'section_loads', ['section_id']) }}

),

year_courses as (

    {{ versions_as_of('stg_sis__courses', 'courses.csv', 'course_loads', ['course_id']) }}

),

year_first_days as (

    -- the first day of each school year's classes: before it, next year's schedules already count
    {{ roster_first_days('section_loads') }}

),

final as (

    select
        enrollments.district_id,
        enrollments.school_year,
        enrollments.student_id,
        enrollments.section_id,
        enrollments.start_date,
        enrollments.end_date,
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
        {{ roster_is_active('enrollments', 'enrollments.as_of_date',
            'district_school_years.current_school_year', 'year_first_days.first_term_start') }} as is_active,
        enrollments.export_date as last_changed_date
    from enrollments
    left join district_school_years
        on enrollments.district_id = district_school_years.district_id
    left join year_first_days
        on
            enrollments.district_id = year_first_days.district_id
            and enrollments.school_year = year_first_days.school_year
    left join year_sections
        on
            enrollments.district_id = year_sections.district_id
            and enrollments.school_year = year_sections.school_year
            and enrollments.section_id = year_sections.section_id
    left join year_courses
        on
            year_sections.district_id = year_courses.district_id
            and year_sections.school_year = year_courses.school_year
            and year_sections.course_id = year_courses.course_id

)

select * from final
