"""Delivery methods against real servers on loopback: an asyncssh SFTP server and a moto S3 server.

Both servers are started by this module (in background threads) and serve temporary folders / buckets; nothing
leaves 127.0.0.1. Each test checks the fetched bytes (sha256), what was skipped, or the error's type and text.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from datetime import date
from pathlib import Path

import asyncssh
import boto3
import pytest

from sis_sync import PROJECT_ROOT
from sis_sync.config import District
from sis_sync.ingestion.delivery import DeliveryError, FetchResult, fetch_export
from sis_sync.ingestion.delivery import s3 as s3_delivery

NIGHT = date(2026, 3, 2)
ZIP_NIGHT = date(2026, 3, 3)
EMPTY_NIGHT = date(2026, 3, 4)
DISTRICT = "lincoln"
SFTP_USER, SFTP_PASSWORD = "sisdrop", "correct horse battery"

STUDENTS = b"student_id,first_name,last_name,grade_level,school_id\n000123,Maria,Garcia,04,0101\n"
SCHOOLS = b"school_id,school_name\n0101,Lincoln Elementary School\n"
FOLDER_FILES = {"students.csv": STUDENTS, "schools.csv": SCHOOLS}
IN_PROGRESS = {"contacts.csv.part": b"student_id,contact_id\n000123,C", "attendance.csv.tmp": b"student_id"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


ZIP = zip_bytes({"students.csv": STUDENTS, "schools.csv": SCHOOLS})


def write_drop(root: Path) -> None:
    """<root>/lincoln/2026-03-02/ (two files + two in progress), <root>/lincoln/2026-03-03.zip."""
    night = root / DISTRICT / NIGHT.isoformat()
    night.mkdir(parents=True)
    for name, data in {**FOLDER_FILES, **IN_PROGRESS}.items():
        (night / name).write_bytes(data)
    (root / DISTRICT / f"{ZIP_NIGHT.isoformat()}.zip").write_bytes(ZIP)
    (root / DISTRICT / f"{EMPTY_NIGHT.isoformat()}.zip.part").write_bytes(ZIP[:10])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_folder_export(result: FetchResult, dest: Path) -> None:
    folder = dest / DISTRICT / NIGHT.isoformat()
    assert result.path == folder
    assert result.drop_root == dest
    for name, data in FOLDER_FILES.items():
        assert sha((folder / name).read_bytes()) == sha(data)
    assert sorted(p.name for p in folder.iterdir()) == sorted(FOLDER_FILES)  # no .part/.tmp, no .download
    assert result.files == sorted(f"{NIGHT}/{n}" for n in FOLDER_FILES)
    assert result.skipped_in_progress == sorted(f"{NIGHT}/{n}" for n in IN_PROGRESS)
    assert result.in_progress and "still uploading" in result.message


# ----------------------------------------------------------------------------------------------------
# SFTP


class SFTPServerState:
    def __init__(self):
        self.read_delay = 0.0  # seconds per read request (serialized), to make a download slow
        self.connections = 0


class SFTPServer:
    """An asyncssh SFTP server on 127.0.0.1 in a thread with its own event loop, chrooted to ``root``."""

    def __init__(self, root: Path, client_public_key: str):
        self.root = root
        self.state = SFTPServerState()
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_public_key = client_public_key
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _start(self):
        state = self.state

        class Server(asyncssh.SSHServer):
            def connection_made(self, conn):
                state.connections += 1

            def begin_auth(self, username):
                return True

            def password_auth_supported(self):
                return True

            def validate_password(self, username, password):
                return (username, password) == (SFTP_USER, SFTP_PASSWORD)

        class SlowSFTP(asyncssh.SFTPServer):
            lock = asyncio.Lock()

            async def read(self, file_obj, offset, size):
                if state.read_delay:
                    async with self.lock:
                        await asyncio.sleep(state.read_delay)
                return super().read(file_obj, offset, size)

        root = str(self.root)
        return await asyncssh.create_server(
            Server, "127.0.0.1", 0, server_host_keys=[self.host_key],
            authorized_client_keys=asyncssh.import_authorized_keys(self.client_public_key),
            sftp_factory=lambda chan: SlowSFTP(chan, chroot=root), allow_scp=False,
        )

    def known_hosts_line(self, key=None) -> str:
        key = key or self.host_key
        return f"[127.0.0.1]:{self.port} {key.export_public_key().decode().strip()}\n"

    def stop(self) -> None:
        async def close():
            self.server.close()
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def client_key(tmp_path_factory):
    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path_factory.mktemp("client") / "id_ed25519"
    key.write_private_key(str(path))
    return key, path


@pytest.fixture(scope="module")
def sftp_server(tmp_path_factory, client_key):
    root = tmp_path_factory.mktemp("sftp_root")
    write_drop(root / "exports")
    server = SFTPServer(root, client_key[0].export_public_key().decode())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sftp_env(monkeypatch, client_key):
    monkeypatch.setenv("T_SFTP_USER", SFTP_USER)
    monkeypatch.setenv("T_SFTP_PASSWORD", SFTP_PASSWORD)
    monkeypatch.setenv("T_SFTP_KEY", str(client_key[1]))


@pytest.fixture
def config_dir(tmp_path):
    folder = tmp_path / "config"
    (folder / "keys").mkdir(parents=True)
    return folder


def sftp_district(server: SFTPServer, config_dir: Path, known_hosts: str | None = None, **extra) -> District:
    """A district delivered by the test server; ``known_hosts`` is written to keys/known_hosts when given."""
    delivery = {"method": "sftp", "host": "127.0.0.1", "port": server.port, "path": "/exports",
                "username_env": "T_SFTP_USER", "password_env": "T_SFTP_PASSWORD",
                "known_hosts": "keys/known_hosts", **extra}
    if known_hosts is not None:
        (config_dir / "keys" / "known_hosts").write_text(known_hosts)
    return District(id=DISTRICT, name="Lincoln", delivery=delivery)


def test_sftp_fetches_a_folder_export_skipping_files_in_progress(sftp_server, sftp_env, config_dir, tmp_path):
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line())
    dest = tmp_path / "dest"

    result = fetch_export(district, NIGHT, dest, config_dir)

    assert_folder_export(result, dest)
    assert result.downloaded == result.files and result.remote_found
    assert result.source == f"sftp://127.0.0.1:{sftp_server.port}/exports"

    # The existing local ingestion finds the fetched export where it looks for one.
    from sis_sync.ingestion.exports import find_export

    source = find_export(dest, DISTRICT, NIGHT)
    assert source is not None and sorted(source.files) == sorted(FOLDER_FILES)
    assert source.files["students.csv"].sha256 == sha(STUDENTS)

    # A rerun downloads again but leaves the unchanged files alone.
    student_file = dest / DISTRICT / NIGHT.isoformat() / "students.csv"
    before = student_file.stat().st_mtime_ns
    time.sleep(0.01)
    again = fetch_export(district, NIGHT, dest, config_dir)
    assert again.downloaded == [] and again.unchanged == result.files
    assert student_file.stat().st_mtime_ns == before


def test_sftp_fetches_a_zip_export_with_a_client_key(sftp_server, sftp_env, config_dir, tmp_path):
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line(),
                             password_env=None, key_file_env="T_SFTP_KEY")
    dest = tmp_path / "dest"

    result = fetch_export(district, ZIP_NIGHT, dest, config_dir)

    archive = dest / DISTRICT / f"{ZIP_NIGHT}.zip"
    assert result.path == archive
    assert sha(archive.read_bytes()) == sha(ZIP)
    assert result.files == [f"{ZIP_NIGHT}.zip"] and result.skipped_in_progress == []
    with zipfile.ZipFile(archive) as zf:
        assert zf.read("students.csv") == STUDENTS


def test_sftp_night_without_export_gives_no_path(sftp_server, sftp_env, config_dir, tmp_path):
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line())
    dest = tmp_path / "dest"

    result = fetch_export(district, date(2026, 3, 9), dest, config_dir)
    assert result.path is None and result.files == [] and not result.remote_found
    assert "no export of 2026-03-09 for lincoln" in result.message

    # Only a zip still being uploaded: reported, nothing fetched, no path.
    partial = fetch_export(district, EMPTY_NIGHT, dest, config_dir)
    assert partial.path is None and partial.remote_found
    assert partial.skipped_in_progress == [f"{EMPTY_NIGHT}.zip.part"]
    assert not (dest / DISTRICT / f"{EMPTY_NIGHT}.zip").exists()


def test_sftp_changed_host_key_is_refused(sftp_server, sftp_env, config_dir, tmp_path):
    other_key = asyncssh.generate_private_key("ssh-ed25519")
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line(other_key))
    dest = tmp_path / "dest"

    with pytest.raises(DeliveryError) as info:
        fetch_export(district, NIGHT, dest, config_dir)

    message = str(info.value)
    assert info.value.district_id == DISTRICT
    assert message.startswith("district lincoln: HostKeyError")
    assert f"127.0.0.1:{sftp_server.port}" in message
    assert str(config_dir / "keys" / "known_hosts") in message
    assert "different key" in message
    assert not dest.exists()  # nothing fetched
    # The pinned file is never changed (the key is not added).
    assert (config_dir / "keys" / "known_hosts").read_text() == sftp_server.known_hosts_line(other_key)


def test_sftp_unknown_host_is_refused(sftp_server, sftp_env, config_dir, tmp_path):
    # The file pins the right key, but for another host/port: the server's host is unknown.
    line = sftp_server.known_hosts_line().replace(f"[127.0.0.1]:{sftp_server.port}", "sftp.other.example.org")
    district = sftp_district(sftp_server, config_dir, line)

    with pytest.raises(DeliveryError, match=r"HostKeyError: .*has no key for \[127\.0\.0\.1\]:\d+"):
        fetch_export(district, NIGHT, tmp_path / "dest", config_dir)
    assert not (tmp_path / "dest").exists()


def test_sftp_without_pinned_known_hosts_is_refused_before_connecting(sftp_server, sftp_env, config_dir,
                                                                       tmp_path):
    connections = sftp_server.state.connections

    missing_file = sftp_district(sftp_server, config_dir)  # keys/known_hosts is never written
    with pytest.raises(DeliveryError, match="HostKeyError: the pinned known_hosts file .*known_hosts.* does"):
        fetch_export(missing_file, NIGHT, tmp_path / "dest", config_dir)

    not_configured = sftp_district(sftp_server, config_dir, known_hosts=None)
    not_configured.delivery.pop("known_hosts")
    with pytest.raises(DeliveryError, match="HostKeyError: no pinned known_hosts file for 127.0.0.1"):
        fetch_export(not_configured, NIGHT, tmp_path / "dest", config_dir)

    assert sftp_server.state.connections == connections
    assert not (tmp_path / "dest").exists()


def test_sftp_wrong_password_and_refused_connection(sftp_server, sftp_env, config_dir, tmp_path, monkeypatch):
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line())
    monkeypatch.setenv("T_SFTP_PASSWORD", "wrong")
    with pytest.raises(DeliveryError, match=r"district lincoln: authentication failed for user 'sisdrop'"):
        fetch_export(district, NIGHT, tmp_path / "dest", config_dir)

    closed = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line(), port=free_port())
    with pytest.raises(DeliveryError, match=r"district lincoln: connection refused by 127\.0\.0\.1:\d+"):
        fetch_export(closed, NIGHT, tmp_path / "dest", config_dir)


def test_credentials_in_the_districts_file_are_refused(sftp_server, config_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("T_SFTP_PASSWORD", raising=False)
    inline = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line(), password="hunter2")
    with pytest.raises(DeliveryError, match="delivery.password is set in the districts file"):
        fetch_export(inline, NIGHT, tmp_path / "dest", config_dir)

    unset = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line())
    monkeypatch.setenv("T_SFTP_USER", SFTP_USER)
    with pytest.raises(DeliveryError, match=r"variable T_SFTP_PASSWORD \(delivery.password_env\) is not set"):
        fetch_export(unset, NIGHT, tmp_path / "dest", config_dir)


KILL_SCRIPT = """
import json, sys
from datetime import date
from pathlib import Path
from sis_sync.config import District
from sis_sync.ingestion.delivery import fetch_export
fetch_export(District(id="lincoln", delivery=json.loads(sys.argv[1])), date.fromisoformat(sys.argv[2]),
             Path(sys.argv[3]), Path(sys.argv[4]))
