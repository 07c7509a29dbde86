{{ config(materialized='table') }}

with

accepted_loads as (

    select * from {{ ref('int_loads_accepted') }}

),

ranked as (

    select
        accepted_loads.*,
        row_number() over (
            partition by accepted_loads.district_id, accepted_loads.records_model, accepted_loads.school_year
            order by accepted_loads.export_date desc, accepted_loads.ledger_id desc
        ) as recency
    from accepted_loads

),

current_loads as (

    -- the newest accepted night of each records model and school year: the records show the file's state as of
    -- it (a model our file and OneRoster's fill: the newest night of either)
    select
        ranked.district_id,
        ranked.file_name,
        ranked.records_model,
        ranked.model_group,
        ranked.school_year,
        ranked.export_date as as_of_date
    from ranked
    where ranked.recency = 1

)

select * from current_loads
