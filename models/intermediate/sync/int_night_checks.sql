{{ config(materialized='table') }}

-- The night checks that hold a file: every safety measure (int_night_measures), a students file with records of
-- a later school year than its main one, and a load whose change record is missing (fail closed); ranked per
-- load (hold_rank): the order in which a load's failing checks are told.

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}
    where export_date <= {{ run_date() }}

),

load_changes as (

    select * from {{ ref('stg_sis__load_changes') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

sync_approvals as (

    select * from {{ ref('stg_sis__sync_approvals') }}

),

compared_loads as (

    select * from {{ ref('int_compared_loads') }}

),

night_measures as (

    select * from {{ ref('int_night_measures') }}

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
        load_ledger.row_count as out_of_records,
        'records of school year ' || load_ledger.max_school_year || ' in an export of school year '
        || load_ledger.main_school_year || ' (the year most of its records carry); the export as a whole'
        || ' decides the rollover' as reason
    from load_ledger
    inner join export_file_groups
        on load_ledger.file_name = export_file_groups.file_name
    where
        export_file_groups.decides_school_year  -- students.csv: its main school year is the district's
        and load_ledger.status = 'loaded'
        and load_ledger.max_school_year > load_ledger.main_school_year

),

recorded_loads as (

    select distinct load_changes.load_id
    from load_changes

),

districts_recording as (

    -- the districts' first night with change records
    select
        load_changes.district_id,
        min(load_changes.export_date) as first_recorded_night
    from load_changes
    group by load_changes.district_id

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
        compared_loads.base_records as out_of_records,
        'what this night changed was never recorded (its check did not complete)' as reason
    from compared_loads
    left join recorded_loads
        on compared_loads.load_id = recorded_loads.load_id
    inner join districts_recording
        on
            compared_loads.district_id = districts_recording.district_id
            and compared_loads.export_date >= districts_recording.first_recorded_night
    where recorded_loads.load_id is null

),

rules as (

    select * from later_years
    union all
    select * from missing_records

),

held_loads as (

    -- the loads held by a rule rather than a measure: failing whatever their size, until approved
    select
        rules.district_id,
        rules.night_date,
        rules.file_name,
        rules.measure,
        rules.kind,
        rules.load_id,
        rules.replaces_a_delivery,
        null::bigint as affected_records,
        rules.out_of_records,
        null::{{ data_type('numeric') }} as affected_share,
        0::{{ data_type('numeric') }} as threshold,
        null::bigint as cumulative_records,
        null::bigint as cumulative_out_of,
        null::{{ data_type('numeric') }} as cumulative_share,
        null::{{ data_type('numeric') }} as cumulative_threshold,
        null::date as window_start,
        false as is_in_rollover_window,
        true as is_over_threshold,
        false as is_over_cumulative_threshold,
        true as is_failing,
        {{ is_released('approved', 'rules.night_date') }} as is_released,
        'held: ' || rules.reason || {{ release_hint('rules.district_id', 'rules.night_date') }} as message
    from rules
    left join {{ approvals_by_file('sync_approvals') }} as approved
        on rules.district_id = approved.district_id and rules.file_name = approved.file_name

),

checks as (

    select
        night_measures.district_id,
        night_measures.night_date,
        night_measures.file_name,
        night_measures.measure,
        night_measures.kind,
        night_measures.load_id,
        night_measures.replaces_a_delivery,
        night_measures.affected_records,
        night_measures.out_of_records,
        night_measures.affected_share,
        night_measures.threshold,
        night_measures.cumulative_records,
        night_measures.cumulative_out_of,
        night_measures.cumulative_share,
        night_measures.cumulative_threshold,
        night_measures.window_start,
        night_measures.is_in_rollover_window,
        night_measures.is_over_threshold,
        night_measures.is_over_cumulative_threshold,
        night_measures.is_failing,
        night_measures.is_released,
        night_measures.message
    from night_measures

    union all

    select * from held_loads

),

ranked as (

    -- the model group a check holds, and the order in which a load's failing checks are told (the first one
    -- names a hold): removals first, then emptied columns, then changes, each by the largest share
    select
        checks.*,
        export_file_groups.model_group,
        (row_number() over (
            partition by checks.load_id
            order by
                checks.is_failing desc,
                checks.kind = 'changed' asc,
                checks.kind = 'emptied' asc,
                checks.affected_share desc nulls first,
                checks.measure asc
        ))::bigint as hold_rank
    from checks
    left join export_file_groups
        on checks.file_name = export_file_groups.file_name

)

select * from ranked
