"""Editing a delivered export file in a test: the one way the tests rewrite a CSV file of a night."""

from __future__ import annotations

import csv
from pathlib import Path


def rewrite_csv(path: Path, change) -> None:
    """Rewrite a night's CSV file with ``change(header, rows) -> (header, rows)`` (rows as lists of text), and
    drop the night's manifest (its sha256 would no longer match)."""
    with path.open(newline="", encoding="utf-8") as f:
        header, *rows = list(csv.reader(f))
    header, rows = change(header, rows)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows([header, *rows])
    (path.parent / "manifest.csv").unlink(missing_ok=True)
