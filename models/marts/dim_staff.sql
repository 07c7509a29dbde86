{#- Rebuilt whole every night (a table): one row per staff member a district ever sent, a few thousand rows. -#}
with

staff_ever_delivered as (

    -- every staff member a district ever sent, with the newest attributes: earlier years keep pointing at them;
    -- a current one was delivered until the night shown
    select
        records.*,
        not records.is_retired as is_current,
        coalesce(records.last_delivered_date, nights.as_of_date) as delivered_until
    from {{ ref('rec_staff') }} as records
    inner join {{ ref('rec_nights') }} as nights
        on records.district_id = nights.district_id and nights.records_model = 'rec_staff'
    -- a record retired before it ever showed has no attributes
    where records.has_attributes

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
        staff_ever_delivered.delivered_until as last_delivered_date
    from staff_ever_delivered

)

select * from final
