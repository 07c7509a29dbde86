{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}
    where export_date <= {{ run_date() }}

),

load_changes as (

    select * from {{ ref('stg_sis__load_changes') }}

),

safety_measures as (

    select * from {{ ref('safety_measures') }}

),

school_year_files as (

    -- the file whose main school year is the district's (students.csv)
    select export_file_groups.file_name
    from {{ ref('export_file_groups') }} as export_file_groups
    where export_file_groups.decides_school_year

),

sync_approvals as (

    select * from {{ ref('stg_sis__sync_approvals') }}

),

district_thresholds as (

    select * from {{ ref('int_district_thresholds') }}

),

night_deliveries as (

    -- each night's delivery of each file that counts (the newest loaded or unchanged one), with the row
    -- count of the delivery before it: what the night is compared with
    select
        deliveries.district_id,
        deliveries.file_name,
        deliveries.export_date,
        deliveries.status,
        deliveries.load_id,
        lag(deliveries.row_count) over (
            partition by deliveries.district_id, deliveries.file_name
            order by deliveries.export_date
        ) as base_records
    from (
        select distinct on (load_ledger.district_id, load_ledger.file_name, load_ledger.export_date)
            load_ledger.district_id,
            load_ledger.file_name,
            load_ledger.export_date,
            load_ledger.status,
            load_ledger.load_id,
            load_ledger.row_count
        from load_ledger
        where load_ledger.status in ('loaded', 'unchanged')
        order by
            load_ledger.district_id asc,
            load_ledger.file_name asc,
            load_ledger.export_date asc,
            load_ledger.ledger_id desc
    ) as deliveries

),

checked_loads as (

    -- the nights that changed something (an unchanged delivery changed nothing); a corrected re-delivery
    -- is measured against the delivery it replaced (what it dropped), else against the night before
    select
        night_deliveries.*,
        exists(
            select 1
            from load_changes
            where
                load_changes.load_id = night_deliveries.load_id
                and load_changes.change = 'dropped'
        ) as replaces_a_delivery
    from night_deliveries
    where night_deliveries.status = 'loaded'

),

compared_loads as (

    -- a district's first delivery of a file is compared with nothing, unless it corrects an earlier one
    select checked_loads.*
    from checked_loads
    where checked_loads.base_records is not null or checked_loads.replaces_a_delivery

),

measured as (

    -- each measure's columns, with what the load changed in them
    select
        checked_loads.district_id,
        checked_loads.export_date as night_date,
        checked_loads.file_name,
        checked_loads.load_id,
        checked_loads.replaces_a_delivery,
        safety_measures.measure,
        safety_measures.kind,
        safety_measures.column_name,
        coalesce(load_changes.records, 0) as affected_records,
        coalesce(load_changes.out_of, checked_loads.base_records) as out_of_records
    from compared_loads as checked_loads
    inner join safety_measures
        on checked_loads.file_name = safety_measures.file_name
    left join load_changes
        on
            checked_loads.load_id = load_changes.load_id
            and safety_measures.column_name is not distinct from load_changes.column_name
            and load_changes.change = case
                when safety_measures.kind = 'emptied' then 'emptied'
                when safety_measures.kind = 'removed' and safety_measures.column_name is null
                    then case when checked_loads.replaces_a_delivery then 'dropped' else 'retired' end
                else 'changed'
            end

),

measure_shares as (

    -- a measure over several columns takes its largest share
    select distinct on (measured.load_id, measured.measure)
        measured.district_id,
        measured.night_date,
        measured.file_name,
        measured.load_id,
        measured.replaces_a_delivery,
        measured.measure,
        measured.kind,
        measured.affected_records,
        measured.out_of_records,
        coalesce(measured.affected_records::numeric / nullif(measured.out_of_records, 0), 0) as affected_share
    from measured
    order by
        measured.load_id asc,
        measured.measure asc,
        coalesce(measured.affected_records::numeric / nullif(measured.out_of_records, 0), 0) desc

),

school_years_seen as (

    -- the first night each school year appeared in a district's students file
    select
        load_ledger.district_id,
        load_ledger.main_school_year as school_year,
        min(load_ledger.export_date) as first_night
    from load_ledger
    inner join school_year_files
        on load_ledger.file_name = school_year_files.file_name
    where
        load_ledger.status in ('loaded', 'unchanged')
        and load_ledger.main_school_year is not null
    group by load_ledger.district_id, load_ledger.main_school_year

),

rollovers as (

    -- the nights a district's SIS moved to a newer school year
    select
        newer.district_id,
        newer.first_night
    from school_years_seen as newer
    where exists (
        select 1
        from school_years_seen as older
        where
            older.district_id = newer.district_id
            and older.school_year < newer.school_year
            and older.first_night < newer.first_night
    )

),

windows as (

    -- each checked night: whether it is in the rollover window, and where its cumulative window starts (the
    -- nights within cumulative_nights days, after the file's last approval before it)
    select
        measure_shares.*,
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
                rollovers.district_id = measure_shares.district_id
                and rollovers.first_night <= measure_shares.night_date
                and measure_shares.night_date - rollovers.first_night <= district_thresholds.rollover_days
        ) as is_in_rollover_window,
        greatest(
            measure_shares.night_date - district_thresholds.cumulative_nights + 1,
            (
                select max(sync_approvals.export_date) + 1
                from sync_approvals
                where
                    sync_approvals.district_id = measure_shares.district_id
                    and sync_approvals.file_name = measure_shares.file_name
                    and sync_approvals.export_date < measure_shares.night_date
            )
        ) as window_start,
        exists(
            select 1
            from sync_approvals
            where
                sync_approvals.district_id = measure_shares.district_id
                and sync_approvals.file_name = measure_shares.file_name
                and sync_approvals.export_date >= measure_shares.night_date
        ) as is_released
    from measure_shares
    inner join district_thresholds
        on measure_shares.district_id = district_thresholds.district_id

),

