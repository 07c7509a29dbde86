"""Student data is private: BI reads only marts, the loader cannot read marts, a role can be held to one
district by row-level security."""

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest
from psycopg2 import errors

from sis_sync import access
from sis_sync.commands import run_build, run_ingest, run_nightly
from sis_sync.sample import write_export

NIGHT = dt.date(2026, 3, 16)

pytestmark = pytest.mark.cluster_roles  # creates and drops sis_reader and sis_loader


def _as_role(conn, role: str, sql: str):
    with conn.cursor() as cur:
        cur.execute(f"set role {role}")
        try:
            cur.execute(sql)
            return cur.fetchall()
        finally:
            cur.execute("reset role")


# the cluster-wide roles these tests create; each is dropped again by the test that created it
TEST_ROLES = ("bi_tool", "north_login", "loader_login", "north_office", access.READER_ROLE, access.LOADER_ROLE)


@pytest.fixture
def synced(fresh_db, db_conn, tmp_path):
    with db_conn.cursor() as cur:
        cur.execute("select rolname from pg_roles where rolname = any(%s)", (list(TEST_ROLES),))
        existing = {name for (name,) in cur.fetchall()}
    db_conn.commit()
    yield _synced(db_conn, tmp_path)
    db_conn.rollback()
    with db_conn.cursor() as cur:
        for role in TEST_ROLES:  # members first, then the group roles
            if role not in existing:
                cur.execute("select 1 from pg_roles where rolname = %s", (role,))
                if cur.fetchone():
                    cur.execute(f"reassign owned by {role} to current_user")  # the raw layer sis_loader owns
                    cur.execute(f"drop owned by {role}")  # its privileges in this database (the only one)
                    cur.execute(f"drop role {role}")
    db_conn.commit()


def _synced(db_conn, tmp_path):
    access.ensure_roles(db_conn)
    with db_conn.cursor() as cur:
        cur.execute("""do $$ begin
            if not exists (select 1 from pg_roles where rolname = 'north_office') then
                create role north_office nologin in role sis_reader;
            end if; end $$""")
    access.map_district(db_conn, "north_office", "north")
    drop = tmp_path / "drop"
    for district_id in ("sample", "north"):
        write_export(drop, district_id=district_id, export_date=NIGHT, students=120)
    assert run_nightly(None, drop, NIGHT, ()) == 0
    return db_conn


def test_student_data_is_private(synced, fresh_db):
    # the reader reads every mart and nothing raw
    districts = _as_role(synced, "sis_reader", "select distinct district_id from marts.dim_students order by 1")
    assert districts == [("north",), ("sample",)]
    with synced.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'marts'")
        marts = [r[0] for r in cur.fetchall()]
        for mart in marts:
            cur.execute("select has_table_privilege('sis_reader', %s, 'select')", (f"marts.{mart}",))
            assert cur.fetchone()[0], mart
    with pytest.raises(errors.InsufficientPrivilege):
        _as_role(synced, "sis_reader", "select count(*) from raw_sis.students")


    # the loader cannot read marts
    with pytest.raises(errors.InsufficientPrivilege):
        _as_role(synced, "sis_loader", "select count(*) from marts.dim_students")
    with synced.cursor() as cur:
        cur.execute("select has_table_privilege('sis_loader', 'raw_sis.students', 'insert')")
        assert cur.fetchone()[0]


    # a mapped role sees only its district
    rows = _as_role(synced, "north_office",
                    "select district_id, count(*) from marts.student_overview group by 1")
    assert [d for d, _ in rows] == ["north"]
    with synced.cursor() as cur:
        cur.execute("select count(*) from marts.student_overview where district_id = 'north'")
        assert rows[0][1] == cur.fetchone()[0]
    # the policy survives the nightly rebuild of the tables
    with synced.cursor() as cur:
        cur.execute("select count(*) from pg_policies where schemaname = 'marts' and policyname = 'district_rows'")
        assert cur.fetchone()[0] >= 12


    # a login role in sis_reader connects and reads
    with synced.cursor() as cur:
        cur.execute("""do $$ begin
            if not exists (select 1 from pg_roles where rolname = 'bi_tool') then
                create role bi_tool login in role sis_reader;
            end if; end $$""")
    conn = psycopg2.connect(host=fresh_db.host, port=fresh_db.port, user="bi_tool", dbname=fresh_db.database)
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*) from marts.dim_schools")
            assert cur.fetchone()[0] > 0
    finally:
        conn.close()


