"""OneRoster CSV (1.1 and 1.2) beside our own export: the same synthetic district delivered in both formats syncs
to the same marts wherever OneRoster carries the data, through a bulk night, a delta night, a summer pause and
a rollover; and what a OneRoster export's files may and may not hold."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from sis_sync.commands import run_build, run_nightly
from sis_sync.project import mart_names
from sis_sync.sample import write_export
from sis_sync.sample.oneroster import write_oneroster_export

STUDENTS = 250
OWN, V11, V12 = "sample", "or11", "or12"  # one district (the sample's), delivered three ways
VERSIONS = {V11: "1.1", V12: "1.2"}

# What OneRoster has no field for (docs/data-specification.md), and what only says when a row was written: left out of
# the comparison. Everything else of every mart must be equal.
NOT_COMPARED = {"last_changed_date", "valid_from", "valid_to", "district_id"}
NO_ONEROSTER_SOURCE = {
    "dim_schools": {"low_grade", "high_grade", "phone", "phone_e164"},
    "dim_students": {"home_language", "entry_date", "exit_date"},
    "dim_student_years": {"entry_date", "exit_date"},
    "dim_contacts": {"work_phone_e164", "preferred_language", "can_text", "do_not_contact"},
    "fct_student_contacts": {"relationship", "is_primary", "is_primary_in_sis", "lives_with", "contact_priority"},
    "student_overview": {"primary_contact_id", "primary_contact_name", "primary_contact_phone_e164",
                         "primary_contact_relationship", "primary_contact_email"},
}
ONLY_IN_1_2 = {"dim_students": {"preferred_name", "display_first_name"},
               "student_overview": {"display_first_name"}, "dim_staff": {"staff_role"}}
COMPARED_MARTS = [m for m in mart_names(history=False) if not m.startswith("sync_")]


class Warehouse:
    def __init__(self, conn, drop):
        self.conn, self.drop = conn, drop

    def rows(self, sql, params=()):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def night(self, night: dt.date, delta_since: dt.date | None = None) -> None:
        write_export(self.drop, district_id=OWN, export_date=night, students=STUDENTS)
        for district_id, version in VERSIONS.items():
            write_oneroster_export(self.drop, OWN, night, STUDENTS, version=version, since=delta_since,
                                   deliver_as=district_id)
        assert run_nightly(None, self.drop, night, ()) == 0, f"nightly failed on {night}"

    def mart(self, mart: str, district_id: str, skip: set[str]) -> Counter:
        columns = [c for (c,) in self.rows(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s"
            " order by ordinal_position", (mart,)) if c not in skip]
        return Counter(self.rows(f"select {', '.join(columns)} from marts.{mart} where district_id = %s",
                                 (district_id,)))

    def assert_same_marts(self, night: dt.date) -> None:
        for district_id, version in VERSIONS.items():
            for mart in COMPARED_MARTS:
                skip = NOT_COMPARED | NO_ONEROSTER_SOURCE.get(mart, set())
                if version == "1.1":
                    skip |= ONLY_IN_1_2.get(mart, set())
                own, theirs = self.mart(mart, OWN, skip), self.mart(mart, district_id, skip)
                assert sum(own.values()) > 0 or mart in ("fct_discipline",), f"{mart} is empty on {night}"
                assert own == theirs, (f"{night} {district_id} (OneRoster {version}) {mart}: only ours"
                                       f" {list((own - theirs).items())[:3]}, only theirs"
                                       f" {list((theirs - own).items())[:3]}")

    def digest(self, mart: str, district_id: str) -> str:
        return self.rows(f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from marts.{mart}"
                         " as t where t.district_id = %s", (district_id,))[0][0]

    def ledger(self, district_id: str, night: dt.date) -> dict[str, tuple]:
        return {f: (status, added, changed, retired) for f, status, added, changed, retired in self.rows(
            "select file_name, status, added_count, changed_count, retired_count from raw_sis.load_ledger"
            " where district_id = %s and export_date = %s", (district_id, night))}


@pytest.fixture
def wh(fresh_db, db_conn, tmp_path):
    return Warehouse(db_conn, tmp_path / "drop")


def test_a_district_in_oneroster_1_1_and_1_2_syncs_like_our_own_export(wh):
    # bulk: every OneRoster file, our attendance and discipline beside them
    bulk = dt.date(2026, 2, 2)
    wh.night(bulk)
    for district_id in VERSIONS:
        files = wh.ledger(district_id, bulk)
        assert files["oneroster/users.csv"][0] == "loaded" and files["attendance.csv"][0] == "loaded", files
    assert ("oneroster/roles.csv" in wh.ledger(V12, bulk)) and ("oneroster/roles.csv" not in wh.ledger(V11, bulk))
    wh.assert_same_marts(bulk)

    # delta: only what changed since; absent records stay, the marts still equal our whole export's
    delta = dt.date(2026, 5, 4)
    wh.night(delta, delta_since=bulk)
    users = wh.ledger(V12, delta)["oneroster/users.csv"]
    assert users[0] == "loaded" and users[2] > 0 and users[3] == 0, users
    wh.assert_same_marts(delta)

    # the summer pause (from the export's sessions for the OneRoster districts): the roster stays as it was
    summer = dt.date(2026, 6, 20)
    frozen = {d: wh.digest("fct_student_teachers", d) for d in (OWN, *VERSIONS)}
    wh.night(summer)
    assert {d: wh.digest("fct_student_teachers", d) for d in (OWN, *VERSIONS)} == frozen
    reasons = dict(wh.rows("select file_name, reason from marts.sync_history where district_id = %s"
                           " and export_date = %s", (V11, summer)))
    assert "calendar from the export's schoolYear sessions" in reasons["oneroster/users.csv"], reasons
    wh.assert_same_marts(summer)  # the contacts synced from users.csv as ours from contacts.csv

    # the rollover: the new year appears, the old one is kept, and the marts agree again
    fall = dt.date(2026, 8, 20)
    wh.night(fall)
    for district_id in (OWN, *VERSIONS):
        years = {y for (y,) in wh.rows("select distinct school_year from marts.dim_student_years"
                                       " where district_id = %s", (district_id,))}
        assert years == {2026, 2027}, (district_id, years)
    wh.assert_same_marts(fall)
    assert run_build(fall, full_refresh=True) == 0
    wh.assert_same_marts(fall)


# --- what a OneRoster export's files may and may not hold ---------------------------------------------------------

MANIFEST_11 = ("propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\n"
               "file.academicSessions,bulk\nfile.classes,bulk\nfile.users,bulk\nfile.enrollments,bulk\n"
               "file.courses,bulk\nfile.demographics,absent\n")
GOOD_FILES = {
    # a byte-order mark, dates and full timestamps, a metadata extension column
    "orgs.csv": "\ufeffsourcedId,status,dateLastModified,name,type,identifier,parentSourcedId,metadata.ncesId\n"
                "d1,active,2025-08-01,Lincoln USD,district,,,\n"
                "s1,active,2025-08-01T10:00:00.000Z,Lincoln Elementary,school,0101,d1,123\n",
    # padded too: the export's school year is read from it
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,"
                            "schoolYear\n"
                            "sy26,active,2025-08-01T10:00:00Z,2025-2026,schoolYear,2025-08-20,2026-06-05,,2026,\n"
                            "t1,active,2025-08-01 10:00:00,Year,term,2025-08-20,2026-06-05,sy26,2026,\n",
    # rows padded with empty fields past the header's columns, as some exporters write them
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,"
                   "subjects\nm4,active,2025-08-01,sy26,Math 4,M4,04,s1,\"Mathematics,Numeracy\",,\n"
                   "m5,active,2025-08-01,sy26,Math 5,M5,05,s1,Mathematics,,\n",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
                   "schoolSourcedId,termSourcedIds,subjects,periods\n"
                   "c1,active,2025-08-01,Math 4 - 1,04,m4,M4-1,scheduled,114,s1,t1,Mathematics,\"1,2\"\n",
    # booleans as TRUE and True, a quoted comma list of agents, a guardian linked from the student only
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
                 "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
                 "u1,active,2025-08-01,TRUE,s1,student,,,Ana,Lopez,,900,,,,\"g1,g2\",04,\n"
                 "u2,active,2025-08-01,True,s1,student,,,Ben,Ode,,901,,,,,04,\n"
                 "t1,active,2025-08-01,true,s1,teacher,,,Dana,Whit,,,dana@x.org,,,,,\n"
                 "g1,active,2025-08-01,false,d1,parent,,,Rosa,Lopez,,,rosa@x.org,(555) 201-7788,,,,\n"
                 "g2,active,2025-08-01,false,d1,relative,,,Tio,Lopez,,,,,555-201-7799,,,\n",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,"
                       "primary,beginDate,endDate\n"
                       "e1,active,2025-08-01,c1,s1,u1,student,false,2025-08-20,\n"
                       "e2,active,2025-08-01,c1,s1,u2,student,false,2025-08-20,\n"
                       "e3,active,2025-08-01,c1,s1,t1,teacher,TRUE,2025-08-20,\n",
}


def _oneroster_night(drop, district_id: str, night: dt.date, files: dict[str, str], manifest: str = MANIFEST_11):
    folder = drop / district_id / night.isoformat()
    folder.mkdir(parents=True)
    for name, text in {**files, "manifest.csv": manifest}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def _ingest(settings, drop, tmp_path, district_id: str, night: dt.date, export_format=None):
    from sis_sync.ingestion.load import ExportToIngest, ingest_exports

    export = ExportToIngest(drop, district_id, night, export_format=export_format)
    (outcome,) = ingest_exports(settings, [export], tmp_path / "pipelines", archive_dir=tmp_path / "archive")
    assert not isinstance(outcome, Exception), outcome
    return outcome


def test_the_manifest_decides_the_format_and_a_pinned_district_refuses_the_other(tmp_path):
    from sis_sync.ingestion.exports import find_export

    drop, night = tmp_path / "drop", dt.date(2025, 9, 1)
    _oneroster_night(drop, "or", night, {**GOOD_FILES, "demographics.csv": "sourcedId\n"})
    source = find_export(drop, "or", night)
    assert source.export_format == "oneroster" and source.oneroster.version == "1.1" and source.complete
    assert sorted(source.files) == sorted(f"oneroster/{n.lower()}" for n in GOOD_FILES)
    assert "demographics.csv" in source.unknown_files  # absent in the manifest: not read, reported
    assert find_export(drop, "or", night, export_format="sis").refused.startswith("the district's format is sis")

    write_export(drop, district_id="own", export_date=night, students=20)
    assert find_export(drop, "own", night, export_format="oneroster").refused
    assert find_export(drop, "own", night).export_format == "sis"

    _oneroster_night(drop, "v13", night, GOOD_FILES, MANIFEST_11.replace("1.1", "1.3"))
    assert "oneroster.version is '1.3'" in find_export(drop, "v13", night).incomplete
    missing = {k: v for k, v in GOOD_FILES.items() if k != "classes.csv"}
    _oneroster_night(drop, "late", night, missing)
    assert find_export(drop, "late", night).incomplete == "classes.csv is bulk in manifest.csv but was not delivered"


def test_real_files_load_and_defective_ones_are_refused_with_line_and_column(fresh_db, tmp_path):
    drop, night = tmp_path / "drop", dt.date(2025, 9, 1)
    _oneroster_night(drop, "good", night, GOOD_FILES)
    result = _ingest(fresh_db, drop, tmp_path, "good", night)
    statuses = {row.file_name: (row.status, row.row_count, row.main_school_year) for row in result.rows}
    assert statuses == {f"oneroster/{n.lower()}": ("loaded", text.count("\n") - 1, 2026)
                        for n, text in GOOD_FILES.items()}, statuses
    assert "metadata.ncesId" in next(r.message for r in result.rows if r.file_name == "oneroster/orgs.csv")

    bad = dict(GOOD_FILES)
    bad["users.csv"] = GOOD_FILES["users.csv"] + "u2,active,2025-08-01,true,s1,student,,,Bo,Ode,,902,,,,,05,\n"
    bad["classes.csv"] = GOOD_FILES["classes.csv"].replace("scheduled", "lecture")
    bad["enrollments.csv"] = GOOD_FILES["enrollments.csv"] + "e4,active,2025-08-01,c1,s1,u9,student,,2025-09-01,\n"
    bad["orgs.csv"] = GOOD_FILES["orgs.csv"].replace("Lincoln USD,district", "Lincoln USD,county")
    _oneroster_night(drop, "bad", night, bad, MANIFEST_11.replace("file.demographics,absent",
                                                                  "file.demographics,bulk"))
    (drop / "bad" / night.isoformat() / "demographics.csv").write_text(
        "sourcedId,status,dateLastModified,birthDate,sex\nu1,active,2025-08-01,2016-13-45,female\n")
    result = _ingest(fresh_db, drop, tmp_path, "bad", night)
    messages = {row.file_name: row.message for row in result.rows if row.status == "rejected"}
    assert messages == {
        "oneroster/users.csv": "oneroster/users.csv line 7, column sourcedId: duplicate key (sourcedId=u2), first"
                               " seen on line 3",
        "oneroster/classes.csv": "oneroster/classes.csv line 2, column classType: \"lecture\" is not one of"
                                 " homeroom, scheduled",
        "oneroster/enrollments.csv": "oneroster/enrollments.csv line 5, column userSourcedId: userSourcedId \"u9\""
                                     " names no record of users.csv (neither tonight's nor one the district"
                                     " delivered before)",
        "oneroster/orgs.csv": "oneroster/orgs.csv line 2, column type: \"county\" is not one of department, school,"
                              " district, local, state, national",
        "oneroster/demographics.csv": "oneroster/demographics.csv line 2, column birthDate: the value is not a"
                                      " date (YYYY-MM-DD)",
    }, messages
    loaded = {row.file_name for row in result.rows if row.status == "loaded"}
    assert loaded == {"oneroster/academicsessions.csv", "oneroster/courses.csv"}  # the rest of the night loads


def test_a_delta_changes_only_the_records_it_names(fresh_db, db_conn, tmp_path):
    drop = tmp_path / "drop"
    _oneroster_night(drop, "d", dt.date(2025, 9, 1), GOOD_FILES)
    _ingest(fresh_db, drop, tmp_path, "d", dt.date(2025, 9, 1))
    delta_manifest = MANIFEST_11.replace("file.users,bulk", "file.users,delta")
    header = GOOD_FILES["users.csv"].split("\n")[0]
    delta = {**GOOD_FILES, "users.csv": header + "\n"
             "u2,tobedeleted,2025-09-02,false,s1,student,,,Ben,Ode,,901,,,,,04,\n"
             "g1,active,2025-09-02,false,d1,parent,,,Rosa,Lopez-Diaz,,,rosa@x.org,(555) 201-7788,,,,\n"
             "u7,tobedeleted,2025-09-02,false,s1,student,,,Nobody,Here,,,,,,,,\n"}
    _oneroster_night(drop, "d", dt.date(2025, 9, 2), delta, delta_manifest)
    result = _ingest(fresh_db, drop, tmp_path, "d", dt.date(2025, 9, 2))
    users = next(r for r in result.rows if r.file_name == "oneroster/users.csv")
    assert (users.status, users.added_count, users.changed_count, users.retired_count) == ("loaded", 0, 1, 1)
    with db_conn.cursor() as cur:
        cur.execute("select sourced_id, _change, family_name from raw_sis.oneroster_users"
                    " where _district_id = 'd' and _export_date = '2025-09-02' order by 1")
        assert cur.fetchall() == [("g1", "changed", "Lopez-Diaz"), ("u2", "retired", "Ode")]

    # a new school year's first night (its sessions and classes in bulk) cannot be a delta of users
    new_year = {name: text.replace("2026", "2027").replace("2025-", "2026-") for name, text in delta.items()}
    _oneroster_night(drop, "d", dt.date(2026, 8, 20), new_year, delta_manifest)
    result = _ingest(fresh_db, drop, tmp_path, "d", dt.date(2026, 8, 20))
    users = next(r for r in result.rows if r.file_name == "oneroster/users.csv")
    assert users.status == "rejected" and "a delta of school year 2027 against a file of 2026" in users.message
    assert {r.status for r in result.rows if r.file_name != "oneroster/users.csv"} == {"loaded"}


def test_a_timestamp_column_refuses_an_impossible_date():
    import pyarrow as pa

    from sis_sync.ingestion.validate.converting import _timestamp

    values = pa.array(["2025-08-01", "2025-13-01"])
    assert _timestamp(None, values, None, True)[1] == 1
    values = pa.array(["2025-08-01T10:00:00Z", "2025-08-01 10:00:00+0200", "2025-08-01"])
    assert _timestamp(None, values, None, True)[0].to_pylist()[1].hour == 8


def test_a_oneroster_district_is_restored_from_the_archive(fresh_db, db_conn, tmp_path):
    from sis_sync.replay import restore

    drop, archive_dir = tmp_path / "drop", tmp_path / "archive"
    _oneroster_night(drop, "r", dt.date(2025, 9, 1), GOOD_FILES)
    _ingest(fresh_db, drop, tmp_path, "r", dt.date(2025, 9, 1))
    delta = {"users.csv": GOOD_FILES["users.csv"].split("\n")[0] + "\n"
             "u2,tobedeleted,2025-09-02,false,s1,student,,,Ben,Ode,,901,,,,,04,\n"}
    _oneroster_night(drop, "r", dt.date(2025, 9, 2), delta,
                     "propertyName,value\noneroster.version,1.1\nfile.users,delta\n")
    _ingest(fresh_db, drop, tmp_path, "r", dt.date(2025, 9, 2))
    query = ("select file_name, export_date, status, added_count, changed_count, retired_count"
             " from raw_sis.load_ledger order by 2, 1")
    with db_conn.cursor() as cur:
        cur.execute(query)
        before = cur.fetchall()
        cur.execute("drop schema raw_sis cascade")
    restore(fresh_db, archive_dir, say=lambda _line: None)
    with db_conn.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == before and ("oneroster/users.csv", dt.date(2025, 9, 2), "loaded", 0, 0, 1) in before


def test_a_staff_member_a_delta_deletes_stays_in_dim_staff_through_a_full_refresh(fresh_db, db_conn, tmp_path):
    drop, first, second = tmp_path / "drop", dt.date(2025, 9, 1), dt.date(2025, 9, 2)
    _oneroster_night(drop, "st", first, GOOD_FILES)
    assert run_nightly(None, drop, first, ()) == 0
    header = GOOD_FILES["users.csv"].split("\n")[0]
    _oneroster_night(drop, "st", second, {"users.csv": f"{header}\nt1,tobedeleted,2025-09-02,true,s1,teacher,,,"
                                                       "Dana,Whit,,,dana@x.org,,,,,\n"},
                     "propertyName,value\noneroster.version,1.1\nfile.users,delta\n")
    assert run_nightly(None, drop, second, ()) == 0
    query = "select staff_id, is_active, last_delivered_date from marts.dim_staff where district_id = 'st'"
    with db_conn.cursor() as cur:
        cur.execute(query)
        assert cur.fetchall() == [("t1", False, first)]
        assert run_build(second, full_refresh=True) == 0
        cur.execute(query)
        assert cur.fetchall() == [("t1", False, first)]
