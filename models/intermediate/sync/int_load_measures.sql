{{ config(materialized='table') }}

-- What each compared load changed, per safety measure (seed safety_measures, and records removed and changed for
-- every file of export_file_groups the seed has no such row for): the records it affected and
-- of how many, read from the change record ingestion wrote (stg_sis__load_changes). A measure over several
-- columns takes its largest share. int_night_measures judges them against the thresholds.

with

compared_loads as (

    select * from {{ ref('int_compared_loads') }}

),

load_changes as (

    select * from {{ ref('stg_sis__load_changes') }}

),

seeded_measures as (

    select * from {{ ref('safety_measures') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

default_measures as (

    -- every file is measured for records removed and changed, unless the seed has its own row of that name
    select
        export_file_groups.file_name,
        standard.measure,
        standard.kind,
        null::{{ data_type('text') }} as column_name,
        null::{{ data_type('numeric') }} as measure_share
    from export_file_groups
    cross join (
        values ('records removed', 'removed'), ('records changed', 'changed')
    ) as standard (measure, kind)
    where not exists (
        select 1
        from seeded_measures
        where
            seeded_measures.file_name = export_file_groups.file_name
            and seeded_measures.measure = standard.measure
    )

),

safety_measures as (

    select
        seeded_measures.file_name,
        seeded_measures.measure,
        seeded_measures.kind,
        seeded_measures.column_name,
        seeded_measures.share
    from seeded_measures

    union all

    select
        default_measures.file_name,
        default_measures.measure,
        default_measures.kind,
        default_measures.column_name,
        default_measures.measure_share
    from default_measures

),

measured as (

    -- each measure's columns, with what the load changed in them
    select
        checked_loads.district_id,
        checked_loads.export_date as night_date,
        checked_loads.file_name,
        checked_loads.load_id,
        checked_loads.replaces_a_delivery,
        safety_measures.measure,
        safety_measures.kind,
        safety_measures.column_name,
        safety_measures.share as measure_share,
        coalesce(load_changes.records, 0) as affected_records,
        coalesce(load_changes.out_of, checked_loads.base_records) as out_of_records
    from compared_loads as checked_loads
    inner join safety_measures
        on checked_loads.file_name = safety_measures.file_name
    left join load_changes
        on
            checked_loads.load_id = load_changes.load_id
            and safety_measures.column_name is not distinct from load_changes.column_name
            and load_changes.change = case
                when safety_measures.kind = 'emptied' then 'emptied'
                when safety_measures.kind = 'removed' and safety_measures.column_name is null
                    then case when checked_loads.replaces_a_delivery then 'dropped' else 'retired' end
                else 'changed'
            end

),

measure_shares as (

    -- a measure over several columns takes its largest share
    select {{ distinct_on(['measured.load_id', 'measured.measure']) }}
        measured.district_id,
        measured.night_date,
        measured.file_name,
        measured.load_id,
        measured.replaces_a_delivery,
        measured.measure,
        measured.kind,
        measured.measure_share,
        measured.affected_records,
        measured.out_of_records,
        coalesce(
            measured.affected_records::{{ data_type('numeric') }} / nullif(measured.out_of_records, 0), 0
        ) as affected_share
    from measured
    {{ first_by(
        ['measured.load_id', 'measured.measure'],
        'coalesce(measured.affected_records::' ~ data_type('numeric')
        ~ ' / nullif(measured.out_of_records, 0), 0) desc'
    ) }}

)

select * from measure_shares