cumulated as (

    -- removals add up over the window: a few percent a night must not slip through
    select
        windows.*,
        case when windows.kind = 'removed' then cumulative.records end as cumulative_records,
        case when windows.kind = 'removed' then cumulative.out_of end as cumulative_out_of,
        case
            when windows.kind = 'removed'
                then coalesce(cumulative.records::numeric / nullif(cumulative.out_of, 0), 0)
        end as cumulative_share_value,
        case
            when windows.kind = 'changed' and windows.is_in_rollover_window then windows.rollover_changed_share
            when windows.kind = 'changed' then windows.changed_share
            when windows.is_in_rollover_window then windows.rollover_removed_share
            else windows.removed_share
        end as threshold,
        case
            when windows.is_in_rollover_window then greatest(windows.cumulative_share, windows.rollover_removed_share)
            else windows.cumulative_share
        end as cumulative_threshold
    from windows
    left join lateral (
        select
            sum(earlier.affected_records) as records,
            (array_agg(earlier.out_of_records order by earlier.night_date))[1] as out_of
        from measure_shares as earlier
        where
            earlier.district_id = windows.district_id
            and earlier.file_name = windows.file_name
            and earlier.measure = windows.measure
            and earlier.night_date between windows.window_start and windows.night_date
    ) as cumulative on true

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
        || '; release with `sis-sync approve --district ' || judged.district_id || ' --date '
        || judged.night_date || '`' as message
    from judged

),

later_years as (

    -- a students file with records of a school year after the one most of its records carry: the rollover
    -- is the export's as a whole (main_school_year), so the stray records never roll the district over,
    -- and the night is held until a person looks (the SIS may be half-way through a rollover)
    select
        load_ledger.district_id,
        load_ledger.export_date as night_date,
        load_ledger.file_name,
        'records of a later school year' as measure,
        'school_year' as kind,
        load_ledger.load_id,
        false as replaces_a_delivery,
        null::bigint as affected_records,
        load_ledger.row_count as out_of_records,
        null::numeric as affected_share,
        0::numeric as threshold,
        null::bigint as cumulative_records,
        null::bigint as cumulative_out_of,
        null::numeric as cumulative_share,
        null::numeric as cumulative_threshold,
        null::date as window_start,
        false as is_in_rollover_window,
        true as is_over_threshold,
        false as is_over_cumulative_threshold,
        true as is_failing,
        exists(
            select 1
            from sync_approvals
            where
                sync_approvals.district_id = load_ledger.district_id
                and sync_approvals.file_name = load_ledger.file_name
                and sync_approvals.export_date >= load_ledger.export_date
        ) as is_released,
        'held: records of school year ' || load_ledger.max_school_year || ' in an export of school year '
        || load_ledger.main_school_year || ' (the year most of its records carry); the export as a whole'
        || ' decides the rollover; release with `sis-sync approve --district ' || load_ledger.district_id
        || ' --date ' || load_ledger.export_date || '`' as message
    from load_ledger
    inner join school_year_files
        on load_ledger.file_name = school_year_files.file_name
    where
        load_ledger.status = 'loaded'
        and load_ledger.max_school_year > load_ledger.main_school_year

),

missing_records as (

    -- fail closed: a load whose change record is missing (written with its ledger row, so only a warehouse
    -- mended by hand or a failed restore lacks one) is held as if it removed everything, unless the
    -- district's loads predate change records altogether
    select
        compared_loads.district_id,
        compared_loads.export_date as night_date,
        compared_loads.file_name,
        'change record missing' as measure,
        'removed' as kind,
        compared_loads.load_id,
        compared_loads.replaces_a_delivery,
        null::bigint as affected_records,
        compared_loads.base_records as out_of_records,
        null::numeric as affected_share,
        0::numeric as threshold,
        null::bigint as cumulative_records,
        null::bigint as cumulative_out_of,
        null::numeric as cumulative_share,
        null::numeric as cumulative_threshold,
        null::date as window_start,
        false as is_in_rollover_window,
        true as is_over_threshold,
        false as is_over_cumulative_threshold,
        true as is_failing,
        exists(
            select 1
            from sync_approvals
            where
                sync_approvals.district_id = compared_loads.district_id
                and sync_approvals.file_name = compared_loads.file_name
                and sync_approvals.export_date >= compared_loads.export_date
        ) as is_released,
        'held: what this night changed was never recorded (its check did not complete), release with'
        || ' `sis-sync approve --district ' || compared_loads.district_id || ' --date '
        || compared_loads.export_date || '`' as message
    from compared_loads
    where
        not exists (
            select 1
            from load_changes
            where load_changes.load_id = compared_loads.load_id
        )
        and exists (
            select 1
            from load_changes
            where
                load_changes.district_id = compared_loads.district_id
                and load_changes.export_date <= compared_loads.export_date
        )

),

checks as (

    select * from final

    union all

    select * from later_years

    union all

    select * from missing_records

),

ranked as (

    -- the order in which a load's failing checks are told (the first one names a hold): removals first,
    -- then emptied columns, then changes, each by the largest share
    select
        checks.*,
        row_number() over (
            partition by checks.load_id
            order by
                checks.is_failing desc,
                checks.kind = 'changed' asc,
                checks.kind = 'emptied' asc,
                checks.affected_share desc,
                checks.measure asc
        ) as hold_rank
    from checks

)

select * from ranked
