with

source as (

    select * from {{ source('sis', 'phone_numbers') }}

),

renamed as (

    select
        source.country,
        source.phone,
        source.e164,
        source.recorded_at
    from source

)

select * from renamed
