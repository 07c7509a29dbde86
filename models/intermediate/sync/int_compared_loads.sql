{{ config(materialized='table') }}

-- Each loaded file of each night that is compared with something: the delivery before it (its row count), or,
-- for a corrected re-delivery of a night, the delivery it replaces. What the safety measures judge.

with

load_changes as (

    select * from {{ ref('stg_sis__load_changes') }}

),

night_deliveries as (

    -- each night's delivery of each file (int_night_deliveries), with the row count of the delivery before
    -- it: what the night is compared with
    select
        deliveries.district_id,
        deliveries.file_name,
        deliveries.export_date,
        deliveries.status,
        deliveries.load_id,
        lag(deliveries.row_count) over (
            partition by deliveries.district_id, deliveries.file_name
            order by deliveries.export_date
        ) as base_records
    from {{ ref('int_night_deliveries') }} as deliveries
    where deliveries.delivery_rank = 1 and deliveries.export_date <= {{ run_date() }}

),

checked_loads as (

    -- the nights that changed something (an unchanged delivery changed nothing); a corrected re-delivery
    -- is measured against the delivery it replaced (what it dropped), else against the night before
    select
        night_deliveries.*,
        exists(
            select 1
            from load_changes
            where
                load_changes.load_id = night_deliveries.load_id
                and load_changes.change = 'dropped'
        ) as replaces_a_delivery
    from night_deliveries
    where night_deliveries.status = 'loaded'

),

compared_loads as (

    -- a district's first delivery of a file is compared with nothing, unless it corrects an earlier one
    select checked_loads.*
    from checked_loads
    where checked_loads.base_records is not null or checked_loads.replaces_a_delivery

)

select * from compared_loads
