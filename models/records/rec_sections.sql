-- Generated from ingestion/spec/sis_export_v1.yml by `sis-sync spec --write`. Do not edit.
{{ records_of(
    'stg_sis__sections', 'sections.csv', key=['section_id', 'school_year'], has_school_year=true,
    mapped='int_oneroster__sections'
) }}
