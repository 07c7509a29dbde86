{{ history_config(['district_id', 'school_year', 'student_id', 'teacher_id']) }}

{{ history_from_log(
    'fct_student_teachers_history_log',
    ['district_id', 'school_year', 'student_id', 'teacher_id'],
    ['section_count', 'active_section_count', 'is_active', 'first_start_date']
) }}
