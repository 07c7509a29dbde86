-- Generated from ingestion/spec/sis_export_v1.yml by `sis-sync spec --write`. Do not edit.
{{ records_of(
    'stg_sis__discipline', 'discipline.csv', key=['incident_id', 'student_id'], has_school_year=true
) }}
