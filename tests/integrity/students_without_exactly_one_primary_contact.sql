-- Catches: a student who has contacts in fct_student_contacts but not exactly one primary contact (none, or
-- several). Communication tools call "the" primary contact, so a student without one is not reached and a
-- student with two gets a call to the wrong adult.
-- The SIS cannot cause it: fct_student_contacts picks one primary per student whatever the export says
-- (the SIS's flag, then contact_priority, then contact_id). A failure means the model's rule broke:
-- look at the student's rows (is_primary_in_sis, do_not_contact, contact_priority) and fix the ranking in
-- models/marts/fct_student_contacts.sql. Nothing in the district's data needs to change.

with

student_contacts as (

    select * from {{ ref('fct_student_contacts') }}

),

primaries as (

    select
        student_contacts.district_id,
        student_contacts.student_id,
        count(*) as contact_count,
        count(*) filter (where student_contacts.is_primary) as primary_count
    from student_contacts
    group by student_contacts.district_id, student_contacts.student_id

)

select
    primaries.district_id,
    primaries.student_id,
    primaries.contact_count,
    primaries.primary_count
from primaries
where primaries.primary_count <> 1
