with

source as (

    select * from {{ source('oneroster', 'oneroster_classes') }}

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
        source.grades,
        source.course_sourced_id,
        source.class_code,
        lower(source.class_type) as class_type,
        source.location,
        source.school_sourced_id,
        source.term_sourced_ids,
        source.subjects,
        source.periods,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
