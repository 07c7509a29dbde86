{{ config(materialized='table') }}

-- Every delivery of a file on a night that was loaded or unchanged, newest first (delivery_rank 1: a corrected
-- re-delivery replaces the night's earlier one; a rejected one replaces nothing). The one definition of "a
-- night's delivery": what a night is compared with (int_compared_loads) and what counts (int_loads_effective).

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

deliveries as (

    select
        load_ledger.ledger_id,
        load_ledger.district_id,
        load_ledger.file_name,
        load_ledger.export_date,
        load_ledger.status,
        case when load_ledger.status = 'loaded' then load_ledger.load_id end as load_id,
        load_ledger.row_count,
        row_number() over (
            partition by load_ledger.district_id, load_ledger.file_name, load_ledger.export_date
            order by load_ledger.ledger_id desc
        ) as delivery_rank
    from load_ledger
    where load_ledger.status in ('loaded', 'unchanged')

)

select * from deliveries
