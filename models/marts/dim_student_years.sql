{#- Index (district_id, school_year): the partitions replace_partitions deletes, the newest year
    loads_to_build looks up, the current year the tests check, and what BI filters by. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='replace_partitions',
        partition_columns=['district_id', 'school_year'],
        indexes=[{'columns': ['district_id', 'school_year']}],
        on_schema_change='fail',
    )
}}

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
