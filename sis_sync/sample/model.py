"""The synthetic district as a pure function of (district_id, size, seed): who exists, and when.

Nothing here simulates day by day. Every entity's life events (a family moving in or out, a student
withdrawing, a staff member leaving, a phone number changing, a schedule change) are derived from a hash
of (seed, district_id, the entity's own id), and evaluated at the export date. Per-year structures
(the year's students, courses, sections, discipline incidents) depend only on the school year, never on
the export date, so consecutive dates see one consistent history. See ``sis_sync.sample`` for the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
import unicodedata
from dataclasses import dataclass
from functools import cache, cached_property

from sis_sync.sample import names
from sis_sync.sample.calendars import SchoolCalendar, sample_calendar

# ----------------------------------------------------------------------------------------------- hashing

M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(x: int) -> int:
    """splitmix64's finaliser: a fast, well-spread 64-bit hash of a 64-bit integer."""
    x = (x + _GOLDEN) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def _key(*parts: int) -> int:
    x = 0
    for p in parts:
        x = _mix(x ^ (p & M64))
    return x


def _text_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def _unit(bits: int) -> float:
    """The low 16 bits as a number in [0, 1)."""
    return (bits & 0xFFFF) / 65536.0


# Purposes, mixed into every key so that different draws of one entity are independent.
TAG_SCHOOLS, TAG_FAMILY, TAG_DETAIL, TAG_KID, TAG_STAFF, TAG_STAFF_NAME = 1, 2, 3, 4, 5, 6
TAG_SCHEDULE, TAG_PHONE, TAG_DISCIPLINE, TAG_ATTENDANCE, TAG_ZONE = 7, 8, 9, 10, 11
_CHANGE, _SUMMER = 0x5C4A, 0x5077

# ------------------------------------------------------------------------------------------ parameters

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


def school_day_at(cal: SchoolCalendar, phase: float) -> dt.date:
    days = cal.school_days
    return days[min(len(days) - 1, int(phase * len(days)))]


