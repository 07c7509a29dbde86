-- Each OneRoster user of each school year with its role and its school, as the students and staff see them
-- (macros/oneroster.sql).
{{ oneroster_users('rec_oneroster_users', 'rec_oneroster_roles') }}
