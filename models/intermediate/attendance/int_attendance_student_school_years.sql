{#- Attendance counted per student, school and school year: what student_overview shows, kept up to date
    per partition like fct_attendance (only the school years rebuilt tonight are counted again), so the
    student card never reads every attendance row of every year kept. -#}
{{ year_partitioned_config() }}

with

attendance as (

    select attendance.* from {{ ref('fct_attendance') }} as attendance
    -- incremental: the school years whose attendance moved tonight
    {{ partitions_to_build_filter('attendance', 'rec_attendance') }}

),

student_school_years as (

    select
        attendance.district_id,
        attendance.school_year,
        attendance.school_id,
        attendance.student_id,
        count(*) as attendance_records,
        count(*) filter (where attendance.is_absent) as days_absent,
        count(*) filter (where attendance.attendance_category = 'unexcused_absence') as days_unexcused,
        count(*) filter (where attendance.attendance_category = 'tardy') as days_tardy
    from attendance
    group by attendance.district_id, attendance.school_year, attendance.school_id, attendance.student_id

)

select * from student_school_years
