{{ config(severity='warn') }}

-- Catches: fct_roster rows whose section is not in the district's current sections.csv load for that school
-- year, so the row has no teacher, course or school (teacher_id is required in sections.csv, so a null
-- teacher_id means the section is missing). Those students are missing from fct_student_teachers: no
-- teacher can message their families about that class.
-- Usually a lag: the SIS exported enrollments for a section created after its sections file was written,
-- and the next night's files agree again. If it persists, ask the district to check that sections.csv
-- lists every section that enrollments.csv uses (same section_id and school_year). A warning, not an
-- error: the rest of the roster is right.

with

roster as (

    select * from {{ ref('fct_roster') }}

)

select
    roster.district_id,
    roster.school_year,
    roster.section_id,
    count(*) as roster_rows,
    count(*) filter (where roster.is_active) as active_roster_rows
from roster
where roster.teacher_id is null
group by roster.district_id, roster.school_year, roster.section_id
