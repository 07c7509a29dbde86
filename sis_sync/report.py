"""The sync-health page (``sis-sync report --out DIR``): one static HTML file, no server and no script.

Per district, from the marts (``sync_history``, ``sync_holds``): the last nights as a timeline of each
file's status, the records each night changed per file as a chart, the holds waiting for approval with the
command that releases them, the rejections with their file, line and column, and the season of each night.
Ids, counts and messages only: the messages never carry a personal-data value (the validator's rule).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path

from sis_sync.marts import Marts

# worst first: a night's status is the worst of its files'
STATUSES = ("failed", "rejected", "calendar_invalid", "held", "incomplete", "missing", "awaiting_rollover",
            "paused", "loaded", "unchanged")
COLOURS = {
    "failed": "#7f1d1d", "rejected": "#dc2626", "calendar_invalid": "#be123c", "held": "#ea580c",
    "incomplete": "#d97706",
    "missing": "#6b7280", "awaiting_rollover": "#a78bfa", "paused": "#93c5fd", "loaded": "#16a34a",
    "unchanged": "#86efac",
}
FILE_COLOURS = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
                "#4b5563")


@dataclass
class DistrictHealth:
    district_id: str
    nights: list[dt.date] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    status: dict[tuple[dt.date, str], tuple[str, str]] = field(default_factory=dict)  # -> (status, reason)
    changed: dict[tuple[dt.date, str], int] = field(default_factory=dict)  # records added+changed+retired
    season: dict[dt.date, str] = field(default_factory=dict)
    holds: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (night, file, message)
    rejections: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (night, file, reason)

    def night_status(self, night: dt.date) -> str:
        found = [self.status[(night, f)][0] for f in self.files if (night, f) in self.status]
        return min(found, key=STATUSES.index) if found else "none"


def recent_history(marts: Marts, nights: int) -> list[tuple]:
    """Each district's last ``nights`` nights of ``marts.sync_history`` (empty before the first build):
    (district_id, night, file_name, status, reason, season, added, changed, retired), newest night first."""
    if not marts.exists("marts.sync_history"):
        return []
    return marts.rows(
        f"""
        with recent as (
            select district_id, export_date,
                   dense_rank() over (partition by district_id order by export_date desc) as night_rank
            from (select distinct district_id, export_date from marts.sync_history) as nights
        )
        select h.district_id, h.export_date, h.file_name, h.sync_status, coalesce(h.reason, ''),
               coalesce(h.season, ''), h.rows_added, h.rows_changed, h.rows_retired
        from marts.sync_history as h
        inner join recent using (district_id, export_date)
        where recent.night_rank <= {int(nights)}
        order by h.district_id, h.export_date desc, h.file_name
        """
    )


def read_health(marts: Marts, nights: int = 30) -> list[DistrictHealth]:
    """Each district's last ``nights`` nights (up to its newest in sync_history) and its open holds."""
    out: dict[str, DistrictHealth] = {}
    rows = recent_history(marts, nights)
    for district_id, night, file_name, status, reason, season, added, changed, retired in rows:
        changed = (added or 0) + (changed or 0) + (retired or 0)
        d = out.setdefault(district_id, DistrictHealth(district_id))
        if night not in d.nights:
            d.nights.append(night)
        if file_name not in d.files:
            d.files.append(file_name)
        d.status[(night, file_name)] = (status, reason)
        d.changed[(night, file_name)] = changed
        if season:
            d.season[night] = season
        if status == "rejected":
            d.rejections.append((night, file_name, reason))
    if marts.exists("marts.sync_holds"):
        for district_id, night, file_name, message in marts.rows(
            """
            select district_id, export_date, file_name, message from (
                select
                    district_id,
                    export_date,
                    file_name,
                    message,
                    row_number() over (
                        partition by district_id, file_name order by export_date desc, hold_rank
                    ) as nth
                from marts.sync_holds
                where is_held
            ) as newest
            where nth = 1
            order by district_id, file_name
            """
        ):
            out.setdefault(district_id, DistrictHealth(district_id)).holds.append((night, file_name, message))
    for d in out.values():
        d.files.sort()
        d.nights.sort()
    return [out[k] for k in sorted(out)]


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _timeline(d: DistrictHealth) -> str:
    head = "".join(f'<th class="night" title="{_e(n)}">{n:%m-%d}</th>' for n in d.nights)
    seasons = "".join(f'<td class="season season-{_e(d.season.get(n, "unknown"))}"'
                      f' title="{_e(d.season.get(n, "unknown"))}"></td>' for n in d.nights)
    overall = "".join(
        f'<td class="cell status-{_e(d.night_status(n))}" data-night="{n}" data-status="{_e(d.night_status(n))}"'
        f' title="{_e(n)}: {_e(d.night_status(n))}"></td>' for n in d.nights)
    rows = [f'<tr><th>season</th>{seasons}</tr>', f'<tr class="overall"><th>night</th>{overall}</tr>']
    for f in d.files:
        cells = []
        for n in d.nights:
            status, reason = d.status.get((n, f), ("none", ""))
            cells.append(f'<td class="cell status-{_e(status)}" data-file="{_e(f)}" data-night="{n}"'
                         f' data-status="{_e(status)}" title="{_e(f)} {_e(n)}: {_e(status)} {_e(reason)}"></td>')
        rows.append(f"<tr><th>{_e(f)}</th>{''.join(cells)}</tr>")
    return f'<table class="timeline"><tr><th></th>{head}</tr>{"".join(rows)}</table>'


