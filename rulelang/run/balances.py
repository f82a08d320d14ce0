"""The balances of one customer beside the points (docs/semantics.md §2.1), for the interpreter.

Takes: what the interpreter books — a balance rule's points on an event, a return of an order,
a day on which a balance's expiry empties it. Gives: `BalanceBook` (running totals and what
each order earned) and `BalanceTotals`, frozen into the `Result`. A balance is never redeemed
and never goes below zero, so its identity is `issued = expired + reversed + outstanding`,
checked after every step (`LedgerInvariantError`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rulelang import ir
from rulelang.run.calendar import clamped_date
from rulelang.run.ledger import LedgerInvariantError

__all__ = ["BalanceBook", "BalanceTotals", "expires_today"]


@dataclass(frozen=True, slots=True)
class BalanceTotals:
    """One balance at the end of a run: `issued = expired + reversed + outstanding`; `earned`
    leaves out the opening balance (`given balance 500 qualifying_dollars`)."""

    name: str
    issued: int
    earned: int
    expired: int
    reversed: int
    outstanding: int

    def to_json(self) -> dict[str, object]:
        return {"issued": self.issued, "earned": self.earned, "expired": self.expired,
                "reversed": self.reversed, "outstanding": self.outstanding}


@dataclass
class BalanceBook:
    """One balance while the run goes on."""

    name: str
    issued: int = 0
    opening: int = 0
    expired: int = 0
    reversed: int = 0
    by_order: dict[str, int] = field(default_factory=dict)  # order id -> what its purchase earned
    reversed_by_order: dict[str, int] = field(default_factory=dict)

    @property
    def outstanding(self) -> int:
        return self.issued - self.expired - self.reversed

    def open(self, amount: int) -> None:
        self.issued += amount
        self.opening += amount

    def earn(self, amount: int, order: str | None) -> None:
        if amount <= 0:
            return
        self.issued += amount
        if order is not None:
            self.by_order[order] = self.by_order.get(order, 0) + amount
        self.check()

    def expire_all(self) -> int:
        """All that is outstanding expires (a date expiry: `expire B yearly on 01-01`)."""
        amount = self.outstanding
        self.expired += amount
        self.check()
        return amount

    def reverse(self, order: str, returned: int, order_amount: int) -> tuple[int, int]:
        """The returned share of what `order` earned, floor(earned × returned / amount), less what
        earlier returns of it reversed, at most what is outstanding. Gives (reversed, earned)."""
        earned = self.by_order.get(order, 0)
        target = earned if returned >= order_amount or order_amount == 0 else earned * returned // order_amount
        target = min(target, earned - self.reversed_by_order.get(order, 0), self.outstanding)
        if target <= 0:
            return 0, earned
        self.reversed += target
        self.reversed_by_order[order] = self.reversed_by_order.get(order, 0) + target
        self.check()
        return target, earned

    def check(self) -> None:
        if self.outstanding < 0 or self.issued != self.expired + self.reversed + self.outstanding:
            raise LedgerInvariantError(
                f"balance {self.name}: issued {self.issued} != expired {self.expired} + reversed {self.reversed} "
                f"+ outstanding {self.outstanding}")

    def freeze(self) -> BalanceTotals:
        self.check()
        return BalanceTotals(self.name, self.issued, self.issued - self.opening, self.expired, self.reversed,
                             self.outstanding)


def expires_today(balance: ir.Balance, day: dt.date) -> bool:
    """Whether one of the balance's expiries empties it on `day` (at the start of the day, before its events)."""
    for exp in balance.expiry:
        if exp.kind == "fixed_date" and exp.date == day:
            return True
        if exp.kind == "yearly" and exp.month_day is not None:
            month, mday = exp.month_day
            if day.month == month and day == clamped_date(day.year, month, mday):
                return True
    return False
