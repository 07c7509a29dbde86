{{ config(materialized='table') }}
{%- set held_check_of = [
    'night_groups.district_id', 'night_groups.night_date', 'night_groups.model_group', 'night_checks.file_name'
] %}

-- The season decision: per district, night and model group, whether the night's sync may change that group's
-- marts. Each reason not to is a named flag; `decision` takes the first that holds, in this order:
-- calendar_invalid, paused, awaiting_rollover, held; else refresh. Driven by the calendar (int_district_nights),
-- the groups' refresh rules (int_group_refresh_rules) and the holds (int_night_checks), so the nightly
-- incremental runs and a full refresh of any date decide alike.

with

district_nights as (

    select * from {{ ref('int_district_nights') }}

),

group_refresh_rules as (

    select * from {{ ref('int_group_refresh_rules') }}

),

night_checks as (

    select * from {{ ref('int_night_checks') }}

),

group_rules as (

    -- each model group's rules, one column per season
    select
        group_refresh_rules.model_group,
        bool_or(group_refresh_rules.refreshes) filter (
            where group_refresh_rules.season = 'in_session'
        ) as refreshes_in_session,
        bool_or(group_refresh_rules.refreshes) filter (
            where group_refresh_rules.season = 'summer_pause'
        ) as refreshes_in_summer
    from group_refresh_rules
    group by group_refresh_rules.model_group

),

night_groups as (

    -- every model group of every night, with its rules
    select
        district_nights.*,
        group_rules.model_group,
        group_rules.refreshes_in_session,
        group_rules.refreshes_in_summer
    from district_nights
    cross join group_rules

),

held_checks as (

    -- a file's failing night holds its group on that night and every night after, until approved; a failing
    -- corrected re-delivery of a night leaves that night showing the delivery it replaced
    -- (int_loads_effective), and holds the nights after it: per night and group, each holding file's first
    -- failing check
    select {{ distinct_on(held_check_of) }}
        night_groups.district_id,
        night_groups.night_date,
        night_groups.model_group,
        night_checks.file_name,
        night_checks.message
    from night_groups
    inner join night_checks
        on
            night_groups.district_id = night_checks.district_id
            and night_groups.model_group = night_checks.model_group
            and (
                night_groups.night_date > night_checks.night_date
                or night_groups.night_date = night_checks.night_date and not night_checks.replaces_a_delivery
            )
    where night_checks.is_failing and not night_checks.is_released
    {{ first_by(held_check_of, 'night_checks.night_date asc, night_checks.hold_rank asc') }}

),

held as (

    select
        held_checks.district_id,
        held_checks.night_date,
        held_checks.model_group,
        {{ ordered_string_agg(
            "held_checks.file_name || ' ' || held_checks.message", '; ', 'held_checks.file_name'
        ) }} as hold_message
    from held_checks
    group by held_checks.district_id, held_checks.night_date, held_checks.model_group

),

holds as (

    select
        night_groups.*,
        held.hold_message
    from night_groups
    left join held
        on
            night_groups.district_id = held.district_id
            and night_groups.night_date = held.night_date
            and night_groups.model_group = held.model_group

),

flags as (

    select
        holds.district_id,
        holds.night_date,
        holds.model_group,
        holds.season,
        holds.newest_school_year,
        holds.hold_message,
        holds.calendar_message,
        holds.calendar_source,
        holds.has_calendar_conflict,
        not case
            when holds.season = 'in_session' then holds.refreshes_in_session else holds.refreshes_in_summer
        end as is_paused,
        -- a group that syncs over the summer does not wait for the rollover
        holds.is_before_rollover and not holds.refreshes_in_summer as is_awaiting_rollover,
        holds.hold_message is not null as is_held
    from holds

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
