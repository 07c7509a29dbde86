"""What the Python side knows of the dbt project, read from the project itself: one definition each."""

from __future__ import annotations

from sis_sync import PROJECT_ROOT

MARTS_DIR = PROJECT_ROOT / "models" / "marts"
HISTORY_SUFFIX = "_history"  # the history marts: built night by night, never rebuilt (see README, History)


def mart_names(*, history: bool = True) -> tuple[str, ...]:
    """The marts (``models/marts/*.sql``), sorted: dimensions, facts, the overview, the sync marts. Without
    ``history``, the history marts are left out: a full refresh leaves them alone and a restore starts them
    again, so they are not compared with a rebuild."""
    names = sorted(path.stem for path in MARTS_DIR.glob("*.sql"))
    return tuple(n for n in names if history or not n.endswith(HISTORY_SUFFIX))
