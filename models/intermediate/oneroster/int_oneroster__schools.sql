-- schools.csv's records from OneRoster: the orgs of type school, as of the newest school year that has them;
-- one of an earlier year only, or retired, is kept retired (mapped_until), as our schools.csv's.
with

newest_years as (

    select
        org_rows.district_id,
        max(org_rows.school_year) as school_year
    from {{ ref('rec_oneroster_orgs') }} as org_rows
    group by org_rows.district_id

),

orgs as (

    select {{ distinct_on(['org_rows.district_id', 'org_rows.sourced_id']) }} org_rows.*
    from {{ ref('rec_oneroster_orgs') }} as org_rows
    where org_rows.has_attributes and org_rows.org_type = 'school'
    {{ first_by(['org_rows.district_id', 'org_rows.sourced_id'], 'org_rows.school_year desc') }}

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
        cast(null as {{ data_type('text') }}) as low_grade,
        cast(null as {{ data_type('text') }}) as high_grade,
        cast(null as {{ data_type('text') }}) as phone,
        case
            when orgs.is_retired then orgs.last_delivered_date
            else {{ oneroster_mapped_until('orgs', 'newest_years.school_year', 'rec_schools') }}
        end as mapped_until
    from orgs
    inner join newest_years
        on orgs.district_id = newest_years.district_id

)

select * from schools
