-- Generated from ingestion/spec/oneroster_v1.yml by `sis-sync spec --write`. Do not edit.
{{ records_of(
    'stg_oneroster__users', 'oneroster/users.csv', key=['sourced_id'], has_school_year=true
) }}
