{#- Incremental by record (macros/versions.sql): a night rebuilds the contacts whose links changed. -#}
{{ changed_records_config('stg_sis__contacts', 'contacts.csv', ['contact_id', 'student_id'],
    grain=['contact_id'], has_school_year=false, unique=['contact_id']) }}

with

contact_loads as (

    {{ loads_to_build('contacts.csv', by_school_year=false) }}

),

current_contacts as (

    {{ versions_as_of('stg_sis__contacts', 'contacts.csv', 'contact_loads', ['contact_id', 'student_id'],
        has_school_year=false, changed=changed_records_relation(), grain=['contact_id']) }}

),

one_row_per_contact as (

    -- a contact shared by siblings arrives once per student; keep one row (the lowest line of the versions)
    select distinct on (current_contacts.district_id, current_contacts.contact_id)
        current_contacts.district_id,
        current_contacts.contact_id,
        current_contacts.first_name,
        current_contacts.last_name,
        {{ phone_e164('current_contacts.mobile_phone', 'current_contacts.district_id') }} as mobile_phone_e164,
        {{ phone_e164('current_contacts.home_phone', 'current_contacts.district_id') }} as home_phone_e164,
        {{ phone_e164('current_contacts.work_phone', 'current_contacts.district_id') }} as work_phone_e164,
        current_contacts.email,
        current_contacts.preferred_language,
        coalesce(current_contacts.can_text, false) as can_text,
        coalesce(current_contacts.do_not_contact, false) as do_not_contact
    from current_contacts
    order by
        current_contacts.district_id asc,
        current_contacts.contact_id asc,
        current_contacts.line_number asc,
        current_contacts.student_id asc

),

student_counts as (

    select
        current_contacts.district_id,
        current_contacts.contact_id,
        count(*) as student_count,
        max(current_contacts.export_date) as last_changed_date
    from current_contacts
    group by current_contacts.district_id, current_contacts.contact_id

),

final as (

    select
        one_row_per_contact.district_id,
        one_row_per_contact.contact_id,
        one_row_per_contact.first_name,
        one_row_per_contact.last_name,
        one_row_per_contact.mobile_phone_e164,
        one_row_per_contact.home_phone_e164,
        one_row_per_contact.work_phone_e164,
        coalesce(
            one_row_per_contact.mobile_phone_e164,
            one_row_per_contact.home_phone_e164,
            one_row_per_contact.work_phone_e164
        ) as best_phone_e164,
        one_row_per_contact.email,
        one_row_per_contact.preferred_language,
        one_row_per_contact.can_text and one_row_per_contact.mobile_phone_e164 is not null as can_text,
        one_row_per_contact.do_not_contact,
        student_counts.student_count,
        student_counts.last_changed_date
    from one_row_per_contact
    inner join student_counts
        on
            one_row_per_contact.district_id = student_counts.district_id
            and one_row_per_contact.contact_id = student_counts.contact_id

)

select * from final
