{{ config(severity='warn') }}

-- Catches: attendance codes a district sends that seeds/attendance_codes.csv does not map, neither for the
-- district nor for all districts (`*`). fct_attendance shows them as category `unmapped`, not absent, so
-- absence totals and chronic-absence lists undercount until the code is mapped.
-- Fix: add a row `district_id,attendance_code,attendance_category,is_absent,description` to
-- seeds/attendance_codes.csv (ask the district what the code means), then `dbt seed --select
-- attendance_codes` and `dbt build --full-refresh --select fct_attendance+` so past days are recategorised.

with

attendance as (

    select * from {{ ref('fct_attendance') }}

)

select
    attendance.district_id,
    attendance.attendance_code,
    count(*) as attendance_rows,
    min(attendance.attendance_date) as first_seen_date,
    max(attendance.attendance_date) as last_seen_date
from attendance
where attendance.attendance_category = 'unmapped'
group by attendance.district_id, attendance.attendance_code
