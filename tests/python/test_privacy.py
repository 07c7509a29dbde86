"""Private data stays private: a rejected personal-data value is never repeated, no message carries a secret,
and a districts file holding a secret anywhere is refused (the Safety contract of the product)."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
from pathlib import Path

import pytest

from sis_sync.config import ConfigError, load_districts
from sis_sync.ingestion.delivery import fetch_export
from sis_sync.ingestion.delivery.common import DeliveryError
from sis_sync.ingestion.load import ingest_export
from sis_sync.ingestion.spec import load_spec
from sis_sync.ingestion.validate import ValidationError, validate_file
from sis_sync.redact import redact

FIXTURE = Path(__file__).parent / "fixtures" / "export_small"
SPEC = load_spec()
NIGHT = dt.date(2025, 10, 14)


def students_with(column: str, value: str, record: int = 2) -> bytes:
    """The fixture's students.csv with ``column`` of data record ``record`` (1-based) set to ``value``."""
    lines = (FIXTURE / "students.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    fields = lines[record].split(",")
    fields[header.index(column)] = value
    lines[record] = ",".join(fields)
    return ("\n".join(lines) + "\n").encode()


def rejection(data: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_file(SPEC.file("students.csv"), lambda: __import__("io").BytesIO(data), file_name="students.csv")
    return str(caught.value)


def test_a_rejected_personal_data_value_is_never_repeated():
    message = rejection(students_with("birth_date", "03/21/2008"))
    assert message == "students.csv line 3, column birth_date: the value is not a date (YYYY-MM-DD)"
    assert "03/21/2008" not in message


def test_a_rejected_value_of_another_column_is_shown():
    message = rejection(students_with("entry_date", "08/20/2025"))
    assert message == 'students.csv line 3, column entry_date: "08/20/2025" is not a date (YYYY-MM-DD)'


def test_no_personal_value_reaches_the_ledger(fresh_db, db_conn, tmp_path):
    folder = tmp_path / "drop" / "d1" / NIGHT.isoformat()
    folder.mkdir(parents=True)
    for path in FIXTURE.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    (folder / "students.csv").write_bytes(students_with("birth_date", "1999-02-31"))
    result = ingest_export(fresh_db, tmp_path / "drop", "d1", NIGHT, tmp_path / "pipelines")
    assert result.rejected == 1 and result.loaded >= 1
    with db_conn.cursor() as cur:
        cur.execute("select string_agg(coalesce(message, ''), ' | ') from raw_sis.load_ledger")
        messages = cur.fetchone()[0]
    assert "column birth_date: the value is not a date" in messages
    assert "1999-02-31" not in messages


@pytest.mark.parametrize(("text", "secret"), [
    ("S3 error at s3://b/x at http://AKIAEXAMPLE:topsecret@127.0.0.1:9000/: boom", "topsecret"),
    ("connection to server failed: password=hunter2 host=db", "hunter2"),
    ("psql 'postgresql://postgres:pa55@db:5432/warehouse'", "pa55"),
    ('new row violates check constraint\nDETAIL:  Failing row contains (1, Maria, Garcia).', "Maria"),
    ('duplicate key value\nDETAIL:  Key (email)=(rosa@mail.example.com) already exists.', "rosa@"),
    ('invalid input syntax for type date: "03/21/2008"\nCONTEXT:  COPY students, line 3, column birth_date:'
     ' "03/21/2008"', "03/21/2008"),
    ("CSV parse error: Expected 5 columns, got 3: Maria,Garcia,2008-03-21", "Maria"),
])
def test_messages_built_from_errors_carry_no_secret_and_no_row_value(text, secret):
    assert secret not in redact(text)


def test_an_s3_endpoint_with_credentials_is_never_printed(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    from sis_sync.config import District

    district = District(id="d1", delivery={"method": "s3", "bucket": "exports", "region": "us-east-1",
                                           "endpoint_url": "http://AKIAEXAMPLE:topsecret@127.0.0.1:9/",
                                           "timeout": 1})
    with pytest.raises(DeliveryError) as caught:
        fetch_export(district, NIGHT, tmp_path / "dest", tmp_path)
    assert "topsecret" not in str(caught.value) and "AKIAEXAMPLE" not in str(caught.value)


def districts_file(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "districts.yml"
    path.write_text("districts:\n" + body, encoding="utf-8")
    return path


@pytest.mark.parametrize("body", [
    "  - id: a\n    delivery: {method: sftp, host: h, passwd: Zq9secret}\n",
    "  - id: a\n    delivery: {method: sftp, host: h, auth: {password: Zq9secret}}\n",
    "  - id: a\n    delivery: {method: s3, bucket: b, secret_key: Zq9secret}\n",
    "  - id: a\n    delivery: {method: s3, bucket: b, endpoint_url: 'https://k:Zq9secret@minio.example'}\n",
    "  - id: a\n    password: Zq9secret\n    delivery: {method: folder, path: drop}\n",
    "  - id: a\n    delivery: {method: folder, path: drop, password: Zq9secret}\n",
    "  - id: a\n    delivery: {method: sftp, host: h, Api-Key: Zq9secret}\n",
    "  - id: a\n    delivery: {method: sftp, host: h, credentials: [Zq9secret]}\n",
    "  - id: a\n    notes: {sftp: 'sftp://lincoln:Zq9secret@sftp.example.org'}\n    delivery: {method: folder}\n",
])
def test_a_secret_anywhere_in_the_districts_file_is_refused(tmp_path, body):
    with pytest.raises(ConfigError, match="districts.yml: ") as caught:
        load_districts(districts_file(tmp_path, body), None)
    assert "Zq9secret" not in str(caught.value)


def test_variables_naming_secrets_are_accepted(tmp_path):
    body = ("  - id: a\n    delivery: {method: sftp, host: h, username: lincoln, password_env: LINCOLN_PW,"
            " key_file_env: LINCOLN_KEY, key_passphrase_env: LINCOLN_PASS}\n"
            "  - id: b\n    delivery: {method: s3, bucket: b, endpoint_url: 'https://minio.example:9000',"
            " access_key_id_env: K, secret_access_key_env: S}\n")
    assert [d.id for d in load_districts(districts_file(tmp_path, body), None)] == ["a", "b"]


def test_dlt_working_files_are_private_and_removed(fresh_db, tmp_path):
    folder = tmp_path / "drop" / "d1" / NIGHT.isoformat()
    folder.mkdir(parents=True)
    for path in FIXTURE.glob("*.csv"):
        shutil.copy(path, folder / path.name)
    pipelines = tmp_path / "pipelines"
    ingest_export(fresh_db, tmp_path / "drop", "d1", NIGHT, pipelines)
    assert stat.S_IMODE(pipelines.stat().st_mode) & 0o077 == 0
    leftovers = [p for p in pipelines.rglob("*") if p.is_file() and p.suffix in (".csv", ".gz", ".jsonl")
                 or p.is_file() and "normalized" in p.parts]
    assert leftovers == []
    readable = [p for p in pipelines.rglob("*") if stat.S_IMODE(p.stat().st_mode) & 0o044]
    assert readable == []


def test_a_failed_load_leaves_no_row_on_disk(fresh_db, db_conn, tmp_path):
    from sis_sync.ingestion.raw_layer import ensure_raw_layer

    folder = tmp_path / "drop" / "d1" / NIGHT.isoformat()
    folder.mkdir(parents=True)
    shutil.copy(FIXTURE / "students.csv", folder / "students.csv")
    ensure_raw_layer(db_conn)
    with db_conn.cursor() as cur:  # the warehouse refuses the rows: dlt's load job fails
        cur.execute("alter table raw_sis.students add constraint refuse_all check (false) not valid")
    db_conn.commit()
    pipelines = tmp_path / "pipelines"
    with pytest.raises(Exception, match="refuse_all"):
        ingest_export(fresh_db, tmp_path / "drop", "d1", NIGHT, pipelines)
    last_name = (FIXTURE / "students.csv").read_text().splitlines()[1].split(",")[4]
    holding = [p for p in pipelines.rglob("*") if p.is_file() and last_name.encode() in p.read_bytes()]
    assert holding == []