def _chart(d: DistrictHealth) -> str:
    """Stacked bars: per night, the records each file added, changed or retired (a square-root scale, so a
    first night of thousands and a night of a few changes both show)."""
    width, height, left, bottom = 760, 180, 48, 24
    totals = [sum(d.changed.get((n, f), 0) for f in d.files) for n in d.nights]
    top = max(totals or [0]) or 1
    step = min(40.0, (width - left) / max(len(d.nights), 1))
    bars = []
    for i, night in enumerate(d.nights):
        y = height - bottom
        for j, f in enumerate(d.files):
            count = d.changed.get((night, f), 0)
            if not count:
                continue
            below = sum(d.changed.get((night, g), 0) for g in d.files[:j])
            scale = (height - bottom - 8) / top ** 0.5
            h = ((below + count) ** 0.5 - below ** 0.5) * scale
            y -= h
            bars.append(f'<rect class="bar" data-file="{_e(f)}" data-night="{night}" data-records="{count}"'
                        f' x="{left + i * step + 2:.1f}" y="{y:.1f}" width="{max(step - 4, 1):.1f}"'
                        f' height="{max(h, 0.5):.1f}" fill="{FILE_COLOURS[j % len(FILE_COLOURS)]}">'
                        f"<title>{_e(f)} {night}: {count:,} records</title></rect>")
        if i % max(1, len(d.nights) // 10) == 0:
            bars.append(f'<text x="{left + i * step + step / 2:.1f}" y="{height - 6}" text-anchor="middle"'
                        f' class="axis">{night:%m-%d}</text>')
    bars.append(f'<text x="4" y="14" class="axis">{top:,}</text>'
                f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" stroke="#999"/>')
    legend = "".join(f'<span class="key"><i style="background:{FILE_COLOURS[j % len(FILE_COLOURS)]}"></i>'
                     f"{_e(f)}</span>" for j, f in enumerate(d.files))
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
            f' role="img" aria-label="records changed per night and file">{"".join(bars)}</svg>'
            f'<div class="legend">{legend}</div>')


def _holds(d: DistrictHealth) -> str:
    if not d.holds:
        return '<p class="none">No night is waiting for approval.</p>'
    items = "".join(
        f'<li class="hold"><b>{_e(f)}</b> since {night}: {_e(message.split("; release with")[0])}<br>'
        f"<code>sis-sync approve --district {_e(d.district_id)} --date {night}</code></li>"
        for night, f, message in d.holds)
    return f'<ul class="holds">{items}</ul>'


def _rejections(d: DistrictHealth) -> str:
    if not d.rejections:
        return '<p class="none">No file was rejected in these nights.</p>'
    rows = "".join(f'<tr class="rejection"><td>{night}</td><td>{_e(f)}</td><td>{_e(reason)}</td></tr>'
                   for night, f, reason in d.rejections)
    return f'<table class="rejections"><tr><th>night</th><th>file</th><th>why</th></tr>{rows}</table>'


CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #111; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 14px; margin: 16px 0 6px; }
table.timeline { border-collapse: separate; border-spacing: 2px; }
table.timeline th { font-weight: normal; text-align: right; padding-right: 6px; font-size: 12px; }
table.timeline th.night { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; }
td.cell { width: 18px; height: 16px; border-radius: 3px; } td.season { height: 6px; }
td.season-summer_pause { background: #fde68a; } td.season-in_session { background: #e5e7eb; }
tr.overall td.cell { height: 22px; }
.legend, .statuses { margin: 6px 0; font-size: 12px; }
.key { margin-right: 12px; white-space: nowrap; }
.key i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }
text.axis { font-size: 10px; fill: #555; }
code { background: #f3f4f6; padding: 1px 4px; border-radius: 3px; }
table.rejections td { padding: 2px 8px; vertical-align: top; } .none { color: #555; }
""" + "".join(f"td.status-{s} {{ background: {c}; }}\n" for s, c in COLOURS.items()) + \
    "td.status-none { background: #f9fafb; }\n"


def render(districts: list[DistrictHealth], generated: dt.datetime, where: str) -> str:
    statuses = "".join(f'<span class="key"><i style="background:{c}"></i>{s}</span>' for s, c in COLOURS.items())
    body = [f"<h1>Sync health</h1><p>{_e(where)}; generated {generated:%Y-%m-%d %H:%M}.</p>",
            f'<div class="statuses">{statuses}</div>']
    if not districts:
        body.append('<p class="none">No night has been synced yet.</p>')
    for d in districts:
        last = d.nights[-1] if d.nights else None
        body.append(
            f'<section class="district" id="district-{_e(d.district_id)}"><h2>{_e(d.district_id)}</h2>'
            f"<p>Last night: {last} ({_e(d.night_status(last)) if last else 'none'}),"
            f" {_e(d.season.get(last, 'unknown')) if last else ''}.</p>"
            f"<h3>The last {len(d.nights)} nights</h3>{_timeline(d)}"
            f"<h3>Records changed per night</h3>{_chart(d)}"
            f"<h3>Waiting for approval</h3>{_holds(d)}"
            f"<h3>Rejected files</h3>{_rejections(d)}</section>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sis-sync: sync health</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


def write_report(marts: Marts, out_dir: Path, where: str, nights: int = 30) -> Path:
    """Write ``out_dir/index.html``; returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    page = out_dir / "index.html"
    page.write_text(render(read_health(marts, nights), dt.datetime.now(), where), encoding="utf-8")
    return page
