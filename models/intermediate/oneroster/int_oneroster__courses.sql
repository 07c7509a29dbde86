-- courses.csv's records from OneRoster: its courses, per school year (the export's).
with

courses as (

    select * from {{ ref('rec_oneroster_courses') }}
    where not is_retired

),

mapped as (

    select
        courses.district_id,
        courses.load_id,
        courses.export_date,
        courses.line_number,
        courses.change_type,
        courses.key_hash,
        courses.sourced_id as course_id,
        courses.title as course_name,
        nullif(trim(split_part(courses.subjects, ',', 1)), '') as subject,
        courses.org_sourced_id as school_id,
        courses.school_year,
        cast(null as date) as mapped_until
    from courses

)

select * from mapped
