-- contacts.csv's records from OneRoster: one per guardian and student, from the guardian users (parent,
-- guardian, relative: seed oneroster_roles) linked by agentSourcedIds in either direction (a SIS writes the
-- link on the guardian, the student, or both), as the contacts see them (int_oneroster__contact_users), as of the
-- newest school year. Their sms is the
-- mobile phone, their phone the home phone; what OneRoster has no field for (consent to texts among them) is
-- left empty.
with

users as (

    select * from {{ ref('int_oneroster__contact_users') }}
    where not is_retired

),

newest_year as (

    select
        users.district_id,
        max(users.school_year) as school_year
    from users
    group by users.district_id

),

current_users as (

    select users.*
    from users
    inner join newest_year
        on users.district_id = newest_year.district_id and users.school_year = newest_year.school_year

),

guardians as (

    select
        current_users.*,
        role_map.relationship
    from current_users
    inner join {{ ref('oneroster_roles') }} as role_map
        on current_users.oneroster_role = role_map.role
    where role_map.relationship is not null

),

students as (

    select current_users.*
    from current_users
    where current_users.oneroster_role = 'student'

),

links as (

    -- written on the guardian
    select
        guardians.district_id,
        guardians.sourced_id as contact_id,
        trim(agent.sourced_id) as student_id
    from guardians
    cross join lateral {{ list_items('guardians.agent_sourced_ids') }} as agent (sourced_id)

    union

    -- written on the student
    select
        students.district_id,
        trim(agent.sourced_id) as contact_id,
        students.sourced_id as student_id
    from students
    cross join lateral {{ list_items('students.agent_sourced_ids') }} as agent (sourced_id)

),

contacts as (

    select
        guardians.district_id,
        guardians.load_id,
        guardians.export_date,
        guardians.line_number,
        guardians.change_type,
        guardians.key_hash,
        guardians.sourced_id as contact_id,
        students.sourced_id as student_id,
        guardians.given_name as first_name,
        guardians.family_name as last_name,
        guardians.relationship,
        cast(null as boolean) as is_primary_in_sis,
        cast(null as boolean) as lives_with,
        cast(null as bigint) as contact_priority,
        guardians.sms as mobile_phone,
        guardians.phone as home_phone,
        cast(null as {{ data_type('text') }}) as work_phone,
        guardians.email,
        cast(null as {{ data_type('text') }}) as preferred_language,
        cast(null as boolean) as can_text,
        cast(null as boolean) as do_not_contact,
        cast(null as date) as mapped_until
    from links
    inner join guardians
        on links.district_id = guardians.district_id and links.contact_id = guardians.sourced_id
    inner join students
        on links.district_id = students.district_id and links.student_id = students.sourced_id

)

select * from contacts
