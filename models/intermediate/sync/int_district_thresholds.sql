{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

district_settings as (

    select * from {{ ref('stg_sis__district_settings') }}

),

safety_thresholds as (

    select * from {{ ref('safety_thresholds') }}

),

districts as (

    select distinct load_ledger.district_id
    from load_ledger

),

district_values as (

    -- each threshold of each district: its own from districts.yml, else the default
    select
        districts.district_id,
        safety_thresholds.threshold,
        coalesce(
            cast(
                {{ json_text('district_settings.thresholds', 'safety_thresholds.threshold') }}
                as {{ data_type('numeric') }}
            ),
            safety_thresholds.default_value
        ) as threshold_value
    from districts
    cross join safety_thresholds
    left join district_settings
        on districts.district_id = district_settings.district_id

),

pivoted as (

    select
        district_values.district_id,
        max(district_values.threshold_value) filter (where district_values.threshold = 'share') as removed_share,
        max(district_values.threshold_value) filter (where district_values.threshold = 'change_share')
            as changed_share,
        max(district_values.threshold_value) filter (where district_values.threshold = 'cumulative_share')
            as cumulative_share,
        max(district_values.threshold_value) filter (where district_values.threshold = 'cumulative_nights')::integer
            as cumulative_nights,
        max(district_values.threshold_value) filter (where district_values.threshold = 'rollover_share')
            as rollover_removed_share,
        max(district_values.threshold_value) filter (where district_values.threshold = 'rollover_change_share')
            as rollover_changed_share,
        max(district_values.threshold_value) filter (where district_values.threshold = 'rollover_days')::integer
            as rollover_days,
        max(district_values.threshold_value) filter (where district_values.threshold = 'min_records')::integer
            as min_records
    from district_values
    group by district_values.district_id

)

select * from pivoted
