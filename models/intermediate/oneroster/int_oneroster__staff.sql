-- staff.csv's records from OneRoster: every user whose role is a staff role (seed oneroster_roles), as of the
-- newest school year that has them; as our staff.csv, the export's list is the district's newest year's, and a
-- staff member of an earlier year only, or retired, is kept retired (mapped_until: the last night it showed).
with

newest_years as (

    select
        user_rows.district_id,
        max(user_rows.school_year) as school_year
    from {{ ref('rec_oneroster_users') }} as user_rows
    group by user_rows.district_id

),

users as (

    select {{ distinct_on(['user_rows.district_id', 'user_rows.sourced_id']) }}
        user_rows.*,
        role_map.staff_role
    from {{ ref('int_oneroster__users') }} as user_rows
    inner join {{ ref('oneroster_roles') }} as role_map
        on user_rows.oneroster_role = role_map.role
    where role_map.staff_role is not null
    {{ first_by(['user_rows.district_id', 'user_rows.sourced_id'], 'user_rows.school_year desc') }}

),

staff as (

    select
        users.district_id,
        users.load_id,
        users.export_date,
        users.line_number,
        users.change_type,
        users.key_hash,
        users.sourced_id as staff_id,
        users.given_name as first_name,
        users.family_name as last_name,
        users.email,
        users.org_sourced_id as school_id,
        users.staff_role,
        users.enabled_user as is_active,
        case
            when users.is_retired then users.last_delivered_date
            else {{ oneroster_mapped_until('users', 'newest_years.school_year', 'rec_staff') }}
        end as mapped_until
    from users
    inner join newest_years
        on users.district_id = newest_years.district_id

)

select * from staff
