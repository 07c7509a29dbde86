-- Catches: a roster row marked active (fct_roster.is_active) in a school year other than the district's
-- current one (the newest school year its accepted students files carry, int_district_school_years).
-- Communication tools would keep messaging last year's teachers, or show next year's schedule too early.
-- Likely causes and fixes:
--   - the district's students file has not rolled over while its schedules have (enrollments carry a
--     newer school year than students): ask the district to send the rolled-over students.csv; the roster
--     fixes itself on the next night that loads it;
--   - an older school-year partition of the incremental mart was not rebuilt on the rollover night: run
--     `sis-sync build --full-refresh` (or `dbt build --full-refresh --select fct_roster+`) for the run date.

with

roster as (

    select * from {{ ref('fct_roster') }}

),

district_school_years as (

    select * from {{ ref('int_district_school_years') }}

)

select
    roster.district_id,
    roster.school_year,
    district_school_years.current_school_year,
    count(*) as active_rows
from roster
left join district_school_years
    on roster.district_id = district_school_years.district_id
where
    roster.is_active
    and roster.school_year is distinct from district_school_years.current_school_year
group by roster.district_id, roster.school_year, district_school_years.current_school_year
