-- Each OneRoster user of each school year with its role and its school, as the contacts see them: as of the
-- nights the contacts show, synced over the summer (macros/oneroster.sql).
{{ oneroster_users('rec_oneroster_contact_users', 'rec_oneroster_contact_roles') }}
