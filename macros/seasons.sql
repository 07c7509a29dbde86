{#- The season logic: the one place that decides, per district, per night and per model group, whether the
    night's sync may change that group's marts (refresh, paused, awaiting_rollover, held by a safety
    threshold: int_night_checks, or calendar_invalid: the district's seasons rows contradict each other). Driven by the seeds `seasons` (the calendar) and
    `season_refresh_rules` (what refreshes in which season); documented in macros/_macros.yml. -#}

{% macro season_decisions(nights) -%}
    {#- `nights`: a relation or CTE with columns district_id, night_date.
        One row per (district_id, night_date, model_group) with season, refresh rule and decision. -#}
    select
        nights.district_id,
        nights.night_date,
        model_groups.model_group,
        coalesce(pause.season, 'in_session') as season,
        pause.school_year as paused_school_year,
        last_pause.school_year as last_paused_school_year,
        exported.newest_school_year,
        coalesce(rules.refresh, true) as rule_refreshes,
        coalesce(summer_rules.refresh, false) as refreshes_in_summer,
        case
            when calendar_conflicts.district_id is not null then 'calendar_invalid'
            when pause.season is not null and not coalesce(rules.refresh, false) then 'paused'
            when
                pause.season is null
                and not coalesce(summer_rules.refresh, false)
                and last_pause.school_year is not null
                and coalesce(exported.newest_school_year, 0) <= last_pause.school_year
                then 'awaiting_rollover'
            when pause.season is null and not coalesce(rules.refresh, true) then 'paused'
            when held.hold_count > 0 then 'held'
            else 'refresh'
        end as decision,
        held.hold_count,
        held.hold_message,
        calendar_conflicts.message as calendar_message,
        has_calendar.district_id is not null as has_calendar
    from {{ nights }} as nights
    cross join (
        select distinct season_refresh_rules.model_group
        from {{ ref('season_refresh_rules') }} as season_refresh_rules
    ) as model_groups
    left join lateral (
        select
            'summer_pause' as season,
            seasons.school_year
        from {{ ref('seasons') }} as seasons
        where
            seasons.district_id = nights.district_id
            and nights.night_date between seasons.summer_pause_start and seasons.summer_pause_end
        order by seasons.school_year desc
        limit 1
    ) as pause on true
    left join lateral (
        select seasons.school_year
        from {{ ref('seasons') }} as seasons
        where
            seasons.district_id = nights.district_id
            and seasons.summer_pause_end < nights.night_date
        order by seasons.summer_pause_end desc
        limit 1
    ) as last_pause on true
    left join lateral (
        select max(ledger.main_school_year) as newest_school_year
        from {{ ref('stg_sis__load_ledger') }} as ledger
        where
            ledger.district_id = nights.district_id
            and ledger.file_name = 'students.csv'
            and ledger.status in ('loaded', 'unchanged')
            and ledger.export_date <= nights.night_date
    ) as exported on true
    left join lateral (
        -- a file's failing night holds its group on that night and every night after, until approved; a
        -- failing corrected re-delivery of a night leaves that night showing the delivery it replaced
        -- (int_loads_effective), and holds the nights after it
        select
            count(*) as hold_count,
            string_agg(checks.file_name || ' ' || checks.message, '; ' order by checks.file_name) as hold_message
        from (
            select distinct on (night_checks.file_name)
                night_checks.file_name,
                night_checks.message
            from {{ ref('int_night_checks') }} as night_checks
            inner join {{ ref('export_file_groups') }} as export_file_groups
                on night_checks.file_name = export_file_groups.file_name
            where
                night_checks.is_failing
                and not night_checks.is_released
                and night_checks.district_id = nights.district_id
                and (
                    night_checks.night_date < nights.night_date
                    or night_checks.night_date = nights.night_date and not night_checks.replaces_a_delivery
                )
                and export_file_groups.model_group = model_groups.model_group
            order by
                night_checks.file_name asc,
                night_checks.night_date asc,
                night_checks.kind = 'changed' asc,
                night_checks.kind = 'emptied' asc,
                night_checks.affected_share desc
        ) as checks
    ) as held on true
    left join lateral (
        select seasons.district_id
        from {{ ref('seasons') }} as seasons
        where seasons.district_id = nights.district_id
        limit 1
    ) as has_calendar on true
    left join {{ ref('int_calendar_conflicts') }} as calendar_conflicts
        on nights.district_id = calendar_conflicts.district_id
    left join {{ ref('season_refresh_rules') }} as rules
        on
            rules.season = coalesce(pause.season, 'in_session')
            and model_groups.model_group = rules.model_group
    left join {{ ref('season_refresh_rules') }} as summer_rules
        on
            summer_rules.season = 'summer_pause'
            and model_groups.model_group = summer_rules.model_group
{%- endmacro %}

{% macro districts_refreshing_tonight(model_group) -%}
    {#- The districts whose `model_group` refreshes on the run date: what an incremental model may rebuild
        tonight. A query, to use as a CTE body. -#}
    select sync_nights.district_id
    from {{ ref('int_sync_nights') }} as sync_nights
    where
        sync_nights.night_date = {{ run_date() }}
        and sync_nights.model_group = '{{ model_group }}'
        and sync_nights.decision = 'refresh'
{%- endmacro %}
