"""Calendar arithmetic on day indices for the vectorized engine.

Takes: a start date and a horizon in days. Gives: `Calendar`, which maps day
indices (0 = start date) to dates, weekdays, month indices and period ids, plus
`add_months` with the clamping rule of docs/semantics.md §6 (same day of month,
clamped to the month's last day). Everything here is scalar Python or small
precomputed numpy tables; nothing depends on the number of customers.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
from dataclasses import dataclass, field

import numpy as np


def add_months(d: dt.date, months: int) -> dt.date:
    """`d` plus `months` calendar months, clamped to the last day of the target month."""
    m0 = d.year * 12 + (d.month - 1) + months
    year, month = divmod(m0, 12)
    month += 1
    last = _cal.monthrange(year, month)[1]
    return dt.date(year, month, min(d.day, last))


def month_index(d: dt.date) -> int:
    """Months since year 0: comparable and subtractable."""
    return d.year * 12 + (d.month - 1)


def first_of_month(mi: int) -> dt.date:
    year, month = divmod(mi, 12)
    return dt.date(year, month + 1, 1)


def period_id(d: dt.date, period: str) -> int:
    """An integer naming the cap/limit period that contains `d` (weeks start on Monday)."""
    if period == "day":
        return d.toordinal()
    if period == "week":
        return (d.toordinal() - d.weekday())
    if period == "month":
        return month_index(d)
    if period == "quarter":
        return d.year * 4 + (d.month - 1) // 3
    if period == "year":
        return d.year
    return 0  # lifetime


@dataclass(frozen=True)
class Calendar:
    """Days 0..days-1 starting at `start`; tables indexed by day."""

    start: dt.date
    days: int
    dates: tuple[dt.date, ...] = field(repr=False)

    @staticmethod
    def make(start: dt.date, days: int) -> "Calendar":
        dates = tuple(start + dt.timedelta(days=i) for i in range(days))
        return Calendar(start, days, dates)

    def date(self, day: int) -> dt.date:
        if 0 <= day < self.days:
            return self.dates[day]
        return self.start + dt.timedelta(days=day)

    def day_of(self, d: dt.date) -> int:
        return (d - self.start).days

    @property
    def end(self) -> dt.date:
        """The last simulated date."""
        return self.date(self.days - 1)

    def month_of_day(self) -> np.ndarray:
        """Month number (0 = the start month) of each day."""
        m0 = month_index(self.start)
        return np.array([month_index(d) - m0 for d in self.dates], dtype=np.int32)

    @property
    def months(self) -> int:
        return month_index(self.end) - month_index(self.start) + 1

    def month_labels(self) -> list[str]:
        """"YYYY-MM" of each simulated month, from the start month."""
        m0 = month_index(self.start)
        return [f"{d.year:04d}-{d.month:02d}" for d in (first_of_month(m0 + m) for m in range(self.months))]


def months_between(start: dt.date, months: int) -> int:
    """Number of days from `start` to `start + months` months."""
    return (add_months(start, months) - start).days
