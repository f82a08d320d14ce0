"""Expectations that check one step of a test: one event, or the state at the end of a date.

Takes: a test (`ast.TestCase`), its compiled program, its interpreter events and starting
customer. Gives: a `Failure`-like tuple (kind, expected, actual, message) for each such
expectation that does not hold, or None.

Both are read from runs of the reference interpreter over a prefix of the test's events,
so they mean exactly what the interpreter means:
- what event *i* moved (earned, redeemed, reversed, discount, cost) is the total after the
  run of events 0..i up to the event's date, less the total after events 0..i-1 up to that date
  (calendar work of that date comes before its events, so it cancels out);
- the state at the end of date D (tier, counter, tier metric, balance, any total) is the run of
  the events dated up to D, with calendar work up to D.
Every run starts at the test's first event, as the whole test does.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from typing import Sequence

from rulelang import ir
from rulelang.check.program_tests import matching_events
from rulelang.run.conditions import money, number
from rulelang.run.interpreter import Customer, Event, Result, run
from rulelang.syntax import ast
from rulelang.vocabulary import singular

__all__ = ["StepRuns", "value_of", "expected_value", "describe_value", "check_event_expect", "check_state_on",
           "check_state_at_end", "state_detail"]

#: expectation kind -> the total of a `Result` it reads
TOTALS = {
    "earned": "earned", "issued": "issued", "balance": "outstanding", "outstanding": "outstanding",
    "available": "available", "pending": "pending", "redeemed": "redeemed", "expired": "expired",
    "reversed": "reversed", "discount": "net_discount_cents", "cost": "cost_cents",  # discounts less refunds
}
MONEY_KINDS = ("discount", "cost")


class StepRuns:
    """Interpreter runs over prefixes of one test's events, each run once."""

    def __init__(self, program: ir.Program, events: Sequence[Event], customer: Customer | None) -> None:
        self.program = program
        self.events = list(events)
        self.customer = customer
        self.start = self.events[0].date if self.events else None
        self._runs: dict[tuple[int, dt.date], Result] = {}

    def prefix(self, n: int, day: dt.date) -> Result:
        """The run of the first `n` events, with calendar work up to `day`."""
        key = (n, day)
        if key not in self._runs:
            start = min(self.start, day) if self.start is not None else day
            self._runs[key] = run(self.program, self.events[:n], customer=self.customer, until=day, start=start)
        return self._runs[key]

    def at_end_of(self, day: dt.date) -> Result:
        """The state at the end of `day`: the events dated up to it, calendar work up to it."""
        return self.prefix(sum(1 for e in self.events if e.date <= day), day)


#: what an expectation reads of a balance beside the points (never redeemed nor pending: 0)
BALANCE_TOTALS = {"earned": "earned", "issued": "issued", "balance": "outstanding", "outstanding": "outstanding",
                  "expired": "expired", "reversed": "reversed"}


def balance_of(x: ast.Expect, program: ir.Program) -> str | None:
    """The balance beside the points an expectation counts in (`expect earned 300 qualifying_dollars`)."""
    return x.unit if x.unit is not None and x.unit in program.balance_names() else None


def value_of(kind: str, result: Result, name: str | None = None, balance: str | None = None) -> object:
    """What an expectation of `kind` reads from a run: points (of `balance`, when it counts in a
    balance beside the points), cents, a tier name, a number."""
    if balance is not None and kind in TOTALS:
        attr = BALANCE_TOTALS.get(kind)
        return int(getattr(result.balances[balance], attr)) if attr is not None else 0
    if kind in TOTALS:
        return int(getattr(result, TOTALS[kind]))
    if kind == "tier":
        return result.tier
    if kind == "counter":
        return Fraction(result.counters.get(name or "", 0))
    if kind == "metric":
        return result.metric
    raise ValueError(kind)


def expected_value(x: ast.Expect) -> object:
    """The expectation's value as `value_of` gives it: money as cents, numbers as Fraction."""
    value = x.value
    if isinstance(value, ast.Money):
        return Fraction(value.amount) * 100
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        if x.kind in MONEY_KINDS:  # a bare number is in currency units
            return Fraction(value) * 100
        return Fraction(value)
    return value


def describe_value(kind: str, value: object, program: ir.Program, name: str | None = None,
                   balance: str | None = None) -> str:
    """`24 stars`, `3.00 USD`, `Gold`, `5`, `300 qualifying_dollars`, for a message."""
    if value is None:
        return "none"
    if balance is not None:
        return f"{number(Fraction(value))} {balance}"  # type: ignore[arg-type]
    unit = program.points_unit
    spend = kind == "metric" and program.tiers is not None and program.tiers.metric == "spend"
    if kind in MONEY_KINDS or spend:
        return money(value, program.currency)  # type: ignore[arg-type]
    if kind in TOTALS or (kind == "metric" and program.tiers is not None and program.tiers.metric == "points"):
        n = Fraction(value)  # type: ignore[arg-type]
        return f"{number(n)} {singular(unit) if abs(n) == 1 else unit}"
    if isinstance(value, Fraction):
        return number(value)
    return str(value)


