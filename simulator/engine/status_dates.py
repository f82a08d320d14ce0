"""Status dates and tier earn rates of the vectorized engine (docs/semantics.md §5, §4.2 step 5).

Takes: the `ProgramArm` (its tiers, metric and status arrays) and the day. Gives:
`StatusDates`, which ends statuses on the day after their last day (`status valid through
01-31 of the year after next`) and records the year a status was earned again, as
`rulelang.run.interpreter` does; and `tier_rate_table`, the per-tier rate of awards per money
(`award 1.2 stars per 1 USD` in a tier) in units of 1/D points per cent.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from rulelang import ir
from simulator.engine.calendar import Calendar

if TYPE_CHECKING:  # pragma: no cover
    from simulator.engine.program_arm import ProgramArm

__all__ = ["StatusDates", "tier_rate_table", "tier_rates"]


def tier_rates(ts: ir.TierSystem | None) -> list[Fraction | None]:
    """Each tier's own rate per cent (None where the tier sets none)."""
    return [Fraction(t.rate) if t.rate is not None else None for t in ts.tiers] if ts else []


def tier_rate_table(ts: ir.TierSystem | None, common_den: int) -> np.ndarray | None:
    """Per tier: its rate × D (an integer, D the plan's common denominator), -1 where the tier
    sets no rate; None when no tier sets one."""
    rates = tier_rates(ts)
    if not any(r is not None for r in rates):
        return None
    return np.array([-1 if r is None else r.numerator * (common_den // r.denominator) for r in rates], dtype=np.int64)


def _last_day(year: int, month_day: tuple[int, int]) -> dt.date:
    month, day = month_day
    if month == 2 and day == 29 and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        day = 28
    return dt.date(year, month, day)


class StatusDates:
    """The qualification year of each customer's status, and the end of statuses."""

    def __init__(self, ts: ir.TierSystem, cal: Calendar, enroll_day: np.ndarray) -> None:
        self.ts = ts
        self.through = ts.status_through or (1, 31)
        years = np.array([cal.date(i).year for i in range(cal.days)], dtype=np.int64)
        self.year = years[np.clip(enroll_day, 0, cal.days - 1)]  # a status starts on the first day

    def end(self, arm: "ProgramArm", day: int, d: dt.date) -> None:
        """Calendar work, step 3: statuses whose last day was yesterday keep their tier when the
        metric as of yesterday still earns it (earned in that year), else drop to the tier it
        earns (`to_qualified`, earned in that year) or one tier (`one_step`, a year longer)."""
        last = d - dt.timedelta(days=1)
        if last != _last_day(last.year, self.through):
            return
        idx = arm.members(day)
        idx = idx[(arm.tier[idx] > 0) & (self.year[idx] == last.year - self.ts.status_years)]
        if idx.size == 0:
            return
        cur = arm.tier[idx]
        qual = arm.qualified(arm.metric[idx])
        keep = qual >= cur
        self.year[idx[keep]] = last.year
        drop = ~keep
        didx = idx[drop]
        if didx.size == 0:
            return
        if self.ts.status_drop == "to_qualified":
            arm.tier[didx] = qual[drop]
            self.year[didx] = last.year
        else:
            arm.tier[didx] = cur[drop] - 1
            self.year[didx] += 1
        arm.tier_since[didx] = day
        arm.grace_start[didx] = -1
        arm.downgraded[didx] = True
        arm.note_downgrade()

    def earned_again(self, idx: np.ndarray, moved: np.ndarray, qual: np.ndarray, tier: np.ndarray,
                     year: int) -> None:
        """Before the upgrade of an event: a metric the event moved that reaches the tier held,
        or any upgrade, earns the status in this year."""
        hit = (moved & (qual == tier)) | (qual > tier)
        self.year[idx[hit]] = year
