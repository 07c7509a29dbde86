with

source as (

    select * from {{ source('sis', 'load_ledger') }}

),

renamed as (

    select
        source.ledger_id,
        source.district_id,
        source.export_date,
        lower(source.file_name) as file_name,
        source.sha256,
        source.row_count,
        source.status,
        source.message,
        source.load_id,
        source.min_school_year,
        source.max_school_year,
        source.added_count,
        source.changed_count,
        source.retired_count,
        -- the export's school year; a ledger row recorded before it was kept counts its newest year
        coalesce(source.main_school_year, source.max_school_year) as main_school_year,
        source.recorded_at
    from source

)

select * from renamed
