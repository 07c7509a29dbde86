{#- Incremental by record (macros/versions.sql): a night rebuilds the attendance records that changed. A
    changed code mapping (seeds/attendance_codes.csv) applies to the records built after it: run a full
    refresh to apply it to every record. -#}
{{ changed_records_config('stg_sis__attendance', 'attendance.csv', ['student_id', 'attendance_date']) }}

with

loads_to_build as (

    {{ loads_to_build('attendance.csv') }}

),

attendance as (

    {{ versions_as_of('stg_sis__attendance', 'attendance.csv', 'loads_to_build', ['student_id', 'attendance_date'],
        changed=changed_records_relation()) }}

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
        attendance.export_date as last_changed_date
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
