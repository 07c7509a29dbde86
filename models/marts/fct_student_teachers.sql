{{ year_partitioned_config() }}

with

roster as (

    select roster.* from {{ ref('fct_roster') }} as roster
    -- incremental: the school years whose roster moved tonight
    {{ partitions_to_build_filter('roster', 'rec_enrollments') }}

),

student_teachers as (

    -- one row per student and teacher of record in a school year; active while any shared section is
    select
        roster.district_id,
        roster.school_year,
        roster.student_id,
        roster.teacher_id,
        count(*) as section_count,
        count(*) filter (where roster.is_active) as active_section_count,
        bool_or(roster.is_active) as is_active,
        min(roster.start_date) as first_start_date,
        max(roster.last_changed_date) as last_changed_date
    from roster
    where roster.teacher_id is not null
    group by roster.district_id, roster.school_year, roster.student_id, roster.teacher_id

)

select * from student_teachers
