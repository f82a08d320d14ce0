"""What the reference interpreter gives back: the `Result` of one customer's run and its trace.

Takes: the final ledger, trace steps and totals assembled by `rulelang.run.interpreter`.
Gives: frozen dataclasses — `Result` (lots, entries, trace, tier, tier history,
point totals, costs in cents, fired rules), `TraceStep` (one event or one day
of calendar work), `RuleTrace` (one candidate rule: fired with points, or the
reason it did not), `TierChange` — with `Result.render_text()` (a readable
trace for `loyalty explain`) and `Result.to_json()` (a JSON-ready dict).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping

from rulelang.run.conditions import money
from rulelang.run.ledger import Entry, Lot
from rulelang.run.balances import BalanceTotals


@dataclass(frozen=True, slots=True)
class RuleTrace:
    """One candidate rule on one event: fired (with its points) or not (with the reason)."""

    rule: str
    fired: bool
    points: int = 0
    reason: str | None = None  # why it did not fire
    detail: str | None = None  # how the points were worked out
    balance: str | None = None  # the balance its points went to; None: the points

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"rule": self.rule, "fired": self.fired, "points": self.points,
                                  "reason": self.reason, "detail": self.detail}
        if self.balance is not None:
            out["balance"] = self.balance
        return out


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One event (kind = the event kind) or one day's calendar work (kind = "calendar")."""

    date: dt.date
    kind: str
    description: str
    at: dt.datetime | None = None
    event_id: str | None = None
    rules: tuple[RuleTrace, ...] = ()
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(), "time": self.at.strftime("%H:%M") if self.at else None,
            "kind": self.kind, "description": self.description, "event_id": self.event_id,
            "rules": [r.to_json() for r in self.rules], "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class TierChange:
    date: dt.date
    from_tier: str | None
    to_tier: str
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"date": self.date.isoformat(), "from": self.from_tier, "to": self.to_tier, "reason": self.reason}


@dataclass(frozen=True)
class VoucherTotals:
    """Vouchers with a life, counted and in face value (cents):
    issued = used + expired + outstanding, in both."""

    issued: int
    used: int
    expired: int
    outstanding: int
    issued_cents: int
    used_cents: int
    expired_cents: int
    outstanding_cents: int

    def to_json(self) -> dict[str, int]:
        return {"issued": self.issued, "used": self.used, "expired": self.expired,
                "outstanding": self.outstanding, "issued_cents": self.issued_cents, "used_cents": self.used_cents,
                "expired_cents": self.expired_cents, "outstanding_cents": self.outstanding_cents}