def _what(x: ast.Expect, program: ir.Program) -> str:
    if x.kind == "counter":
        return f"counter {x.name}"
    if x.kind == "metric":
        return f"{program.tiers.metric if program.tiers else 'metric'}"
    return x.kind


def state_detail(x: ast.Expect, result: Result, program: ir.Program) -> str:
    """Where the actual value came from, for a failing state expectation."""
    if x.kind == "tier":
        changes = [f"{h.date} {h.from_tier} -> {h.to_tier}" for h in result.tier_history]
        return "tier changes: " + "; ".join(changes) if changes else "no tier changes"
    if x.kind == "metric":
        return f"tier {result.tier}"
    if x.kind == "counter":
        counted = sum(1 for s in result.trace if s.kind != "calendar")
        return f"after {counted} event{'s' if counted != 1 else ''}"
    return ", ".join(f"{name} {int(getattr(result, name))}"
                     for name in ("issued", "redeemed", "expired", "reversed", "pending"))


def check_state_on(x: ast.Expect, runs: StepRuns, program: ir.Program) -> tuple[object, object, str] | None:
    """An expectation on the state at the end of `x.on`: None, or (expected, actual, message)."""
    assert x.on is not None
    result = runs.at_end_of(x.on)
    balance = balance_of(x, program)
    actual = value_of(x.kind, result, x.name, balance)
    expected = expected_value(x)
    if expected == actual:
        return None
    what = _what(x, program)
    message = (f"expected {what} {describe_value(x.kind, expected, program, balance=balance)} at the end of "
               f"{x.on:%Y-%m-%d}, got {describe_value(x.kind, actual, program, balance=balance)} "
               f"({state_detail(x, result, program)})")
    return expected, actual, message


def _event_label(x: ast.Expect, event: Event) -> str:
    word = event.kind.replace("_", " ")
    label = f"{word} on {event.at:%Y-%m-%d %H:%M}"
    return label + (f" (id \"{event.id}\")" if event.id is not None else "")


def check_event_expect(x: ast.Expect, case: ast.TestCase, runs: StepRuns,
                       program: ir.Program) -> tuple[object, object, str] | None:
    """An expectation on what one event moved: None, or (expected, actual, message)."""
    found = matching_events(case, x)
    if len(found) != 1:  # the checker reports it (RL431 / RL432); a tests-only file is checked too
        return expected_value(x), None, f"the test has {len(found)} events that match this expectation"
    i = found[0]
    event = runs.events[i]
    after, before = runs.prefix(i + 1, event.date), runs.prefix(i, event.date)
    balance = balance_of(x, program)
    actual = value_of(x.kind, after, None, balance) - value_of(x.kind, before, None, balance)  # type: ignore[operator]
    expected = expected_value(x)
    if expected == actual:
        return None
    step = next((s for s in reversed(after.trace) if s.kind != "calendar"), None)
    fired = [f"rule {r.rule} {r.points}" if r.points else f"rule {r.rule} fired"
             for r in (step.rules if step else ()) if r.fired]
    missed = [f"{r.rule}: {r.reason}" for r in (step.rules if step else ()) if not r.fired and r.reason]
    parts = fired + missed + list(step.notes if step else ())
    detail = "; ".join(parts[:6]) or "no rule was a candidate"
    verb = {"earned": "earn", "redeemed": "redeem", "reversed": "reverse", "discount": "get a discount of",
            "cost": "cost"}[x.kind]
    message = (f"expected the {_event_label(x, event)} to {verb} "
               f"{describe_value(x.kind, expected, program, balance=balance)}, "
               f"got {describe_value(x.kind, actual, program, balance=balance)} ({detail})")
    return expected, actual, message



def check_state_at_end(x: ast.Expect, result: Result, program: ir.Program) -> tuple[object, object, str] | None:
    """`expect counter NAME N` / `expect spend 120 USD` at the end of the test."""
    actual = value_of(x.kind, result, x.name)
    expected = expected_value(x)
    if expected == actual:
        return None
    what = _what(x, program)
    message = (f"expected {what} {describe_value(x.kind, expected, program)}, "
               f"got {describe_value(x.kind, actual, program)} ({state_detail(x, result, program)})")
    return expected, actual, message