"""


def test_sftp_kill_9_mid_download_leaves_no_truncated_file(sftp_server, sftp_env, config_dir, tmp_path):
    night = date(2026, 3, 5)
    big = os.urandom(12 << 20)  # three 4 MiB SFTP reads, each held back by the server below
    folder = sftp_server.root / "exports" / DISTRICT / night.isoformat()
    folder.mkdir(parents=True)
    (folder / "attendance.csv").write_bytes(big)
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line())
    dest = tmp_path / "dest"
    final = dest / DISTRICT / night.isoformat() / "attendance.csv"
    partial = final.with_name("attendance.csv.download")

    sftp_server.state.read_delay = 0.4
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, json.dumps(district.delivery), night.isoformat(), str(dest),
             str(config_dir)], cwd=PROJECT_ROOT)
        try:
            deadline = time.monotonic() + 20
            while not (partial.is_file() and partial.stat().st_size > 0):
                assert proc.poll() is None, "the fetch ended before it could be interrupted"
                assert time.monotonic() < deadline, "the download never started"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(10)
    finally:
        sftp_server.state.read_delay = 0.0

    assert proc.returncode == -signal.SIGKILL
    assert not final.exists()  # never a truncated file under the real name
    assert 0 < partial.stat().st_size < len(big)

    result = fetch_export(district, night, dest, config_dir)
    assert result.downloaded == [f"{night}/attendance.csv"]
    assert sha(final.read_bytes()) == sha(big)
    assert not partial.exists()


# ----------------------------------------------------------------------------------------------------
# S3


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(monkeypatch, tmp_path):
    """Dummy credentials in the standard variables, and no developer AWS config (restored afterwards)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)


