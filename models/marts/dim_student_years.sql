{#- Incremental by record (macros/versions.sql): a night rebuilds the student years that changed. -#}
{{ changed_records_config('stg_sis__students', 'students.csv', ['student_id']) }}

with

loads_to_build as (

    {{ loads_to_build('students.csv') }}

),

students as (

    {{ versions_as_of('stg_sis__students', 'students.csv', 'loads_to_build', ['student_id'],
        changed=changed_records_relation()) }}

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
        students.export_date as last_changed_date
    from students

)

select * from student_years
