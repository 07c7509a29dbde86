{#- Rebuilt whole every night (a table): one row per school a district ever sent, a few thousand rows. -#}
with

schools_ever_delivered as (

    -- every school a district ever sent, with the newest attributes: earlier years keep pointing at it;
    -- a current one was delivered until the night shown
    select
        records.*,
        not records.is_retired as is_current,
        coalesce(records.last_delivered_date, nights.as_of_date) as delivered_until
    from {{ ref('rec_schools') }} as records
    inner join {{ ref('rec_nights') }} as nights
        on records.district_id = nights.district_id and nights.records_model = 'rec_schools'
    -- a record retired before it ever showed has no attributes
    where records.has_attributes

),

final as (

    select
        schools_ever_delivered.district_id,
        schools_ever_delivered.school_id,
        schools_ever_delivered.school_name,
        schools_ever_delivered.low_grade,
        schools_ever_delivered.high_grade,
        schools_ever_delivered.phone,
        {{ phone_e164('schools_ever_delivered.phone', 'district_settings') }} as phone_e164,
        schools_ever_delivered.is_current as is_active,
        schools_ever_delivered.delivered_until as last_delivered_date
    from schools_ever_delivered
    left join {{ ref('stg_sis__district_settings') }} as district_settings
        on schools_ever_delivered.district_id = district_settings.district_id

)

select * from final
