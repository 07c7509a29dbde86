"""The school calendars the synthetic SIS follows (exact rules: see ``sis_sync.sample``'s docstring).

A calendar depends only on the district id and the school year, never on the seed or the size.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

# The one district id with the late (after Labor Day) calendar; every other id gets the default one.
NORTH = "north"

MIN_SCHOOL_YEAR = 2001
MAX_SCHOOL_YEAR = 2099

_MON, _TUE, _WED, _THU, _FRI = 0, 1, 2, 3, 4


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based) ``weekday`` of a month."""
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    out = []
    d = start
    while d <= end:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


@dataclass(frozen=True)
class SchoolCalendar:
    """One district's calendar for one school year (``school_year`` is the spring year).

    The SIS holds ``school_year`` from the day after ``rollover_date`` of the previous year up to and
    including this ``rollover_date``; the day after, it is rolled over to ``school_year + 1``.
    """

    district_id: str
    school_year: int
    first_day: dt.date
    last_day: dt.date
    rollover_date: dt.date

    @cached_property
    def holidays(self) -> frozenset[dt.date]:
        """Weekdays without school between first_day and last_day."""
        fall, spring = self.school_year - 1, self.school_year
        days = {
            _nth_weekday(fall, 9, _MON, 1),  # Labor Day
            self.mlk_day,
            _nth_weekday(spring, 2, _MON, 3),  # Presidents' Day
            _last_weekday(spring, 5, _MON),  # Memorial Day
        }
        thanksgiving = _nth_weekday(fall, 11, _THU, 4)
        days.update({thanksgiving, thanksgiving + dt.timedelta(days=1)})
        days.update(_weekdays(dt.date(fall, 12, 22), dt.date(spring, 1, 2)))  # winter break
        spring_break = _last_weekday(spring, 3, _MON)
        days.update(_weekdays(spring_break, spring_break + dt.timedelta(days=4)))
        return frozenset(d for d in days if self.first_day <= d <= self.last_day)

    @property
    def mlk_day(self) -> dt.date:
        return _nth_weekday(self.school_year, 1, _MON, 3)

    @cached_property
    def school_days(self) -> tuple[dt.date, ...]:
        """Every day with school, in order (weekdays from first_day to last_day minus holidays)."""
        holidays = self.holidays
        return tuple(d for d in _weekdays(self.first_day, self.last_day) if d not in holidays)

    @cached_property
    def _day_index(self) -> dict[dt.date, int]:
        return {d: i for i, d in enumerate(self.school_days)}

    def is_school_day(self, day: dt.date) -> bool:
        return day in self._day_index

    def school_day_index(self, day: dt.date) -> int:
        """Number of school days strictly before ``day`` (the index ``day`` has or would have)."""
        lo, hi = 0, len(self.school_days)
        days = self.school_days
        while lo < hi:
            mid = (lo + hi) // 2
            if days[mid] < day:
                lo = mid + 1
            else:
                hi = mid
        return lo

    @property
    def s2_start(self) -> dt.date:
        """First day of semester 2: the first school day after Martin Luther King Jr. Day."""
        return self.school_days[self.school_day_index(self.mlk_day + dt.timedelta(days=1))]

    @property
    def s1_end(self) -> dt.date:
        """Last day of semester 1: the last school day before ``s2_start``."""
        return self.school_days[self.school_day_index(self.s2_start) - 1]

    @property
    def terms(self) -> dict[str, tuple[dt.date, dt.date]]:
        return {
            "YR": (self.first_day, self.last_day),
            "S1": (self.first_day, self.s1_end),
            "S2": (self.s2_start, self.last_day),
        }

    @property
    def summer_change_date(self) -> dt.date:
        """July 8 of the school year: the SIS, still on this year, gets a late schedule correction."""
        return dt.date(self.school_year, 7, 8)

    def contains_export_date(self, day: dt.date) -> bool:
        """Whether the SIS holds this school year on ``day``."""
        return sis_school_year(self.district_id, day) == self.school_year


def sample_calendar(district_id: str, school_year: int) -> SchoolCalendar:
    """The calendar of the synthetic SIS for one district and school year (spring year)."""
    if not MIN_SCHOOL_YEAR <= school_year <= MAX_SCHOOL_YEAR:
        raise ValueError(f"school_year {school_year} is outside {MIN_SCHOOL_YEAR}..{MAX_SCHOOL_YEAR}")
    fall, spring = school_year - 1, school_year
    if district_id == NORTH:
        first_day = _nth_weekday(fall, 9, _MON, 1) + dt.timedelta(days=1)  # Tuesday after Labor Day
        last_day = _nth_weekday(spring, 6, _FRI, 3)
        rollover = dt.date(spring, 8, 5)
    else:
        first_day = _nth_weekday(fall, 8, _WED, 3)
        last_day = _nth_weekday(spring, 6, _FRI, 1)
        rollover = dt.date(spring, 7, 20)
    return SchoolCalendar(district_id, school_year, first_day, last_day, rollover)


def rollover_date(district_id: str, school_year: int) -> dt.date:
    """The day the SIS is rolled over from ``school_year`` to ``school_year + 1`` (its last day on it)."""
    return dt.date(school_year, 8, 5) if district_id == NORTH else dt.date(school_year, 7, 20)


def sis_school_year(district_id: str, day: dt.date) -> int:
    """The school year the SIS holds on ``day``: Y with rollover_date(Y-1) < day <= rollover_date(Y)."""
    return day.year if day <= rollover_date(district_id, day.year) else day.year + 1
