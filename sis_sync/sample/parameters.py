"""The sample district's calibration: grades and school levels, sizes, and the yearly rates of its life events."""

from __future__ import annotations

from sis_sync.sample import names

GRADE_CODES = ("KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")
LEVELS = ("elementary", "middle", "high")
LEVEL_GRADES = {"elementary": range(0, 6), "middle": range(6, 9), "high": range(9, 13)}
LEVEL_CODE = {"elementary": 1, "middle": 2, "high": 3}
LEVEL_NAME = {"elementary": "Elementary School", "middle": "Middle School", "high": "High School"}
STUDENTS_PER_SCHOOL = {"elementary": 420, "middle": 650, "high": 950}
STUDENTS_PER_TEACHER = 18
SECTION_SIZE = {"elementary": 24, "middle": 28, "high": 28}

FAMILY_EPOCH = 1970  # family numbers count cohorts from here
STAFF_EPOCH = 2000  # staff positions get their first holders in this school year
FAMILIES_PER_STUDENT = 0.0758  # families per cohort, per requested student (calibrated: N ~ active)
NATIVE_SHARE = 0.5  # families in the district before their first child starts KG
MOVE_OUT_SHARE = 0.45  # families that move out at some point while they have children in school
INDIVIDUAL_WITHDRAWAL_RATE = 0.015  # per student per year, mid-year, alone (private school, moves, ...)
SCHEDULE_CHANGE_RATE = 0.05  # secondary students switching one section mid-year
SUMMER_CHANGE_RATE = 0.02  # secondary students whose schedule is corrected in July (old year)
STAFF_SUMMER_TURNOVER = 0.07
STAFF_MIDYEAR_TURNOVER = 0.015
PHONE_CHANGE_RATE = 0.12  # per contact per calendar year, on any day
PHONE_SUMMER_CHANGE_RATE = 0.06  # per contact per year, on a July day
DISCIPLINE_RATE = {"elementary": 0.01, "middle": 0.055, "high": 0.045}  # incidents per student-year

_FIRST_NAMES = {"F": names.FEMALE, "M": names.MALE, "X": names.FEMALE + names.MALE}
_FIRST_RELATIONSHIPS = ("mother",) * 14 + ("father",) * 3 + ("guardian", "grandparent", "foster_parent")
_PARENTS = frozenset({"mother", "father", "guardian", "foster_parent", "stepparent"})
_PHONE_ANY = int(PHONE_CHANGE_RATE * 65536)
_PHONE_JULY = int(PHONE_SUMMER_CHANGE_RATE * 65536)

Time = tuple[int, float]  # (school year, phase): phase 0.0 = from the year's start (registered at the
# rollover), 0 < phase < 1 = on a school day during the year, 1.0 = through the end of the year.
