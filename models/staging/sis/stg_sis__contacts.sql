with

source as (

    select * from {{ source('sis', 'contacts') }}

),

renamed as (

    select
        source._district_id as district_id,
        source._load_id as load_id,
        source._export_date as export_date,
        source._line_number as line_number,
        source._change as change_type,
        source._key_hash as key_hash,
        source.contact_id,
        source.student_id,
        source.first_name,
        source.last_name,
        lower(source.relationship) as relationship,
        source.is_primary as is_primary_in_sis,
        source.lives_with,
        source.contact_priority,
        source.mobile_phone,
        source.home_phone,
        source.work_phone,
        lower(source.email) as email,
        source.preferred_language,
        source.can_text,
        source.do_not_contact
    from source

)

select * from renamed
