{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

held_corrections as (

    -- a corrected re-delivery of a night held by a safety threshold: until it is approved, the night's
    -- delivery it replaced stays the one that counts (what the marts showed)
    select distinct night_checks.load_id
    from {{ ref('int_night_checks') }} as night_checks
    where night_checks.replaces_a_delivery and night_checks.is_failing and not night_checks.is_released

),

effective_loads as (

    -- each night's delivery of each file that counts: the newest one loaded or unchanged (a corrected file
    -- replaces the night's earlier one; a rejected one replaces nothing). Its versions are what the night
    -- changed; an unchanged delivery changed nothing (no load_id)
    select distinct on (load_ledger.district_id, load_ledger.file_name, load_ledger.export_date)
        load_ledger.district_id,
        load_ledger.file_name,
        load_ledger.export_date,
        load_ledger.status,
        case when load_ledger.status = 'loaded' then load_ledger.load_id end as load_id,
        load_ledger.ledger_id
    from load_ledger
    where
        load_ledger.status in ('loaded', 'unchanged')
        and not exists (
            select 1 from held_corrections
            where held_corrections.load_id = load_ledger.load_id
        )
    order by
        load_ledger.district_id asc,
        load_ledger.file_name asc,
        load_ledger.export_date asc,
        load_ledger.ledger_id desc

)

select * from effective_loads
