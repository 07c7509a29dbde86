with

source as (

    select * from {{ source('oneroster', 'oneroster_academic_sessions') }}

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
        source.title,
        lower(source.session_type) as session_type,
        source.start_date,
        source.end_date,
        source.parent_sourced_id,
        cast(source.session_school_year as integer) as session_school_year,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