def make_bucket(endpoint: str, name: str, prefix: str = "lincoln-drop") -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    base = f"{prefix}/{DISTRICT}"
    for file_name, data in {**FOLDER_FILES, **IN_PROGRESS}.items():
        s3.put_object(Bucket=name, Key=f"{base}/{NIGHT}/{file_name}", Body=data)
    s3.put_object(Bucket=name, Key=f"{base}/{NIGHT}/nested/ignored.csv", Body=b"x")
    s3.put_object(Bucket=name, Key=f"{base}/{ZIP_NIGHT}.zip", Body=ZIP)
    s3.put_object(Bucket=name, Key=f"other-prefix/{DISTRICT}/{NIGHT}/students.csv", Body=b"wrong")


def s3_district(endpoint: str, bucket: str) -> District:
    return District(id=DISTRICT, delivery={"method": "s3", "bucket": bucket, "prefix": "lincoln-drop",
                                           "endpoint_url": endpoint, "region": "us-east-1"})


def test_s3_fetches_folder_and_zip_exports(moto_endpoint, s3_env, config_dir, tmp_path, monkeypatch):
    make_bucket(moto_endpoint, "exports-a")
    district = s3_district(moto_endpoint, "exports-a")
    dest = tmp_path / "dest"

    result = fetch_export(district, NIGHT, dest, config_dir)
    assert_folder_export(result, dest)  # .part/.tmp skipped, nested/ not fetched, other prefix not read
    assert result.source == f"s3://exports-a/lincoln-drop/{DISTRICT}/ at {moto_endpoint}"

    zipped = fetch_export(district, ZIP_NIGHT, dest, config_dir)
    assert zipped.path == dest / DISTRICT / f"{ZIP_NIGHT}.zip"
    assert sha(zipped.path.read_bytes()) == sha(ZIP)

    # A rerun trusts size + ETag (MD5) and downloads nothing.
    def no_download(*args, **kwargs):
        raise AssertionError("downloaded an unchanged object")

    monkeypatch.setattr(s3_delivery, "_download", no_download)
    again = fetch_export(district, NIGHT, dest, config_dir)
    assert again.downloaded == [] and again.unchanged == result.files


