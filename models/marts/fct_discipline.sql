{#- Incremental by record (macros/versions.sql): a night rebuilds the incident rows that changed. -#}
{{ changed_records_config('stg_sis__discipline', 'discipline.csv', ['incident_id', 'student_id']) }}

with

loads_to_build as (

    {{ loads_to_build('discipline.csv') }}

),

discipline as (

    {{ versions_as_of('stg_sis__discipline', 'discipline.csv', 'loads_to_build', ['incident_id', 'student_id'],
        changed=changed_records_relation()) }}

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
        discipline.export_date as last_changed_date
    from discipline

)

select * from year_incidents
