"""The demo's calendar: local days, their trading weight (seasons, weekdays, holidays) and times of day.

Purchases follow a non-homogeneous Poisson process: a customer's rate is scaled by the day's weight,
so December peaks, the July summer sale and Black Friday show in the data while each customer's true
yearly rate stays the parameter the analytics should recover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from ravingfans.demo.draws import Draws, cumulate

MONTH_WEIGHT = {1: 0.75, 2: 0.72, 3: 0.9, 4: 1.0, 5: 1.0, 6: 1.05, 7: 1.35, 8: 1.1, 9: 0.9, 10: 0.95,
                11: 1.2, 12: 1.75}
WEEKDAY_WEIGHT = (0.75, 0.8, 0.9, 1.0, 1.2, 1.6, 0.85)  # Monday .. Sunday
GROWTH_PER_YEAR = 0.08

# Hour-of-day weights (local time) by channel; index = hour.
_STORE_HOURS = cumulate([0] * 10 + [1, 2, 3, 3, 2, 2, 3, 3, 2] + [0] * 5)
_SUNDAY_HOURS = cumulate([0] * 11 + [2, 3, 3, 2, 2, 2] + [0] * 7)
_OFFICE_HOURS = cumulate([0] * 9 + [2, 3, 3, 2, 3, 3, 3, 2, 1] + [0] * 6)
_WEB_HOURS = cumulate([2, 1, 1, 1, 1, 1, 2, 3, 4, 5, 5, 5, 6, 6, 5, 5, 5, 6, 7, 8, 9, 9, 7, 4])


def thanksgiving(year: int) -> date:
    """The fourth Thursday of November."""
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)


@dataclass
class Timeline:
    """Days from ``start`` to ``end`` (inclusive) in the store's time zone, with trading weights."""

    start: date
    end: date
    zone: ZoneInfo
    midnight: list[int]  # epoch seconds of each local midnight; one more than there are days
    weight: np.ndarray  # per day, mean 1
    cum: np.ndarray  # running sum of weight, starting at 0 (length days + 1)

    @property
    def days(self) -> int:
        """Number of days in the window."""
        return len(self.weight)

    @property
    def now(self) -> datetime:
        """The demo's reference "now": midnight after the last day, in UTC."""
        return datetime.fromtimestamp(self.midnight[-1], UTC)

    def day_date(self, day: int) -> date:
        """The calendar date of day index ``day``."""
        return self.start + timedelta(days=day)

    def day_of(self, operational: np.ndarray) -> np.ndarray:
        """Day indexes of points on the operational (weighted-day) time axis."""
        return np.minimum(np.searchsorted(self.cum, operational, side="right") - 1, self.days - 1)

    def epoch(self, day: int, seconds: int) -> int:
        """Epoch seconds of ``seconds`` after local midnight of ``day``."""
        return self.midnight[day] + seconds

    def time_of_day(self, draws: Draws, day: int, channel: str) -> int:
        """Seconds after midnight at which a contact on ``channel`` happens (opening hours for the store)."""
        if channel == "web":
            hours = _WEB_HOURS
        elif channel in ("store", "other"):
            hours = _SUNDAY_HOURS if (self.start + timedelta(days=day)).weekday() == 6 else _STORE_HOURS
        else:
            hours = _OFFICE_HOURS
        return draws.weighted(hours) * 3600 + draws.below(3600)

    def closed(self, day: int) -> bool:
        """Whether the store is closed that day (web orders still come in)."""
        d = self.start + timedelta(days=day)
        return (d.month, d.day) in ((12, 25), (1, 1)) or d == thanksgiving(d.year)


def build_timeline(end: date, years: int, zone_name: str) -> Timeline:
    """The window of ``years`` years ending on ``end`` with its seasonal day weights."""
    zone = ZoneInfo(zone_name)
    try:
        start = end.replace(year=end.year - years) + timedelta(days=1)
    except ValueError:  # 29 February
        start = (end - timedelta(days=1)).replace(year=end.year - years) + timedelta(days=2)
    n = (end - start).days + 1
    midnight = [int(datetime.combine(start + timedelta(days=d), time(0), zone).timestamp()) for d in range(n + 1)]
    weight = np.empty(n)
    for d in range(n):
        day = start + timedelta(days=d)
        w = MONTH_WEIGHT[day.month] * WEEKDAY_WEIGHT[day.weekday()] * (1 + GROWTH_PER_YEAR * d / 365)
        if day.month == 12 and 15 <= day.day <= 23:
            w *= 1.3
        elif (day.month, day.day) == (12, 24):
            w *= 0.8
        elif (day.month, day.day) == (12, 25):
            w *= 0.05
        elif (day.month, day.day) == (1, 1):
            w *= 0.3
        elif (day.month, day.day) == (7, 4):
            w *= 0.6
        if day.month == 11:
            tg = thanksgiving(day.year)
            if day == tg:
                w *= 0.2
            elif day == tg + timedelta(days=1):
                w *= 2.5
            elif tg + timedelta(days=2) <= day <= tg + timedelta(days=4):
                w *= 1.4
        weight[d] = w
    weight /= weight.mean()
    cum = np.concatenate(([0.0], np.cumsum(weight)))
    return Timeline(start=start, end=end, zone=zone, midnight=midnight, weight=weight, cum=cum)
