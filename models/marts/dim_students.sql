with

student_years as (

    select * from {{ ref('dim_student_years') }}

),

district_school_years as (

    select * from {{ ref('int_district_school_years') }}

),

students as (

    select * from {{ ref('rec_students') }}
    where not is_retired

),

newest_year as (

    -- the newest school year each student was enrolled in
    select {{ distinct_on(['student_years.district_id', 'student_years.student_id']) }}
        student_years.district_id,
        student_years.student_id,
        student_years.school_year,
        student_years.grade_level,
        student_years.school_id,
        student_years.enrollment_status,
        student_years.entry_date,
        student_years.exit_date
    from student_years
    {{ first_by(['student_years.district_id', 'student_years.student_id'], 'student_years.school_year desc') }}

),

student_details as (

    -- names and demographics from the student's newest current load
    select {{ distinct_on(['students.district_id', 'students.student_id']) }}
        students.district_id,
        students.student_id,
        students.state_student_id,
        students.first_name,
        students.middle_name,
        students.last_name,
        students.preferred_name,
        students.birth_date,
        students.gender,
        students.home_language
    from students
    {{ first_by(['students.district_id', 'students.student_id'], 'students.school_year desc') }}

),

final as (

    select
        newest_year.district_id,
        newest_year.student_id,
        student_details.state_student_id,
        student_details.first_name,
        student_details.middle_name,
        student_details.last_name,
        student_details.preferred_name,
        coalesce(student_details.preferred_name, student_details.first_name) as display_first_name,
        student_details.birth_date,
        student_details.gender,
        student_details.home_language,
        newest_year.school_year as latest_school_year,
        newest_year.grade_level,
        newest_year.school_id,
        newest_year.enrollment_status,
        newest_year.entry_date,
        newest_year.exit_date,
        (
            newest_year.school_year = district_school_years.current_school_year
            and newest_year.enrollment_status = 'active'
        ) as is_active
    from newest_year
    inner join district_school_years
        on newest_year.district_id = district_school_years.district_id
    left join student_details
        on
            newest_year.district_id = student_details.district_id
            and newest_year.student_id = student_details.student_id

)

select * from final
