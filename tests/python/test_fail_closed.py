"""One failure stays local, and a night whose check did not complete is never applied: the warehouse
connection of one district's ingest dies while what its night changed is being recorded (a real backend
terminated by a trigger); the other district goes on, nothing of the dead one's night reaches the marts,
and once it is ingested again its destructive night is held."""

from __future__ import annotations

import datetime as dt

from test_safety import keep_rows

from sis_sync.commands import run_build, run_nightly
from sis_sync.sample import write_export

FIRST, SECOND = dt.date(2026, 3, 16), dt.date(2026, 3, 17)
DIE_ON_SOUTH = """
create function raw_sis.die_on_south() returns trigger language plpgsql as $$
begin
    if new.district_id = 'south' then
        perform pg_terminate_backend(pg_backend_pid());
    end if;
    return new;
end $$;
create trigger die_on_south before insert on raw_sis.load_changes
for each row execute function raw_sis.die_on_south();
"""


def scalar(conn, sql, params=()):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        value = cur.fetchone()[0]
    conn.commit()
    return value


def active(conn, district_id: str) -> int:
    return scalar(conn, "select count(*) from marts.dim_students where district_id = %s and is_active",
                  (district_id,))


def test_a_connection_dying_mid_check_fails_that_district_alone_and_closed(fresh_db, db_conn, tmp_path):
    drop = tmp_path / "drop"
    for district_id in ("north", "south"):
        write_export(drop, district_id=district_id, export_date=FIRST, students=200)
    assert run_nightly(None, drop, FIRST, ()) == 0
    south_before, north_before = active(db_conn, "south"), active(db_conn, "north")

    write_export(drop, district_id="north", export_date=SECOND, students=200)
    folder = write_export(drop, district_id="south", export_date=SECOND, students=200)
    keep_rows(folder / "students.csv", lambda i, _row: i % 2 == 0)  # half the students: destructive
    with db_conn.cursor() as cur:
        cur.execute(DIE_ON_SOUTH)
    db_conn.commit()

    assert run_nightly(None, drop, SECOND, ()) == 3, "a district failed"
    assert scalar(db_conn, "select outcome from raw_sis.sync_attempts where district_id = 'south'"
                           " and export_date = %s order by attempt_id desc limit 1", (SECOND,)) == "failed"
    assert scalar(db_conn, "select count(*) from raw_sis.load_ledger where district_id = 'north'"
                           " and export_date = %s and status = 'loaded'", (SECOND,)) > 0, "north went on"
    assert scalar(db_conn, "select count(*) from raw_sis.load_ledger where district_id = 'south'"
                           " and export_date = %s", (SECOND,)) == 0, "nothing of the dead ingest was recorded"
    assert active(db_conn, "south") == south_before
    assert active(db_conn, "north") == north_before

    assert run_build(SECOND) == 0
    assert active(db_conn, "south") == south_before, "a later build applies nothing unchecked"

    with db_conn.cursor() as cur:
        cur.execute("drop trigger die_on_south on raw_sis.load_changes; drop function raw_sis.die_on_south()")
    db_conn.commit()
    assert run_nightly(None, drop, SECOND, ("south",)) == 1, "ingested again, the night is checked and held"
    assert scalar(db_conn, "select sync_status from marts.sync_history where district_id = 'south'"
                           " and export_date = %s and file_name = 'students.csv'", (SECOND,)) == "held"
    assert active(db_conn, "south") == south_before


def test_a_load_without_its_change_record_is_held(fresh_db, db_conn, tmp_path):
    """What a night changed is recorded with its ledger row; a load lacking that record (a warehouse mended by
    hand, a restore that failed half-way) was never checked, and is held rather than applied."""
    drop = tmp_path / "drop"
    write_export(drop, district_id="south", export_date=FIRST, students=120)
    assert run_nightly(None, drop, FIRST, ()) == 0
    folder = write_export(drop, district_id="south", export_date=SECOND, students=120)
    keep_rows(folder / "contacts.csv", lambda i, _row: i > 0)  # one contact fewer: under every threshold
    assert run_nightly(None, drop, SECOND, ()) == 0
    with db_conn.cursor() as cur:
        cur.execute("delete from raw_sis.load_changes using raw_sis.load_ledger as l where l.load_id ="
                    " load_changes.load_id and l.file_name = 'contacts.csv' and l.export_date = %s", (SECOND,))
        assert cur.rowcount > 0
    db_conn.commit()
    assert run_build(SECOND) == 0
    status, reason = (scalar(db_conn, f"select {c} from marts.sync_history where district_id = 'south'"
                                      f" and export_date = %s and file_name = 'contacts.csv'", (SECOND,))
                      for c in ("sync_status", "reason"))
    assert status == "held" and "never recorded" in reason
