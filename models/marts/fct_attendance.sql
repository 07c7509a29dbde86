{#- No nested loops: the raw rows' join with their load is estimated at a few rows (the school_year cast
    in staging has no statistics), and Postgres then nested-loops every row over the code mapping. -#}
{{ year_partitioned_config(pre_hook="set local enable_nestloop = off") }}

with

loads_to_build as (

    {{ loads_to_build('attendance.csv', 'attendance') }}

),

attendance as (

    {{ versions_as_of('stg_sis__attendance', 'attendance.csv', 'loads_to_build', ['student_id', 'attendance_date']) }}

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
        attendance.as_of_date
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
        year_attendance.as_of_date
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
