with

schools_ever_delivered as (

    -- every school a district ever sent, with its newest attributes: older years keep pointing at it
    {{ ever_delivered('stg_sis__schools', 'schools.csv', 'school_id') }}

),

final as (

    select
        schools_ever_delivered.district_id,
        schools_ever_delivered.school_id,
        schools_ever_delivered.school_name,
        schools_ever_delivered.low_grade,
        schools_ever_delivered.high_grade,
        schools_ever_delivered.phone,
        {{ phone_e164('schools_ever_delivered.phone', 'schools_ever_delivered.district_id') }} as phone_e164,
        schools_ever_delivered.is_current as is_active,
        schools_ever_delivered.last_delivered_date
    from schools_ever_delivered

)

select * from final
