{#- Incremental by record: a night rebuilds the enrollments the records layer changed, those whose section or
    course changed, and those whose activity differs tonight (an enrollment ended or started, the year's classes
    began, the year stopped being current). -#}
{{ records_mart_config(['district_id', 'school_year', 'student_id', 'section_id', 'start_date'],
    extra_indexes=[{'columns': ['district_id', 'school_year', 'is_active']}]) }}

with

changed_enrollments as (

    {{ records_to_build('rec_enrollments') }}

),

enrollment_nights as (

    -- the night each school year's roster shows
    select
        nights.district_id,
        nights.school_year,
        nights.as_of_date
    from {{ ref('rec_nights') }} as nights
    where nights.records_model = 'rec_enrollments'

),

district_school_years as (

    select * from {{ ref('int_district_school_years') }}

),

sections as {{ cte_inlined() }} (

    select * from {{ ref('rec_sections') }}
    where not is_retired

),

courses as (

    select * from {{ ref('rec_courses') }}
    where not is_retired

),

year_first_days as (

    -- the first day of each school year's classes: before it, next year's schedules already count
    select
        sections.district_id,
        sections.school_year,
        min(sections.term_start) as first_term_start
    from sections
    group by sections.district_id, sections.school_year

),

{%- if is_incremental() %}

    built_nights as materialized (

    -- the night each partition of the roster last changed, and whether its rows' activity may change tonight
    -- (a current or later year, or one still showing active rows): once per partition, not per row
        select
            enrollment_nights.*,
            {{ newest_built('last_changed_date', 'enrollment_nights', record_partition(true)) }} as watermark,
            coalesce(enrollment_nights.school_year >= district_school_years.current_school_year, false) or exists (
                select 1 from {{ this }} as active
                where
                    active.district_id = enrollment_nights.district_id
                    and active.school_year = enrollment_nights.school_year
                    and active.is_active
            ) as activity_may_change
        from enrollment_nights
        left join district_school_years
            on enrollment_nights.district_id = district_school_years.district_id

    ),

    changed_sections as (

    -- sections that changed since, themselves or their course
        select
            sections.district_id,
            sections.school_year,
            sections.section_id
        from {{ ref('rec_sections') }} as sections
        inner join built_nights
            on
                sections.district_id = built_nights.district_id
                and sections.school_year = built_nights.school_year
                and {{ changed_since('sections.changed_on', 'built_nights.watermark') }}

        union

        select
            sections.district_id,
            sections.school_year,
            sections.section_id
        from sections
        inner join {{ ref('rec_courses') }} as changed_courses
            on
                sections.district_id = changed_courses.district_id
                and sections.school_year = changed_courses.school_year
                and sections.course_id = changed_courses.course_id
        inner join built_nights
            on
                sections.district_id = built_nights.district_id
                and sections.school_year = built_nights.school_year
                and {{ changed_since('changed_courses.changed_on', 'built_nights.watermark') }}

    ),

    changed_activity as (

    -- rows whose activity differs tonight
        select
            built.district_id,
            built.school_year,
            built.student_id,
            built.section_id,
            built.start_date
        from {{ this }} as built
        inner join built_nights
            on built.district_id = built_nights.district_id and built.school_year = built_nights.school_year
        inner join district_school_years
            on built.district_id = district_school_years.district_id
        left join year_first_days
            on built.district_id = year_first_days.district_id and built.school_year = year_first_days.school_year
        where
            built_nights.activity_may_change
            and built.is_active != {{ roster_is_active('built', 'built_nights.as_of_date',
            'district_school_years.current_school_year', 'year_first_days.first_term_start') }}

    ),

    enrollments as (

        select * from changed_enrollments

        union

        select rebuilt.*
        from {{ ref('rec_enrollments') }} as rebuilt
        left join changed_sections
            on
                rebuilt.district_id = changed_sections.district_id
                and rebuilt.school_year = changed_sections.school_year
                and rebuilt.section_id = changed_sections.section_id
        left join changed_activity
            on
                rebuilt.district_id = changed_activity.district_id
                and rebuilt.school_year = changed_activity.school_year
                and rebuilt.student_id = changed_activity.student_id
                and rebuilt.section_id = changed_activity.section_id
                and rebuilt.start_date = changed_activity.start_date
        where
            not rebuilt.is_retired
            and (changed_sections.section_id is not null or changed_activity.section_id is not null)

    ),
{%- else %}

    enrollments as (

        select * from changed_enrollments

    ),
{%- endif %}

final as (

    select
        enrollments.district_id,
        enrollments.school_year,
        enrollments.student_id,
        enrollments.section_id,
        enrollments.start_date,
        enrollments.end_date,
        sections.course_id,
        courses.course_name,
        courses.subject,
        sections.school_id,
        sections.teacher_id,
        sections.term_name,
        sections.term_start,
        sections.term_end,
        sections.period,
        sections.room,
        {{ roster_is_active('enrollments', 'enrollment_nights.as_of_date',
            'district_school_years.current_school_year', 'year_first_days.first_term_start') }} as is_active,
        enrollments.last_changed_date
    from enrollments
    inner join enrollment_nights
        on
            enrollments.district_id = enrollment_nights.district_id
            and enrollments.school_year = enrollment_nights.school_year
    left join district_school_years
        on enrollments.district_id = district_school_years.district_id
    left join year_first_days
        on
            enrollments.district_id = year_first_days.district_id
            and enrollments.school_year = year_first_days.school_year
    left join sections
        on
            enrollments.district_id = sections.district_id
            and enrollments.school_year = sections.school_year
            and enrollments.section_id = sections.section_id
    left join courses
        on
            sections.district_id = courses.district_id
            and sections.school_year = courses.school_year
            and sections.course_id = courses.course_id

)

select * from final
