{{ config(materialized='table') }}

-- The season decision: per district, night and model group, whether the night's sync may change that group's
-- marts. Each reason not to is a named flag; `decision` takes the first that holds, in this order:
-- calendar_invalid, paused, awaiting_rollover, held; else refresh. Driven by the seeds `seasons` (the
-- calendar) and `season_refresh_rules`, the load ledger (the rollover) and int_night_checks (the holds), so
-- the nightly incremental runs and a full refresh of any date decide alike.

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

seasons as (

    select * from {{ ref('seasons') }}

),

season_refresh_rules as (

    select * from {{ ref('season_refresh_rules') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

night_checks as (

    select * from {{ ref('int_night_checks') }}

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

model_groups as (

    select distinct season_refresh_rules.model_group
    from season_refresh_rules

),

night_groups as (

    select
        nights.district_id,
        nights.night_date,
        model_groups.model_group
    from nights
    cross join model_groups

),

calendar as (

    -- the summer pause the night falls in (if any), and the school year of the last pause over before it
    select
        night_groups.*,
        pause.school_year as paused_school_year,
        last_pause.school_year as last_paused_school_year,
        case when pause.school_year is not null then 'summer_pause' else 'in_session' end as season
    from night_groups
    left join lateral (
        select seasons.school_year
        from seasons
        where
            seasons.district_id = night_groups.district_id
            and night_groups.night_date between seasons.summer_pause_start and seasons.summer_pause_end
        order by seasons.school_year desc
        limit 1
    ) as pause on true
    left join lateral (
        select seasons.school_year
        from seasons
        where
            seasons.district_id = night_groups.district_id
            and seasons.summer_pause_end < night_groups.night_date
        order by seasons.summer_pause_end desc
        limit 1
    ) as last_pause on true

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

holds as (

    -- a file's failing night holds its group on that night and every night after, until approved; a failing
    -- corrected re-delivery of a night leaves that night showing the delivery it replaced
    -- (int_loads_effective), and holds the nights after it
    select
        exported_years.*,
        held.hold_message
    from exported_years
    left join lateral (  -- noqa: ST05
        select string_agg(checks.file_name || ' ' || checks.message, '; ' order by checks.file_name) as hold_message
        from (
            select distinct on (night_checks.file_name)
                night_checks.file_name,
                night_checks.message
            from night_checks
            inner join export_file_groups
                on night_checks.file_name = export_file_groups.file_name
            where
                night_checks.is_failing
                and not night_checks.is_released
                and night_checks.district_id = exported_years.district_id
                and (
                    night_checks.night_date < exported_years.night_date
                    or night_checks.night_date = exported_years.night_date and not night_checks.replaces_a_delivery
                )
                and export_file_groups.model_group = exported_years.model_group
            order by
                night_checks.file_name asc,
                night_checks.night_date asc,
                night_checks.hold_rank asc
        ) as checks
    ) as held on true

),

flags as (

    select
        holds.district_id,
        holds.night_date,
        holds.model_group,
        holds.season,
        holds.newest_school_year,
        holds.hold_message,
        calendar_conflicts.message as calendar_message,
        calendar_conflicts.district_id is not null as has_calendar_conflict,
        -- a group without a rule for the season refreshes in session and pauses in summer
        not coalesce(rules.refresh, holds.season = 'in_session') as is_paused,
        holds.season = 'in_session'
        and not coalesce(summer_rules.refresh, false)
        and holds.last_paused_school_year is not null
        and coalesce(holds.newest_school_year, 0) <= holds.last_paused_school_year as is_awaiting_rollover,
        holds.hold_message is not null as is_held
    from holds
    left join calendar_conflicts
        on holds.district_id = calendar_conflicts.district_id
    left join season_refresh_rules as rules
        on
            holds.season = rules.season
            and holds.model_group = rules.model_group
    left join season_refresh_rules as summer_rules
        on
            summer_rules.season = 'summer_pause'
            and holds.model_group = summer_rules.model_group

),

final as (

    select
        flags.*,
        case
            when flags.has_calendar_conflict then 'calendar_invalid'
            when flags.is_paused then 'paused'
            when flags.is_awaiting_rollover then 'awaiting_rollover'
            when flags.is_held then 'held'
            else 'refresh'
        end as decision
    from flags

)

select * from final
