"""The installed `sis-sync` command, as a scheduler runs it: sample, nightly, status, spec."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

SIS_SYNC = Path(sys.executable).with_name("sis-sync")


def keep_every_other_row(path: Path) -> None:
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *rows[::2]]) + "\n")


def chromium(page: Path, screenshot: Path) -> tuple[str, Path]:
    """The page as headless Chromium renders it (its DOM) and a screenshot of it (1280 wide)."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--window-size=1280,1400"]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(["chromium", *flags, f"--user-data-dir={profile}", f"--screenshot={screenshot}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
    with tempfile.TemporaryDirectory() as profile:
        dom = subprocess.run(["chromium", *flags, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                             check=True, capture_output=True, text=True, timeout=120).stdout
    return dom, screenshot


def sis_sync(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(SIS_SYNC), *args], capture_output=True, text=True, env=env, timeout=600)


def test_sample_nightly_status(fresh_db, tmp_path):
    env = dict(os.environ)
    drop = tmp_path / "drop"
    out = sis_sync("sample", "--out", str(drop), "--students", "80", "--date", "2026-03-16",
                   "--district", "d1", env=env)
    assert out.returncode == 0, out.stderr
    assert (drop / "d1" / "2026-03-16" / "students.csv").exists()

    night = sis_sync("nightly", "--drop", str(drop), "--date", "2026-03-16", env=env)
    assert night.returncode == 0, night.stdout + night.stderr
    assert "d1" in night.stdout and "dbt build: ok" in night.stdout
    assert "dbt build for run date 2026-03-16" in night.stderr, "progress is shown"

    missing = sis_sync("nightly", "--drop", str(drop), "--date", "2026-03-17", env=env)
    assert missing.returncode == 1, "a night without an export needs a person"
    assert "no export for 2026-03-17" in missing.stdout

    status = sis_sync("status", env=env)
    assert status.returncode == 0, status.stderr
    lines = [line.split() for line in status.stdout.splitlines() if line.startswith("d1")]
    assert len(lines) == 18
    assert all(line[3] == "loaded" for line in lines if line[1] == "2026-03-16")
    assert all(line[3] == "missing" and " ".join(line[4:]) == "no export for 2026-03-17"
               for line in lines if line[1] == "2026-03-17"), status.stdout

    assert sis_sync("spec", env=env).returncode == 0
    bad = sis_sync("nightly", "--drop", str(tmp_path / "nowhere"), env=env)
    assert bad.returncode == 2 and "does not exist" in bad.stderr

    # a night with a held file and a rejected one, then the health page, looked at in a real browser
    third = drop / "d1" / "2026-03-18"
    assert sis_sync("sample", "--out", str(drop), "--students", "80", "--date", "2026-03-18", "--district", "d1",
                    env=env).returncode == 0
    keep_every_other_row(third / "contacts.csv")
    staff = (third / "staff.csv").read_text().splitlines()
    header = staff[0].split(",")
    first = staff[1].split(",")
    first[header.index("is_active")] = "maybe"
    (third / "staff.csv").write_text("\n".join([staff[0], ",".join(first), *staff[2:]]) + "\n")
    (third / "manifest.csv").unlink()
    held = sis_sync("nightly", "--drop", str(drop), "--date", "2026-03-18", env=env)
    assert held.returncode == 1, held.stdout + held.stderr
    page = sis_sync("report", "--out", str(tmp_path / "report"), env=env)
    assert page.returncode == 0, page.stderr
    dom, shot = chromium(tmp_path / "report" / "index.html", tmp_path / "report.png")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(shot.read_bytes()[16:20], "big") == 1280
    assert 'id="district-d1"' in dom
    night_status = dict(re.findall(r'<td class="cell status-[a-z_]+" data-night="([0-9-]+)" data-status="([a-z_]+)"',
                                   dom))
    assert night_status == {"2026-03-16": "loaded", "2026-03-17": "missing", "2026-03-18": "rejected"}, night_status
    assert re.search(r'data-file="contacts.csv" data-night="2026-03-18" data-status="held"', dom)
    assert len(re.findall(r'<rect class="bar"', dom)) >= 9, "the chart has a bar per file of the first night"
    assert "sis-sync approve --district d1 --date 2026-03-18" in dom
    rejection = re.search(r'<tr class="rejection"><td>2026-03-18</td><td>staff.csv</td><td>([^<]*)</td>', dom)
    assert rejection and "line 2" in rejection.group(1) and "is_active" in rejection.group(1), dom[-3000:]


def test_version_help_and_exit_codes_a_scheduler_can_act_on(fresh_db, tmp_path):
    env = dict(os.environ)
    version = sis_sync("--version", env=env)
    assert version.returncode == 0 and version.stdout.startswith("sis-sync, version "), version.stdout
    short = sis_sync("-h", env=env)
    assert short.returncode == 0 and "Exit codes" in short.stdout and "75" in short.stdout

    shown = sis_sync("env", env={**env, "PGPASSWORD": "s3cret-value"})
    assert shown.returncode == 0, shown.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in shown.stdout.splitlines()
                   if line.startswith("export "))
    assert exports["PGDATABASE"] == fresh_db.database and exports["PGPORT"] == str(fresh_db.port)
    assert "s3cret-value" not in shown.stdout + shown.stderr, "never a password"

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = sis_sync("status", env={**env, "PGPORT": str(closed)})
    assert down.returncode == 4, down.stdout + down.stderr
    assert down.stderr.startswith("error: the warehouse is unreachable or misconfigured") and \
        "Traceback" not in down.stderr, down.stderr
    assert sis_sync("-v", "status", env={**env, "PGPORT": str(closed)}).stderr.count("Traceback") == 1
