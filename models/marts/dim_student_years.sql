{{ year_partitioned_config() }}

with

loads_to_build as (

    {{ loads_to_build('students.csv', 'students') }}

),

students as (

    {{ versions_as_of('stg_sis__students', 'students.csv', 'loads_to_build', ['student_id']) }}

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
        students.as_of_date
    from students

)

select * from student_years
