"""The sample district's entities: schools, families and their children, students in a school year, contacts,
courses and sections, discipline incidents, and a school year's model of them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sis_sync.sample.calendars import SchoolCalendar
from sis_sync.sample.draws import _text_hash
from sis_sync.sample.parameters import GRADE_CODES, LEVEL_GRADES, Time


def school_day_at(cal: SchoolCalendar, phase: float) -> dt.date:
    days = cal.school_days
    return days[min(len(days) - 1, int(phase * len(days)))]


# --------------------------------------------------------------------------------------------- schools


@dataclass(frozen=True)
class School:
    school_id: str
    name: str
    level: str
    index: int  # within its level
    phone: str

    @property
    def low_grade(self) -> str:
        return GRADE_CODES[LEVEL_GRADES[self.level][0]]

    @property
    def high_grade(self) -> str:
        return GRADE_CODES[LEVEL_GRADES[self.level][-1]]


# ----------------------------------------------------------------------------------------------- people


class Family:
    """A household: 1-4 children (their KG years), when it lives in the district, its zone."""

    __slots__ = ("no", "h", "kgs", "arrive", "depart", "zone", "_detail")

    def __init__(self, no: int, h: int, kgs: tuple[int, ...], arrive: Time, depart: Time, zone: float):
        self.no, self.h, self.kgs, self.arrive, self.depart, self.zone = no, h, kgs, arrive, depart, zone
        self._detail = None


@dataclass
class KidDetail:
    first_name: str
    middle_name: str
    last_name: str
    preferred_name: str
    gender: str
    birth_date: dt.date
    state_id: str


@dataclass
class Contact:
    cn: int  # contact number (contact_id's digits)
    contact_id: str
    first_name: str
    last_name: str
    relationship: str
    lives_with: str
    phone_key: int
    phone_style: int
    home_phone: str
    work_phone: str
    email: str
    can_text: str
    do_not_contact: str


@dataclass
class FamilyDetail:
    last_name: str
    language: str
    kids: list[KidDetail]
    contacts: list[Contact]


class Kid:
    """One student (a child of a family) and the span it is enrolled in the district."""

    __slots__ = ("num", "student_id", "family", "m", "kg", "start", "end")

    def __init__(self, num, student_id, family, m, kg, start, end):
        self.num, self.student_id, self.family, self.m, self.kg = num, student_id, family, m, kg
        self.start, self.end = start, end


class StudentYear:
    """A kid in one school year: grade, school, entry and exit (exit = last day of enrollment)."""

    __slots__ = ("kid", "grade", "school", "entry", "exit", "mid_entry", "entry_idx", "exit_idx",
                 "assignments", "hy")

    def __init__(self, kid, grade, school, entry, exit_, mid_entry, entry_idx, exit_idx):
        self.kid, self.grade, self.school = kid, grade, school
        self.entry, self.exit, self.mid_entry = entry, exit_, mid_entry
        self.entry_idx, self.exit_idx = entry_idx, exit_idx
        self.assignments: list[Assignment] = []
        self.hy = 0

    @property
    def student_id(self) -> str:
        return self.kid.student_id

    def visible(self, day: dt.date) -> bool:
        """Whether the SIS knows the student on ``day`` (mid-year entries appear on their entry date)."""
        return not self.mid_entry or day >= self.entry

    def withdrawn(self, day: dt.date) -> bool:
        """Whether the withdrawal is in the SIS on ``day`` (it is entered the day after the last day)."""
        return self.exit is not None and day > self.exit

    def enrolled_on(self, day: dt.date) -> bool:
        return self.entry <= day and (self.exit is None or day <= self.exit)


# ----------------------------------------------------------------------------------- courses, sections

# code -> (name, subject, term)
ELEMENTARY_COURSES = {
    f"HR{g}": ("Kindergarten Homeroom" if g == "KG" else f"Grade {int(g)} Homeroom", "Homeroom", "YR")
    for g in GRADE_CODES[:6]
}
MIDDLE_COURSES = {}
for _g in (6, 7, 8):
    MIDDLE_COURSES.update({
        f"ELA{_g}": (f"English Language Arts {_g}", "English", "YR"),
        f"MATH{_g}": (f"Mathematics {_g}", "Mathematics", "YR"),
        f"SCI{_g}": (f"Science {_g}", "Science", "YR"),
        f"SS{_g}": (f"Social Studies {_g}", "Social Studies", "YR"),
    })
MIDDLE_COURSES.update({
    "PE": ("Physical Education", "Physical Education", "YR"),
    "ART": ("Art", "Fine Arts", "S1"),
    "MUS": ("General Music", "Fine Arts", "S2"),
    "BAND": ("Band", "Fine Arts", "YR"),
    "SPAN1": ("Spanish I", "World Languages", "YR"),
})
HIGH_COURSES = {f"ENG{g}": (f"English {g}", "English", "YR") for g in (9, 10, 11, 12)}
HIGH_COURSES.update({
    "ALG1": ("Algebra I", "Mathematics", "YR"),
    "GEOM": ("Geometry", "Mathematics", "YR"),
    "ALG2": ("Algebra II", "Mathematics", "YR"),
    "PRECALC": ("Precalculus", "Mathematics", "YR"),
    "BIO": ("Biology", "Science", "YR"),
    "CHEM": ("Chemistry", "Science", "YR"),
    "PHYS": ("Physics", "Science", "YR"),
    "ENVSCI": ("Environmental Science", "Science", "YR"),
    "WGEO": ("World Geography", "Social Studies", "YR"),
    "WHIST": ("World History", "Social Studies", "YR"),
    "USHIST": ("U.S. History", "Social Studies", "YR"),
    "GOV": ("Government", "Social Studies", "S1"),
    "ECON": ("Economics", "Social Studies", "S2"),
    "HLTH": ("Health", "Health", "S1"),
    "PE": ("Physical Education", "Physical Education", "S2"),
    "ART2": ("Studio Art", "Fine Arts", "YR"),
    "BAND": ("Band", "Fine Arts", "YR"),
    "CSCI": ("Computer Science Principles", "Computer Science", "YR"),
    "PSYCH": ("Psychology", "Social Studies", "S1"),
    "SOC": ("Sociology", "Social Studies", "S2"),
    "SPAN1": ("Spanish I", "World Languages", "YR"),
    "SPAN2": ("Spanish II", "World Languages", "YR"),
    "SPAN3": ("Spanish III", "World Languages", "YR"),
    "FREN1": ("French I", "World Languages", "YR"),
    "FREN2": ("French II", "World Languages", "YR"),
})
CATALOG = {"elementary": ELEMENTARY_COURSES, "middle": MIDDLE_COURSES, "high": HIGH_COURSES}
_CODE_HASH = {code: _text_hash(code) for cat in CATALOG.values() for code in cat}
_HIGH_MATH = {9: "ALG1", 10: "GEOM", 11: "ALG2", 12: "PRECALC"}
_HIGH_SCIENCE = {9: "BIO", 10: "CHEM", 11: "PHYS", 12: "ENVSCI"}
_HIGH_SOCIAL = {9: ("WGEO",), 10: ("WHIST",), 11: ("USHIST",), 12: ("GOV", "ECON")}
_UPPER_ELECTIVES = (("ART2",), ("BAND",), ("CSCI",), ("PSYCH", "SOC"))


def course_codes(level: str, grade: int, h: int) -> list[str]:
    """The courses of one student's schedule (``h``: the student's hash for the year)."""
    if level == "elementary":
        return [f"HR{GRADE_CODES[grade]}"]
    v = h & 0xFF
    if level == "middle":
        codes = [f"ELA{grade}", f"MATH{grade}", f"SCI{grade}", f"SS{grade}", "PE"]
        if v < 150 or (v >= 200 and grade != 8):
            codes += ["ART", "MUS"]
        elif v < 200:
            codes.append("BAND")
        else:
            codes.append("SPAN1")
        return codes
    codes = [f"ENG{grade}", _HIGH_MATH[grade], _HIGH_SCIENCE[grade], *_HIGH_SOCIAL[grade]]
    if grade <= 10:
        codes += ["HLTH", "PE"]
        codes.append(("SPAN1", "FREN1")[(h >> 8) & 1] if grade == 9 else ("SPAN2", "FREN2")[(h >> 8) & 1])
    else:
        first = _UPPER_ELECTIVES[(h >> 8) % 4]
        rest = [e for e in (("SPAN3",), ("CSCI",), ("ART2",), ("BAND",)) if e != first]
        codes += [*first, *rest[(h >> 16) % 3]]
    return codes


@dataclass
class Section:
    section_id: str
    course_id: str
    code: str
    school: School
    term: str
    term_start: dt.date
    term_end: dt.date
    period: str
    room: str
    position: int  # staff position of the teacher of record


class Assignment:
    """One course on a student's schedule: its section and the (dated) switches to another section.

    ``changes``: (first day in the new section, new section index or None for a plain drop, the day the
    change is entered in the SIS), in date order.
    """

    __slots__ = ("code", "term", "term_start", "term_end", "sections", "first", "changes")

    def __init__(self, code, term, term_start, term_end, sections, first):
        self.code, self.term, self.term_start, self.term_end = code, term, term_start, term_end
        self.sections: list[Section] = sections
        self.first: int = first
        self.changes: list[tuple[dt.date, int | None, dt.date]] = []


@dataclass
class Incident:
    incident_id: str
    date: dt.date
    school: School
    incident_type: str
    # per student: (student-year, action, action_start, action_end, days_removed text)
    participants: list[tuple]


@dataclass
class YearModel:
    school_year: int
    calendar: SchoolCalendar
    students: list[StudentYear]  # every student enrolled at any time in the year, by student_id
    sections: list[Section]  # by section_id
    incidents: list[Incident]  # by incident_id
    # student_id -> {school day index: (code, minutes)}: suspension days from discipline
    suspensions: dict[str, dict[int, tuple[str, str]]]
