{#- Incremental by record: a night rebuilds the student years the records layer changed (macros/incremental.sql). -#}
{{ records_mart_config(['district_id', 'school_year', 'student_id']) }}

with

students as (

    {{ records_to_build('rec_students') }}

),

student_years as (

    select
        students.district_id,
        students.school_year,
        students.student_id,
        students.grade_level,
        students.school_id,
        students.enrollment_status,
        students.entry_date,
        students.exit_date,
        students.last_changed_date
    from students

)

select * from student_years
