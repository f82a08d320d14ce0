"""The points ledger of one customer: lots, ledger entries, burning, expiry, reversal.

Takes: instructions from the interpreter (earn N points for rule R on day D,
burn N available points, expire a lot, reverse N points of an order).
Gives: the lots (`Lot`) and entries (`Entry`) that make up a `Result`, running
totals, and the ledger identity check
`issued = redeemed + expired + reversed + outstanding`, verified after every step.

Negative balances: when a return reverses more than the lots hold and the
program allows a negative balance, the shortfall is booked at once as
`reversed` and carried as a debt (outstanding = points in lots - debt). Later
lots pay the debt first; the part of a lot that paid debt is its `repaid`
column and is not counted again, so the identity holds at every step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Literal

EntryKind = Literal["earn", "redeem", "expire", "reverse", "discount", "perk", "voucher", "tier"]
OPENING_BALANCE = "opening balance"


class LedgerInvariantError(RuntimeError):
    """The ledger identity or a lot's own balance does not hold: a bug in the interpreter, not user error."""


@dataclass(frozen=True, slots=True)
class Lot:
    """A batch of points earned together: by one rule on one event (or the opening balance).

    points = redeemed + expired + reversed + repaid + remaining."""

    id: int
    rule: str
    event_id: str | None
    earned_on: dt.date
    available_on: dt.date
    points: int
    redeemed: int
    expired: int
    reversed: int
    repaid: int
    remaining: int

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id, "rule": self.rule, "event_id": self.event_id,
            "earned_on": self.earned_on.isoformat(), "available_on": self.available_on.isoformat(),
            "points": self.points, "redeemed": self.redeemed, "expired": self.expired,
            "reversed": self.reversed, "repaid": self.repaid, "remaining": self.remaining,
        }


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the ledger. `points` is what moved (burned, earned, reversed ...);
    `cents` is the money cost or discount booked with it (0 when none)."""

    date: dt.date
    kind: EntryKind
    points: int = 0
    cents: int = 0
    name: str | None = None
    lot_id: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(), "kind": self.kind, "points": self.points, "cents": self.cents,
            "name": self.name, "lot_id": self.lot_id, "note": self.note,
        }


@dataclass(slots=True)
class _LotState:
    """A lot while the run is going on (mutable; frozen into `Lot` at the end)."""

    id: int
    rule: str
    event_id: str | None
    earned_on: dt.date
    available_on: dt.date
    points: int
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0
    repaid: int = 0

    @property
    def remaining(self) -> int:
        return self.points - self.redeemed - self.expired - self.reversed - self.repaid

    def freeze(self) -> Lot:
        return Lot(self.id, self.rule, self.event_id, self.earned_on, self.available_on, self.points,
                   self.redeemed, self.expired, self.reversed, self.repaid, self.remaining)


@dataclass
class Ledger:
    """Lots, entries and running totals of one customer."""

    lots: list[_LotState] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0
    debt: int = 0  # points owed after a reversal took the balance below zero
    debt_created: int = 0
    held: int = 0  # points remaining in lots (kept as a running total)
    _live: list[_LotState] = field(default_factory=list)  # lots that may still hold points, oldest first

    # ------------------------------------------------------------ balances

    @property
    def outstanding(self) -> int:
        return self.held - self.debt

    def available(self, today: dt.date) -> int:
        """Spendable points: remaining in lots whose pending period is over, minus any debt."""
        return sum(lot.remaining for lot in self.live_lots() if lot.available_on <= today) - self.debt

    def pending(self, today: dt.date) -> int:
        return sum(lot.remaining for lot in self.live_lots() if lot.available_on > today)

    def live_lots(self) -> list[_LotState]:
        """Lots still holding points, oldest first (lots are created in time order)."""
        self._live = [lot for lot in self._live if lot.remaining > 0]
        return self._live

    # ------------------------------------------------------------ movements

    def earn(self, rule: str, event_id: str | None, earned_on: dt.date, available_on: dt.date,
             points: int, note: str = "") -> _LotState:
        """A new lot; it pays any debt first (booked in its `repaid` column)."""
        if points <= 0:
            raise LedgerInvariantError(f"a lot must hold a positive number of points, got {points}")
        if self.lots and earned_on < self.lots[-1].earned_on:
            raise LedgerInvariantError("lots must be created in time order")
        lot = _LotState(len(self.lots) + 1, rule, event_id, earned_on, available_on, points)
        self.lots.append(lot)
        self.issued += points
        if self.debt:
            paid = min(self.debt, points)
            lot.repaid = paid
            self.debt -= paid
            note = (note + "; " if note else "") + f"{paid} repaid the negative balance"
        self.held += lot.remaining
        if lot.remaining:
            self._live.append(lot)
        self.entries.append(Entry(earned_on, "earn", points, 0, rule, lot.id, note))
        self.check([lot])
        return lot

    def burn_available(self, points: int, today: dt.date, kind: EntryKind, name: str, cents: int,
                       note: str = "") -> None:
        """Burn `points` spendable points oldest first (earn date, then creation order).

        One entry per lot touched; the money `cents` is booked on the first of them."""
        if points > self.available(today):
            raise LedgerInvariantError(f"burning {points} points with only {self.available(today)} available")
        left = points
        first = True
        touched = []
        for lot in self.live_lots():
            if left == 0:
                break
            if lot.available_on > today:
                continue
            take = min(left, lot.remaining)
            lot.redeemed += take
            left -= take
            touched.append(lot)
            self.entries.append(Entry(today, kind, take, cents if first else 0, name, lot.id, note))
            first = False
        if points == 0:
            self.entries.append(Entry(today, kind, 0, cents, name, None, note))
        self.redeemed += points
        self.held -= points
        self.check(touched)

    def expire_lot(self, lot: _LotState, today: dt.date, note: str) -> int:
        points = lot.remaining
        if points <= 0:
            return 0
        lot.expired += points
        self.expired += points
        self.held -= points
        self.entries.append(Entry(today, "expire", points, 0, lot.rule, lot.id, note))
        self.check([lot])
        return points

    def reverse(self, points: int, today: dt.date, own_lots: Iterable[_LotState], allow_negative: bool,
                order: str) -> tuple[int, int]:
        """Reverse `points`: the order's own lots first (newest first), then other lots newest first.

        Returns (points reversed, of which booked as new debt). Without `allow_negative`,
        what the lots do not hold is not reversed."""
        own = sorted(own_lots, key=lambda x: (x.earned_on, x.id), reverse=True)
        own_ids = {lot.id for lot in own}
        others = [x for x in reversed(self.live_lots()) if x.id not in own_ids]
        left = points
        touched = []
        for lot in [*own, *others]:
            if left == 0:
                break
            take = min(left, lot.remaining)
            if take <= 0:
                continue
            lot.reversed += take
            self.held -= take
            left -= take
            touched.append(lot)
            self.entries.append(Entry(today, "reverse", take, 0, lot.rule, lot.id, f"return of {order}"))
        debt = 0
        if left and allow_negative:
            debt = left
            self.debt += debt
            self.debt_created += debt
            self.entries.append(Entry(today, "reverse", debt, 0, None, None,
                                      f"return of {order}: {debt} below zero (negative balance)"))
            left = 0
        done = points - left
        self.reversed += done
        self.check(touched)
        return done, debt

    def book(self, entry: Entry) -> None:
        """A ledger line that moves no points (discount, perk, tier change)."""
        self.entries.append(entry)

    # ------------------------------------------------------------ identity

    def check(self, touched: Iterable[_LotState] = ()) -> None:
        """After each step: the lots just touched balance and the identity holds on the running totals."""
        for lot in touched:
            if min(lot.redeemed, lot.expired, lot.reversed, lot.repaid, lot.remaining) < 0:
                raise LedgerInvariantError(f"lot {lot.id} has a negative column: {lot}")
        if self.debt < 0 or self.held < 0:
            raise LedgerInvariantError(f"negative debt {self.debt} or points held {self.held}")
        if self.issued != self.redeemed + self.expired + self.reversed + self.outstanding:
            raise LedgerInvariantError(
                f"ledger identity broken: issued {self.issued} != redeemed {self.redeemed} + expired "
                f"{self.expired} + reversed {self.reversed} + outstanding {self.outstanding}")

    def check_all(self) -> None:
        """Raise LedgerInvariantError unless every lot balances, the running totals match
        the lots, and the identity holds (run at the end of every run)."""
        sums = {"points": 0, "redeemed": 0, "expired": 0, "reversed": 0, "repaid": 0, "remaining": 0}
        for lot in self.lots:
            parts = (lot.redeemed, lot.expired, lot.reversed, lot.repaid, lot.remaining)
            if min(parts) < 0:
                raise LedgerInvariantError(f"lot {lot.id} has a negative column: {lot}")
            sums["points"] += lot.points
            sums["redeemed"] += lot.redeemed
            sums["expired"] += lot.expired
            sums["reversed"] += lot.reversed
            sums["repaid"] += lot.repaid
            sums["remaining"] += lot.remaining
        problems = []
        if sums["remaining"] != self.held:
            problems.append(f"lots hold {sums['remaining']} but the running total says {self.held}")
        if sums["points"] != self.issued:
            problems.append(f"issued {self.issued} but lots hold {sums['points']}")
        if sums["redeemed"] != self.redeemed or sums["expired"] != self.expired:
            problems.append("redeemed/expired totals differ from the lots")
        if sums["reversed"] + self.debt_created != self.reversed:
            problems.append("reversed total differs from the lots and the negative balance")
        if self.debt != self.debt_created - sums["repaid"] or self.debt < 0:
            problems.append(f"debt {self.debt} does not match {self.debt_created} created - {sums['repaid']} repaid")
        if self.issued != self.redeemed + self.expired + self.reversed + self.outstanding:
            problems.append(
                f"issued {self.issued} != redeemed {self.redeemed} + expired {self.expired} + "
                f"reversed {self.reversed} + outstanding {self.outstanding}")
        if problems:
            raise LedgerInvariantError("ledger identity broken: " + "; ".join(problems))
