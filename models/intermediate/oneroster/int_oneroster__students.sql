-- students.csv's records from OneRoster: the users whose role is student, per school year, with their birth
-- date and sex from demographics and their grade from the first of their CEDS grades (seed oneroster_grades).
with

users as (

    select * from {{ ref('int_oneroster__users') }}
    where oneroster_role = 'student' and not is_retired

),

demographics as (

    select * from {{ ref('rec_oneroster_demographics') }}
    where not is_retired

),

grades as (

    select * from {{ ref('oneroster_grades') }}

),

students as (

    select
        users.district_id,
        users.load_id,
        users.export_date,
        users.line_number,
        users.change_type,
        users.key_hash,
        users.sourced_id as student_id,
        users.identifier as state_student_id,
        users.given_name as first_name,
        users.middle_name,
        users.family_name as last_name,
        users.preferred_given_name as preferred_name,
        demographics.birth_date,
        case demographics.sex when 'female' then 'F' when 'male' then 'M' when 'other' then 'X' end as gender,
        coalesce(grades.grade_level, 'UG') as grade_level,
        users.org_sourced_id as school_id,
        users.school_year,
        case when users.enabled_user then 'active' else 'inactive' end as enrollment_status,
        users.role_begin_date as entry_date,
        users.role_end_date as exit_date,
        cast(null as {{ data_type('text') }}) as home_language,
        cast(null as date) as mapped_until
    from users
    left join demographics
        on
            users.district_id = demographics.district_id
            and users.school_year = demographics.school_year
            and users.sourced_id = demographics.sourced_id
    left join grades
        on upper(trim(split_part(users.grades, ',', 1))) = upper(grades.ceds_code)

)

select * from students
