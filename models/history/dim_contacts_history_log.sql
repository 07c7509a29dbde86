{{ history_log_config() }}

{{ history_log_of(
    'dim_contacts',
    ['district_id', 'contact_id'],
    ['first_name', 'last_name', 'mobile_phone_e164', 'home_phone_e164', 'work_phone_e164', 'best_phone_e164',
     'email', 'preferred_language', 'can_text', 'do_not_contact', 'student_count']
) }}
