{#- Incremental by record: a night rebuilds the incident rows the records layer changed (macros/incremental.sql). -#}
{{ records_mart_config(['district_id', 'school_year', 'incident_id', 'student_id']) }}

with

discipline as (

    {{ records_to_build('rec_discipline') }}

),

year_incidents as (

    select
        discipline.district_id,
        discipline.school_year,
        discipline.incident_id,
        discipline.student_id,
        discipline.school_id,
        discipline.incident_date,
        discipline.incident_type,
        discipline.action_taken,
        discipline.action_start_date,
        discipline.action_end_date,
        discipline.days_removed,
        discipline.last_changed_date
    from discipline

)

select * from year_incidents
