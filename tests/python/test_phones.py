"""Phone numbers are read by libphonenumber with each district's default country (districts.yml `country`)."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from sis_sync.commands import run_nightly
from sis_sync.config import load_districts
from sis_sync.ingestion.phones import e164
from sis_sync.sample import write_export

NIGHT = dt.date(2026, 3, 16)


@pytest.mark.parametrize(("value", "country", "expected"), [
    ("+44 (0)20 7946 0958", "US", "+442079460958"),  # the national prefix in brackets is not a digit of it
    ("020 7946 0958", "GB", "+442079460958"),
    ("07700 900123", "GB", "+447700900123"),
    ("(555) 201-7788", "US", "+15552017788"),
    ("555.201.7788", "US", "+15552017788"),
    ("1-555-201-7788", "US", "+15552017788"),
    ("555-201-7788 x12", "US", "+15552017788"),
    ("+15552017788", "GB", "+15552017788"),
    ("(613) 555-0143", "CA", "+16135550143"),
    ("12345", "US", None),
    ("call the office", "US", None),
    ("", "US", None),
    (None, "US", None),
])
def test_numbers_are_read_in_the_districts_country(value, country, expected):
    assert e164(value, country) == expected


def test_a_country_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "districts.yml"
    path.write_text("districts:\n  - id: north\n    country: England\n    delivery: {method: folder, path: drop}\n")
    [north] = load_districts(path, None)
    assert "country 'England' is not a country code" in north.refused


def set_first_mobile(folder, value: str) -> str:
    """Give the first contact of a night's contacts.csv the mobile phone ``value``; its contact_id."""
    path = folder / "contacts.csv"
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, list(reader)
    rows[0]["mobile_phone"] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (folder / "manifest.csv").unlink(missing_ok=True)
    return rows[0]["contact_id"]


def test_the_marts_show_each_districts_numbers_in_e164(fresh_db, db_conn, tmp_path):
    drop = tmp_path / "drop"
    config = tmp_path / "districts.yml"
    config.write_text("districts:\n"
                      "  - id: london\n    country: GB\n    delivery: {method: folder, path: drop}\n"
                      "  - id: boston\n    delivery: {method: folder, path: drop}\n")
    contacts = {}
    for district_id, phone in (("london", "020 7946 0958"), ("boston", "+44 (0)20 7946 0958")):
        folder = write_export(drop, district_id=district_id, export_date=NIGHT, students=40)
        contacts[district_id] = set_first_mobile(folder, phone)
    assert run_nightly(config, None, NIGHT, ()) == 0
    with db_conn.cursor() as cur:
        for district_id, contact_id in contacts.items():
            cur.execute("select mobile_phone_e164 from marts.dim_contacts where district_id = %s and contact_id = %s",
                        (district_id, contact_id))
            assert cur.fetchone()[0] == "+442079460958", district_id
        cur.execute("select count(*) from marts.dim_contacts where district_id = 'boston'"
                    " and mobile_phone_e164 like '+1%%'")
        assert cur.fetchone()[0] > 0, "the other numbers are read as the US numbers they are"
