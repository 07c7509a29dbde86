-- Generated from ingestion/spec/sis_export_v1.yml by `sis-sync spec --write`. Do not edit.
{{ records_of(
    'stg_sis__enrollments', 'enrollments.csv', key=['student_id', 'section_id', 'start_date'], has_school_year=true,
    mapped='int_oneroster__enrollments'
) }}
