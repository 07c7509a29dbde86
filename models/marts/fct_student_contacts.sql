{#- Incremental by record: a night rebuilds the students whose contact links the records layer changed
    (macros/incremental.sql). -#}
{{ records_mart_config(['district_id', 'student_id', 'contact_id'], by_school_year=false) }}

with

changed_links as (

    {{ records_to_build('rec_contacts', by_school_year=false) }}

),

changed_students as (

    select distinct
        changed_links.district_id,
        changed_links.student_id
    from changed_links

),

current_contacts as (

    -- every link of those students; a retired one (no last_changed_date) deletes its row
    select links.*
    from {{ ref('rec_contacts') }} as links
    inner join changed_students
        on links.district_id = changed_students.district_id and links.student_id = changed_students.student_id
    {%- if not is_incremental() %}
        where not links.is_retired
    {%- endif %}

),

ranked as (

    -- exactly one primary contact per student: the SIS's primary flag first, then priority, then id
    select
        current_contacts.*,
        row_number() over (
            partition by current_contacts.district_id, current_contacts.student_id
            order by
                current_contacts.is_retired asc,
                current_contacts.is_primary_in_sis desc nulls first,
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
        ranked.last_changed_date
    from ranked

)

select * from final
