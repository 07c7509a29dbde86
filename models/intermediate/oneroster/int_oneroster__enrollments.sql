-- enrollments.csv's records from OneRoster: the student enrolments in classes, per school year. A student's
-- enrolment without a begin date starts with its class's first term; two enrolments of one student in one
-- class from one day are one record (the one the SIS changed last).
with

enrollments as (

    select * from {{ ref('rec_oneroster_enrollments') }}
    where not is_retired and user_role = 'student'

),

sections as (

    select * from {{ ref('int_oneroster__sections') }}

),

mapped as (

    select {{ distinct_on([
        'enrollments.district_id', 'enrollments.school_year', 'enrollments.user_sourced_id',
        'enrollments.class_sourced_id', 'coalesce(enrollments.begin_date, sections.term_start)'
    ]) }}
        enrollments.district_id,
        enrollments.load_id,
        enrollments.export_date,
        enrollments.line_number,
        enrollments.change_type,
        enrollments.key_hash,
        enrollments.user_sourced_id as student_id,
        enrollments.class_sourced_id as section_id,
        enrollments.school_year,
        coalesce(enrollments.begin_date, sections.term_start) as start_date,
        enrollments.end_date,
        cast(null as date) as mapped_until
    from enrollments
    left join sections
        on
            enrollments.district_id = sections.district_id
            and enrollments.school_year = sections.school_year
            and enrollments.class_sourced_id = sections.section_id
    where coalesce(enrollments.begin_date, sections.term_start) is not null
    {{ first_by(
        ['enrollments.district_id', 'enrollments.school_year', 'enrollments.user_sourced_id',
            'enrollments.class_sourced_id', 'coalesce(enrollments.begin_date, sections.term_start)'],
        'enrollments.date_last_modified desc nulls last, enrollments.sourced_id asc'
    ) }}

)

select * from mapped
