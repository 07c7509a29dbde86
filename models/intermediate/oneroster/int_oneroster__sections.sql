-- sections.csv's records from OneRoster: its classes, per school year, with the name and dates of their first
-- term and their teacher of record (the primary teacher enrolment first, then the earliest; co-teachers stay
-- in the enrolments).
with

classes as (

    select * from {{ ref('rec_oneroster_classes') }}
    where not is_retired

),

sessions as (

    select * from {{ ref('rec_oneroster_academic_sessions') }}
    where not is_retired

),

teachers as (

    select {{ distinct_on(['enrollments.district_id', 'enrollments.school_year', 'enrollments.class_sourced_id']) }}
        enrollments.district_id,
        enrollments.school_year,
        enrollments.class_sourced_id,
        enrollments.user_sourced_id
    from {{ ref('rec_oneroster_enrollments') }} as enrollments
    where not enrollments.is_retired and enrollments.user_role = 'teacher'
    {{ first_by(
        ['enrollments.district_id', 'enrollments.school_year', 'enrollments.class_sourced_id'],
        'enrollments.is_primary desc nulls last, enrollments.begin_date asc nulls last, enrollments.user_sourced_id asc'
    ) }}

),

sections as (

    select
        classes.district_id,
        classes.load_id,
        classes.export_date,
        classes.line_number,
        classes.change_type,
        classes.key_hash,
        classes.sourced_id as section_id,
        classes.course_sourced_id as course_id,
        classes.school_sourced_id as school_id,
        teachers.user_sourced_id as teacher_id,
        terms.title as term_name,
        terms.start_date as term_start,
        terms.end_date as term_end,
        nullif(trim(split_part(classes.periods, ',', 1)), '') as period,
        classes.location as room,
        classes.school_year,
        cast(null as date) as mapped_until
    from classes
    left join sessions as terms
        on
            classes.district_id = terms.district_id
            and classes.school_year = terms.school_year
            and trim(split_part(classes.term_sourced_ids, ',', 1)) = terms.sourced_id
    left join teachers
        on
            classes.district_id = teachers.district_id
            and classes.school_year = teachers.school_year
            and classes.sourced_id = teachers.class_sourced_id

)

select * from sections
