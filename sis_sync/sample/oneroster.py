"""The synthetic district's export as a OneRoster CSV export (1.1 or 1.2), the way a SIS or a rostering hub
writes one: the same district, the same night, in the other format (``sis-sync sample --format oneroster``).

Ids are kept: a school's org, a student's, a staff member's and a contact's user, a course's and a section's
class have the ids of our own export, so the marts of both formats can be compared. Our attendance.csv and
discipline.csv, which OneRoster has no file for, are delivered beside the OneRoster files. A *delta* export
(``since``) carries only what changed since an earlier night's export: the records added or changed, and the
records gone, marked ``tobedeleted``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from sis_sync.ingestion.spec import oneroster_spec
from sis_sync.sample.export import Export, _csv_chunks, build_export

VERSIONS = ("1.1", "1.2")
DISTRICT_ORG = "district"
COMPANIONS = ("attendance.csv", "discipline.csv")

# OneRoster's roles for our staff roles and contact relationships (1.1 has no counselor role)
STAFF_ROLES = {"1.1": {"teacher": "teacher", "administrator": "administrator", "counselor": "administrator",
                       "staff": "aide"},
               "1.2": {"teacher": "teacher", "administrator": "siteAdministrator", "counselor": "counselor",
                       "staff": "aide"}}
GUARDIAN_ROLES = {"mother": "parent", "father": "parent", "stepparent": "parent", "foster_parent": "guardian",
                  "guardian": "guardian", "grandparent": "relative", "sibling": "relative", "other": "relative"}
SEX = {"F": "female", "M": "male", "X": "other"}
MODIFIED = "2025-07-01T00:00:00.000Z"  # dateLastModified: a full timestamp, as hubs write it

_HEADERS = {
    "orgs.csv": "sourcedId status dateLastModified name type identifier parentSourcedId",
    "academicSessions.csv": "sourcedId status dateLastModified title type startDate endDate parentSourcedId"
                            " schoolYear",
    "courses.csv": "sourcedId status dateLastModified schoolYearSourcedId title courseCode grades orgSourcedId"
                   " subjects",
    "classes.csv": "sourcedId status dateLastModified title grades courseSourcedId classCode classType location"
                   " schoolSourcedId termSourcedIds subjects periods",
    "enrollments.csv": "sourcedId status dateLastModified classSourcedId schoolSourcedId userSourcedId role"
                       " primary beginDate endDate",
    "demographics.csv": "sourcedId status dateLastModified birthDate sex",
    "roles.csv": "sourcedId status dateLastModified userSourcedId roleType role orgSourcedId userProfileSourcedId"
                 " beginDate endDate",
}
_USERS = {"1.1": "sourcedId status dateLastModified enabledUser orgSourcedIds role username userIds givenName"
                 " familyName middleName identifier email sms phone agentSourcedIds grades password",
          "1.2": "sourcedId status dateLastModified enabledUser username userIds givenName familyName middleName"
                 " identifier email sms phone agentSourcedIds grades password userMasterIdentifier"
                 " resourceSourcedIds preferredGivenName preferredMiddleName preferredFamilyName"
                 " primaryOrgSourcedId pronouns"}


def header(file_name: str, version: str) -> list[str]:
    return (_USERS[version] if file_name == "users.csv" else _HEADERS[file_name]).split()


def oneroster_files(export: Export, version: str) -> dict[str, list[dict[str, str]]]:
    """The OneRoster files of one night's export: rows as {header: value}, by file name."""
    if version not in VERSIONS:
        raise ValueError(f"OneRoster version {version!r}: one of {', '.join(VERSIONS)}")
    own = {name: [dict(zip(export.header(name), row, strict=True)) for row in rows]
           for name, rows in export.files.items()}
    year = export.school_year
    cal = export.calendar
    active = {"status": "active", "dateLastModified": MODIFIED}
    orgs = [{**active, "sourcedId": DISTRICT_ORG, "name": f"{export.district_id} district", "type": "district"}]
    orgs += [{**active, "sourcedId": s["school_id"], "name": s["school_name"], "type": "school",
              "identifier": s["school_id"], "parentSourcedId": DISTRICT_ORG} for s in own.get("schools.csv", [])]
    school_year_id = f"SY{year}"
    sessions = {school_year_id: {**active, "sourcedId": school_year_id, "title": f"{year - 1}-{year}",
                                 "type": "schoolYear", "startDate": cal.first_day.isoformat(),
                                 "endDate": cal.last_day.isoformat(), "schoolYear": str(year)}}
    for s in own.get("sections.csv", []):
        term_id = f"{year}-{s['term_name']}"
        sessions.setdefault(term_id, {**active, "sourcedId": term_id, "title": s["term_name"],
                                      "type": "term" if s["term_name"] == "YR" else "semester",
                                      "startDate": s["term_start"], "endDate": s["term_end"],
                                      "parentSourcedId": school_year_id, "schoolYear": str(year)})
    courses = [{**active, "sourcedId": c["course_id"], "schoolYearSourcedId": school_year_id,
                "title": c["course_name"], "courseCode": c["course_id"], "orgSourcedId": c["school_id"],
                "subjects": c["subject"]} for c in own.get("courses.csv", [])]
    classes = [{**active, "sourcedId": s["section_id"], "title": s["section_id"], "courseSourcedId": s["course_id"],
                "classCode": s["section_id"], "classType": "scheduled", "location": s["room"],
                "schoolSourcedId": s["school_id"], "termSourcedIds": f"{year}-{s['term_name']}",
                "periods": s["period"]} for s in own.get("sections.csv", [])]
    users, roles, demographics = _users(own, version)
    enrollments = [{**active, "sourcedId": f"{e['student_id']}-{e['section_id']}-{e['start_date']}",
                    "classSourcedId": e["section_id"], "schoolSourcedId": school_of[e["section_id"]],
                    "userSourcedId": e["student_id"], "role": "student", "primary": "false",
                    "beginDate": e["start_date"], "endDate": e["end_date"]}
                   for school_of in [{s["section_id"]: s["school_id"] for s in own.get("sections.csv", [])}]
                   for e in own.get("enrollments.csv", [])]
    enrollments += [{**active, "sourcedId": f"{s['teacher_id']}-{s['section_id']}", "classSourcedId": s["section_id"],
                     "schoolSourcedId": s["school_id"], "userSourcedId": s["teacher_id"], "role": "teacher",
                     "primary": "TRUE", "beginDate": s["term_start"]} for s in own.get("sections.csv", [])]
    files = {"orgs.csv": orgs, "academicSessions.csv": list(sessions.values()), "courses.csv": courses,
             "classes.csv": classes, "users.csv": users, "enrollments.csv": enrollments,
             "demographics.csv": demographics}
    if version == "1.2":
        files["roles.csv"] = roles
    return files


