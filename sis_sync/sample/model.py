"""The synthetic district as a pure function of (district_id, size, seed): who exists, and when.

Nothing here simulates day by day. Every entity's life events (a family moving in or out, a student
withdrawing, a staff member leaving, a phone number changing, a schedule change) are derived from a hash
of (seed, district_id, the entity's own id), and evaluated at the export date. Per-year structures
(the year's students, courses, sections, discipline incidents) depend only on the school year, never on
the export date, so consecutive dates see one consistent history. See ``sis_sync.sample`` for the model.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from functools import cached_property

from sis_sync.sample import names
from sis_sync.sample.calendars import SchoolCalendar, sample_calendar
from sis_sync.sample.draws import (
    _CHANGE,
    _GOLDEN,
    _SUMMER,
    M64,
    TAG_DETAIL,
    TAG_DISCIPLINE,
    TAG_FAMILY,
    TAG_PHONE,
    TAG_SCHEDULE,
    TAG_SCHOOLS,
    TAG_STAFF,
    TAG_STAFF_NAME,
    _key,
    _mix,
    _pick,
    _text_hash,
    _unit,
)
from sis_sync.sample.entities import (
    _CODE_HASH,
    CATALOG,
    Assignment,
    Contact,
    Family,
    FamilyDetail,
    Incident,
    Kid,
    KidDetail,
    School,
    Section,
    StudentYear,
    YearModel,
    course_codes,
)
from sis_sync.sample.names import fold_ascii
from sis_sync.sample.parameters import (
    _FIRST_NAMES,
    _FIRST_RELATIONSHIPS,
    _PARENTS,
    _PHONE_ANY,
    _PHONE_JULY,
    DISCIPLINE_RATE,
    FAMILIES_PER_STUDENT,
    FAMILY_EPOCH,
    INDIVIDUAL_WITHDRAWAL_RATE,
    LEVEL_CODE,
    LEVEL_GRADES,
    LEVEL_NAME,
    LEVELS,
    MOVE_OUT_SHARE,
    NATIVE_SHARE,
    SCHEDULE_CHANGE_RATE,
    SECTION_SIZE,
    STAFF_EPOCH,
    STAFF_MIDYEAR_TURNOVER,
    STAFF_SUMMER_TURNOVER,
    STUDENTS_PER_SCHOOL,
    STUDENTS_PER_TEACHER,
    SUMMER_CHANGE_RATE,
    Time,
)
from sis_sync.sample.phones import _phone_number, format_phone

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
