with

source as (

    select * from {{ source('sis', 'sync_holds') }}

),

renamed as (

    select
        source.hold_id,
        source.district_id,
        source.export_date,
        lower(source.file_name) as file_name,
        source.load_id,
        source.baseline_load_id,
        source.measure,
        source.baseline_count,
        source.lost_count,
        source.threshold,
        source.status = 'held' as is_held,
        source.message,
        source.recorded_at,
        source.approved_at
    from source

)

select * from renamed