def _create_login(conn, name: str, *groups: str) -> None:
    with conn.cursor() as cur:
        cur.execute(f"""do $$ begin
            if not exists (select 1 from pg_roles where rolname = '{name}') then
                create role {name} login in role {", ".join(groups)};
            end if; end $$""")
    conn.commit()


def _login(settings, role: str):
    return psycopg2.connect(host=settings.host, port=settings.port, user=role, dbname=settings.database)


def _districts(conn, sql: str = "select distinct district_id from marts.dim_students order by 1"):
    with conn.cursor() as cur:
        cur.execute(sql)
        return [r[0] for r in cur.fetchall()]


def test_a_mapped_login_cannot_widen_its_rows_by_set_role_or_rename(synced, fresh_db):
    _create_login(synced, "north_login", "north_office", access.READER_ROLE)
    conn = _login(fresh_db, "north_login")
    try:
        assert _districts(conn) == ["north"]
        with conn.cursor() as cur:
            cur.execute(f"set role {access.READER_ROLE}")  # a role the login holds, mapped to nothing
        assert _districts(conn) == ["north"]
        conn.rollback()
        with synced.cursor() as cur:
            cur.execute("alter role north_office rename to north_office_renamed")
        synced.commit()
        try:
            assert _districts(conn) == ["north"], "the mapping follows the role, not its name"
        finally:
            with synced.cursor() as cur:
                cur.execute("alter role north_office_renamed rename to north_office")
            synced.commit()
    finally:
        conn.close()
    # a login that is not mapped still sees every district
    _create_login(synced, "bi_tool", access.READER_ROLE)
    conn = _login(fresh_db, "bi_tool")
    try:
        assert _districts(conn) == ["north", "sample"]
    finally:
        conn.close()


def test_the_loader_role_runs_ingest_and_cannot_read_the_marts(synced, fresh_db, tmp_path, monkeypatch):
    with synced.cursor() as cur:  # a warehouse from when the loader owned the raw layer: the owner takes it back
        cur.execute(f"alter table raw_sis.load_ledger owner to {access.LOADER_ROLE}")
    synced.commit()
    assert run_build(NIGHT) == 0
    with synced.cursor() as cur:
        cur.execute("select pg_get_userbyid(relowner) from pg_class where oid = 'raw_sis.load_ledger'::regclass")
        assert cur.fetchone()[0] == fresh_db.user
    synced.commit()
    _create_login(synced, "loader_login", access.LOADER_ROLE)
    night = NIGHT + dt.timedelta(days=1)
    drop = tmp_path / "drop"
    write_export(drop, district_id="north", export_date=night, students=120)
    for name, value in {"PGHOST": fresh_db.host, "PGPORT": str(fresh_db.port), "PGUSER": "loader_login",
                        "PGDATABASE": fresh_db.database, "PGPASSWORD": ""}.items():
        monkeypatch.setenv(name, value)
    assert run_ingest(None, drop, night, ("north",)) == 0
    conn = _login(fresh_db, "loader_login")
    try:
        with pytest.raises(errors.InsufficientPrivilege):
            _districts(conn)
        conn.rollback()
        # it appends, and nothing more: no approval of its own held nights, no rewriting of the history
        for statement in ("insert into raw_sis.sync_approvals (district_id, export_date, file_name)"
                          " values ('north', date '2026-03-17', 'students.csv')",
                          "delete from raw_sis.load_ledger",
                          "update raw_sis.load_ledger set status = 'rejected'",
                          "delete from raw_sis.students",
                          "delete from raw_sis.load_changes",
                          "truncate raw_sis.sync_attempts",
                          "alter table raw_sis.load_ledger disable trigger all",
                          "create table raw_sis.sync_holds (district_id text)"):
            with pytest.raises((errors.InsufficientPrivilege, errors.WrongObjectType)), conn.cursor() as cur:
                cur.execute(statement)
            conn.rollback()
        with conn.cursor() as cur:
            cur.execute("select count(*) from raw_sis.sync_approvals")  # it may read them
    finally:
        conn.close()
    with synced.cursor() as cur:
        cur.execute("select count(*) from raw_sis.load_ledger where export_date = %s and status = 'loaded'", (night,))
        assert cur.fetchone()[0] > 0
    monkeypatch.setenv("PGUSER", fresh_db.user)  # the owner builds the marts
    assert run_build(night) == 0
    assert "north" in _districts(synced)
