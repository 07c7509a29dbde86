with

source as (

    select * from {{ source('oneroster', 'oneroster_users') }}

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
        source.enabled_user,
        source.org_sourced_ids,
        lower(source.role) as user_role,
        source.username,
        source.user_ids,
        source.given_name,
        source.family_name,
        source.middle_name,
        source.identifier,
        lower(source.email) as email,
        source.sms,
        source.phone,
        source.agent_sourced_ids,
        source.grades,
        source.preferred_given_name,
        source.primary_org_sourced_id,
        cast(source.school_year as integer) as school_year
    from source

)

select * from renamed