@cache
def fold_ascii(text: str) -> str:
    """Lowercase ASCII letters only, for email addresses: "O'Brien" -> "obrien", "García" -> "garcia"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in plain.lower() if ch.isalnum())


AREA_CODE = "555"


def format_phone(number: int, style: int) -> str:
    """A 7-digit number (exchange 200-999 + line) in one of the common US formats."""
    exchange, line = divmod(number, 10000)
    a, e, ln = AREA_CODE, f"{exchange:03d}", f"{line:04d}"
    if style == 0:
        return f"({a}) {e}-{ln}"
    if style == 1:
        return f"{a}-{e}-{ln}"
    if style == 2:
        return f"{a}{e}{ln}"
    if style == 3:
        return f"+1{a}{e}{ln}"
    return f"{a}.{e}.{ln}"


def _phone_number(h: int) -> int:
    return 2_000_000 + h % 8_000_000


def _pick(rng: random.Random, seq):
    return seq[int(rng.random() * len(seq))]


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


# ------------------------------------------------------------------------------------------- district


class District:
    """The synthetic district for (district_id, students, seed). Build once, evaluate at any date."""

    def __init__(self, district_id: str, students: int, seed: int = 1):
        if students < 1:
            raise ValueError("students must be at least 1")
        self.district_id = district_id
        self.size = students
        self.seed = seed
        self.base = _key(seed, _text_hash(district_id))
        self.tag = {t: _key(self.base, t) for t in range(1, 12)}  # per-purpose keys
        self.families_per_cohort = max(1, round(students * FAMILIES_PER_STUDENT))
        top = (2100 - FAMILY_EPOCH + 1) * self.families_per_cohort * 4
        self.id_width = max(6, len(str(top)) + 1)  # student ids always keep a leading zero
        self.contact_width = max(6, len(str(top)))
        self._families: dict[tuple[int, int], Family | None] = {}
        self._years: dict[int, YearModel] = {}
        self._staff_years = STAFF_EPOCH
        self._tenures: list[list[tuple[int, Time, Time | None]]] = []
        self._staff_counter = 0

    # ------------------------------------------------------------------------------------- schools

    @cached_property
    def schools(self) -> list[School]:
        rng = random.Random(self.tag[TAG_SCHOOLS])
        r = rng.random
        base_names = list(names.SCHOOL_NAMES)
        rng.shuffle(base_names)
        out = []
        for level in LEVELS:
            share = len(LEVEL_GRADES[level]) / 13
            count = max(1, round(self.size * share / STUDENTS_PER_SCHOOL[level]))
            width = 2 if count < 100 else 3
            for i in range(count):
                base = base_names[i % len(base_names)]
                suffix = "" if i < len(base_names) else f" {i // len(base_names) + 1}"
                out.append(School(
                    school_id=f"{LEVEL_CODE[level]:02d}{i + 1:0{width}d}",
                    name=f"{base} {LEVEL_NAME[level]}{suffix}",
                    level=level,
                    index=i,
                    phone=format_phone(_phone_number(rng.getrandbits(32)), int(r() * 5)),
                ))
        return out

    @cached_property
    def schools_by_level(self) -> dict[str, list[School]]:
        return {level: [s for s in self.schools if s.level == level] for level in LEVELS}

    def school_for(self, zone: float, grade: int) -> School:
        level = "elementary" if grade <= 5 else "middle" if grade <= 8 else "high"
        schools = self.schools_by_level[level]
        # Zones are cut the other way round for middle and high schools so feeder patterns mix.
        z = zone if level == "elementary" else (zone * 7.0) % 1.0 if level == "middle" else (zone * 3.0) % 1.0
        return schools[min(len(schools) - 1, int(z * len(schools)))]

    # ------------------------------------------------------------------------------------ families

    def cohort_key(self, c: int) -> int:
        return _mix(self.tag[TAG_FAMILY] ^ c)

    @staticmethod
    def kg_years(c: int, h1: int) -> list[int]:
        """The KG years of a family's children (from the family's hash)."""
        v = h1 & 0xFF
        n = 1 if v < 102 else 2 if v < 199 else 3 if v < 243 else 4
        kgs = [c]
        for m in range(1, n):
            kgs.append(kgs[-1] + 1 + ((h1 >> (8 + 2 * m)) & 3))
        return kgs

    def family(self, c: int, j: int, h1: int | None = None) -> Family:
        """Family j of cohort c (c = the KG year of its oldest child)."""
        key = (c, j)
        fam = self._families.get(key)
        if fam is not None:
            return fam
        if h1 is None:
            h1 = _mix(self.cohort_key(c) ^ j)
        kgs = self.kg_years(c, h1)
        h2, h3 = _mix(h1), _mix(_mix(h1))
        span_end = kgs[-1] + 12
        if _unit(h1 >> 16) < NATIVE_SHARE:
            arrive: Time = (c, 0.0)
        else:
            a = c + (((h2 & 0xFFFF) * (span_end - c + 1)) >> 16)
            arrive = (a, 0.0) if _unit(h2 >> 16) < 0.4 else (a, 0.03 + 0.89 * _unit(h2 >> 32))
        if _unit(h1 >> 32) < MOVE_OUT_SHARE:
            a = arrive[0]
            year = a + (((h3 & 0xFFFF) * (span_end - a + 1)) >> 16)
            depart: Time = (year, 1.0) if _unit(h3 >> 16) < 0.4 else (year, 0.05 + 0.9 * _unit(h3 >> 32))
            if depart <= arrive:
                depart = (a, min(0.95, arrive[1] + 0.03)) if arrive[1] + 0.03 <= 0.95 else (a, 1.0)
        else:
            depart = (span_end, 1.0)
        zone = ((_mix(h3) >> 16) & 0xFFFFFF) / float(1 << 24)
        no = (c - FAMILY_EPOCH) * self.families_per_cohort + j
        fam = Family(no, h1, tuple(kgs), arrive, depart, zone)
        self._families[key] = fam
        return fam

    def kid(self, fam: Family, m: int) -> Kid:
        kg = fam.kgs[m]
        num = fam.no * 4 + m + 1
        hk = _mix(fam.h ^ (0xD1B54A32D192ED03 * (m + 1) & M64))
        start = max((kg, 0.0), fam.arrive)
        end = min((kg + 12, 1.0), fam.depart)
        u = ((hk & 0xFFFFFF) + 1) / float(1 << 24)
        years = int(math.log(u) / math.log(1.0 - INDIVIDUAL_WITHDRAWAL_RATE))
        if years <= 12:
            end = min(end, (kg + years, 0.05 + 0.9 * _unit(hk >> 24)))
        return Kid(num, f"{num:0{self.id_width}d}", fam, m, kg, start, end)

    def detail(self, fam: Family) -> FamilyDetail:
        if fam._detail is not None:
            return fam._detail
        rng = random.Random(_mix(self.tag[TAG_DETAIL] ^ fam.no))
        r = rng.random
        last = _pick(rng, names.LAST)
        lang_roll = int(r() * 1000)
        language = next(lang for lang, cum in names.LANGUAGES if lang_roll < cum)
        if last in names.HISPANIC_LAST and r() < 0.55:
            language = "Spanish"
        kids = []
        for m, kg in enumerate(fam.kgs):
            g = r()
            gender = "F" if g < 0.49 else "M" if g < 0.99 else "X"
            pool = _FIRST_NAMES[gender]
            first = _pick(rng, pool)
            middle = _pick(rng, pool) if r() < 0.6 else ""
            kid_last = last
            if gender == "M" and r() < 0.04:
                kid_last = f"{last}, Jr."
            elif r() < 0.04:
                kid_last = f"{last}-{_pick(rng, names.LAST)}"
            preferred = names.NICKNAMES.get(first, "") if r() < 0.5 else ""
            birth = dt.date(kg - 7, 9, 2) + dt.timedelta(days=int(r() * 365))
            state_id = "" if r() < 0.04 else f"9{(fam.no * 4 + m + 1) * 7919 % 10**9:09d}"
            kids.append(KidDetail(first, middle, kid_last, preferred, gender, birth, state_id))
        # contacts
        k = r()
        count = 1 if k < 0.2 else 2 if k < 0.85 else 3
        home = format_phone(_phone_number(rng.getrandbits(32)), int(r() * 5)) if r() < 0.45 else ""
        contacts = []
        first_rel = _pick(rng, _FIRST_RELATIONSHIPS)
        rels = [first_rel]
        if count >= 2:
            second = "father" if first_rel == "mother" else "mother" if first_rel == "father" else "other"
            x = r()
            rels.append(second if x < 0.8 else "stepparent" if x < 0.9 else "grandparent")
        if count >= 3:
            rels.append(_pick(rng, ("grandparent", "grandparent", "other", "sibling", "guardian")))
        for i, rel in enumerate(rels):
            cn = fam.no * 3 + i + 1
            female = rel == "mother" or (rel not in ("father",) and r() < 0.55)
            first = _pick(rng, names.FEMALE if female else names.MALE)
            same_name = rel in ("mother", "father", "sibling") and r() < 0.85
            c_last = last if same_name else _pick(rng, names.LAST)
            if not female and r() < 0.03:
                c_last = f"{c_last}, Jr."
            email = ""
            if r() < 0.8:
                domain = _pick(rng, names.STREET_DOMAINS)
                email = f"{fold_ascii(first)}.{fold_ascii(c_last)}{int(r() * 100)}@{domain}"
            work = format_phone(_phone_number(rng.getrandbits(32)), int(r() * 5)) if r() < 0.25 else ""
            if rel in _PARENTS:
                lives = "Y" if r() < 0.92 else "N"
            else:
                lives = "Y" if rel == "grandparent" and r() < 0.3 else "N"
            contacts.append(Contact(
                cn=cn,
                contact_id=f"C{cn:0{self.contact_width}d}",
                first_name=first,
                last_name=c_last,
                relationship=rel,
                lives_with=lives,
                phone_key=_mix(self.tag[TAG_PHONE] ^ cn),
                phone_style=int(r() * 5),
                home_phone=home if lives == "Y" else "",
                work_phone=work,
                email=email,
                can_text="Y" if r() < 0.8 else "N",
                do_not_contact="Y" if i > 0 and r() < 0.04 else "N",
            ))
        fam._detail = FamilyDetail(last, language, kids, contacts)
        return fam._detail

    # -------------------------------------------------------------------------------------- phones

    @staticmethod
    def phone_changes(contact: Contact, year: int) -> list[dt.date]:
        """The days in calendar ``year`` on which the contact's mobile number changes (sorted)."""
        v = _mix(contact.phone_key ^ year)
        out = []
        if (v & 0xFFFF) < _PHONE_ANY:
            days = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
            out.append(dt.date(year, 1, 1) + dt.timedelta(days=((v >> 16) & 0x1FF) % days))
        if ((v >> 25) & 0xFFFF) < _PHONE_JULY:
            out.append(dt.date(year, 7, 1 + ((v >> 41) & 0x1F) % 31))
        return sorted(set(out))

    def mobile_phone(self, contact: Contact, day: dt.date) -> str:
        """The contact's mobile number as the SIS holds it on ``day`` (a change shows the same day)."""
        key = contact.phone_key
        stamp = 0
        for year in range(day.year, FAMILY_EPOCH - 1, -1):
            v = _mix(key ^ year)
            if (v & 0xFFFF) < _PHONE_ANY or ((v >> 25) & 0xFFFF) < _PHONE_JULY:
                changes = [d for d in self.phone_changes(contact, year) if d <= day]
                if changes:
                    stamp = changes[-1].toordinal()
                    break
        return format_phone(_phone_number(_mix(contact.phone_key ^ (stamp * _GOLDEN & M64))),
                            contact.phone_style)

    # --------------------------------------------------------------------------------------- staff

    @cached_property
    def positions(self) -> list[tuple[School, str, int]]:
        """Staff positions: (school, role, index within the school's teachers or -1)."""
        out = []
        for school in self.schools:
            level = school.level
            cap = self.size * len(LEVEL_GRADES[level]) / 13 / len(self.schools_by_level[level])
            teachers = max(2, math.ceil(cap / STUDENTS_PER_TEACHER))
            out += [(school, "administrator", -1)] * (1 + (cap >= 600))
            out += [(school, "teacher", t) for t in range(teachers)]
            out += [(school, "counselor", -1)] * max(1, round(cap / 350))
            out += [(school, "staff", -1)] * max(1, round(cap / 100))
        return out

    @cached_property
    def teacher_positions(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {s.school_id: [] for s in self.schools}
        for p, (school, role, _) in enumerate(self.positions):
            if role == "teacher":
                out[school.school_id].append(p)
        return out

    def tenures(self, school_year: int) -> list[list[tuple[int, Time, Time | None]]]:
        """Per position, its holders up to ``school_year``: (staff number, start, end or None)."""
        if not self._tenures:
            self._tenures = [[(p + 1, (STAFF_EPOCH, 0.0), None)] for p in range(len(self.positions))]
            self._staff_counter = len(self.positions)
            self._position_keys = [_mix(self.tag[TAG_STAFF] ^ p) for p in range(len(self.positions))]
        while self._staff_years < school_year:
            y = self._staff_years = self._staff_years + 1
            for p, hp in enumerate(self._position_keys):
                h = _mix(hp ^ y)
                events = []
                if _unit(h) < STAFF_SUMMER_TURNOVER:
                    events.append((y, 0.0))
                if _unit(h >> 16) < STAFF_MIDYEAR_TURNOVER:
                    events.append((y, 0.1 + 0.8 * _unit(h >> 32)))
                for t in events:
                    num, start, _ = self._tenures[p][-1]
                    self._tenures[p][-1] = (num, start, t)
                    self._staff_counter += 1
                    self._tenures[p].append((self._staff_counter, t, None))
        return self._tenures

    def staff_name(self, num: int) -> tuple[str, str]:
        h = _mix(self.tag[TAG_STAFF_NAME] ^ num)
        pool = names.FEMALE if h & 1 else names.MALE
        return pool[(h >> 8) % len(pool)], names.LAST[(h >> 24) % len(names.LAST)]

    # ---------------------------------------------------------------------------------------- years

    def year(self, school_year: int) -> YearModel:
        if school_year not in self._years:
            if len(self._years) >= 3:
                self._years.pop(min(self._years))
            self._years[school_year] = self._build_year(school_year)
        return self._years[school_year]

    def _students(self, y: int, cal: SchoolCalendar) -> list[StudentYear]:
        out = []
        days = cal.school_days
        n_days = len(days)
        for c in range(y - 24, y + 1):
            ck = self.cohort_key(c)
            for j in range(self.families_per_cohort):
                h1 = _mix(ck ^ j)
                if c < y - 12 and self.kg_years(c, h1)[-1] < y - 12:
                    continue  # every child has graduated
                fam = self.family(c, j, h1)
                if fam.depart[0] < y or fam.arrive[0] > y:
                    continue
                for m, kg in enumerate(fam.kgs):
                    grade = y - kg
                    if not 0 <= grade <= 12:
                        continue
                    kid = self.kid(fam, m)
                    if not (kid.start[0] <= y <= kid.end[0]) or kid.start >= kid.end:
                        continue
                    mid_entry = kid.start[0] == y and kid.start[1] > 0.0
                    entry_idx = min(n_days - 1, int(kid.start[1] * n_days)) if mid_entry else 0
                    exit_idx = n_days - 1
                    exit_ = None
                    if kid.end[0] == y and kid.end[1] < 1.0:
                        exit_idx = max(entry_idx, min(n_days - 1, int(kid.end[1] * n_days)))
                        exit_ = days[exit_idx]
                    out.append(StudentYear(kid, grade, self.school_for(fam.zone, grade), days[entry_idx],
                                           exit_, mid_entry, entry_idx, exit_idx))
        out.sort(key=lambda s: s.kid.num)
        return out

    def _build_year(self, y: int) -> YearModel:
        cal = sample_calendar(self.district_id, y)
        students = self._students(y, cal)
        terms = cal.terms
        yy = f"{y % 100:02d}"
        yk = _mix(self.tag[TAG_SCHEDULE] ^ y)
        for s in students:
            s.hy = _mix(yk ^ s.kid.num)
        # Sections are planned from the students registered at the start of the year.
        demand: dict[tuple[str, str], int] = {}
        codes_of: dict[str, list[str]] = {}
        for s in students:
            codes = course_codes(s.school.level, s.grade, s.hy)
            codes_of[s.student_id] = codes
            if not s.mid_entry:
                for code in codes:
                    k = (s.school.school_id, code)
                    demand[k] = demand.get(k, 0) + 1
        sections: list[Section] = []
        by_course: dict[tuple[str, str], list[Section]] = {}
        for school in self.schools:
            catalog = CATALOG[school.level]
            planned = []
            for code, (_, _, term) in catalog.items():
                n = max(1, math.ceil(demand.get((school.school_id, code), 0) / SECTION_SIZE[school.level]))
                planned += [(code, term)] * n
            teachers = self.teacher_positions[school.school_id]
            load = max(1, math.ceil(len(planned) / len(teachers)))
            for i, (code, term) in enumerate(planned):
                elementary = school.level == "elementary"
                t = i % len(teachers) if elementary else min(len(teachers) - 1, i // load)
                period = "" if elementary else str(i % load + 1)
                start, end = terms[term]
                sec = Section(
                    section_id=f"S{yy}-{school.school_id}-{i + 1:04d}",
                    course_id=f"{school.school_id}-{code}",
                    code=code,
                    school=school,
                    term=term,
                    term_start=start,
                    term_end=end,
                    period=period,
                    room=f"{1 + t // 20}{t % 20 + 1:02d}",
                    position=teachers[t],
                )
                sections.append(sec)
                by_course.setdefault((school.school_id, code), []).append(sec)
        # Schedules, mid-year switches and the July correction.
        n_days = len(cal.school_days)
        summer_candidates = []
        any_summer = False
        plan = {key: (secs, secs[0].term, secs[0].term_start, secs[0].term_end, _CODE_HASH[key[1]])
                for key, secs in by_course.items()}
        for s in students:
            school_id, hy, entry, assignments = s.school.school_id, s.hy, s.entry, s.assignments
            for code in codes_of[s.student_id]:
                secs, term, start, end, code_hash = plan[(school_id, code)]
                if entry <= end:
                    assignments.append(Assignment(code, term, start, end, secs, _mix(hy ^ code_hash) % len(secs)))
            if s.school.level == "elementary":
                continue
            yearlong = [a for a in s.assignments if a.term == "YR" and len(a.sections) > 1]
            v = _mix(s.hy ^ _CHANGE)
            if yearlong and _unit(v) < SCHEDULE_CHANGE_RATE:
                a = yearlong[(v >> 16) % len(yearlong)]
                idx = int((0.1 + 0.75 * _unit(v >> 32)) * n_days)
                if s.entry_idx < idx <= s.exit_idx:
                    new = (a.first + 1 + (v >> 48) % (len(a.sections) - 1)) % len(a.sections)
                    day = cal.school_days[idx]
                    a.changes.append((day, new, day))
            if s.exit is None and s.assignments and s.assignments[0].term == "YR":
                summer_candidates.append(s)
                w = _mix(s.hy ^ _SUMMER)
                if _unit(w) < SUMMER_CHANGE_RATE:
                    self._summer_change(s, cal)
                    any_summer = True
        if not any_summer and summer_candidates:
            self._summer_change(summer_candidates[0], cal)
        incidents, suspensions = self._discipline(y, cal, students)
        return YearModel(y, cal, students, sections, incidents, suspensions)

    @staticmethod
    def _summer_change(s: StudentYear, cal: SchoolCalendar) -> None:
        """In July the clerk back-dates a switch (or a drop) of the student's first course to late May."""
        a = s.assignments[0]
        idx = int(0.9 * len(cal.school_days))
        day = cal.school_days[idx]
        current = a.changes[-1][1] if a.changes else a.first
        if day <= max([s.entry] + [c[0] for c in a.changes]):
            return
        new = (current + 1) % len(a.sections) if len(a.sections) > 1 else None
        a.changes.append((day, new, cal.summer_change_date))

    def _discipline(self, y: int, cal: SchoolCalendar, students: list[StudentYear]):
        rng = random.Random(_mix(self.tag[TAG_DISCIPLINE] ^ y))
        r = rng.random
        days = cal.school_days
        by_school: dict[str, list[StudentYear]] = {}
        for s in students:
            by_school.setdefault(s.school.school_id, []).append(s)
        raw = []
        for s in students:
            if r() >= DISCIPLINE_RATE[s.school.level]:
                continue
            for _ in range(1 + (r() < 0.2)):
                idx = s.entry_idx + int(r() * (s.exit_idx - s.entry_idx + 1))
                people = [s]
                if r() < 0.15:
                    peers = by_school[s.school.school_id]
                    for _try in range(5):
                        other = _pick(rng, peers)
                        if other not in people and other.entry_idx <= idx <= other.exit_idx:
                            people.append(other)
                            break
                raw.append((days[idx], idx, s.school, _pick(rng, names.INCIDENT_TYPES), people,
                            [self._action(rng, p, idx, days) for p in people]))
        raw.sort(key=lambda x: (x[0], x[2].school_id, x[4][0].kid.num))
        incidents = []
        suspensions: dict[str, dict[int, tuple[str, str]]] = {}
        for n, (day, _idx, school, itype, people, actions) in enumerate(raw, start=1):
            parts = []
            for p, (action, start_idx, end_idx, removed) in zip(people, actions, strict=True):
                parts.append((p, action, days[start_idx], days[end_idx], removed))
                if action in ("In-School Suspension", "Out-of-School Suspension"):
                    code = "ISS" if action.startswith("In") else "OSS"
                    half = removed == "0.5"
                    minutes = "0" if code == "ISS" else "195" if half else "390"
                    for i in range(start_idx, min(end_idx, p.exit_idx) + 1):
                        suspensions.setdefault(p.student_id, {})[i] = (code, minutes)
            incidents.append(Incident(f"I{y}-{n:05d}", day, school, itype, parts))
        return incidents, suspensions

    @staticmethod
    def _action(rng: random.Random, p: StudentYear, idx: int, days) -> tuple[str, int, int, str]:
        x = rng.random()
        last = len(days) - 1
        nxt = min(last, idx + 1)
        if x < 0.18:
            return "Warning", idx, idx, ""
        if x < 0.42:
            return "Detention", nxt, nxt, "0"
        if x < 0.55:
            return "Parent Conference", nxt, nxt, ""
        if x < 0.62:
            return "Loss of Privileges", nxt, min(last, nxt + 4), "0"
        if x < 0.82:
            removed = _pick(rng, ("0.5", "1", "1", "2"))
            return "In-School Suspension", nxt, min(last, nxt + max(1, int(float(removed))) - 1), removed
        removed = _pick(rng, ("1", "2", "3", "3", "5"))
        return "Out-of-School Suspension", nxt, min(last, nxt + int(removed) - 1), removed
