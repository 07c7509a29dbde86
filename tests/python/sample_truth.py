"""What the marts should show for one sample export: counts and facts computed from the generated rows (the
tests' oracle; the generator itself is :mod:`sis_sync.sample`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sis_sync.sample import Export, SchoolCalendar, build_export
from sis_sync.sample.entities import Contact
from sis_sync.sample.export import district


@dataclass(frozen=True)
class PhoneChange:
    contact_id: str
    change_date: dt.date
    old_phone: str
    new_phone: str


@dataclass
class Truth:
    """What the marts should show for one export."""

    district_id: str
    export_date: dt.date
    students_requested: int
    seed: int
    school_year: int  # the school year the SIS holds on export_date
    calendar: SchoolCalendar
    active_student_ids: frozenset[str]
    student_count: int  # rows in students.csv
    grade_by_student: dict[str, str]
    school_by_student: dict[str, str]
    roster_rows: int  # rows in enrollments.csv
    active_roster_rows: int  # enrollments with end_date empty or >= export_date
    current_roster_rows: int  # ... that have also started (start_date <= export_date)
    contacts_per_student: dict[str, int]
    contact_count: int  # distinct contact_id
    phones_by_contact: dict[str, str]  # contact_id -> mobile phone as delivered
    staff_count: int
    active_staff_ids: frozenset[str]
    section_count: int
    attendance_rows: int
    discipline_rows: int
    files: dict[str, int]  # delivered file name -> data rows (files without rows are left out)
    _contacts: dict[str, Contact] = field(default_factory=dict, repr=False, compare=False)

    def _other(self, day: dt.date) -> Export:
        return build_export(self.district_id, day, self.students_requested, self.seed)

    def phone_changes_between(self, d1: dt.date, d2: dt.date) -> list[str]:
        """Contacts in both exports whose mobile phone differs between the export of d1 and of d2."""
        a = truth_of(self._other(d1)).phones_by_contact if d1 != self.export_date else self.phones_by_contact
        b = truth_of(self._other(d2)).phones_by_contact if d2 != self.export_date else self.phones_by_contact
        return sorted(c for c in a if c in b and a[c] != b[c])

    def enrollment_changes_between(self, d1: dt.date, d2: dt.date) -> list[tuple[str, str, str]]:
        """Keys (student_id, section_id, start_date) of enrollment rows added, removed or changed."""
        rows1 = {r[0:2] + r[3:4]: r for r in self._other(d1).files.get("enrollments.csv", [])}
        rows2 = {r[0:2] + r[3:4]: r for r in self._other(d2).files.get("enrollments.csv", [])}
        return sorted(k for k in set(rows1) | set(rows2) if rows1.get(k) != rows2.get(k))

    def phone_change_events(self, start: dt.date, end: dt.date) -> list[PhoneChange]:
        """Mobile phone changes in the SIS on days start < day <= end, for this export's contacts.

        A change on day X shows in the export of X (not in the export of X - 1).
        """
        d = district(self.district_id, self.students_requested, self.seed)
        out = []
        for cid in sorted(self._contacts):
            c = self._contacts[cid]
            for year in range(start.year, end.year + 1):
                for day in d.phone_changes(c, year):
                    if start < day <= end:
                        old = d.mobile_phone(c, day - dt.timedelta(days=1))
                        new = d.mobile_phone(c, day)
                        if old != new:
                            out.append(PhoneChange(cid, day, old, new))
        out.sort(key=lambda x: (x.change_date, x.contact_id))
        return out


def truth_of(export: Export) -> Truth:
    """The truth of an export built with :func:`sis_sync.sample.build_export`."""
    files = export.files
    iso_day = export.export_date.isoformat()
    students = files.get("students.csv", [])
    enrollments = files.get("enrollments.csv", [])
    staff = files.get("staff.csv", [])
    per_student: dict[str, int] = {}
    phones: dict[str, str] = {}
    for r in files.get("contacts.csv", []):
        per_student[r[1]] = per_student.get(r[1], 0) + 1
        phones[r[0]] = r[8]
    return Truth(
        district_id=export.district_id,
        export_date=export.export_date,
        students_requested=export.students_requested,
        seed=export.seed,
        school_year=export.school_year,
        calendar=export.calendar,
        active_student_ids=frozenset(r[0] for r in students if r[11] == "active"),
        student_count=len(students),
        grade_by_student={r[0]: r[8] for r in students},
        school_by_student={r[0]: r[9] for r in students},
        roster_rows=len(enrollments),
        active_roster_rows=sum(1 for r in enrollments if not r[4] or r[4] >= iso_day),
        current_roster_rows=sum(1 for r in enrollments if r[3] <= iso_day and (not r[4] or r[4] >= iso_day)),
        contacts_per_student=per_student,
        contact_count=len(phones),
        phones_by_contact=phones,
        staff_count=len(staff),
        active_staff_ids=frozenset(r[0] for r in staff if r[6] == "Y"),
        section_count=len(files.get("sections.csv", [])),
        attendance_rows=len(files.get("attendance.csv", [])),
        discipline_rows=len(files.get("discipline.csv", [])),
        files={name: len(rows) for name, rows in files.items()},
        _contacts=export.contacts,
    )


def truth(district_id: str, export_date: dt.date, students: int, seed: int = 1) -> Truth:
    """The truth of the sample export of ``district_id`` on ``export_date``."""
    return truth_of(build_export(district_id, export_date, students, seed))
