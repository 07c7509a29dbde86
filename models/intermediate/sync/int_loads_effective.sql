{{ config(materialized='table') }}

with

night_deliveries as (

    select * from {{ ref('int_night_deliveries') }}

),

held_corrections as (

    select * from {{ ref('int_held_corrections') }}

),

effective_loads as (

    -- each night's delivery of each file that counts: the newest one that is not a held correction. Its
    -- versions are what the night changed; an unchanged delivery changed nothing (no load_id)
    select {{ distinct_on([
        'night_deliveries.district_id', 'night_deliveries.file_name', 'night_deliveries.export_date'
    ]) }}
        night_deliveries.district_id,
        night_deliveries.file_name,
        night_deliveries.export_date,
        night_deliveries.status,
        night_deliveries.load_id,
        night_deliveries.ledger_id
    from night_deliveries
    where
        not exists (
            select 1 from held_corrections
            where held_corrections.load_id = night_deliveries.load_id
        )
    {{ first_by(
        ['night_deliveries.district_id', 'night_deliveries.file_name', 'night_deliveries.export_date'],
        'night_deliveries.delivery_rank asc'
    ) }}

)

select * from effective_loads
