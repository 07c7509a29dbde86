with

source as (

    select * from {{ source('sis', 'attendance') }}

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
        source.school_id,
        source.attendance_date,
        source.attendance_code,
        source.minutes_absent,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
