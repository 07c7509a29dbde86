{#- Incremental by record: a night rebuilds the contacts whose links to students the records layer changed
    (macros/incremental.sql). -#}
{{ records_mart_config(['district_id', 'contact_id'], by_school_year=false) }}

with

changed_links as (

    {{ records_to_build('rec_contacts', by_school_year=false) }}

),

changed_contacts as (

    select distinct
        changed_links.district_id,
        changed_links.contact_id
    from changed_links

),

current_contacts as (

    -- every current link of those contacts
    select links.*
    from {{ ref('rec_contacts') }} as links
    inner join changed_contacts
        on links.district_id = changed_contacts.district_id and links.contact_id = changed_contacts.contact_id
    where not links.is_retired

),

one_row_per_contact as (

    -- a contact shared by siblings arrives once per student; keep one row (the lowest line of the versions)
    select {{ distinct_on(['current_contacts.district_id', 'current_contacts.contact_id']) }}
        current_contacts.district_id,
        current_contacts.contact_id,
        current_contacts.first_name,
        current_contacts.last_name,
        {{ phone_e164('current_contacts.mobile_phone', 'district_settings') }} as mobile_phone_e164,
        {{ phone_e164('current_contacts.home_phone', 'district_settings') }} as home_phone_e164,
        {{ phone_e164('current_contacts.work_phone', 'district_settings') }} as work_phone_e164,
        current_contacts.email,
        current_contacts.preferred_language,
        coalesce(current_contacts.can_text, false) as can_text,
        coalesce(current_contacts.do_not_contact, false) as do_not_contact
    from current_contacts
    left join {{ ref('stg_sis__district_settings') }} as district_settings
        on current_contacts.district_id = district_settings.district_id
    {{ first_by(
        ['current_contacts.district_id', 'current_contacts.contact_id'],
        'current_contacts.line_number asc, current_contacts.student_id asc'
    ) }}

),

student_counts as (

    select
        current_contacts.district_id,
        current_contacts.contact_id,
        count(*) as student_count,
        max(current_contacts.last_changed_date) as last_changed_date
    from current_contacts
    group by current_contacts.district_id, current_contacts.contact_id

),

final as (

    select
        changed_contacts.district_id,
        changed_contacts.contact_id,
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
        -- null for a contact without a current link: its row is deleted
        student_counts.last_changed_date
    from changed_contacts
    left join one_row_per_contact
        on
            changed_contacts.district_id = one_row_per_contact.district_id
            and changed_contacts.contact_id = one_row_per_contact.contact_id
    left join student_counts
        on
            changed_contacts.district_id = student_counts.district_id
            and changed_contacts.contact_id = student_counts.contact_id

)

select * from final
