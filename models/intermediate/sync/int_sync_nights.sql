{{ config(materialized='table') }}

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}

),

seasons as (

    select * from {{ ref('seasons') }}

),

nights as (

    -- every night a district delivered something, up to the run date, and the run date itself
    select distinct
        load_ledger.district_id,
        load_ledger.export_date as night_date
    from load_ledger
    where load_ledger.export_date <= {{ run_date() }}

    union

    select
        load_ledger.district_id,
        {{ run_date() }} as night_date
    from load_ledger

    union

    select
        seasons.district_id,
        {{ run_date() }} as night_date
    from seasons

),

decided as (

    {{ season_decisions('nights') }}

)

select * from decided
