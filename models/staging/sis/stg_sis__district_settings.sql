with

source as (

    select * from {{ source('sis', 'district_settings') }}

),

renamed as (

    select
        source.district_id,
        source.thresholds,
        source.no_delivery,
        source.recorded_at
    from source

)

select * from renamed
