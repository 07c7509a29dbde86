-- Generated from ingestion/spec/sis_export_v1.yml by `sis-sync spec --write`. Do not edit.
{{ records_of(
    'stg_sis__staff', 'staff.csv', key=['staff_id'], has_school_year=false,
    mapped='int_oneroster__staff'
) }}
