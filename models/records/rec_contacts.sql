-- Generated from ingestion/spec/sis_export_v1.yml by `sis-sync spec --write`. Do not edit.
{{ records_of(
    'stg_sis__contacts', 'contacts.csv', key=['contact_id', 'student_id'], has_school_year=false,
    mapped='int_oneroster__contacts'
) }}
