{{ config(severity='warn') }}

-- Catches: a district that delivers exports (it is in the load ledger) but has no row in seeds/seasons.csv
-- and no calendar in its export (a OneRoster district's schoolYear sessions: int_district_calendars).
-- Such a district is always in_session: its roster is not frozen over the summer and the rollover check
-- never holds it, so summer exports (often a half-rolled-over SIS) change the marts.
-- Fix: add a row per school year to seeds/seasons.csv for the district (district_id, school_year,
-- first_day, last_day, summer_pause_start, summer_pause_end; see the README, "Seasons") and run
-- `dbt seed --select seasons` then the nightly build. A warning, not an error: the sync itself works.

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

seasons as (

    select * from {{ ref('int_district_calendars') }}

)

select
    load_ledger.district_id,
    min(load_ledger.export_date) as first_export_date,
    max(load_ledger.export_date) as last_export_date
from load_ledger
where
    not exists (
        select 1
        from seasons
        where seasons.district_id = load_ledger.district_id
    )
group by load_ledger.district_id
