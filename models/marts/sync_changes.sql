with

load_changes as (

    select * from {{ ref('stg_sis__load_changes') }}
    where export_date <= {{ run_date() }}

),

effective_loads as (

    select * from {{ ref('int_loads_effective') }}
    where load_id is not null

),

final as (

    -- what each night's delivery of each file changed (the delivery that counts, when a night had two)
    select
        load_changes.district_id,
        load_changes.export_date,
        load_changes.file_name,
        load_changes.change as change_kind,
        coalesce(load_changes.column_name, '') as column_name,
        load_changes.records,
        load_changes.out_of,
        cast(
            load_changes.records::{{ data_type('numeric') }} / nullif(load_changes.out_of, 0)
            as {{ data_type('numeric') }}
        ) as share_of_records,
        load_changes.example_keys,
        load_changes.load_id
    from load_changes
    inner join effective_loads
        on load_changes.load_id = effective_loads.load_id

)

select * from final