def _users(own: dict, version: str) -> tuple[list[dict], list[dict], list[dict]]:
    """users.csv (students, staff, guardians linked both ways), roles.csv (1.2), demographics.csv."""
    active = {"status": "active", "dateLastModified": MODIFIED}
    guardians: dict[str, dict] = {}
    agents: dict[str, list[str]] = {}
    for c in own.get("contacts.csv", []):
        agents.setdefault(c["student_id"], []).append(c["contact_id"])
        g = guardians.setdefault(c["contact_id"], {
            **active, "sourcedId": c["contact_id"], "enabledUser": "false", "givenName": c["first_name"],
            "familyName": c["last_name"], "email": c["email"], "sms": c["mobile_phone"],
            "phone": c["home_phone"], "role": GUARDIAN_ROLES[c["relationship"]],
            "students": [], "school": ""})
        g["students"].append(c["student_id"])
    users, roles, demographics = [], [], []

    def add(user: dict, role: str, org: str, primary_org: str | None = None) -> None:
        row = {k: v for k, v in user.items() if k in header("users.csv", version)}
        if version == "1.1":
            row |= {"role": role, "orgSourcedIds": org}
        else:
            row["primaryOrgSourcedId"] = primary_org or org.split(",")[0]
            roles.append({**active, "sourcedId": f"r-{user['sourcedId']}", "userSourcedId": user["sourcedId"],
                          "roleType": "primary", "role": role, "orgSourcedId": org.split(",")[0]})
        users.append(row)

    for s in own.get("students.csv", []):
        user = {**active, "sourcedId": s["student_id"], "enabledUser": str(s["enrollment_status"] == "active"),
                "givenName": s["first_name"], "familyName": s["last_name"], "middleName": s["middle_name"],
                "identifier": s["state_student_id"], "grades": s["grade_level"],
                "agentSourcedIds": ",".join(agents.get(s["student_id"], [])),
                "preferredGivenName": s["preferred_name"] if version == "1.2" else ""}
        add(user, "student", s["school_id"])
        demographics.append({**active, "sourcedId": s["student_id"], "birthDate": s["birth_date"],
                             "sex": SEX.get(s["gender"], "unspecified")})
    for s in own.get("staff.csv", []):
        user = {**active, "sourcedId": s["staff_id"], "enabledUser": "true" if s["is_active"] == "Y" else "false",
                "givenName": s["first_name"], "familyName": s["last_name"], "email": s["email"]}
        add(user, STAFF_ROLES[version][s["role"]], s["school_id"])
    for g in guardians.values():
        # 1.1 hubs write the link on the guardian, 1.2 ones on the student: both directions are read
        g["agentSourcedIds"] = ",".join(g.pop("students")) if version == "1.1" else ""
        add(g, g.pop("role"), DISTRICT_ORG)
    return users, roles, demographics


