"""The vouchers with a life one customer holds: issued by a conversion, used, expired.

Takes: an `ir.Conversion` whose `valid` is set. Gives: `Wallet`, the customer's vouchers as
batches (issue day, first day no longer valid, count), with `issue`, `expire` (on the day a
batch's validity ends, before that day's events) and `use` (the voucher that expires first),
and its counts. Every voucher has the conversion's face value; its cost is booked when it
is used (docs/semantics.md §8). Identity: issued = used + expired + outstanding.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rulelang import ir
from rulelang.run.calendar import add_months

__all__ = ["Wallet", "voucher_end"]


def voucher_end(conv: ir.Conversion, issued: dt.date) -> dt.date:
    """The first day a voucher issued on `issued` is no longer valid (it expires that day)."""
    if conv.valid_unit == "days":
        return issued + dt.timedelta(days=conv.valid or 0)
    return add_months(issued, conv.valid or 0)


@dataclass
class Wallet:
    conv: ir.Conversion
    batches: list[list] = field(default_factory=list)  # [issued, ends, count], oldest first
    issued: int = 0
    used: int = 0
    expired: int = 0

    @property
    def outstanding(self) -> int:
        return sum(b[2] for b in self.batches)

    def issue(self, day: dt.date, count: int) -> dt.date:
        end = voucher_end(self.conv, day)
        self.batches.append([day, end, count])
        self.issued += count
        return end

    def expire(self, day: dt.date) -> int:
        """Vouchers whose validity ends on or before `day`: expired, unused (breakage)."""
        gone = sum(b[2] for b in self.batches if b[1] <= day)
        if gone:
            self.batches = [b for b in self.batches if b[1] > day]
            self.expired += gone
        return gone

    def use(self) -> dt.date | None:
        """Spend the voucher that expires first; its last valid day, or None when none is held."""
        if not self.batches:
            return None
        batch = self.batches[0]
        batch[2] -= 1
        if batch[2] == 0:
            self.batches.pop(0)
        self.used += 1
        return batch[1] - dt.timedelta(days=1)
