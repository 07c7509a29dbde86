-- A corrected re-delivery of a night held by a safety threshold, with the first reason it is held: until it is
-- approved, the delivery it replaced stays the one that counts (int_loads_effective), and the night's row in
-- sync_history says held.

with

night_checks as (

    select * from {{ ref('int_night_checks') }}

),

held_corrections as (

    select {{ distinct_on(['night_checks.load_id']) }}
        night_checks.load_id,
        night_checks.file_name || ' ' || night_checks.message as message
    from night_checks
    where night_checks.replaces_a_delivery and night_checks.is_failing and not night_checks.is_released
    {{ first_by(['night_checks.load_id'], 'night_checks.hold_rank asc') }}

)

select * from held_corrections
