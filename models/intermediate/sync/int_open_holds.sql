{{ config(materialized='view') }}

-- The failing checks that still hold their night: as the last build found them (int_night_checks), less what
-- `sis-sync approve` released since, read live (macros/holds.sql). What the command line reads: `approve`,
-- `preview` and the night's report.

with

night_checks as (

    select * from {{ ref('int_night_checks') }}

),

sync_approvals as (

    select * from {{ ref('stg_sis__sync_approvals') }}

),

open_holds as (

    select
        night_checks.district_id,
        night_checks.night_date,
        night_checks.file_name,
        night_checks.measure,
        night_checks.hold_rank,
        night_checks.message
    from night_checks
    left join {{ approvals_by_file('sync_approvals') }} as approved
        on night_checks.district_id = approved.district_id and night_checks.file_name = approved.file_name
    where
        night_checks.is_failing
        and not {{ is_released('approved', 'night_checks.night_date') }}

)

select * from open_holds
