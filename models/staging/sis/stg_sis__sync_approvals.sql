with

source as (

    select * from {{ source('sis', 'sync_approvals') }}

),

renamed as (

    select
        source.approval_id,
        source.district_id,
        source.export_date,
        lower(source.file_name) as file_name,
        source.approved_at,
        source.approved_by
    from source

)

select * from renamed
