with

students as (

    select * from {{ ref('dim_students') }}

),

schools as (

    select * from {{ ref('dim_schools') }}

),

attendance_counts as (

    select * from {{ ref('int_attendance_student_school_years') }}

),

discipline as (

    select * from {{ ref('fct_discipline') }}

),

student_contacts as (

    select * from {{ ref('fct_student_contacts') }}

),

contacts as (

    select * from {{ ref('dim_contacts') }}

),

student_teachers as (

    select * from {{ ref('fct_student_teachers') }}

),

attendance_school_years as (

    -- display year: the newest school year in which the school has any attendance record
    select
        attendance_counts.district_id,
        attendance_counts.school_id,
        max(attendance_counts.school_year) as display_school_year
    from attendance_counts
    group by attendance_counts.district_id, attendance_counts.school_id

),

discipline_school_years as (

    select
        discipline.district_id,
        discipline.school_id,
        max(discipline.school_year) as display_school_year
    from discipline
    group by discipline.district_id, discipline.school_id

),

attendance_totals as (

    select
        attendance_counts.district_id,
        attendance_counts.school_year,
        attendance_counts.student_id,
        cast(sum(attendance_counts.days_absent) as bigint) as days_absent,
        cast(sum(attendance_counts.days_unexcused) as bigint) as days_unexcused,
        cast(sum(attendance_counts.days_tardy) as bigint) as days_tardy
    from attendance_counts
    group by attendance_counts.district_id, attendance_counts.school_year, attendance_counts.student_id

),

discipline_totals as (

    select
        discipline.district_id,
        discipline.school_year,
        discipline.student_id,
        count(*) as incident_count,
        coalesce(sum(discipline.days_removed), 0) as days_removed
    from discipline
    group by discipline.district_id, discipline.school_year, discipline.student_id

),

primary_contacts as (

    select
        student_contacts.district_id,
        student_contacts.student_id,
        student_contacts.contact_id,
        contacts.first_name || ' ' || contacts.last_name as contact_name,
        contacts.best_phone_e164
    from student_contacts
    inner join contacts
        on
            student_contacts.district_id = contacts.district_id
            and student_contacts.contact_id = contacts.contact_id
    where student_contacts.is_primary

),

active_teachers as (

    select
        student_teachers.district_id,
        student_teachers.student_id,
        count(*) as active_teacher_count
    from student_teachers
    where student_teachers.is_active
    group by student_teachers.district_id, student_teachers.student_id

),

final as (

    select
        students.district_id,
        students.student_id,
        students.first_name,
        students.last_name,
        students.display_first_name,
        students.latest_school_year as current_school_year,
        students.grade_level,
        students.school_id,
        schools.school_name,
        students.is_active,
        attendance_school_years.display_school_year as attendance_school_year,
        coalesce(attendance_totals.days_absent, 0) as days_absent,
        coalesce(attendance_totals.days_unexcused, 0) as days_unexcused,
        coalesce(attendance_totals.days_tardy, 0) as days_tardy,
        discipline_school_years.display_school_year as discipline_school_year,
        coalesce(discipline_totals.incident_count, 0) as incident_count,
        cast(coalesce(discipline_totals.days_removed, 0) as {{ data_type('numeric') }}) as days_removed,
        primary_contacts.contact_id as primary_contact_id,
        primary_contacts.contact_name as primary_contact_name,
        primary_contacts.best_phone_e164 as primary_contact_phone_e164,
        coalesce(active_teachers.active_teacher_count, 0) as active_teacher_count
    from students
    left join schools
        on
            students.district_id = schools.district_id
            and students.school_id = schools.school_id
    left join attendance_school_years
        on
            students.district_id = attendance_school_years.district_id
            and students.school_id = attendance_school_years.school_id
    left join attendance_totals
        on
            students.district_id = attendance_totals.district_id
            and students.student_id = attendance_totals.student_id
            and attendance_school_years.display_school_year = attendance_totals.school_year
    left join discipline_school_years
        on
            students.district_id = discipline_school_years.district_id
            and students.school_id = discipline_school_years.school_id
    left join discipline_totals
        on
            students.district_id = discipline_totals.district_id
            and students.student_id = discipline_totals.student_id
            and discipline_school_years.display_school_year = discipline_totals.school_year
    left join primary_contacts
        on
            students.district_id = primary_contacts.district_id
            and students.student_id = primary_contacts.student_id
    left join active_teachers
        on
            students.district_id = active_teachers.district_id
            and students.student_id = active_teachers.student_id

)

select * from final
