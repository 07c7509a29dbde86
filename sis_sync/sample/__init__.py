"""A synthetic district whose SIS delivers, for any date, the export a real one would (``sis-sync sample``).

How the synthetic district works
================================

The district is a pure function of ``(district_id, students N, seed)``; an export is that function
evaluated at one date D. Nothing is simulated day by day. Each entity's life events come from a hash of
(seed, district_id, entity id) and are checked against D, so two dates always see one consistent history
and the same arguments always give the same bytes (seeded ``random.Random`` instances and splitmix64
hashes only; no clock, no dict or set ordering).

*The SIS year.* On date D the SIS holds school year Y (spring year: 2026 = 2025-26), where
``rollover_date(Y-1) < D <= rollover_date(Y)``. Over the summer, until the rollover, it still holds the old
year: the same students, the year's attendance and discipline, schedules ended on the last day. The day
after the rollover it holds Y+1. Students are promoted, last year's seniors are gone, a new kindergarten and
the families who moved in over the summer are registered (entry_date = first_day), and new courses,
sections (new ids such as ``S27-0101-0003``) and schedules exist. attendance.csv and discipline.csv have no
rows until the first day of school, so they are left out, as any file without rows is.

*Calendars* (``sample_calendar(district_id, school_year)``: exact rules, independent of seed and size):

- ``"north"``: first_day = the Tuesday after Labor Day (1st Monday of September) of Y-1; last_day = the 3rd
  Friday of June of Y; rollover_date = August 5 of Y.
- every other district id: first_day = the 3rd Wednesday of August of Y-1; last_day = the 1st Friday of
  June of Y; rollover_date = July 20 of Y. (2026: 2025-08-20 .. 2026-06-05, rollover 2026-07-20.)
- both: no school on weekends, Labor Day, Thanksgiving Thursday and Friday, Dec 22 - Jan 2, Martin Luther
  King Jr. Day, Presidents' Day, spring break (the week starting on the last Monday of March) and Memorial
  Day. Semester 2 starts on the first school day after Martin Luther King Jr. Day; semester 1 ends on the
  school day before. ``summer_change_date`` = July 8 of Y (see schedules).

*Students.* Households ("families") are numbered per cohort: family j of cohort c has its oldest child in
KG in school year c, and 1-4 children 1-4 years apart. A child's grade in year Y is Y - (its KG year). Half
of the families live in the district before their first child starts school; the others move in during
their children's school years, over the summer (registered at the rollover) or on a school day. 45% move
out at some point (over the summer, or withdrawing on a school day), and any student may also withdraw
alone (1.5% a year). A family's zone places all its children in the same elementary, middle and high
school. The number of families per cohort is calibrated so that about N students are active.
students.csv holds everyone enrolled at any time in the SIS year up to D: a mid-year entry appears on its
entry_date; a withdrawal (exit_date = the last day enrolled) is entered the day after, from when the
student is ``inactive`` with that exit_date. Student ids are zero-padded text (``000123``; siblings have
neighbouring ids).

*Schools, courses, sections, schedules.* About one elementary school (KG-05) per 420 students of its
grades, one middle school (06-08) per 650, one high school (09-12) per 950, at least one of each. Each school
offers its catalogue every year (course_id = ``<school_id>-<code>``): elementary schools a homeroom per
grade (one YR section per student), middle and high schools core courses per grade plus electives, as YR
sections or S1/S2 pairs (6-8 schedule rows per student). Sections are planned from the students
registered at the start of the year (about 24-28 per section, with period and room); students entering
later join existing sections. A schedule row starts at max(term start, entry date) and gets an end_date
when the student's withdrawal is entered (exit_date; future terms are then dropped), when the student
switches section (5% of secondary students switch one year-long course mid-year: old row ends the school
day before, new row starts that day), or from the last day of its term on (term_end; so from last_day on,
every row of the year has an end_date <= last_day). On ``summer_change_date`` the SIS, still on the old
year, gets a late correction: about 2% of secondary students (at least one) have a course switched or
dropped, back-dated to May, so that old-year rows change in July while the summer freeze must
ignore them.

*Staff.* Positions per school: teachers (one per 18 students), administrators, counselors and other staff.
Each position's holder changes over the summer (7% a year, effective at the rollover) or mid-year (1.5%, on
a school day); every new holder gets a new id (``T0042``; prefixes T/A/G/S by role). staff.csv lists
everyone employed at some time in the SIS year or the one before, ``is_active`` = employed on D. A
section's teacher of record is its position's holder on min(D, term end).

*Contacts.* Each family has 1-3 contacts (mother, father, guardian, grandparent, stepparent, ...), linked
to each of its enrolled children (siblings share contact_ids). Mobile numbers change on hashed dates (12%
of contacts a year on any day, plus 6% a year on a July day); a change shows in the export of its own date.
Phones come in five formats: ``(555) 201-7788``, ``555-201-7788``, ``5552017788``, ``+15552017788``,
``555.201.7788``. Some names carry an apostrophe (O'Brien), an accent (García) or a comma (``Smith, Jr.``).

*Attendance and discipline* (school year to date). Each student has an exception rate (mostly 1.5-6% of
days, some 6-14%, a few 15-30%; about 6% of student-days overall) and codes A, AE, ILL, MED, T, ED, FT with
minutes_absent; ISS/OSS days come from discipline actions. Discipline: about 1 (elementary) to 6 (middle,
high) incident rows per 100 students a year, some incidents with two students, ids ``I2026-00017``
numbered in date order over the whole year.

What the marts should show for an export is worked out by the tests (``tests/python/sample_truth.py``).
Timing (mid-year date, one core): N = 10k about 2-4 s, N = 100k about 20-30 s and 650 MB of memory (about
77 MB of CSV).
"""

from sis_sync.sample.calendars import SchoolCalendar, sample_calendar, sis_school_year
from sis_sync.sample.export import Export, build_export, write_export

__all__ = ["Export", "SchoolCalendar", "build_export", "sample_calendar", "sis_school_year", "write_export"]
