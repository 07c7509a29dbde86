with

source as (

    select * from {{ source('sis', 'staff') }}

),

renamed as (

    select
        source._district_id as district_id,
        source._load_id as load_id,
        source._export_date as export_date,
        source._line_number as line_number,
        source._change as change_type,
        source._key_hash as key_hash,
        source.staff_id,
        source.first_name,
        source.last_name,
        lower(source.email) as email,
        source.school_id,
        lower(source.role) as staff_role,
        source.is_active
    from source

)

select * from renamed
