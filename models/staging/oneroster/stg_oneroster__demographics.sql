with

source as (

    select * from {{ source('oneroster', 'oneroster_demographics') }}

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
        source.birth_date,
        lower(source.sex) as sex,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
