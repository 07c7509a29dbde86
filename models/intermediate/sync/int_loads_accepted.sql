{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

sync_nights as (

    select * from {{ ref('int_sync_nights') }}

),

accepted_loads as (

    -- a load counts when its night's decision let the file's model group refresh
    select
        load_ledger.ledger_id,
        load_ledger.district_id,
        load_ledger.file_name,
        export_file_groups.model_group,
        load_ledger.load_id,
        load_ledger.export_date,
        load_ledger.min_school_year,
        load_ledger.max_school_year,
        load_ledger.main_school_year
    from load_ledger
    inner join export_file_groups
        on load_ledger.file_name = export_file_groups.file_name
    inner join sync_nights
        on
            load_ledger.district_id = sync_nights.district_id
            and load_ledger.export_date = sync_nights.night_date
            and export_file_groups.model_group = sync_nights.model_group
    where
        load_ledger.status in ('loaded', 'unchanged')
        and load_ledger.export_date <= {{ run_date() }}
        and sync_nights.decision = 'refresh'

),

load_years as (

    -- one row per school year a load carries; files without school_year get a null year
    select
        accepted_loads.*,
        years.school_year
    from accepted_loads
    left join lateral generate_series(
        accepted_loads.min_school_year, accepted_loads.max_school_year
    ) as years (school_year) on true

)

select * from load_years
