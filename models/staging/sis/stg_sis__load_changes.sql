with

source as (

    select * from {{ source('sis', 'load_changes') }}

),

renamed as (

    select
        source.load_id,
        source.district_id,
        source.export_date,
        lower(source.file_name) as file_name,
        source.change,
        source.column_name,
        source.records,
        source.out_of,
        {{ join_array('source.example_keys', ', ') }} as example_keys,
        source.recorded_at
    from source

)

select * from renamed
