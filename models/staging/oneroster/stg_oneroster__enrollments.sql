with

source as (

    select * from {{ source('oneroster', 'oneroster_enrollments') }}

),

renamed as (

    select
        source._district_id as district_id,
        source._load_id as load_id,
        source._export_date as export_date,
        source._line_number as line_number,
        source._change as change_type,
        source._key_hash as key_hash,
        source.sourced_id,
        lower(coalesce(source.status, 'active')) as record_status,
        source.date_last_modified,
        source.class_sourced_id,
        source.school_sourced_id,
        source.user_sourced_id,
        lower(source.role) as user_role,
        source.is_primary,
        source.begin_date,
        source.end_date,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
