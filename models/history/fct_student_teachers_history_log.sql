{{ history_log_config() }}

{{ history_log_of(
    'fct_student_teachers',
    ['district_id', 'school_year', 'student_id', 'teacher_id'],
    ['section_count', 'active_section_count', 'is_active', 'first_start_date']
) }}
