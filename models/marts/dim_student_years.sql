{{ year_partitioned_config() }}

with

loads_to_build as (

    {{ loads_to_build('students.csv', 'students') }}

),

students as (

    select * from {{ ref('stg_sis__students') }} as students
    where {{ load_id_filter('students.load_id', loads_to_build('students.csv', 'students')) }}

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
        loads_to_build.as_of_date
    from students
    inner join loads_to_build
        on
            students.load_id = loads_to_build.load_id
            and students.school_year = loads_to_build.school_year

)

select * from student_years
