{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

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
    where load_ledger.status in ('loaded', 'unchanged')
    order by
        load_ledger.district_id asc,
        load_ledger.file_name asc,
        load_ledger.export_date asc,
        load_ledger.ledger_id desc

)

select * from effective_loads
