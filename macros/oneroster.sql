{#- Each OneRoster user of each school year with its role and its school, from the records models of
    users.csv and roles.csv (`users_model`, `roles_model`: the students' view or the contacts'): 1.1 carries
    them on the user (role, the first of orgSourcedIds), 1.2 in roles.csv (the primary role, the newest first)
    and primaryOrgSourcedId. A retired user is kept, with `is_retired` and its `last_delivered_date` (the
    staff and schools of ours keep theirs), and its role of then. -#}
{% macro oneroster_users(users_model, roles_model) -%}
with

users as (

    select user_rows.*
    from {{ ref(users_model) }} as user_rows
    where user_rows.has_attributes

),

primary_roles as (

    select {{ distinct_on(['role_rows.district_id', 'role_rows.school_year', 'role_rows.user_sourced_id']) }}
        role_rows.district_id,
        role_rows.school_year,
        role_rows.user_sourced_id,
        role_rows.user_role,
        role_rows.org_sourced_id,
        role_rows.begin_date,
        role_rows.end_date
    from {{ ref(roles_model) }} as role_rows
    where role_rows.has_attributes
    {{ first_by(
        ['role_rows.district_id', 'role_rows.school_year', 'role_rows.user_sourced_id'],
        'role_rows.is_retired asc, role_rows.role_type = \'primary\' desc, role_rows.begin_date desc nulls last, role_rows.sourced_id asc'
    ) }}

),

users_with_roles as (

    select
        users.district_id,
        users.load_id,
        users.export_date,
        users.line_number,
        users.change_type,
        users.key_hash,
        users.sourced_id,
        users.record_status,
        users.date_last_modified,
        users.enabled_user,
        users.org_sourced_ids,
        users.user_role,
        users.username,
        users.user_ids,
        users.given_name,
        users.family_name,
        users.middle_name,
        users.identifier,
        users.email,
        users.sms,
        users.phone,
        users.agent_sourced_ids,
        users.grades,
        users.preferred_given_name,
        users.primary_org_sourced_id,
        users.school_year,
        users.is_retired,
        users.last_delivered_date,
        coalesce(users.user_role, primary_roles.user_role) as oneroster_role,
        coalesce(
            users.primary_org_sourced_id,
            primary_roles.org_sourced_id,
            nullif(trim(split_part(users.org_sourced_ids, ',', 1)), '')
        ) as org_sourced_id,
        primary_roles.begin_date as role_begin_date,
        primary_roles.end_date as role_end_date
    from users
    left join primary_roles
        on
            users.district_id = primary_roles.district_id
            and users.school_year = primary_roles.school_year
            and users.sourced_id = primary_roles.user_sourced_id

)

select * from users_with_roles
{%- endmacro %}