@dataclass(frozen=True)
class Result:
    """One customer's run. Points are integers, money integer cents.

    `issued` counts every lot (the opening balance too); `earned` only the
    points issued by events. `cost_cents` is the cost to the business that
    `expect cost` checks: rewards + perks + vouchers + points paid;
    `total_cost_cents` adds the instant discounts less the share refunded with returned goods."""

    points_unit: str
    currency: str
    start: dt.date | None
    end: dt.date | None
    lots: tuple[Lot, ...]
    entries: tuple[Entry, ...]
    trace: tuple[TraceStep, ...]
    tier: str | None
    tier_history: tuple[TierChange, ...]
    issued: int
    earned: int
    redeemed: int
    expired: int
    reversed: int
    outstanding: int
    available: int
    pending: int
    discount_cents: int
    perk_cents: int
    reward_cents: int
    voucher_cents: int
    points_payment_cents: int
    discount_refunded_cents: int = 0  # the returned share of discounts: refunded, no longer a cost
    fired: frozenset[str] = frozenset()
    points_by_rule: Mapping[str, int] = field(default_factory=dict)
    counters: Mapping[str, Fraction] = field(default_factory=dict)  # each declared counter at the end
    metric: Fraction | None = None  # the tier metric at the end, over its window (cents for spend); None without tiers
    vouchers: VoucherTotals | None = None  # a program whose vouchers have a life
    balances: Mapping[str, BalanceTotals] = field(default_factory=dict)  # the balances beside the points, by name

    @property
    def cost_cents(self) -> int:
        return self.reward_cents + self.perk_cents + self.voucher_cents + self.points_payment_cents

    @property
    def total_cost_cents(self) -> int:
        return self.cost_cents + self.net_discount_cents

    @property
    def net_discount_cents(self) -> int:
        """Instant discounts given less the share refunded with returned goods (`expect discount`)."""
        return self.discount_cents - self.discount_refunded_cents

    @property
    def balance(self) -> int:
        return self.outstanding

    @property
    def cohorts(self) -> dict[str, dict[str, object]]:
        """The points by issue-month cohort: issued, redeemed / expired / reversed by month, outstanding
        (`rulelang.run.cohorts.cohorts_of`)."""
        from rulelang.run.cohorts import cohorts_of

        return cohorts_of(self.lots, self.entries)

    # ------------------------------------------------------------ output

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict (dates as ISO strings, money in cents)."""
        return {
            "points_unit": self.points_unit,
            "currency": self.currency,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "totals": {
                "issued": self.issued, "earned": self.earned, "redeemed": self.redeemed,
                "expired": self.expired, "reversed": self.reversed, "outstanding": self.outstanding,
                "available": self.available, "pending": self.pending,
            },
            "costs_cents": {
                "discount": self.discount_cents, "perk": self.perk_cents, "reward": self.reward_cents,
                "voucher": self.voucher_cents, "points_payment": self.points_payment_cents,
                "cost": self.cost_cents, "total_cost": self.total_cost_cents,
                **({"discount_refunded": self.discount_refunded_cents} if self.discount_refunded_cents else {}),
            },
            **({"vouchers": self.vouchers.to_json()} if self.vouchers is not None else {}),
            "tier": self.tier,
            "tier_history": [t.to_json() for t in self.tier_history],
            "fired": sorted(self.fired),
            "points_by_rule": dict(self.points_by_rule),
            **({"balances": {k: v.to_json() for k, v in self.balances.items()}} if self.balances else {}),
            "trace": [s.to_json() for s in self.trace],
            "lots": [lot.to_json() for lot in self.lots],
            "entries": [e.to_json() for e in self.entries],
        }

    def _points(self, n: int) -> str:
        unit = self.points_unit
        if abs(n) == 1 and unit.endswith("s") and len(unit) > 1:
            unit = unit[:-1]
        return f"{n} {unit}"

    def render_text(self) -> str:
        """One block per event (rules that fired with points, why the others did not),
        then the lots table and the totals."""
        out: list[str] = []
        for step in self.trace:
            when = step.at.strftime("%Y-%m-%d %H:%M") if step.at else step.date.isoformat()
            out.append(f"{when}  {step.description}")
            width = max([len(r.rule) for r in step.rules] or [0])
            for r in step.rules:
                if r.fired:
                    amount = f"{r.points} {r.balance}" if r.balance is not None else self._points(r.points)
                    line = f"  + {r.rule.ljust(width)}  {amount}"
                    if r.detail:
                        line += f"  ({r.detail})"
                else:
                    line = f"  - {r.rule.ljust(width)}  {r.reason or 'did not fire'}"
                out.append(line)
            for note in step.notes:
                out.append(f"  * {note}")
            if not step.rules and not step.notes:
                out.append("  (no rule applies)")
        out.append("")
        out.append("Lots")
        header = ("id", "rule", "event", "earned", "spendable", "points", "redeemed", "expired",
                  "reversed", "repaid", "remaining")
        rows = [header] + [
            (str(lot.id), lot.rule, lot.event_id or "-", lot.earned_on.isoformat(), lot.available_on.isoformat(),
             str(lot.points), str(lot.redeemed), str(lot.expired), str(lot.reversed), str(lot.repaid),
             str(lot.remaining))
            for lot in self.lots
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            cells = [c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            out.append("  " + "  ".join(cells).rstrip())
        if not self.lots:
            out.append("  (none)")
        out.append("")
        out.append("Totals")
        out.append(f"  issued {self.issued} = redeemed {self.redeemed} + expired {self.expired} + "
                   f"reversed {self.reversed} + outstanding {self.outstanding}")
        out.append(f"  earned by events {self._points(self.earned)}; available {self.available}, "
                   f"pending {self.pending}")
        for b in self.balances.values():
            out.append(f"  {b.name}: issued {b.issued} = expired {b.expired} + reversed {b.reversed} + "
                       f"outstanding {b.outstanding} (not redeemable); earned by events {b.earned}")
        if self.tier is not None:
            out.append(f"  tier {self.tier}")
        c = self.currency
        refunded = (f" ({money(self.discount_refunded_cents, c)} of it refunded with returned goods)"
                    if self.discount_refunded_cents else "")
        out.append(f"  discounts {money(self.discount_cents, c)}{refunded}; cost {money(self.cost_cents, c)} "
                   f"(rewards {money(self.reward_cents, c)}, perks {money(self.perk_cents, c)}, "
                   f"vouchers {money(self.voucher_cents, c)}, points paid {money(self.points_payment_cents, c)})")
        v = self.vouchers
        if v is not None:
            out.append(f"  vouchers issued {v.issued} = used {v.used} + expired {v.expired} + outstanding "
                       f"{v.outstanding} ({money(v.outstanding_cents, c)} outstanding, "
                       f"{money(v.expired_cents, c)} breakage)")
        return "\n".join(out)
