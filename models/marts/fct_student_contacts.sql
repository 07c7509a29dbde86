{#- Incremental by record (macros/versions.sql): a night rebuilds the students whose contact links changed. -#}
{{ changed_records_config('stg_sis__contacts', 'contacts.csv', ['contact_id', 'student_id'],
    grain=['student_id'], has_school_year=false) }}

with

contact_loads as (

    {{ loads_to_build('contacts.csv', by_school_year=false) }}

),

current_contacts as (

    {{ versions_as_of('stg_sis__contacts', 'contacts.csv', 'contact_loads', ['contact_id', 'student_id'],
        has_school_year=false, changed=changed_records_relation(), grain=['student_id']) }}

),

ranked as (

    -- exactly one primary contact per student: the SIS's primary flag first, then priority, then id
    select
        current_contacts.*,
        row_number() over (
            partition by current_contacts.district_id, current_contacts.student_id
            order by
                current_contacts.is_primary_in_sis desc,
                coalesce(current_contacts.do_not_contact, false) asc,
                current_contacts.contact_priority asc nulls last,
                current_contacts.contact_id asc
        ) as primary_rank
    from current_contacts

),

final as (

    select
        ranked.district_id,
        ranked.student_id,
        ranked.contact_id,
        ranked.relationship,
        ranked.primary_rank = 1 as is_primary,
        ranked.is_primary_in_sis,
        ranked.lives_with,
        ranked.contact_priority,
        ranked.export_date as last_changed_date
    from ranked

)

select * from final
