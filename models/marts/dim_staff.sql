with

accepted_loads as (

    select * from {{ ref('int_loads_accepted') }}
    where file_name = 'staff.csv'

),

current_loads as (

    select * from {{ ref('int_loads_current') }}
    where file_name = 'staff.csv'

),

staff as (

    select * from {{ ref('stg_sis__staff') }}

),

staff_ever_delivered as (

    -- every staff member a district ever sent, with the newest attributes: teachers of earlier years stay
    select distinct on (staff.district_id, staff.staff_id)
        staff.district_id,
        staff.staff_id,
        staff.first_name,
        staff.last_name,
        staff.email,
        staff.school_id,
        staff.staff_role,
        staff.is_active as is_active_in_sis,
        staff.load_id,
        accepted_loads.export_date as last_delivered_date
    from staff
    inner join accepted_loads
        on staff.load_id = accepted_loads.load_id
    order by staff.district_id asc, staff.staff_id asc, accepted_loads.export_date desc

),

final as (

    select
        staff_ever_delivered.district_id,
        staff_ever_delivered.staff_id,
        staff_ever_delivered.first_name,
        staff_ever_delivered.last_name,
        staff_ever_delivered.email,
        staff_ever_delivered.school_id,
        staff_ever_delivered.staff_role,
        coalesce(staff_ever_delivered.is_active_in_sis and current_loads.load_id is not null, false)
            as is_active,
        staff_ever_delivered.last_delivered_date
    from staff_ever_delivered
    left join current_loads
        on staff_ever_delivered.load_id = current_loads.load_id

)

select * from final
