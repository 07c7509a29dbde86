{{ config(materialized='table') }}

with

current_loads as (

    select * from {{ ref('int_loads_current') }}

),

district_years as (

    -- a district's current school year: the newest one its accepted students files carry
    select
        current_loads.district_id,
        max(current_loads.school_year) as current_school_year,
        max(current_loads.as_of_date) as as_of_date
    from current_loads
    where current_loads.file_name = 'students.csv'
    group by current_loads.district_id

)

select * from district_years
