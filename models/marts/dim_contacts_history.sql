{{ history_config(['district_id', 'contact_id']) }}

{{ history_from_log(
    'dim_contacts_history_log',
    ['district_id', 'contact_id'],
    ['first_name', 'last_name', 'mobile_phone_e164', 'home_phone_e164', 'work_phone_e164', 'best_phone_e164',
     'email', 'preferred_language', 'can_text', 'do_not_contact', 'student_count']
) }}
