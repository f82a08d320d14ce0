"""Points by issue-month cohort: which month's lots each redemption, expiry and reversal took.

Takes: one customer's lots and ledger entries (`Result.lots`, `Result.entries`).
Gives: `cohorts_of(lots, entries)`, per cohort — "opening" (the opening balance), the month its
lots were earned ("2027-03"), or "below zero" (points a return reversed beyond the balance, under
`negative balance allowed`) — the points issued, those redeemed, expired and reversed by the
month ("YYYY-MM") it happened in, and the points still outstanding at the end:

    {"2027-03": {"issued": 120, "redeemed": {"2027-05": 100}, "expired": {}, "reversed": {},
                 "outstanding": 20}, ...}

Zero months and empty cohorts are left out. Per cohort, issued = redeemed + expired + reversed +
outstanding. A reversal beyond the balance is booked to "below zero" in the month of the return
(its outstanding is minus the debt left); when a later lot repays the debt, that lot's repaid
points are reversed from the lot's own cohort and given back to "below zero" (a negative reversal),
both in the month of the repayment, so every month's reversals add up to the ledger's
(docs/accounting.md §3). The vectorized engine keeps the same attribution (simulator.engine.cohorts).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from rulelang.run.ledger import OPENING_BALANCE, Entry, Lot

OPENING = "opening"
BELOW_ZERO = "below zero"
BURN_KINDS = ("redeem", "voucher")  # the entries `Ledger.burn_available` writes (counted as redeemed)


def month_label(d: dt.date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _row(out: dict[str, dict[str, Any]], label: str) -> dict[str, Any]:
    return out.setdefault(label, {"issued": 0, "redeemed": {}, "expired": {}, "reversed": {}, "outstanding": 0})


def _add(flows: dict[str, int], month: str, points: int) -> None:
    flows[month] = flows.get(month, 0) + points


def cohorts_of(lots: Iterable[Lot], entries: Iterable[Entry]) -> dict[str, dict[str, Any]]:
    """The customer's points by issue-month cohort (see the module docstring)."""
    out: dict[str, dict[str, Any]] = {}
    label: dict[int, str] = {}
    debt = 0
    for lot in lots:
        label[lot.id] = OPENING if lot.rule == OPENING_BALANCE else month_label(lot.earned_on)
        row = _row(out, label[lot.id])
        row["issued"] += lot.points
        row["outstanding"] += lot.remaining
        if lot.repaid:  # the lot paid a debt when it was earned
            when = month_label(lot.earned_on)
            _add(row["reversed"], when, lot.repaid)
            _add(_row(out, BELOW_ZERO)["reversed"], when, -lot.repaid)
            debt -= lot.repaid
    for e in entries:
        if e.kind == "reverse" and e.lot_id is None and e.points:  # reversed below zero: a debt
            _add(_row(out, BELOW_ZERO)["reversed"], month_label(e.date), e.points)
            debt += e.points
        elif e.lot_id is None or e.points == 0:
            continue
        elif e.kind in ("expire", "reverse"):
            _add(_row(out, label[e.lot_id])["expired" if e.kind == "expire" else "reversed"], month_label(e.date), e.points)
        elif e.kind in BURN_KINDS:
            _add(_row(out, label[e.lot_id])["redeemed"], month_label(e.date), e.points)
    if BELOW_ZERO in out:
        out[BELOW_ZERO]["outstanding"] = -debt
    return {k: {f: ({m: p for m, p in sorted(v.items()) if p} if isinstance(v, dict) else v) for f, v in row.items()}
            for k, row in sorted(out.items(), key=lambda kv: _order(kv[0]))
            if row["issued"] or row["outstanding"] or any(p for f in ("redeemed", "expired", "reversed")
                                                          for p in row[f].values())}


def _order(label: str) -> tuple[int, str]:
    return (0, "") if label == OPENING else (2, "") if label == BELOW_ZERO else (1, label)


__all__ = ["BELOW_ZERO", "OPENING", "cohorts_of", "month_label"]