def test_s3_leftover_download_does_not_count_and_is_replaced(moto_endpoint, s3_env, config_dir, tmp_path):
    make_bucket(moto_endpoint, "exports-b")
    district = s3_district(moto_endpoint, "exports-b")
    dest = tmp_path / "dest"
    folder = dest / DISTRICT / NIGHT.isoformat()
    folder.mkdir(parents=True)
    # What an interrupted fetch leaves: a truncated students.csv.download, no students.csv, and a local
    # schools.csv of the right size but other bytes (it must be replaced, not trusted by its size).
    (folder / "students.csv.download").write_bytes(STUDENTS[:7])
    (folder / "gone.csv.download").write_bytes(b"stale")
    (folder / "schools.csv").write_bytes(b"X" * len(SCHOOLS))

    result = fetch_export(district, NIGHT, dest, config_dir)

    assert result.downloaded == sorted(f"{NIGHT}/{n}" for n in FOLDER_FILES)
    assert (folder / "students.csv").read_bytes() == STUDENTS
    assert sha((folder / "schools.csv").read_bytes()) == sha(SCHOOLS)
    assert sorted(p.name for p in folder.iterdir()) == ["schools.csv", "students.csv"]


def test_s3_missing_bucket_is_a_delivery_error(moto_endpoint, s3_env, config_dir, tmp_path):
    district = s3_district(moto_endpoint, "no-such-bucket")
    with pytest.raises(DeliveryError, match="district lincoln: bucket 'no-such-bucket' does not exist at"):
        fetch_export(district, NIGHT, tmp_path / "dest", config_dir)
    assert not (tmp_path / "dest").exists()


