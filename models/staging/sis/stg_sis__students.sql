with

source as (

    select * from {{ source('sis', 'students') }}

),

renamed as (

    select
        source._district_id as district_id,
        source._load_id as load_id,
        source._export_date as export_date,
        source._line_number as line_number,
        source._change as change_type,
        source._key_hash as key_hash,
        source.student_id,
        source.state_student_id,
        source.first_name,
        source.middle_name,
        source.last_name,
        source.preferred_name,
        source.birth_date,
        source.gender,
        {{ normalize_grade('source.grade_level') }} as grade_level,
        source.school_id,
        cast(source.school_year as integer) as school_year,
        lower(source.enrollment_status) as enrollment_status,
        source.entry_date,
        source.exit_date,
        source.home_language
    from source

)

select * from renamed
