"""Replay recorded simulated customers through the reference interpreter.

Takes: a `RunResult` (or `ChunkResult`) records — each a customer's event stream as the
engine generated it (a purchase's id is `d<day>`; a return names that id), their
birthday and attributes, and the engine's ledger for them —
plus the program and the simulated calendar's last day. Gives: interpreter `Event`s
and `Customer`s, and `compare_records`, the list of disagreements between the
vectorized engine and `rulelang.run.interpreter.run` (empty when they agree exactly:
points issued / redeemed / expired / reversed / outstanding, discount, perk, reward,
voucher and points-payment cents, the final tier, and the points by issue-month cohort: per
cohort the points issued, redeemed / expired / reversed month by month, and outstanding).

`compare_records_together` replays all recorded customers at once, sharing one global
budget, in the order the engine applies a day's events (docs/simulator.md §6: kind by kind —
signups, referrals, birthdays, custom events, returns, purchases — and within a kind in
customer order); the record must hold every customer the budget is shared by.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from rulelang import ir
from simulator.engine.program_plan import CARRIED_FIELDS

FIELDS = ("issued", "redeemed", "expired", "reversed", "outstanding", "available", "pending",
          "discount_cents", "perk_cents", "reward_cents", "voucher_cents", "points_payment_cents", "tier",
          "discount_refunded_cents", "cohorts")
# compared too when the program's vouchers have a life (the engine's ledger then carries them)
VOUCHER_FIELDS = ("vouchers_issued", "vouchers_used", "vouchers_expired", "vouchers_outstanding",
                  "voucher_outstanding_cents")


def _voucher_counts(res: Any) -> dict:
    v = res.vouchers
    if v is None:
        return {}
    return {"vouchers_issued": v.issued, "vouchers_used": v.used, "vouchers_expired": v.expired,
            "vouchers_outstanding": v.outstanding, "voucher_outstanding_cents": v.outstanding_cents}


def _fields(program: ir.Program) -> tuple[str, ...]:
    """The ledger fields compared: vouchers' counts when they have a life, balances when declared."""
    return (FIELDS + (VOUCHER_FIELDS if ir.vouchers_with_a_life(program) else ())
            + (("balances",) if program.balances else ()))


def _default(value: Any, vtype: str) -> Any:
    if value is not None:
        if vtype == "money":
            return int(round(float(value) * 100))
        if vtype == "number":
            from fractions import Fraction
            return Fraction(str(value))
        if vtype == "string":
            return str(value)
        return value
    return {"string": "", "bool": False, "number": 0, "money": 0}.get(vtype)


def to_events(program: ir.Program, record: dict, start: dt.date) -> list:
    """The interpreter events of one recorded customer."""
    from rulelang import Event, Line

    ftypes = {e.name: dict(e.fields) for e in program.events}
    out = []
    for i, ev in enumerate(record["events"]):
        at = dt.datetime.combine(start + dt.timedelta(days=ev["day"]), dt.time(12, 0))
        kind = ev["kind"]
        if kind == "purchase":
            basket = {f.interpreter_key: ev[f.interpreter_key] for f in CARRIED_FIELDS
                      if f.interpreter_key is not None and f.interpreter_key in ev}
            attrs = ev.get("line_attributes") or [{}] * len(ev.get("lines", ()))
            lines = tuple(Line(a, c, q, attributes=_line_attributes(program, line))
                          for (a, c, q), line in zip(ev.get("lines", ()), attrs))
            out.append(Event("purchase", at, ev["amount_cents"], None, basket, id=ev.get("id", f"o{i}"), lines=lines))
        elif kind == "return":
            out.append(Event("return", at, ev["amount_cents"], ev["order"]))
        elif kind == "referral":
            out.append(Event("referral", at, None, None, {"role": ev["role"]}))
        elif kind in ("redeem", "use_perk"):
            out.append(Event(kind, at, None, ev["name"]))
        elif kind == "pay":
            out.append(Event("pay", at, int(ev["amount_cents"])))
        elif kind in ("signup", "birthday", "use_voucher"):
            out.append(Event(kind, at))
        else:
            fields = {f: _default(v, ftypes.get(kind, {}).get(f, "string")) for f, v in ev.get("fields", {}).items()}
            out.append(Event(kind, at, None, None, fields))
    return out


