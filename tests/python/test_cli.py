"""The installed `sis-sync` command, as a scheduler runs it: sample, nightly, status, spec."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SIS_SYNC = Path(sys.executable).with_name("sis-sync")


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
