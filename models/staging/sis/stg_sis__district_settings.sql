with

source as (

    select * from {{ source('sis', 'district_settings') }}

),

renamed as (

    select
        source.district_id,
        source.thresholds,
        source.no_delivery,
        source.country,
        source.recorded_at
    from source

)

select * from renamed
