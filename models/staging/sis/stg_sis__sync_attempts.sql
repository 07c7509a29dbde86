with

source as (

    select * from {{ source('sis', 'sync_attempts') }}

),

renamed as (

    select
        source.attempt_id,
        source.district_id,
        source.export_date,
        source.outcome,
        source.message,
        source.recorded_at
    from source

)

select * from renamed
