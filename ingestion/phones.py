"""Phone numbers in E.164, read by libphonenumber (the ``phonenumbers`` package) with each district's default
country (``country`` in districts.yml, default US).

``raw_sis.phone_numbers`` maps a delivered value, read in a country, to its E.164 form (null when it cannot be a
phone number there). Ingestion adds the values of tonight's loads it has not read yet (about 1% of a night's
records change, so a few values a night); staging joins the map. The raw tables keep the values as delivered.
"""

from __future__ import annotations

import phonenumbers
from psycopg2.extras import execute_values

from sis_sync.ingestion.ledger import RAW_SCHEMA
from sis_sync.ingestion.safety import SETTINGS_TABLE
from sis_sync.ingestion.spec import ExportSpec, FileSpec, raw_spec

PHONES_TABLE = f"{RAW_SCHEMA}.phone_numbers"
DEFAULT_COUNTRY = "US"

PHONES_DDL = f"""
create table if not exists {PHONES_TABLE} (
    country text not null,
    phone text not null,
    e164 text,
    recorded_at timestamptz not null default now(),
    primary key (country, phone)
);
"""


def e164(value: str | None, country: str = DEFAULT_COUNTRY) -> str | None:
    """``value`` in E.164 (``+15552017788``), read as a number of ``country`` unless it starts with ``+``; an
    extension is dropped. None when it cannot be a phone number (libphonenumber's length rules)."""
    if value is None or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_country(code: str) -> bool:
    """An ISO 3166 country code libphonenumber knows (``US``, ``GB``, ``CA`` ...)."""
    return str(code).upper() in phonenumbers.SUPPORTED_REGIONS


def _values_sql(spec: FileSpec, *, loads: bool, district: bool, settings: bool) -> str:
    """The distinct (country, value) pairs of a raw table's phone columns that the map does not have yet
    (``settings``: the districts' settings table exists, else every district reads in the default country)."""
    columns = ", ".join(spec.phone_columns)
    countries = (f"left join {SETTINGS_TABLE} as settings on raw._district_id = settings.district_id" if settings
                 else "cross join (select null::text as country) as settings")
    where = []
    if loads:
        where.append("raw._load_id = any(%(loads)s)")
    if district:
        where.append("raw._district_id = %(district)s")
    return f"""
        select distinct coalesce(settings.country, '{DEFAULT_COUNTRY}'), value
        from {RAW_SCHEMA}.{spec.name} as raw
        {countries}
        cross join lateral unnest(array[{columns}]) as value
        where value is not null {''.join(' and ' + w for w in where)}
            and not exists (
                select 1 from {PHONES_TABLE} as known
                where known.country = coalesce(settings.country, '{DEFAULT_COUNTRY}') and known.phone = value)
    """


def read_new_numbers(cur, *, district_id: str | None = None, load_ids: list[str] | None = None,
                     spec: ExportSpec | None = None) -> int:
    """Read into the map the phone values it lacks: of the loads ``load_ids`` (tonight's), else of everything
    landed (of ``district_id`` when given). Returns the number of values read."""
    spec = spec or raw_spec()
    cur.execute(f"select to_regclass('{SETTINGS_TABLE}') is not null")
    settings = cur.fetchone()[0]
    pairs: set[tuple[str, str]] = set()
    for file_spec in spec.files:
        if not file_spec.phone_columns:
            continue
        cur.execute(_values_sql(file_spec, loads=load_ids is not None, district=district_id is not None,
                                settings=settings),
                    {"loads": load_ids, "district": district_id})
        pairs.update(cur.fetchall())
    rows = [(country, value, e164(value, country)) for country, value in sorted(pairs)]
    execute_values(cur, f"insert into {PHONES_TABLE} (country, phone, e164) values %s on conflict do nothing",
                   rows, page_size=10_000)
    return len(rows)
