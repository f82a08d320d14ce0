"""Vouchers with a life in the vectorized engine: issued by conversion, used, expired.

Takes: the program's `ir.Conversion` (its `valid` set), the run's `Calendar` and the chunk's
customer count. Gives: `VoucherBook`, per customer the count of vouchers of each conversion
day of the run (a (customers, conversion days) int32 table: every voucher of one conversion
day ends on the same day, so the oldest batch is the one that expires first), with `issue`,
`expire` (the calendar work of a day, before its events) and `use` (the voucher that
expires first), and the per-customer totals issued / used / expired / outstanding. The same
semantics as `rulelang.run.vouchers` (docs/semantics.md §8); the cost of a used voucher
(its face value) is added by the caller to the arm's voucher cents.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from rulelang import ir
from simulator.engine.calendar import Calendar, add_months

__all__ = ["VoucherBook", "voucher_end"]


def voucher_end(conv: ir.Conversion, issued: dt.date) -> dt.date:
    """The first day a voucher issued on `issued` is no longer valid (rulelang.run.vouchers)."""
    if conv.valid_unit == "days":
        return issued + dt.timedelta(days=conv.valid or 0)
    return add_months(issued, conv.valid or 0)


class VoucherBook:
    def __init__(self, conv: ir.Conversion, cal: Calendar, n: int):
        self.conv = conv
        days = [d for d in range(cal.days) if conv.runs_on(cal.date(d))]
        self.batch_of_day = {d: k for k, d in enumerate(days)}
        # the day (of the run) each batch expires on; beyond the run: never within it
        ends = [(voucher_end(conv, cal.date(d)) - cal.start).days for d in days]
        self.expires_on: dict[int, list[int]] = {}
        for k, e in enumerate(ends):
            self.expires_on.setdefault(e, []).append(k)
        self.count = np.zeros((n, max(len(days), 1)), dtype=np.int32)
        z = lambda: np.zeros(n, dtype=np.int64)  # noqa: E731
        self.issued, self.used, self.expired, self.held = z(), z(), z(), z()

    def issue(self, day: int, idx: np.ndarray, vouchers: np.ndarray) -> None:
        k = self.batch_of_day[day]
        self.count[idx, k] += vouchers.astype(np.int32)
        self.issued[idx] += vouchers
        self.held[idx] += vouchers

    def expire(self, day: int) -> None:
        for k in self.expires_on.get(day, ()):
            col = self.count[:, k]
            has = np.flatnonzero(col)
            if has.size:
                gone = col[has].astype(np.int64)
                self.expired[has] += gone
                self.held[has] -= gone
                col[has] = 0

    def holders(self, idx: np.ndarray) -> np.ndarray:
        return idx[self.held[idx] > 0]

    def use(self, idx: np.ndarray) -> None:
        """Each customer of `idx` (all holders, distinct) spends the voucher that expires first."""
        if idx.size == 0:
            return
        k = np.argmax(self.count[idx] > 0, axis=1)
        self.count[idx, k] -= 1
        self.used[idx] += 1
        self.held[idx] -= 1
