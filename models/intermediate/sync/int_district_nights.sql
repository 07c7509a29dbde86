{{ config(materialized='table') }}

-- Where each night of a district falls in its calendar (int_district_calendars: the seed seasons, or a OneRoster
-- export's sessions): in session or in the summer pause, the
-- school year of the last pause over before it, the newest school year its exports carried by then, and so
-- whether its SIS has rolled over since that pause. The calendar half of the season decision (int_sync_nights).

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

seasons as (

    select * from {{ ref('int_district_calendars') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

calendar_conflicts as (

    select * from {{ ref('int_calendar_conflicts') }}

),

nights as (

    -- every night a district delivered something, up to the run date, and the run date itself
    select distinct
        load_ledger.district_id,
        load_ledger.export_date as night_date
    from load_ledger
    where load_ledger.export_date <= {{ run_date() }}

    union

    select
        load_ledger.district_id,
        {{ run_date() }} as night_date
    from load_ledger

    union

    select
        seasons.district_id,
        {{ run_date() }} as night_date
    from seasons

),

calendar as (

    -- the night's season, and the school year of the last summer pause over before it
    select
        nights.*,
        {{ season_of('nights.district_id', 'nights.night_date') }} as season,
        (
            select seasons.school_year
            from seasons
            where seasons.district_id = nights.district_id and seasons.summer_pause_end < nights.night_date
            order by seasons.summer_pause_end desc
            limit 1
        ) as last_paused_school_year
    from nights

),

exported_years as (

    -- the newest school year the district's exports carried up to the night (each file as a whole)
    select
        calendar.*,
        exported.newest_school_year
    from calendar
    left join lateral (
        select max(load_ledger.main_school_year) as newest_school_year
        from load_ledger
        inner join export_file_groups
            on load_ledger.file_name = export_file_groups.file_name
        where
            load_ledger.district_id = calendar.district_id
            and export_file_groups.decides_school_year
            and load_ledger.status in ('loaded', 'unchanged')
            and load_ledger.export_date <= calendar.night_date
    ) as exported on true

),

final as (

    select
        exported_years.district_id,
        exported_years.night_date,
        exported_years.season,
        exported_years.last_paused_school_year,
        exported_years.newest_school_year,
        -- in session again after a pause, and no export has carried a school year newer than that pause's
        (
            exported_years.season = 'in_session'
            and exported_years.last_paused_school_year is not null
            and coalesce(exported_years.newest_school_year, 0) <= exported_years.last_paused_school_year
        ) as is_before_rollover,
        calendar_conflicts.district_id is not null as has_calendar_conflict,
        calendar_conflicts.message as calendar_message,
        -- seed, export (a OneRoster district's sessions) or none (always in session)
        (
            select min(seasons.calendar_source)
            from seasons
            where seasons.district_id = exported_years.district_id
        ) as calendar_source
    from exported_years
    left join calendar_conflicts
        on exported_years.district_id = calendar_conflicts.district_id

)

select * from final
