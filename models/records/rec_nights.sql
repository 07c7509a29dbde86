{{ config(materialized='table') }}

with

accepted_loads as (

    select * from {{ ref('int_loads_accepted') }}

),

ranked as (

    select
        accepted_loads.*,
        row_number() over (
            partition by accepted_loads.district_id, accepted_loads.file_name, accepted_loads.school_year
            order by accepted_loads.export_date desc, accepted_loads.ledger_id desc
        ) as recency
    from accepted_loads

),

current_loads as (

    -- the newest accepted night of each file and school year: the records show the file's state as of it
    select
        ranked.district_id,
        ranked.file_name,
        -- the file's model in this layer (generated from the spec: rec_ and the file's name)
        'rec_' || split_part(ranked.file_name, '.', 1) as records_model,
        ranked.model_group,
        ranked.school_year,
        ranked.export_date as as_of_date
    from ranked
    where ranked.recency = 1

)

select * from current_loads
