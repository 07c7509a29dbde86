with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}
    where export_date <= {{ run_date() }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

sync_nights as (

    select * from {{ ref('int_sync_nights') }}

),

expected_files as (

    select * from {{ ref('int_expected_files') }}

),

attempts as (

    -- what the newest run found for each district's night
    select {{ distinct_on(['sync_attempts.district_id', 'sync_attempts.export_date']) }} sync_attempts.*
    from {{ ref('stg_sis__sync_attempts') }} as sync_attempts
    where sync_attempts.export_date <= {{ run_date() }}
    {{ first_by(['sync_attempts.district_id', 'sync_attempts.export_date'], 'sync_attempts.attempt_id desc') }}

),

held_corrections as (

    select * from {{ ref('int_held_corrections') }}

),

deliveries as (

    -- the newest delivery of each file on each night (a corrected file may follow a rejected one)
    select {{ distinct_on([
        'load_ledger.district_id', 'load_ledger.export_date', 'load_ledger.file_name'
    ]) }} load_ledger.*
    from load_ledger
    {{ first_by(
        ['load_ledger.district_id', 'load_ledger.export_date', 'load_ledger.file_name'],
        'load_ledger.ledger_id desc'
    ) }}

),

final as (

    select
        deliveries.district_id,
        deliveries.export_date,
        deliveries.file_name,
        export_file_groups.model_group,
        case
            when deliveries.status = 'rejected' then 'rejected'
            when held_corrections.load_id is not null then 'held'
            when sync_nights.decision in ('paused', 'awaiting_rollover', 'held', 'calendar_invalid')
                then sync_nights.decision
            else deliveries.status
        end as sync_status,
        case
            when deliveries.status = 'rejected' then deliveries.message
            when held_corrections.load_id is not null then held_corrections.message
            when sync_nights.decision = 'held' then sync_nights.hold_message
            when sync_nights.decision = 'calendar_invalid' then sync_nights.calendar_message
            when sync_nights.decision = 'paused'
                then
                    'summer pause'
                    || case
                        when sync_nights.calendar_source = 'export'
                            then ' (calendar from the export''s schoolYear sessions)'
                        else ''
                    end
                    || ': ' || export_file_groups.model_group || ' does not refresh'
            when sync_nights.decision = 'awaiting_rollover'
                then
                    'awaiting rollover: the export still carries school year '
                    || coalesce(sync_nights.newest_school_year::{{ data_type('text') }}, 'none')
            when deliveries.status = 'unchanged' then coalesce(deliveries.message, 'same bytes as the night before')
            else deliveries.message
        end as reason,
        deliveries.status as ingest_status,
        sync_nights.season,
        deliveries.row_count,
        deliveries.added_count as rows_added,
        deliveries.changed_count as rows_changed,
        deliveries.retired_count as rows_retired,
        deliveries.sha256,
        deliveries.load_id,
        deliveries.recorded_at
    from deliveries
    left join export_file_groups
        on deliveries.file_name = export_file_groups.file_name
    left join held_corrections
        on deliveries.load_id = held_corrections.load_id
    left join sync_nights
        on
            deliveries.district_id = sync_nights.district_id
            and deliveries.export_date = sync_nights.night_date
            and export_file_groups.model_group = sync_nights.model_group

),

missed as (

    -- files the district's calendar expected that night that did not arrive
    select
        expected_files.district_id,
        expected_files.night_date as export_date,
        expected_files.file_name,
        expected_files.model_group,
        case when attempts.outcome in ('incomplete', 'failed') then attempts.outcome else 'missing' end
            as sync_status,
        case
            when attempts.outcome in ('incomplete', 'failed', 'missing') then attempts.message
            when attempts.outcome = 'delivered' then 'not in the night''s export'
            else 'expected (' || expected_files.season || ') but no run looked for it'
        end as reason,
        coalesce(attempts.outcome, 'missing') as ingest_status,
        expected_files.season,
        null::bigint as row_count,
        null::bigint as rows_added,
        null::bigint as rows_changed,
        null::bigint as rows_retired,
        null::{{ data_type('text') }} as sha256,
        null::{{ data_type('text') }} as load_id,
        attempts.recorded_at
    from expected_files
    left join attempts
        on
            expected_files.district_id = attempts.district_id
            and expected_files.night_date = attempts.export_date
    where not exists (
        select 1
        from deliveries
        where
            deliveries.district_id = expected_files.district_id
            and deliveries.export_date = expected_files.night_date
            and deliveries.file_name = expected_files.file_name
    )

)

select * from final
union all
select * from missed
