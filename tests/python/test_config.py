"""The districts file: a threshold that is not a share between 0 and 1 (or not a number of days) refuses its
district, naming the district and the key, and only that district: the others sync."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from sis_sync.commands import EXIT_USAGE, run_nightly
from sis_sync.config import ConfigError, load_districts
from sis_sync.sample import write_export

NIGHT = dt.date(2026, 3, 16)


def districts_file(tmp_path, thresholds: str):
    path = tmp_path / "districts.yml"
    path.write_text(f"districts:\n  - id: north\n    delivery: {{method: folder, path: drop}}\n"
                    f"    thresholds: {thresholds}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("thresholds", "message"), [
    ("{share: 10}", r"thresholds\.share must be a share between 0 and 1 \(0\.10 for 10%\), got 10"),
    ("{share: -0.1}", r"thresholds\.share must be a share between 0 and 1"),
    ("{rollover_share: 1.5}", r"thresholds\.rollover_share must be a share between 0 and 1"),
    ("{share: '10%'}", r"thresholds\.share must be a share between 0 and 1 .*got '10%'"),
    ("{share: true}", r"thresholds\.share must be a share"),
    ("{change_share: 75}", r"thresholds\.change_share must be a share between 0 and 1"),
    ("{cumulative_nights: -7}", r"thresholds\.cumulative_nights must be a whole number"),
    ("{rollover_days: 2.5}", r"thresholds\.rollover_days must be a whole number"),
    ("{shares: 0.1}", r"thresholds: unknown key\(s\) shares; expected share, change_share, "),
    ("0.1", r"thresholds must be a mapping"),
])
def test_a_threshold_outside_its_range_is_refused(tmp_path, thresholds, message):
    [north] = load_districts(districts_file(tmp_path, thresholds), None)
    assert north.refused and re.search(r"district north: " + message, north.refused), north.refused


def test_thresholds_within_range_are_kept(tmp_path):
    [district] = load_districts(districts_file(tmp_path, "{share: 0.2, rollover_share: 1, rollover_days: 7}"), None)
    assert district.thresholds == {"share": 0.2, "rollover_share": 1, "rollover_days": 7}
    [default] = load_districts(districts_file(tmp_path, "null"), None)
    assert default.thresholds == {}


def test_a_file_that_cannot_be_read_is_refused_whole(tmp_path):
    path = tmp_path / "districts.yml"
    path.write_text("districts:\n  - id: north\n    delivery: {method: folder\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"districts.yml: not a YAML file \(line \d+, column \d+\)"):
        load_districts(path, None)
    path.write_text("- north\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping with a list `districts`"):
        load_districts(path, None)


def test_one_districts_bad_entry_refuses_only_that_district(fresh_db, db_conn, tmp_path, capsys):
    drop = tmp_path / "drop"
    for district_id in ("north", "south", "east"):
        write_export(drop, district_id=district_id, export_date=NIGHT, students=60)
    path = tmp_path / "districts.yml"
    path.write_text(f"districts:\n"
                    f"  - id: north\n    delivery: {{method: folder, path: {drop}}}\n    thresholds: {{share: 10}}\n"
                    f"  - id: south\n    delivery: {{method: folder, path: {drop}}}\n"
                    f"  - id: east\n    delivery: {{method: folder, path: {drop}}}\n    country: England\n"
                    f"  - name: nameless\n", encoding="utf-8")
    assert run_nightly(path, None, NIGHT, ()) == EXIT_USAGE
    out = capsys.readouterr().out
    assert re.search(r"north .*REFUSED\n    - refused: .*district north: thresholds\.share must be a share", out)
    assert "country 'England' is not a country code" in out and "district #4 has no id" in out
    with db_conn.cursor() as cur:
        cur.execute("select district_id, count(*) from marts.dim_students group by 1")
        assert [d for d, _ in cur.fetchall()] == ["south"]
        cur.execute("select district_id, outcome, message from raw_sis.sync_attempts order by 1")
        attempts = cur.fetchall()
    assert [(d, o) for d, o, _ in attempts] == [("east", "failed"), ("north", "failed"), ("south", "delivered")]
    assert "thresholds.share" in attempts[1][2]


def test_a_drop_folder_whose_name_is_not_an_id_refuses_only_that_folder(fresh_db, db_conn, tmp_path, capsys):
    drop = tmp_path / "drop"
    write_export(drop, district_id="south", export_date=NIGHT, students=60)
    (drop / "with space" / NIGHT.isoformat()).mkdir(parents=True)
    assert run_nightly(None, drop, NIGHT, ()) == EXIT_USAGE
    out = capsys.readouterr().out
    assert "district id 'with space' must be a plain name" in out
    with db_conn.cursor() as cur:
        cur.execute("select distinct district_id from marts.dim_students")
        assert cur.fetchall() == [("south",)]
        cur.execute("select distinct district_id from raw_sis.sync_attempts")
        assert cur.fetchall() == [("south",)], "a name that is not an id is never recorded"
