"""The vouchers with a life one customer holds: issued by a conversion or a reward, used, expired.

Takes: the issues (day, first day no longer valid, face value, count). Gives: `Wallet`, the
customer's vouchers as batches kept in the order they are spent — the one that expires first,
of equal end days the smaller face value first — with `issue`, `expire` (on the day a batch's
validity ends, before that day's events) and `use`, and its counts and money. A voucher's cost
is its face value, booked when it is used (docs/semantics.md §8). Identity, in count and in
money: issued = used + expired + outstanding. `voucher_end` is the validity rule.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from rulelang.run.calendar import add_months

__all__ = ["Wallet", "voucher_end"]


def voucher_end(valid: int, unit: str, issued: dt.date) -> dt.date:
    """The first day a voucher issued on `issued`, valid `valid` days or months, is no longer valid."""
    if unit == "days":
        return issued + dt.timedelta(days=valid)
    return add_months(issued, valid)


@dataclass
class Wallet:
    batches: list[list] = field(default_factory=list)  # [end, face cents, count], in spending order
    issued: int = 0
    used: int = 0
    expired: int = 0
    issued_cents: int = 0
    used_cents: int = 0
    expired_cents: int = 0

    @property
    def outstanding(self) -> int:
        return sum(b[2] for b in self.batches)

    @property
    def outstanding_cents(self) -> int:
        return sum(b[1] * b[2] for b in self.batches)

    def issue(self, end: dt.date, face_cents: int, count: int) -> None:
        keys = [(b[0], b[1]) for b in self.batches]
        at = bisect.bisect_right(keys, (end, face_cents))
        if at > 0 and keys[at - 1] == (end, face_cents):
            self.batches[at - 1][2] += count
        else:
            self.batches.insert(at, [end, face_cents, count])
        self.issued += count
        self.issued_cents += count * face_cents

    def expire(self, day: dt.date) -> int:
        """Vouchers whose validity ends on or before `day`: expired, unused (breakage)."""
        gone = [b for b in self.batches if b[0] <= day]
        if gone:
            self.batches = [b for b in self.batches if b[0] > day]
            self.expired += sum(b[2] for b in gone)
            self.expired_cents += sum(b[1] * b[2] for b in gone)
        return sum(b[2] for b in gone)

    def use(self) -> tuple[int, dt.date] | None:
        """Spend the first voucher (it expires first): its face value and last valid day; None when none is held."""
        if not self.batches:
            return None
        batch = self.batches[0]
        batch[2] -= 1
        if batch[2] == 0:
            self.batches.pop(0)
        self.used += 1
        self.used_cents += batch[1]
        return batch[1], batch[0] - dt.timedelta(days=1)
