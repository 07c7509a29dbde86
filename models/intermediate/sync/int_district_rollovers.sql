{{ config(materialized='table') }}

-- The nights a district's SIS moved to a newer school year: the first night its students file's main school
-- year (the year most records carry) was newer than one seen before. The rollover window counts from them.

with

load_ledger as (

    select * from {{ ref('stg_sis__load_ledger') }}
    where export_date <= {{ run_date() }}

),

school_year_files as (

    -- the file whose main school year is the district's (students.csv)
    select export_file_groups.file_name
    from {{ ref('export_file_groups') }} as export_file_groups
    where export_file_groups.decides_school_year

),

school_years_seen as (

    -- the first night each school year appeared in a district's students file
    select
        load_ledger.district_id,
        load_ledger.main_school_year as school_year,
        min(load_ledger.export_date) as first_night
    from load_ledger
    inner join school_year_files
        on load_ledger.file_name = school_year_files.file_name
    where
        load_ledger.status in ('loaded', 'unchanged')
        and load_ledger.main_school_year is not null
    group by load_ledger.district_id, load_ledger.main_school_year

),

rollovers as (

    -- the nights a district's SIS moved to a newer school year
    -- one row per night: two school years first seen on the same night are one rollover
    select distinct
        newer.district_id,
        newer.first_night
    from school_years_seen as newer
    where exists (
        select 1
        from school_years_seen as older
        where
            older.district_id = newer.district_id
            and older.school_year < newer.school_year
            and older.first_night < newer.first_night
    )

)

select * from rollovers
