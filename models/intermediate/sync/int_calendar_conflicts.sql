{{ config(materialized='table') }}

-- A district's seasons rows that contradict each other or themselves: that district's nights are not
-- synced (decision calendar_invalid) until its calendar is mended; every other district goes on.

with

seasons as (

    select * from {{ ref('int_district_calendars') }}

),

row_conflicts as (

    select
        seasons.district_id,
        seasons.school_year,
        case
            when seasons.school_year is null then 'the school year is missing'
            when
                seasons.first_day is null
                or seasons.last_day is null
                or seasons.summer_pause_start is null
                or seasons.summer_pause_end is null
                then 'a date is missing'
            when seasons.first_day >= seasons.last_day then 'first_day is not before last_day'
            when seasons.summer_pause_start > seasons.summer_pause_end
                then 'summer_pause_start is after summer_pause_end'
            when seasons.summer_pause_start <= seasons.first_day
                then 'the summer pause starts before the first day of school'
        end as problem
    from seasons

),

pair_conflicts as (

    select
        earlier.district_id,
        later.school_year,
        case
            when earlier.school_year = later.school_year then 'the school year has two rows'
            else 'its summer pause overlaps the one after school year ' || earlier.school_year
        end as problem
    from seasons as earlier
    inner join seasons as later
        on
            earlier.district_id = later.district_id
            and earlier.school_year <= later.school_year
            and earlier.summer_pause_end >= later.summer_pause_start
            and (
                earlier.school_year < later.school_year
                or earlier.summer_pause_start <> later.summer_pause_start
                or earlier.summer_pause_end <> later.summer_pause_end
                or earlier.first_day <> later.first_day
                or earlier.last_day <> later.last_day
            )

),

conflicts as (

    select * from row_conflicts
    where problem is not null

    union

    select * from pair_conflicts

),

final as (

    select
        conflicts.district_id,
        count(*) as conflict_count,
        'the seasons seed contradicts itself: '
        || {{ ordered_string_agg(
            "coalesce('school year ' || conflicts.school_year || ': ', '') || conflicts.problem",
            '; ', 'conflicts.school_year, conflicts.problem'
        ) }} as message
    from conflicts
    group by conflicts.district_id

)

select * from final
