"""The districts file (``districts.yml``): which districts to sync and where their exports arrive.

    districts:
      - id: sample
        name: Sample Unified School District
        time_zone: America/Chicago
        delivery: {method: folder, path: sample_drop}

With ``--drop ROOT`` no file is needed: every ``ROOT/<district_id>/`` folder is a district delivered there.

One district's problem never stops another: an entry that cannot be used (a threshold out of range, an id that
is not a plain name, a country that is none ...) is a district refused (``District.refused`` says why), and the
others sync. Only a file that cannot be read at all (missing, not YAML, a secret written in it) is refused whole.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from sis_sync import PROJECT_ROOT
from sis_sync.redact import has_url_credentials


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class District:
    id: str
    name: str = ""
    time_zone: str = "UTC"
    delivery: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    no_delivery: dict = field(default_factory=dict)  # {weekdays: [...], dates: [...]}: nights nothing is expected
    country: str = "US"  # the default country of its phone numbers (ISO 3166)
    export_format: str | None = None  # sis or oneroster when pinned; else each export's manifest says
    refused: str | None = None  # why its entry (or folder) cannot be synced: the other districts still are


def load_districts(config_path: Path | None, drop_root: Path | None) -> list[District]:
    """The districts to sync: from the drop folder when one is given, else from the districts file. A district
    whose entry is not usable is returned refused (``District.refused``); a file that cannot be read raises."""
    if drop_root is not None:
        if not drop_root.is_dir():
            raise ConfigError(f"drop folder {drop_root} does not exist")
        folders = [p for p in sorted(drop_root.iterdir())
                   if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]  # a link is not read
        return [District(id=p.name, name=p.name, delivery={"method": "folder", "path": str(drop_root)},
                         refused=id_problem(drop_root, p.name)) for p in folders]
    path = config_path or PROJECT_ROOT / "districts.yml"
    if not path.exists():
        raise ConfigError(f"no districts file at {path}; pass --drop ROOT or write one (see README)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise ConfigError(f"{path}: not a YAML file{where}") from None
    if not isinstance(data, dict) or not isinstance(data.get("districts") or [], list):
        raise ConfigError(f"{path}: expected a mapping with a list `districts`")
    refuse_literal_secrets(path, data)
    districts = [_district(path, i, raw) for i, raw in enumerate(data.get("districts") or [])]
    ids = [d.id for d in districts]
    return [replace(d, refused=f"{path}: district id {d.id!r} is listed twice") if ids.count(d.id) > 1 else d
            for d in districts]


def _district(path: Path, i: int, raw) -> District:
    """One entry of the districts file: its district, or that district refused (why, naming the key)."""
    if not isinstance(raw, dict) or not raw.get("id"):
        return District(id=f"#{i + 1}", refused=f"{path}: district #{i + 1} has no id")
    district_id = str(raw["id"])
    try:
        check_id(path, district_id)
        return District(
            id=district_id,
            name=str(raw.get("name", district_id)),
            time_zone=str(raw.get("time_zone", "UTC")),
            delivery=dict(raw.get("delivery") or {}),
            thresholds=_thresholds(path, district_id, raw.get("thresholds")),
            no_delivery=_no_delivery(path, district_id, raw.get("no_delivery")),
            country=_country(path, district_id, raw.get("country")),
            export_format=_export_format(path, district_id, raw.get("format")),
        )
    except (ConfigError, TypeError, ValueError) as exc:
        return District(id=district_id, name=district_id, refused=str(exc))


def _export_format(path: Path, district_id: str, value) -> str | None:
    """The district's pinned export format (``format``), or None: each export's manifest says."""
    from sis_sync.ingestion.spec import EXPORT_FORMATS

    if value is None:
        return None
    if value not in EXPORT_FORMATS:
        raise ConfigError(f"{path}: district {district_id}: format must be one of {', '.join(EXPORT_FORMATS)}"
                          f" (found {value!r})")
    return str(value)


# A district id names its folders (the drop root's, the archive's): a plain name, never a path.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_plain_id(district_id: str) -> bool:
    """Letters, digits and ``. _ -``, starting with a letter or digit, never ``..``: the one rule for ids."""
    return bool(_PLAIN_ID.match(district_id)) and ".." not in district_id


def is_secret_key(key) -> bool:
    """A key that would hold a secret (any case, ``-`` or ``_``), unless it names a variable (``*_env``)."""
    name = str(key).lower().replace("-", "_")
    return not name.endswith("_env") and _SECRET_KEY.search(name) is not None

# Keys that would hold a secret, in any spelling (``password``, ``db-passwd``, ``aws_secret_access_key``,
# ``apiKey``, ``auth: {token: ...}``); the ``*_env`` keys that name an environment variable are what to use.
_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?$|^pwd$|secret|token|credential|private.?key|api.?key|access.?key|^key$|^auth$",
    re.IGNORECASE)


def id_problem(path: Path, district_id: str) -> str | None:
    """Why ``district_id`` (from ``path``) cannot name a district, or None when it is a plain name."""
    if is_plain_id(district_id):
        return None
    return (f"{path}: district id {district_id!r} must be a plain name (letters, digits, . _ -): it names the"
            " district's folders, and nothing outside them is read")


def check_id(path: Path, district_id: str) -> None:
    problem = id_problem(path, district_id)
    if problem:
        raise ConfigError(problem)


def refuse_literal_secrets(path: Path, data, where: str = "") -> None:
    """Refuse a districts file holding a secret anywhere: a secret-looking key with a value (other than the
    ``*_env`` keys naming an environment variable), or credentials inside a URL. The message names the key,
    never the value."""
    if isinstance(data, dict):
        for key, value in data.items():
            at = f"{where}.{key}" if where else str(key)
            if value not in (None, "", []) and not isinstance(value, dict) and is_secret_key(key):
                raise ConfigError(f"{path}: {at} holds a secret: credentials never go in the districts file;"
                                  " put the value in an environment variable and name that variable with a"
                                  f" *_env key (e.g. {key}_env)")
            refuse_literal_secrets(path, value, at)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            refuse_literal_secrets(path, value, f"{where}[{i}]")
    elif isinstance(data, str) and has_url_credentials(data):
        raise ConfigError(f"{path}: {where} is a URL with credentials (user-info before @) in it: give the"
                          " user and password through environment variables (*_env keys) instead")


# the keys of a district's `thresholds` (their defaults and meaning: the safety_thresholds var of dbt_project.yml)
SHARES = ("share", "change_share", "cumulative_share", "rollover_share", "rollover_change_share")  # 0..1
DAYS = ("rollover_days", "cumulative_nights", "min_records")  # whole numbers


def _thresholds(path: Path, district_id: str, raw) -> dict:
    """A district's safety thresholds, checked: shares are fractions (0.10 is 10%), days and counts whole
    numbers."""
    if raw is None:
        return {}
    where = f"{path}: district {district_id}: thresholds"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping of {', '.join(SHARES + DAYS)}")
    unknown = sorted(set(raw) - set(SHARES + DAYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(str, unknown))}; expected "
                          f"{', '.join(SHARES + DAYS)}")
    for key, value in raw.items():
        if key in SHARES and (isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1):
            raise ConfigError(f"{where}.{key} must be a share between 0 and 1 (0.10 for 10%), got {value!r}")
        if key in DAYS and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"{where}.{key} must be a whole number, got {value!r}")
    return dict(raw)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _no_delivery(path: Path, district_id: str, raw) -> dict:
    """The nights a district sends nothing (weekdays by name, dates): no export then is not a missed night."""
    if raw is None:
        return {}
    where = f"{path}: district {district_id}: no_delivery"
    if not isinstance(raw, dict) or set(raw) - {"weekdays", "dates"}:
        raise ConfigError(f"{where} must be a mapping of weekdays (e.g. [saturday, sunday]) and dates")
    weekdays = [str(d).lower() for d in raw.get("weekdays") or []]
    unknown = [d for d in weekdays if d not in WEEKDAYS]
    if unknown:
        raise ConfigError(f"{where}.weekdays: {', '.join(unknown)} is not a weekday ({', '.join(WEEKDAYS)})")
    dates = []
    for value in raw.get("dates") or []:
        try:
            dates.append(dt.date.fromisoformat(str(value)).isoformat())
        except ValueError:
            raise ConfigError(f"{where}.dates: {value!r} is not a date (YYYY-MM-DD)") from None
    return {"weekdays": weekdays, "dates": dates}


def _country(path: Path, district_id: str, raw) -> str:
    """The district's default country for phone numbers: an ISO 3166 code libphonenumber knows (default US)."""
    from sis_sync.ingestion.phones import DEFAULT_COUNTRY, is_country

    if raw is None:
        return DEFAULT_COUNTRY
    if not is_country(str(raw)):
        raise ConfigError(f"{path}: district {district_id}: country {raw!r} is not a country code (ISO 3166,"
                          " e.g. US, CA, GB)")
    return str(raw).upper()


def drop_root_for(district: District, config_path: Path | None) -> Path:
    """The local folder holding a folder-delivered district's exports."""
    method = district.delivery.get("method", "folder")
    if method != "folder":
        raise ConfigError(f"district {district.id}: delivery method {method!r} is not supported yet")
    path = Path(district.delivery.get("path", "."))
    if not path.is_absolute():
        base = config_path.parent if config_path else PROJECT_ROOT
        path = base / path
    return path
