{{ history_config(['district_id', 'school_year', 'student_id', 'section_id', 'start_date']) }}

{{ history_from_log(
    'fct_roster_history_log',
    ['district_id', 'school_year', 'student_id', 'section_id', 'start_date'],
    ['end_date', 'course_id', 'course_name', 'subject', 'school_id', 'teacher_id', 'term_name', 'term_start',
     'term_end', 'period', 'room', 'is_active']
) }}