def _line_attributes(program: ir.Program, recorded: dict) -> tuple[tuple[str, object], ...]:
    """A recorded line's attributes as the interpreter reads them (numbers as Fraction)."""
    types = dict(program.line_attributes)
    return tuple((name, Fraction(value) if types.get(name) == "number" else value) for name, value in recorded.items())


def to_customer(program: ir.Program, record: dict):
    from rulelang import Customer

    attrs = {name: _default(record["attributes"].get(name), t) for name, t in program.attributes}
    return Customer(birthday=record["birthday"], attributes=attrs)


def interpreter_ledger(program: ir.Program, record: dict, start: dt.date, end: dt.date) -> dict | None:
    from rulelang import run

    events = to_events(program, record, start)
    if not events:
        return None
    res = run(program, events, to_customer(program, record), until=end)
    return {
        "issued": res.issued, "redeemed": res.redeemed, "expired": res.expired, "reversed": res.reversed,
        "outstanding": res.outstanding, "available": res.available, "pending": res.pending,
        "discount_cents": res.discount_cents, "perk_cents": res.perk_cents, "reward_cents": res.reward_cents,
        "voucher_cents": res.voucher_cents, "points_payment_cents": res.points_payment_cents, "tier": res.tier,
        **_voucher_counts(res),
        "discount_refunded_cents": res.discount_refunded_cents,
        "cohorts": res.cohorts,
        **({"balances": _balances(res)} if program.balances else {}),
    }


def _balances(res: Any) -> dict[str, dict[str, int]]:
    """Each balance beside the points as the engine records it: issued, expired, reversed, outstanding."""
    return {name: {"issued": t.issued, "expired": t.expired, "reversed": t.reversed, "outstanding": t.outstanding}
            for name, t in res.balances.items()}


def compare_records(program: ir.Program, records: dict[int, dict], start: dt.date, end: dt.date) -> list[str]:
    """Disagreements between the engine's and the interpreter's ledgers ("" list when none)."""
    problems = []
    for cust, rec in sorted(records.items()):
        expected = interpreter_ledger(program, rec, start, end)
        if expected is None:
            continue
        got = rec["ledger"]
        for f in _fields(program):
            if got.get(f) != expected.get(f):
                problems.append(f"customer {cust}: {f} engine={got.get(f)} interpreter={expected[f]}")
    return problems


# the order of a day's events across customers (docs/simulator.md §6); a redemption, points
# payment or perk use follows its customer's purchase of the day
KIND_ORDER = {"signup": 0, "referral": 1, "birthday": 2, "return": 4, "purchase": 5}
CUSTOM_EVENTS = 3


def documented_order(records: dict[int, dict]) -> list[int]:
    """The interleaving of all recorded customers' events (customer keys of `records`, sorted,
    numbered 0, 1, ...): one entry per event, whose next event comes next."""
    keyed = []
    for who, (_, rec) in enumerate(sorted(records.items())):
        bought: int | None = None  # the day of this customer's latest purchase
        for i, ev in enumerate(rec["events"]):
            if ev["kind"] == "purchase":
                bought = ev["day"]
            after_purchase = bought == ev["day"] and ev["kind"] in ("purchase", "redeem", "pay", "use_perk", "use_voucher")
            rank = KIND_ORDER["purchase"] if after_purchase else KIND_ORDER.get(ev["kind"], CUSTOM_EVENTS)
            keyed.append(((ev["day"], rank, who, i), who))
    keyed.sort()
    return [who for _, who in keyed]


def compare_records_together(program: ir.Program, records: dict[int, dict], start: dt.date,
                             end: dt.date) -> tuple[list[str], Any]:
    """Disagreements between the engine's ledgers and the interpreter's, all customers run
    together with one shared `BudgetState` (returned too, as the run left it)."""
    from rulelang import BudgetState, run_together

    recs = sorted((cust, rec) for cust, rec in records.items() if rec["events"])
    streams = [(to_events(program, rec, start), to_customer(program, rec)) for _, rec in recs]
    budgets = BudgetState()
    results = run_together(program, streams, documented_order(dict(recs)), until=end, budgets=budgets)
    problems = []
    for (cust, rec), res in zip(recs, results):
        counts = _voucher_counts(res)
        for f in _fields(program):
            expected = counts[f] if f in VOUCHER_FIELDS else _balances(res) if f == "balances" else getattr(res, f)
            if rec["ledger"].get(f) != expected:
                problems.append(f"customer {cust}: {f} engine={rec['ledger'].get(f)} interpreter={expected}")
    return problems, budgets
