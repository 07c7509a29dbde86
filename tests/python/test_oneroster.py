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

# What OneRoster has no field for (docs/oneroster.md), and what only says when a row was written: left out of
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
