with

source as (

    select * from {{ source('sis', 'schools') }}

),

renamed as (

    select
        source._district_id as district_id,
        source._load_id as load_id,
        source._export_date as export_date,
        source._line_number as line_number,
        source._change as change_type,
        source._key_hash as key_hash,
        source.school_id,
        source.school_name,
        {{ normalize_grade('source.low_grade') }} as low_grade,
        {{ normalize_grade('source.high_grade') }} as high_grade,
        source.phone
    from source

)

select * from renamed
