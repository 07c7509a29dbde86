{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

sync_attempts as (

    select * from {{ ref('stg_sis__sync_attempts') }}

),

district_settings as (

    select * from {{ ref('stg_sis__district_settings') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

group_refresh_rules as (

    select * from {{ ref('int_group_refresh_rules') }}

),

files_delivered as (

    -- the files a district has delivered, from the first night it did: what its exports hold (a district
    -- with no discipline incident yet has never sent discipline.csv, and is not late with it)
    select
        load_ledger.district_id,
        load_ledger.file_name,
        min(load_ledger.export_date) as first_night
    from load_ledger
    group by load_ledger.district_id, load_ledger.file_name

),

first_nights as (

    -- a district is expected from the first night a run looked for its export
    select
        known.district_id,
        min(known.export_date) as first_night
    from (
        select
            load_ledger.district_id,
            load_ledger.export_date
        from load_ledger
        union all
        select
            sync_attempts.district_id,
            sync_attempts.export_date
        from sync_attempts
    ) as known
    group by known.district_id

),

nights as (

    -- every night from then to the run date, but those the district marked as no-delivery
    select
        first_nights.district_id,
        cast(nights.night_date as date) as night_date
    from first_nights
    cross join
        lateral {{ date_series('first_nights.first_night', run_date()) }} as nights (night_date)
    left join district_settings
        on first_nights.district_id = district_settings.district_id
    where
        not {{ json_array_has('district_settings.no_delivery', 'weekdays', weekday_name('nights.night_date')) }}
        and not {{ json_array_has(
            'district_settings.no_delivery', 'dates', 'cast(cast(nights.night_date as date) as ' ~ data_type('text') ~ ')'
        ) }}

),

night_seasons as (

    select
        nights.district_id,
        nights.night_date,
        {{ season_of('nights.district_id', 'nights.night_date') }} as season
    from nights

),

expected as (

    -- in session every file the district sends; in the summer pause those of the groups that refresh then
    select
        night_seasons.district_id,
        night_seasons.night_date,
        night_seasons.season,
        export_file_groups.file_name,
        export_file_groups.model_group
    from night_seasons
    inner join files_delivered
        on
            night_seasons.district_id = files_delivered.district_id
            and night_seasons.night_date >= files_delivered.first_night
    inner join export_file_groups
        on files_delivered.file_name = export_file_groups.file_name
    inner join group_refresh_rules
        on
            night_seasons.season = group_refresh_rules.season
            and export_file_groups.model_group = group_refresh_rules.model_group
    where group_refresh_rules.refreshes

)

select * from expected