def _delta(now: dict[str, list[dict]], before: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Per file, the rows that are new or changed since ``before``, and the ones gone, marked tobedeleted."""
    out = {}
    for name, rows in now.items():
        old = {r["sourcedId"]: r for r in before.get(name, [])}
        ids = {r["sourcedId"] for r in rows}
        changed = [r for r in rows if old.get(r["sourcedId"]) != r]
        gone = [{**r, "status": "tobedeleted"} for sid, r in old.items() if sid not in ids]
        out[name] = changed + gone
    return out


def write_oneroster_export(out_dir: Path, district_id: str, export_date: dt.date, students: int, seed: int = 1,
                           version: str = "1.1", since: dt.date | None = None,
                           deliver_as: str | None = None) -> Path:
    """Write the night's export as OneRoster ``version`` to ``out_dir/<district_id>/<YYYY-MM-DD>/``: bulk, or
    (``since``) delta against the export of that night; with our attendance.csv and discipline.csv beside it.
    ``deliver_as`` writes it under another district id (the same district, delivered twice in two formats)."""
    export = build_export(district_id, export_date, students, seed)
    files = oneroster_files(export, version)
    mode = "bulk"
    if since is not None:
        files = _delta(files, oneroster_files(build_export(district_id, since, students, seed), version))
        mode = "delta"
    spec = oneroster_spec().for_version(version)
    manifest = [("manifest.version", "1.0"), ("oneroster.version", version)]
    manifest += [(f"file.{f.delivered.removesuffix('.csv')}", mode if f.delivered in files else "absent")
                 for f in spec.files]
    manifest += [("source.systemName", "sis-sync sample")]
    parent = Path(out_dir) / (deliver_as or district_id)
    parent.mkdir(parents=True, exist_ok=True)
    target, tmp = parent / export_date.isoformat(), parent / f".{export_date.isoformat()}.part"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, rows in files.items():
        columns = header(name, version)
        _write(tmp / name, columns, [[r.get(c, "") for c in columns] for r in rows])
    for name in COMPANIONS:
        if name in export.files:
            _write(tmp / name, export.header(name), export.files[name])
    _write(tmp / "manifest.csv", ["propertyName", "value"], manifest)
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return target


def _write(path: Path, columns, rows) -> None:
    with open(path, "wb") as out:
        for chunk in _csv_chunks(columns, rows):
            out.write(chunk)