def test_s3_credentials_from_named_variables(moto_endpoint, s3_env, config_dir, tmp_path, monkeypatch):
    make_bucket(moto_endpoint, "exports-c")
    district = s3_district(moto_endpoint, "exports-c")
    district.delivery.update(access_key_id_env="T_S3_KEY", secret_access_key_env="T_S3_SECRET")
    with pytest.raises(DeliveryError, match=r"environment variable T_S3_KEY \(delivery.access_key_id_env\)"):
        fetch_export(district, ZIP_NIGHT, tmp_path / "dest", config_dir)

    monkeypatch.setenv("T_S3_KEY", "testing2")
    monkeypatch.setenv("T_S3_SECRET", "testing2")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = fetch_export(district, ZIP_NIGHT, tmp_path / "dest", config_dir)
    assert sha(result.path.read_bytes()) == sha(ZIP)


# ----------------------------------------------------------------------------------------------------
# Folder


def test_folder_copies_the_export_and_skips_files_in_progress(config_dir, tmp_path):
    drop = config_dir / "drop"
    write_drop(drop)
    district = District(id=DISTRICT, delivery={"method": "folder", "path": "drop"})  # relative to config_dir
    dest = tmp_path / "dest"

    result = fetch_export(district, NIGHT, dest, config_dir)
    assert_folder_export(result, dest)
    assert result.downloaded == result.files

    # Changed at the source: copied again; unchanged files are left alone.
    (drop / DISTRICT / NIGHT.isoformat() / "schools.csv").write_bytes(SCHOOLS + b"0102,Jefferson Middle\n")
    again = fetch_export(district, NIGHT, dest, config_dir)
    assert again.downloaded == [f"{NIGHT}/schools.csv"] and again.unchanged == [f"{NIGHT}/students.csv"]
    assert (dest / DISTRICT / NIGHT.isoformat() / "schools.csv").read_bytes().endswith(b"Jefferson Middle\n")


def test_folder_read_in_place_when_the_destination_is_the_drop(config_dir):
    drop = config_dir / "drop"
    write_drop(drop)
    district = District(id=DISTRICT, delivery={"method": "folder", "path": str(drop)})

    result = fetch_export(district, NIGHT, drop, config_dir)
    assert result.path == drop / DISTRICT / NIGHT.isoformat() and result.downloaded == []
    assert result.files == sorted(f"{NIGHT}/{n}" for n in FOLDER_FILES)
    assert (drop / DISTRICT / NIGHT.isoformat() / "contacts.csv.part").exists()  # the drop is not touched


def test_unknown_method_and_missing_folder(config_dir, tmp_path):
    with pytest.raises(DeliveryError, match="district lincoln: unknown delivery method 'ftp'"):
        fetch_export(District(id=DISTRICT, delivery={"method": "ftp"}), NIGHT, tmp_path, config_dir)
    with pytest.raises(DeliveryError, match="district lincoln: the delivery folder .*nowhere does not exist"):
        fetch_export(District(id=DISTRICT, delivery={"method": "folder", "path": "nowhere"}), NIGHT, tmp_path,
                     config_dir)


def test_sftp_never_follows_a_symbolic_link(sftp_server, sftp_env, config_dir, tmp_path):
    """A link in the district's remote folder (to another district's file, or anywhere) is not fetched."""
    night = date(2026, 3, 20)
    folder = sftp_server.root / "exports" / DISTRICT / night.isoformat()
    folder.mkdir(parents=True)
    (folder / "schools.csv").write_bytes(FOLDER_FILES["schools.csv"])
    other = sftp_server.root / "exports" / "other-district.csv"
    other.write_bytes(STUDENTS)
    (folder / "students.csv").symlink_to(other)
    district = sftp_district(sftp_server, config_dir, sftp_server.known_hosts_line())

    result = fetch_export(district, night, tmp_path / "dest", config_dir)
    assert result.files == [f"{night}/schools.csv"]
    assert "symbolic link(s) not followed" in result.message and f"{night}/students.csv" in result.message
    assert not (tmp_path / "dest" / DISTRICT / night.isoformat() / "students.csv").exists()
