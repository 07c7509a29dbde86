"""Evaluate the synthetic district at an export date: the rows of every file, the files on disk."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import math
import os
import random
import shutil
import zipfile
from collections import namedtuple
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sis_sync.ingestion.spec import MANIFEST, load_spec
from sis_sync.sample.calendars import SchoolCalendar, sample_calendar, sis_school_year
from sis_sync.sample.draws import TAG_ATTENDANCE, _mix
from sis_sync.sample.entities import CATALOG, Assignment, Contact, StudentYear, YearModel, school_day_at
from sis_sync.sample.model import District
from sis_sync.sample.names import fold_ascii
from sis_sync.sample.parameters import GRADE_CODES

MANIFEST_HEADER = ("file_name", "row_count", "sha256")
ROLE_PREFIX = {"teacher": "T", "administrator": "A", "counselor": "G", "staff": "S"}
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)

Row = tuple[str, ...]


@lru_cache(maxsize=4)
def district(district_id: str, students: int, seed: int = 1) -> District:
    """The (cached) model of one synthetic district."""
    return District(district_id, students, seed)


@lru_cache(maxsize=4096)
def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def _started(t: tuple[int, float], day: dt.date, year: int, cal: SchoolCalendar) -> bool:
    """Whether an event at time ``t`` = (school year, phase) is in the SIS on ``day`` of SIS year ``year``."""
    if t[0] != year:
        return t[0] < year
    return t[1] == 0.0 or day >= school_day_at(cal, t[1])


# ------------------------------------------------------------------------------------------------ rows
#
# Each file's rows are built by column name (one named tuple type per file, its fields the file's header). A
# column the spec adds is not delivered until a row type names it (a district that does not send an optional
# column yet); a required one none names stops the generator.

SchoolRow = namedtuple("SchoolRow", "school_id school_name low_grade high_grade phone")
StudentRow = namedtuple("StudentRow", "student_id state_student_id first_name middle_name last_name preferred_name"
                        " birth_date gender grade_level school_id school_year enrollment_status entry_date exit_date"
                        " home_language")
StaffRow = namedtuple("StaffRow", "staff_id first_name last_name email school_id role is_active")
CourseRow = namedtuple("CourseRow", "course_id course_name subject school_id school_year")
SectionRow = namedtuple("SectionRow", "section_id course_id school_id teacher_id term_name term_start term_end"
                        " period room school_year")
EnrollmentRow = namedtuple("EnrollmentRow", "student_id section_id school_year start_date end_date")
ContactRow = namedtuple("ContactRow", "contact_id student_id first_name last_name relationship is_primary lives_with"
                        " contact_priority mobile_phone home_phone work_phone email preferred_language can_text"
                        " do_not_contact")
AttendanceRow = namedtuple("AttendanceRow", "student_id school_id attendance_date attendance_code minutes_absent"
                           " school_year")
DisciplineRow = namedtuple("DisciplineRow", "incident_id student_id school_id incident_date incident_type"
                           " action_taken action_start_date action_end_date days_removed school_year")
ROW_TYPES = {"schools": SchoolRow, "students": StudentRow, "staff": StaffRow, "courses": CourseRow,
             "sections": SectionRow, "enrollments": EnrollmentRow, "contacts": ContactRow,
             "attendance": AttendanceRow, "discipline": DisciplineRow}


def _students_rows(d: District, ym: YearModel, day: dt.date) -> list[Row]:
    year = str(ym.school_year)
    rows = []
    for s in ym.students:
        if not s.visible(day):
            continue
        fam = s.kid.family
        detail = d.detail(fam)
        k = detail.kids[s.kid.m]
        withdrawn = s.withdrawn(day)
        rows.append(StudentRow(
            student_id=s.student_id, state_student_id=k.state_id, first_name=k.first_name,
            middle_name=k.middle_name, last_name=k.last_name, preferred_name=k.preferred_name,
            birth_date=k.birth_date.isoformat(), gender=k.gender, grade_level=GRADE_CODES[s.grade],
            school_id=s.school.school_id, school_year=year,
            enrollment_status="inactive" if withdrawn else "active", entry_date=s.entry.isoformat(),
            exit_date=_iso(s.exit) if withdrawn else "", home_language=detail.language,
        ))
    return rows


def _staff_rows(d: District, ym: YearModel, day: dt.date) -> list[Row]:
    y = ym.school_year
    tenures = d.tenures(y)
    rows = []
    for p, (school, role, _) in enumerate(d.positions):
        for num, start, end in tenures[p]:
            if not _started(start, day, y, ym.calendar):
                continue
            if end is not None and end <= (y - 1, 0.0):
                continue
            active = end is None or not _started(end, day, y, ym.calendar)
            first, last = d.staff_name(num)
            email = f"{fold_ascii(first)}.{fold_ascii(last)}{num}@{d.district_id}.example.org"
            rows.append((num, StaffRow(
                staff_id=f"{ROLE_PREFIX[role]}{num:04d}", first_name=first, last_name=last, email=email,
                school_id=school.school_id, role=role, is_active="Y" if active else "N",
            )))
    rows.sort(key=lambda r: r[0])
    return [r for _, r in rows]


def _courses_rows(d: District, ym: YearModel) -> list[Row]:
    year = str(ym.school_year)
    return [
        CourseRow(course_id=f"{school.school_id}-{code}", course_name=name, subject=subject,
                  school_id=school.school_id, school_year=year)
        for school in d.schools
        for code, (name, subject, _) in CATALOG[school.level].items()
    ]


def _teacher_at(d: District, ym: YearModel, position: int, day: dt.date) -> int:
    for num, start, _ in reversed(d.tenures(ym.school_year)[position]):
        if _started(start, day, ym.school_year, ym.calendar):
            return num
    return d.tenures(ym.school_year)[position][0][0]


def _sections_rows(d: District, ym: YearModel, day: dt.date) -> list[Row]:
    year = str(ym.school_year)
    rows = []
    for sec in ym.sections:
        ref = min(day, sec.term_end)
        num = _teacher_at(d, ym, sec.position, ref)
        rows.append(SectionRow(section_id=sec.section_id, course_id=sec.course_id, school_id=sec.school.school_id,
                               teacher_id=f"T{num:04d}", term_name=sec.term, term_start=sec.term_start.isoformat(),
                               term_end=sec.term_end.isoformat(), period=sec.period, room=sec.room, school_year=year))
    return rows


def _assignment_rows(s: StudentYear, a: Assignment, day: dt.date, cal: SchoolCalendar,
                     year: str) -> list[Row]:
    withdrawn = s.withdrawn(day)
    if withdrawn and s.exit < a.term_start:
        return []  # the withdrawal dropped the not-yet-started term
    segments: list[tuple[int, dt.date, dt.date | None]] = []
    idx: int | None = a.first
    seg_start = max(a.term_start, s.entry)
    for change_day, new, visible_from in a.changes:
        if day < visible_from:
            break
        prev = cal.school_days[cal.school_day_index(change_day) - 1]
        segments.append((idx, seg_start, prev))
        idx, seg_start = new, change_day
        if idx is None:
            break
    if idx is not None:
        segments.append((idx, seg_start, None))
    rows = []
    for i, start, end in segments:
        if end is None:
            if withdrawn and s.exit <= a.term_end:
                end = s.exit
            elif day >= a.term_end:
                end = a.term_end
        rows.append(EnrollmentRow(student_id=s.student_id, section_id=a.sections[i].section_id, school_year=year,
                                  start_date=_iso(start), end_date=_iso(end) if end else ""))
    return rows


def _enrollments_rows(ym: YearModel, day: dt.date) -> list[Row]:
    year = str(ym.school_year)
    rows = []
    for s in ym.students:
        if s.visible(day):
            for a in s.assignments:
                rows += _assignment_rows(s, a, day, ym.calendar, year)
    return rows


def _student_contacts(d: District, ym: YearModel, day: dt.date):
    for s in ym.students:
        if s.visible(day):
            detail = d.detail(s.kid.family)
            for priority, c in enumerate(detail.contacts, start=1):
                yield s, detail, priority, c


def _contacts_rows(d: District, ym: YearModel, day: dt.date, seen: dict[str, Contact]) -> list[Row]:
    """contacts.csv's rows; ``seen`` collects the contacts by contact_id."""
    rows = []
    phones: dict[int, str] = {}
    for s, detail, priority, c in _student_contacts(d, ym, day):
        phone = phones.get(c.cn)
        if phone is None:
            phone = phones[c.cn] = d.mobile_phone(c, day)
            seen[c.contact_id] = c
        rows.append(ContactRow(
            contact_id=c.contact_id, student_id=s.student_id, first_name=c.first_name, last_name=c.last_name,
            relationship=c.relationship, is_primary="Y" if priority == 1 else "N", lives_with=c.lives_with,
            contact_priority=str(priority), mobile_phone=phone, home_phone=c.home_phone, work_phone=c.work_phone,
            email=c.email, preferred_language=detail.language, can_text=c.can_text,
            do_not_contact=c.do_not_contact,
        ))
    return rows


