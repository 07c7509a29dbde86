{{ config(materialized='table') }}

-- Each district's school calendar, one row per school year: its rows of the seed seasons, or, for a district
-- without one that delivers OneRoster, the calendar its export carries: each schoolYear academic session's
-- first and last day, and the default summer pause from the day after one year's last day to the day before
-- the next year's first day (open until the export carries the next year). A seed row always wins: a
-- district with any row in the seed is read from the seed alone.

with

seasons as (

    select * from {{ ref('seasons') }}

),

newest_sessions as (

    -- each academic session's newest delivered version, of a district without seed rows
    select {{ distinct_on(['sessions.district_id', 'sessions.sourced_id']) }}
        sessions.district_id,
        sessions.sourced_id,
        sessions.session_type,
        sessions.session_school_year,
        sessions.start_date,
        sessions.end_date,
        sessions.change_type
    from {{ ref('stg_oneroster__academic_sessions') }} as sessions
    where
        sessions.export_date <= {{ run_date() }}
        and not exists (
            select 1
            from seasons
            where seasons.district_id = sessions.district_id
        )
    {{ first_by(
        ['sessions.district_id', 'sessions.sourced_id'],
        'sessions.export_date desc, sessions.school_year desc'
    ) }}

),

school_year_sessions as (

    -- a school year from its live schoolYear sessions (one per school in some exports): the first start, the
    -- last end
    select
        newest_sessions.district_id,
        newest_sessions.session_school_year as school_year,
        min(newest_sessions.start_date) as first_day,
        max(newest_sessions.end_date) as last_day
    from newest_sessions
    where newest_sessions.change_type != 'retired' and newest_sessions.session_type = 'schoolyear'
    group by newest_sessions.district_id, newest_sessions.session_school_year

),

exported as (

    select
        school_year_sessions.district_id,
        school_year_sessions.school_year,
        school_year_sessions.first_day,
        school_year_sessions.last_day,
        school_year_sessions.last_day + 1 as summer_pause_start,
        coalesce(
            lead(school_year_sessions.first_day) over (
                partition by school_year_sessions.district_id order by school_year_sessions.school_year
            ) - 1,
            date '9999-12-31'
        ) as summer_pause_end,
        'export' as calendar_source
    from school_year_sessions

),

calendars as (

    select
        seasons.district_id,
        seasons.school_year,
        seasons.first_day,
        seasons.last_day,
        seasons.summer_pause_start,
        seasons.summer_pause_end,
        'seed' as calendar_source
    from seasons

    union all

    select * from exported

)

select * from calendars
