{{ config(materialized='table') }}

-- The safety thresholds, applied to every measure of every compared load (int_load_measures): the threshold
-- that applies (the rollover window's after a rollover), the cumulative window after the file's last
-- approval, and whether the night fails.

with

load_measures as (

    select * from {{ ref('int_load_measures') }}

),

sync_approvals as (

    select * from {{ ref('stg_sis__sync_approvals') }}

),

district_thresholds as (

    select * from {{ ref('int_district_thresholds') }}

),

rollovers as (

    select * from {{ ref('int_district_rollovers') }}

),

windows as (

    -- each checked night: whether it is in the rollover window, and where its cumulative window starts (the
    -- nights within cumulative_nights days, after the file's last approval before it)
    select
        load_measures.*,
        district_thresholds.removed_share,
        district_thresholds.changed_share,
        district_thresholds.cumulative_share,
        district_thresholds.rollover_removed_share,
        district_thresholds.rollover_changed_share,
        district_thresholds.min_records,
        exists(
            select 1
            from rollovers
            where
                rollovers.district_id = load_measures.district_id
                and rollovers.first_night <= load_measures.night_date
                and {{ days_between('load_measures.night_date', 'rollovers.first_night') }}
                <= district_thresholds.rollover_days
        ) as is_in_rollover_window,
        greatest(
            load_measures.night_date - district_thresholds.cumulative_nights + 1,
            (
                select max(sync_approvals.export_date) + 1
                from sync_approvals
                where
                    sync_approvals.district_id = load_measures.district_id
                    and sync_approvals.file_name = load_measures.file_name
                    and sync_approvals.export_date < load_measures.night_date
            )
        ) as window_start,
        {{ is_released('approved', 'load_measures.night_date') }} as is_released
    from load_measures
    inner join district_thresholds
        on load_measures.district_id = district_thresholds.district_id
    left join {{ approvals_by_file('sync_approvals') }} as approved
        on load_measures.district_id = approved.district_id and load_measures.file_name = approved.file_name

),

cumulative as (

    -- removals add up over the window: a few percent a night must not slip through (its size: the first
    -- night's records)
    select
        windows.district_id,
        windows.file_name,
        windows.measure,
        windows.window_start,
        windows.night_date,
        sum(earlier.affected_records) as records,
        {{ value_of_first('earlier.out_of_records', 'earlier.night_date') }} as out_of
    from (
        select distinct
            windows.district_id,
            windows.file_name,
            windows.measure,
            windows.window_start,
            windows.night_date
        from windows
    ) as windows
    inner join load_measures as earlier
        on
            windows.district_id = earlier.district_id
            and windows.file_name = earlier.file_name
            and windows.measure = earlier.measure
            and earlier.night_date between windows.window_start and windows.night_date
    group by windows.district_id, windows.file_name, windows.measure, windows.window_start, windows.night_date

),

cumulated as (

    select
        windows.*,
        case when windows.kind = 'removed' then cumulative.records end as cumulative_records,
        case when windows.kind = 'removed' then cumulative.out_of end as cumulative_out_of,
        case
            when windows.kind = 'removed'
                then coalesce(cumulative.records::{{ data_type('numeric') }} / nullif(cumulative.out_of, 0), 0)
        end as cumulative_share_value,
        -- a measure's own share (seed safety_measures) replaces the district's outside the rollover window
        case
            when windows.kind = 'changed' and windows.is_in_rollover_window then windows.rollover_changed_share
            when windows.kind = 'changed' then coalesce(windows.measure_share, windows.changed_share)
            when windows.is_in_rollover_window then windows.rollover_removed_share
            else coalesce(windows.measure_share, windows.removed_share)
        end as threshold,
        case
            when windows.is_in_rollover_window then greatest(windows.cumulative_share, windows.rollover_removed_share)
            else windows.cumulative_share
        end as cumulative_threshold
    from windows
    left join cumulative
        on
            windows.district_id = cumulative.district_id
            and windows.file_name = cumulative.file_name
            and windows.measure = cumulative.measure
            and windows.window_start = cumulative.window_start
            and windows.night_date = cumulative.night_date

),

judged as (

    select
        cumulated.*,
        cumulated.affected_records >= cumulated.min_records
        and cumulated.affected_share > cumulated.threshold as is_over_threshold,
        coalesce(
            cumulated.cumulative_records >= cumulated.min_records
            and cumulated.cumulative_share_value > cumulated.cumulative_threshold,
            false
        ) as is_over_cumulative_threshold
    from cumulated

),

final as (

    select
        judged.district_id,
        judged.night_date,
        judged.file_name,
        judged.measure,
        judged.kind,
        judged.load_id,
        judged.replaces_a_delivery,
        judged.affected_records,
        judged.out_of_records,
        judged.affected_share,
        judged.threshold,
        judged.cumulative_records,
        judged.cumulative_out_of,
        judged.cumulative_share_value as cumulative_share,
        judged.cumulative_threshold,
        judged.window_start,
        judged.is_in_rollover_window,
        judged.is_over_threshold,
        judged.is_over_cumulative_threshold,
        judged.is_over_threshold or judged.is_over_cumulative_threshold as is_failing,
        judged.is_released,
        case
            when judged.is_over_threshold
                then
                    'held: ' || judged.measure || ' in ' || judged.affected_records || ' of '
                    || judged.out_of_records || ' records (' || round(100 * judged.affected_share, 1)
                    || '%), over the ' || round(100 * judged.threshold) || '% threshold'
            when judged.is_over_cumulative_threshold
                then
                    'held: ' || judged.measure || ' in ' || judged.cumulative_records || ' of '
                    || judged.cumulative_out_of || ' records over the nights since ' || judged.window_start
                    || ' (' || round(100 * judged.cumulative_share_value, 1) || '%), over the cumulative '
                    || round(100 * judged.cumulative_threshold) || '% threshold'
        end
        || case when judged.is_in_rollover_window then ' (rollover window)' else '' end
        || {{ release_hint('judged.district_id', 'judged.night_date') }} as message
    from judged

)

select * from final
