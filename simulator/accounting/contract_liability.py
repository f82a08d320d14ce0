"""The contract-liability roll-forward of points as a material right (IFRS 15 B39-B43, B46; ASC 606-10-55-41..45, -48).

Takes: one trial's monthly ledger flows (what customers paid, points issued, reversed, redeemed,
expired, outstanding, all integers) and two assumptions: the standalone selling price of one point
(`point_value_cents`) and the expected redemption rate `r` (1 − expected breakage).
Gives: `rollforward(...)`, per month the integer cents opening, deferred, recognized, breakage and
closing of the liability, with opening + deferred − recognized − breakage = closing exactly, and
`point_value(program)`, the point's standalone selling price the program declares.

Method (portfolio approach, one pool for all points; docs/accounting.md works an example):
1. Allocation: the month's points have the standalone selling price SSP = points issued × value × r;
   the month's transaction price P (revenue less discounts) is split by relative standalone selling
   price, so deferred = round(P × SSP / (P + SSP)) cents. Points given back by returns
   (`reversed`) leave the pool at its carrying value per expected redemption, netted into deferred.
2. The pool carries L cents for E expected future redemptions (points); E grows by r × issued.
3. A redemption of k points recognizes round(k × L / E) (at most L): revenue for the goods given,
   with the expected breakage in proportion to the redemptions (B46). It is split into
   recognized = round(total × r), the redeemed points' share, and breakage = the rest.
4. E can never exceed the points still outstanding: when expiries bring the outstanding points below
   E, the liability of the difference is recognized as breakage (a true-up); when nothing is
   expected to be redeemed any more, what is left is breakage.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Sequence

from rulelang import ir

COLUMNS = ("opening", "deferred", "recognized", "breakage", "closing")


@dataclass(frozen=True, kw_only=True)
class Rollforward:
    """Per month, integer cents: opening + deferred − recognized − breakage = closing."""

    opening: list[int]
    deferred: list[int]
    recognized: list[int]
    breakage: list[int]
    closing: list[int]

    def column(self, name: str) -> list[int]:
        return list(getattr(self, name))


def point_value(program: ir.Program) -> tuple[Fraction, str]:
    """(cents, where it comes from): the standalone selling price of one point — the declared
    `point value`, else the mean of `worth` / `price` over the rewards that declare a worth, else the
    money one point pays, else the declared `point cost`."""
    if program.point_value_cents is not None:
        return Fraction(program.point_value_cents), "the program's `point value`"
    worth = [Fraction(r.worth_cents, r.price) for r in program.rewards if r.worth_cents is not None and r.price > 0]
    if worth:
        return sum(worth, Fraction(0)) / len(worth), "the mean worth per point of the program's rewards"
    pay = program.pay_with_points
    if pay is not None and pay.points > 0:
        return Fraction(pay.cents, pay.points), "what one point pays (`pay with points`)"
    return Fraction(program.point_cost_cents), "the program's `point cost` (no point value, reward worth or payment declared)"


def _round(x: Fraction) -> int:
    """Nearest integer, halves away from zero (cents)."""
    n, d = x.numerator, x.denominator
    q, rem = divmod(abs(n), d)
    q += 1 if 2 * rem >= d else 0
    return q if n >= 0 else -q


def rollforward(*, paid_cents: Sequence[int], issued: Sequence[int], reversed_: Sequence[int],
                redeemed: Sequence[int], outstanding: Sequence[int], point_value_cents: Fraction,
                redemption_rate: Fraction, opening_points: int = 0) -> Rollforward:
    """The monthly roll-forward of one trial (see the module docstring). `outstanding` is the ledger's
    balance at each month end; `opening_points` a running program's balances on the first day, carried
    at their standalone selling price (opening points × value × r)."""
    r = Fraction(redemption_rate)
    if not 0 <= r <= 1:
        raise ValueError(f"the expected redemption rate must be between 0 and 1, got {float(r)}")
    value = Fraction(point_value_cents)
    L = _round(opening_points * value * r)
    E = opening_points * r
    out: dict[str, list[int]] = {c: [] for c in COLUMNS}
    for m in range(len(issued)):
        opening = L
        paid = max(int(paid_cents[m]), 0)
        ssp = int(issued[m]) * value * r
        deferred = _round(Fraction(paid) * ssp / (paid + ssp)) if paid + ssp > 0 else 0
        L += deferred
        E += int(issued[m]) * r
        if reversed_[m] and E > 0:  # points taken back: their expected redemptions leave the pool
            gone = min(E, int(reversed_[m]) * r)
            back = min(L, _round(L * gone / E))
            L -= back
            E -= gone
            deferred -= back
        recognized = breakage = 0
        k = int(redeemed[m])
        if k and E > 0:
            total = L if k >= E else min(L, _round(L * k / E))
            part = _round(total * r)
            recognized += part
            breakage += total - part
            L -= total
            E = max(E - k, Fraction(0))
        cap = Fraction(max(int(outstanding[m]), 0))
        if E > cap:  # expiries: fewer points left than redemptions expected
            true_up = L if cap == 0 else _round(L * (E - cap) / E)
            breakage += true_up
            L -= true_up
            E = cap
        if E == 0 and L:
            breakage += L
            L = 0
        for c, v in zip(COLUMNS, (opening, deferred, recognized, breakage, L)):
            out[c].append(v)
    return Rollforward(**out)
