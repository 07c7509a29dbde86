-- schools.csv's records from OneRoster: the orgs of type school, as of the newest school year that has them.
with

orgs as (

    select distinct on (orgs.district_id, orgs.sourced_id) orgs.*
    from {{ ref('rec_oneroster_orgs') }} as orgs
    where not orgs.is_retired and orgs.org_type = 'school'
    order by orgs.district_id asc, orgs.sourced_id asc, orgs.school_year desc

),

schools as (

    select
        orgs.district_id,
        orgs.load_id,
        orgs.export_date,
        orgs.line_number,
        orgs.change_type,
        orgs.key_hash,
        orgs.sourced_id as school_id,
        orgs.org_name as school_name,
        cast(null as text) as low_grade,
        cast(null as text) as high_grade,
        cast(null as text) as phone
    from orgs

)

select * from schools
