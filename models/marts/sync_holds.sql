with

night_checks as (

    select * from {{ ref('int_night_checks') }}

),

export_file_groups as (

    select * from {{ ref('export_file_groups') }}

),

final as (

    select
        night_checks.district_id,
        night_checks.night_date as export_date,
        night_checks.file_name,
        night_checks.measure,
        export_file_groups.model_group,
        night_checks.kind,
        night_checks.load_id,
        night_checks.affected_records,
        night_checks.out_of_records,
        cast(night_checks.affected_share as {{ data_type('numeric') }}) as affected_share,
        cast(night_checks.threshold as {{ data_type('numeric') }}) as threshold,
        cast(night_checks.cumulative_records as {{ data_type('numeric') }}) as cumulative_records,
        night_checks.cumulative_out_of,
        cast(night_checks.cumulative_share as {{ data_type('numeric') }}) as cumulative_share,
        cast(night_checks.cumulative_threshold as {{ data_type('numeric') }}) as cumulative_threshold,
        night_checks.is_in_rollover_window,
        not night_checks.is_released as is_held,
        night_checks.hold_rank,
        night_checks.message
    from night_checks
    left join export_file_groups
        on night_checks.file_name = export_file_groups.file_name
    where night_checks.is_failing

)

select * from final
