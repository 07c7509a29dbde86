{#- Incremental by record: a night rebuilds the attendance records the records layer changed
    (macros/incremental.sql). A changed code mapping (seeds/attendance_codes.csv) applies to the records built
    after it: run a full refresh to apply it to every record. -#}
{{ records_mart_config(['district_id', 'school_year', 'student_id', 'attendance_date']) }}

with

attendance as (

    {{ records_to_build('rec_attendance') }}

),

attendance_codes as (

    select * from {{ ref('attendance_codes') }}

),

year_attendance as (

    select
        attendance.district_id,
        attendance.school_year,
        attendance.student_id,
        attendance.attendance_date,
        attendance.school_id,
        attendance.attendance_code,
        attendance.minutes_absent,
        attendance.last_changed_date
    from attendance

),

final as (

    -- a district's own code mapping wins over the shared one (district_id '*'); unknown codes stay visible
    select
        year_attendance.district_id,
        year_attendance.school_year,
        year_attendance.student_id,
        year_attendance.attendance_date,
        year_attendance.school_id,
        year_attendance.attendance_code,
        coalesce(district_codes.attendance_category, shared_codes.attendance_category, 'unmapped')
            as attendance_category,
        coalesce(district_codes.is_absent, shared_codes.is_absent, false) as is_absent,
        year_attendance.minutes_absent,
        year_attendance.last_changed_date
    from year_attendance
    left join attendance_codes as district_codes
        on
            year_attendance.district_id = district_codes.district_id
            and upper(year_attendance.attendance_code) = upper(district_codes.attendance_code)
    left join attendance_codes as shared_codes
        on
            shared_codes.district_id = '*'
            and upper(year_attendance.attendance_code) = upper(shared_codes.attendance_code)

)

select * from final
