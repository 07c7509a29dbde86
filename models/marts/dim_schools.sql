with

accepted_loads as (

    select * from {{ ref('int_loads_accepted') }}
    where file_name = 'schools.csv'

),

current_loads as (

    select * from {{ ref('int_loads_current') }}
    where file_name = 'schools.csv'

),

schools as (

    select * from {{ ref('stg_sis__schools') }}

),

schools_ever_delivered as (

    -- every school a district ever sent, with its newest attributes: older years keep pointing at it
    select distinct on (schools.district_id, schools.school_id)
        schools.district_id,
        schools.school_id,
        schools.school_name,
        schools.low_grade,
        schools.high_grade,
        schools.phone,
        {{ e164_phone('schools.phone') }} as phone_e164,
        schools.load_id,
        accepted_loads.export_date as last_delivered_date
    from schools
    inner join accepted_loads
        on schools.load_id = accepted_loads.load_id
    order by schools.district_id asc, schools.school_id asc, accepted_loads.export_date desc
),

final as (

    select
        schools_ever_delivered.district_id,
        schools_ever_delivered.school_id,
        schools_ever_delivered.school_name,
        schools_ever_delivered.low_grade,
        schools_ever_delivered.high_grade,
        schools_ever_delivered.phone,
        schools_ever_delivered.phone_e164,
        current_loads.load_id is not null as is_active,
        schools_ever_delivered.last_delivered_date
    from schools_ever_delivered
    left join current_loads
        on schools_ever_delivered.load_id = current_loads.load_id

)

select * from final