# attendance codes: (cumulative probability, code, minutes: fixed text or (low, high, step))
_CODES = (
    (0.22, "A", "390"),
    (0.50, "AE", "390"),
    (0.60, "ILL", "390"),
    (0.65, "MED", (60, 240, 30)),
    (0.88, "T", (5, 55, 5)),
    (0.98, "ED", (30, 180, 15)),
    (1.01, "FT", "0"),
)


_CODE_BY_PERCENT = [next((c, m) for cum, c, m in _CODES if p / 100 < cum) for p in range(100)]


def _attendance_rows(d: District, ym: YearModel, day: dt.date) -> list[Row]:
    cal = ym.calendar
    upto = cal.school_day_index(day + dt.timedelta(days=1)) - 1  # last school day on or before `day`
    if upto < 0:
        return []
    iso = [x.isoformat() for x in cal.school_days]
    year = str(ym.school_year)
    minutes_text: dict[int, str] = {}
    rows = []
    yk = _mix(d.tag[TAG_ATTENDANCE] ^ ym.school_year)
    for s in ym.students:
        if s.entry_idx > upto:
            continue
        hi = min(upto, s.exit_idx)
        rng = random.Random(_mix(yk ^ s.kid.num))
        r = rng.random
        x = r()
        rate = 0.015 + 0.045 * r() if x < 0.78 else 0.06 + 0.08 * r() if x < 0.95 else 0.15 + 0.15 * r()
        log_q = math.log(1.0 - rate)
        events: dict[int, tuple[str, str]] = {}
        i = s.entry_idx - 1
        while True:
            i += 1 + int(math.log(1.0 - r()) / log_q)
            if i > hi:
                break
            code, minutes = _CODE_BY_PERCENT[int(r() * 100)]
            if not isinstance(minutes, str):
                low, high, step = minutes
                value = low + step * int(r() * ((high - low) // step + 1))
                minutes = minutes_text.get(value) or minutes_text.setdefault(value, str(value))
            events[i] = (code, minutes)
        for i, event in ym.suspensions.get(s.student_id, {}).items():
            if s.entry_idx <= i <= hi:
                events[i] = event
        sid, school = s.student_id, s.school.school_id
        for i in sorted(events):
            code, minutes = events[i]
            rows.append(AttendanceRow(student_id=sid, school_id=school, attendance_date=iso[i], attendance_code=code,
                                      minutes_absent=minutes, school_year=year))
    return rows


def _discipline_rows(ym: YearModel, day: dt.date) -> list[Row]:
    year = str(ym.school_year)
    rows = []
    for inc in ym.incidents:
        if inc.date > day:
            break
        for s, action, start, end, removed in inc.participants:
            rows.append(DisciplineRow(incident_id=inc.incident_id, student_id=s.student_id,
                                      school_id=inc.school.school_id, incident_date=inc.date.isoformat(),
                                      incident_type=inc.incident_type, action_taken=action,
                                      action_start_date=start.isoformat(), action_end_date=end.isoformat(),
                                      days_removed=removed, school_year=year))
    return rows


# ---------------------------------------------------------------------------------------------- export


@dataclass
class Export:
    """One night's export in memory: data rows per file (spec column order), only files with rows."""

    district_id: str
    export_date: dt.date
    school_year: int
    calendar: SchoolCalendar
    files: dict[str, list[Row]]
    students_requested: int
    seed: int
    contacts: dict[str, Contact] = field(default_factory=dict, repr=False)  # the contacts delivered, by id

    @staticmethod
    def header(file_name: str) -> tuple[str, ...]:
        return ROW_TYPES[load_spec().file(file_name).name]._fields

    def csv_bytes(self, file_name: str) -> bytes:
        return _csv_bytes(self.header(file_name), self.files[file_name])

    def manifest_rows(self) -> list[Row]:
        """manifest.csv's data rows: file_name, row_count, sha256 of the file's bytes."""
        return [(name, str(len(rows)), hashlib.sha256(self.csv_bytes(name)).hexdigest())
                for name, rows in self.files.items()]


def _csv_chunks(header, rows, batch: int = 20000):
    """The file's bytes in chunks: RFC 4180 via the csv module, "\n" line ends, UTF-8 without BOM."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for i in range(0, len(rows), batch):
        writer.writerows(rows[i:i + batch])
        yield buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue().encode("utf-8")


def _csv_bytes(header, rows) -> bytes:
    return b"".join(_csv_chunks(header, rows))


def build_export(district_id: str, export_date: dt.date, students: int, seed: int = 1) -> Export:
    """The export the synthetic SIS delivers on ``export_date``, in memory."""
    d = district(district_id, students, seed)
    y = sis_school_year(district_id, export_date)
    ym = d.year(y)
    day = export_date
    contacts: dict[str, Contact] = {}
    by_entity = {
        "schools": [SchoolRow(school_id=s.school_id, school_name=s.name, low_grade=s.low_grade,
                              high_grade=s.high_grade, phone=s.phone) for s in d.schools],
        "students": _students_rows(d, ym, day),
        "staff": _staff_rows(d, ym, day),
        "courses": _courses_rows(d, ym),
        "sections": _sections_rows(d, ym, day),
        "enrollments": _enrollments_rows(ym, day),
        "contacts": _contacts_rows(d, ym, day, contacts),
        "attendance": _attendance_rows(d, ym, day),
        "discipline": _discipline_rows(ym, day),
    }
    spec = load_spec()
    files = {}
    for f in spec.files:
        rows = by_entity.get(f.name)  # a file the generator does not write yet: not delivered
        if rows:
            _check_columns(f)
            files[f.file_name] = rows
    return Export(district_id, export_date, y, ym.calendar, files, students, seed, contacts)


def _check_columns(f) -> None:
    """The generator writes spec columns only (its row types' fields), every required one among them."""
    written = ROW_TYPES[f.name]._fields
    unknown = [c for c in written if c not in f.column_names]
    missing = [c.name for c in f.columns if c.required and c.name not in written]
    if unknown or missing:
        raise RuntimeError(f"the sample generator is out of date with the spec for {f.file_name}: "
                           + "; ".join(filter(None, [unknown and f"not in the spec: {', '.join(unknown)}",
                                                     missing and f"required, not written: {', '.join(missing)}"])))


def write_export(out_dir: Path, district_id: str, export_date: dt.date, students: int, seed: int = 1,
                 zip: bool = False) -> Path:
    """Write the export to ``out_dir/<district_id>/<YYYY-MM-DD>/`` (or ``.../<YYYY-MM-DD>.zip``).

    The folder (or zip) is written under a temporary name and renamed into place, replacing an earlier one,
    so a reader never sees half an export and no stale file survives.
    """
    export = build_export(district_id, export_date, students, seed)
    parent = Path(out_dir) / district_id
    parent.mkdir(parents=True, exist_ok=True)
    stem = export_date.isoformat()
    names = [*export.files, MANIFEST]
    manifest: list[Row] = []

    def chunks(name: str):
        if name == MANIFEST:
            return _csv_chunks(MANIFEST_HEADER, manifest)
        return _csv_chunks(export.header(name), export.files[name])

    def write(name: str, out) -> None:
        digest = hashlib.sha256()
        for chunk in chunks(name):
            digest.update(chunk)
            out.write(chunk)
        if name != MANIFEST:
            manifest.append((name, str(len(export.files[name])), digest.hexdigest()))

    if zip:
        target = parent / f"{stem}.zip"
        tmp = parent / f"{stem}.zip.part"
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in names:
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                with zf.open(info, "w", force_zip64=True) as out:
                    write(name, out)
        os.replace(tmp, target)
        return target
    target = parent / stem
    tmp = parent / f".{stem}.part"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name in names:
        with open(tmp / name, "wb") as out:
            write(name, out)
    if target.exists():
        for child in target.iterdir():
            if not child.is_file():
                raise FileExistsError(f"{target} holds a folder ({child.name}); not replacing it")
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    tmp.rename(target)
    return target


__all__ = ["Export", "build_export", "district", "sample_calendar", "write_export"]
