{{ config(severity='warn') }}

-- Catches: a district whose latest expected night (by its own calendar: int_expected_files, so never a
-- summer night for anything but contacts, nor a no-delivery day) is missing files, or whose export was
-- incomplete or failed. The freshness check of this project: a district is late when its calendar says so,
-- not after a fixed number of hours.
-- Fix: see `sis-sync status` (the reason of each missing file); ask the district for the export, or mark
-- the night as no-delivery in districts.yml (`no_delivery: {dates: [...]}`) when nothing was due.

with

expected_files as (

    select * from {{ ref('int_expected_files') }}

),

sync_history as (

    select * from {{ ref('sync_history') }}

),

latest_nights as (

    select
        expected_files.district_id,
        max(expected_files.night_date) as night_date
    from expected_files
    group by expected_files.district_id

)

select
    sync_history.district_id,
    sync_history.export_date,
    count(*) as files_not_delivered,
    {{ ordered_string_agg('sync_history.file_name', ', ', 'sync_history.file_name') }} as file_names
from sync_history
inner join latest_nights
    on
        sync_history.district_id = latest_nights.district_id
        and sync_history.export_date = latest_nights.night_date
where sync_history.sync_status in ('missing', 'incomplete', 'failed')
group by sync_history.district_id, sync_history.export_date
