"""The installed `sis-sync` command, as a scheduler runs it: sample, nightly, status, spec."""

from __future__ import annotations

import os
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
    assert missing.returncode == 1, "a night without an export is reported as a failure"
    assert "no export for 2026-03-17" in missing.stdout

    status = sis_sync("status", env=env)
    assert status.returncode == 0, status.stderr
    lines = [line for line in status.stdout.splitlines() if line.startswith("d1")]
    assert len(lines) == 9 and all("loaded" in line for line in lines)

    assert sis_sync("spec", env=env).returncode == 0
    bad = sis_sync("nightly", "--drop", str(tmp_path / "nowhere"), env=env)
    assert bad.returncode == 2 and "does not exist" in bad.stderr
