{{ config(materialized='table') }}

with

accepted_loads as (

    select * from {{ ref('int_loads_accepted') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

district_years as (

    -- a district's current school year: the school year of its newest accepted students file as a whole
    -- (the year most of its records carry: a stray record of next year does not roll the district over)
    select {{ distinct_on(['accepted_loads.district_id']) }}
        accepted_loads.district_id,
        accepted_loads.main_school_year as current_school_year,
        accepted_loads.export_date as as_of_date
    from accepted_loads
    inner join export_file_groups
        on accepted_loads.file_name = export_file_groups.file_name
    where export_file_groups.decides_school_year and accepted_loads.main_school_year is not null
    {{ first_by(['accepted_loads.district_id'], 'accepted_loads.export_date desc, accepted_loads.ledger_id desc') }}

)

select * from district_years
