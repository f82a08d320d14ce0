"""Calendar arithmetic for the reference interpreter: periods, month steps, expiry dates, review days.

Takes: dates and IR settings (`ir.Expiry`, periods, review frequencies).
Gives: pure functions without state — `add_months`, period keys for caps and
limits, period indices for streaks, the expiry date of one lot under a set of
expiry policies, and which days are review / conversion / per-period days.
The interpreter (`rulelang.run.interpreter`) calls these during the calendar work
that runs at the start of each day (docs/semantics.md §7).
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Hashable, Sequence

from rulelang import ir

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUARTER_START_MONTHS = (1, 4, 7, 10)


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def clamped_date(year: int, month: int, day: int) -> dt.date:
    """The date, with the day clamped to the month's last day (Feb 30 -> Feb 28/29)."""
    return dt.date(year, month, min(day, days_in_month(year, month)))


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day of month `months` later, clamped to the last day of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    return clamped_date(index // 12, index % 12 + 1, day.day)


def month_index(day: dt.date) -> int:
    """Months since year 0: consecutive months have consecutive indices."""
    return day.year * 12 + day.month - 1


def first_of_month_after(day: dt.date) -> dt.date:
    """The first day of the month that follows `day`'s month."""
    index = month_index(day) + 1
    return dt.date(index // 12, index % 12 + 1, 1)


def period_key(period: ir.Period, day: dt.date) -> Hashable:
    """The cap / limit period that `day` belongs to (weeks start on Monday)."""
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    if period == "month":
        return (day.year, day.month)
    if period == "quarter":
        return (day.year, (day.month - 1) // 3)
    if period == "year":
        return day.year
    return "lifetime"


def period_index(period: str, day: dt.date) -> int:
    """Consecutive integers for consecutive days / weeks (Monday-based) / months (streaks)."""
    if period == "day":
        return day.toordinal()
    if period == "week":
        return (day.toordinal() - day.weekday()) // 7
    return month_index(day)


def is_month_start(day: dt.date) -> bool:
    return day.day == 1


def is_quarter_start(day: dt.date) -> bool:
    return day.day == 1 and day.month in QUARTER_START_MONTHS


def is_year_start(day: dt.date) -> bool:
    return day.day == 1 and day.month == 1


def is_period_start(period: str, day: dt.date) -> bool:
    """First day of a month / quarter / year ("monthly" etc. are accepted too)."""
    period = {"monthly": "month", "quarterly": "quarter", "yearly": "year"}.get(period, period)
    if period == "month":
        return is_month_start(day)
    if period == "quarter":
        return is_quarter_start(day)
    if period == "year":
        return is_year_start(day)
    return False


def policy_expiry_date(policy: ir.Expiry, earned_on: dt.date, last_activity: dt.date | None) -> dt.date | None:
    """The day one expiry policy expires a lot earned on `earned_on` (None: this policy never does).

    - after earning N months: earned_on + N months (clamped); `at end of month`:
      the first day after the last day of that month.
    - inactivity N months: last activity + N months (the same day for every lot).
    - fixed date D: D, for lots earned before D (a lot earned on D itself is
      earned after that day's calendar work and survives).
    - yearly MM-DD: the first MM-DD strictly after the earn date (Feb 29 clamps to Feb 28).
    - never: None.
    """
    if policy.kind == "after_earning" and policy.months is not None:
        due = add_months(earned_on, policy.months)
        return first_of_month_after(due) if policy.end_of_month else due
    if policy.kind == "inactivity" and policy.months is not None:
        return add_months(last_activity, policy.months) if last_activity is not None else None
    if policy.kind == "fixed_date" and policy.date is not None:
        return policy.date if earned_on < policy.date else None
    if policy.kind == "yearly" and policy.month_day is not None:
        month, day = policy.month_day
        due = clamped_date(earned_on.year, month, day)
        if due <= earned_on:
            due = clamped_date(earned_on.year + 1, month, day)
        return due
    return None


def lot_expiry_date(
    policies: Sequence[ir.Expiry], earned_on: dt.date, last_activity: dt.date | None
) -> dt.date | None:
    """The earliest date any policy gives, or None when no policy expires the lot."""
    dates = [d for p in policies if (d := policy_expiry_date(p, earned_on, last_activity)) is not None]
    return min(dates) if dates else None


def days_from_birthday(day: dt.date, birthday: tuple[int, int] | None) -> int:
    """Days between `day` and the nearest birthday (previous, this or next year); 366 if unknown."""
    if birthday is None:
        return 366
    month, mday = birthday
    return min(abs((clamped_date(day.year + k, month, mday) - day).days) for k in (-1, 0, 1))


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, ..."""
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
