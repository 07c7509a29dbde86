with

staff_ever_delivered as (

    -- every staff member a district ever sent, with the newest attributes: teachers of earlier years stay
    {{ ever_delivered('stg_sis__staff', 'staff.csv', 'staff_id') }}

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
        staff_ever_delivered.is_active and staff_ever_delivered.is_current as is_active,
        staff_ever_delivered.last_delivered_date
    from staff_ever_delivered

)

select * from final
