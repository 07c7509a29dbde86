{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

oneroster_targets as (

    select * from {{ ref('oneroster_targets') }}

),

sync_nights as (

    select * from {{ ref('int_sync_nights') }}

),

night_checks as (

    select * from {{ ref('int_night_checks') }}

),

file_loads as (

    -- a load counts for its file's records when its night's decision let the file's model group refresh
    select
        load_ledger.ledger_id,
        load_ledger.district_id,
        load_ledger.file_name,
        export_file_groups.model_group,
        export_file_groups.records_model,
        load_ledger.load_id,
        load_ledger.export_date,
        load_ledger.min_school_year,
        load_ledger.max_school_year,
        load_ledger.main_school_year
    from load_ledger
    inner join export_file_groups
        on load_ledger.file_name = export_file_groups.file_name
    inner join sync_nights
        on
            load_ledger.district_id = sync_nights.district_id
            and load_ledger.export_date = sync_nights.night_date
            and export_file_groups.model_group = sync_nights.model_group
    where
        load_ledger.status in ('loaded', 'unchanged')
        and load_ledger.export_date <= {{ run_date() }}
        and sync_nights.decision = 'refresh'

),

oneroster_loads as (

    -- a OneRoster file's load also counts for each model it fills besides its own (seed oneroster_targets)
    -- when that model's group refreshes that night: users.csv changes the contacts over the summer, the
    -- students and staff shown only once their groups refresh again. A failing check of the file holds what it
    -- fills from that night on, until approved, whatever its own group's season (as a hold holds a group).
    select
        load_ledger.ledger_id,
        load_ledger.district_id,
        load_ledger.file_name,
        targets.model_group,
        oneroster_targets.records_model,
        load_ledger.load_id,
        load_ledger.export_date,
        case when oneroster_targets.by_school_year then load_ledger.min_school_year end as min_school_year,
        case when oneroster_targets.by_school_year then load_ledger.max_school_year end as max_school_year,
        load_ledger.main_school_year
    from load_ledger
    inner join oneroster_targets
        on load_ledger.file_name = oneroster_targets.file_name
    -- the group of the model whose nights it follows (seed oneroster_targets.group_of)
    inner join export_file_groups as targets
        on oneroster_targets.group_of = targets.records_model
    inner join sync_nights
        on
            load_ledger.district_id = sync_nights.district_id
            and load_ledger.export_date = sync_nights.night_date
            and targets.model_group = sync_nights.model_group
    where
        load_ledger.status in ('loaded', 'unchanged')
        and load_ledger.export_date <= {{ run_date() }}
        and sync_nights.decision = 'refresh'
        and not exists (
            select 1
            from night_checks
            where
                night_checks.district_id = load_ledger.district_id
                and night_checks.file_name = load_ledger.file_name
                and night_checks.night_date <= load_ledger.export_date
                and night_checks.is_failing
                and not night_checks.is_released
        )

),

accepted_loads as (

    select * from file_loads
    union all
    select * from oneroster_loads

),

load_years as (

    -- one row per school year a load carries; files without school_year get a null year
    select
        accepted_loads.*,
        years.school_year
    from accepted_loads
    left join lateral {{ integer_series(
        'accepted_loads.min_school_year', 'accepted_loads.max_school_year'
    ) }} as years (school_year) on true

)

select * from load_years
