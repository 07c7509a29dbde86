with

source as (

    select * from {{ source('sis', 'discipline') }}

),

renamed as (

    select
        source._district_id as district_id,
        source._load_id as load_id,
        source._export_date as export_date,
        source._line_number as line_number,
        source._change as change_type,
        source._key_hash as key_hash,
        source.incident_id,
        source.student_id,
        source.school_id,
        source.incident_date,
        source.incident_type,
        source.action_taken,
        source.action_start_date,
        source.action_end_date,
        source.days_removed,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
