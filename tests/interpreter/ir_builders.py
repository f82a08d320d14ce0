"""Short builders of IR programs and events for the interpreter tests.

Programs are built directly as `ir` objects (no parser) with the defaults of
docs/semantics.md: points unit "points", USD, rounding down, multipliers multiply,
no pending, no expiry, no returns policy (nothing reversed), point value 1 cent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from fractions import Fraction

from rulelang import ir
from rulelang.run.interpreter import Customer, Event, run

F = Fraction


def D(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def cents(usd: str | int) -> int:
    value = Decimal(str(usd)) * 100
    assert value == value.to_integral_value()
    return int(value)


def rule(name: str, *actions: ir.Action, event: str = "purchase", when: ir.Expr | None = None,
         rounding: str = "down", priority: int = 0, group: str | None = None,
         during: tuple[str, str] | None = None, caps: tuple[ir.Cap, ...] = (),
         budget: ir.Budget | None = None, every_nth: int | None = None,
         streak: ir.Streak | None = None) -> ir.Rule:
    return ir.Rule(
        name=name, order=0, event=event, condition=when, actions=tuple(actions), rounding=rounding,  # type: ignore[arg-type]
        priority=priority, group=group, start=D(during[0]) if during else None,
        end=D(during[1]) if during else None, caps=caps, budget=budget, every_nth=every_nth, streak=streak,
    )


def program(*rules: ir.Rule, **overrides: object) -> ir.Program:
    """An ir.Program; rules get source order as given and are sorted priority desc, then order."""
    ordered = [dataclasses.replace(r, order=i) for i, r in enumerate(rules)]
    ordered.sort(key=lambda r: (-r.priority, r.order))
    fields: dict[str, object] = dict(
        name="Test", points_unit="points", currency="USD", point_cost_cents=F(0), point_value_cents=F(1),
        stacking="multiply", rounding="down", pending_days=0, events=(), attributes=(), counters=(),
        rules=tuple(ordered), tiers=None, expiry=(), returns=ir.ReturnPolicy(reverse=False, negative_balance=False),
        rewards=(), pay_with_points=None, conversion=None,
    )
    fields.update(overrides)
    return ir.Program(**fields)  # type: ignore[arg-type]


# ---------------------------------------------------------------- actions


def per_usd(points: str | int = 1, per: str | int = 1, base: str = "net", excluding: tuple[str, ...] = ()) -> ir.RateAward:
    """`award POINTS points per PER USD of BASE amount` -> rate in points per cent."""
    return ir.RateAward(F(str(points)) / cents(per), base, frozenset(excluding))  # type: ignore[arg-type]


def fixed(points: int, to: str = "customer") -> ir.FixedAward:
    return ir.FixedAward(points, to)  # type: ignore[arg-type]


def mult(factor: str) -> ir.Multiplier:
    return ir.Multiplier(F(factor))


def discount_pct(percent: str, base: str = "net", excluding: tuple[str, ...] = ()) -> ir.DiscountAction:
    return ir.DiscountAction(F(percent), None, base, frozenset(excluding))  # type: ignore[arg-type]


def discount_usd(usd: str) -> ir.DiscountAction:
    return ir.DiscountAction(None, cents(usd))


def cap(limit: int, period: str, unit: str = "points") -> ir.Cap:
    return ir.Cap(limit, unit, period)  # type: ignore[arg-type]


# ---------------------------------------------------------------- conditions


def field(name: str, type_: str = "string") -> ir.Field:
    return ir.Field(name, type_)  # type: ignore[arg-type]


def const(value: object, type_: str = "string") -> ir.Const:
    return ir.Const(value, type_)  # type: ignore[arg-type]


def eq(name: str, value: object, type_: str = "string", op: str = "==") -> ir.Cmp:
    return ir.Cmp(op, field(name, type_), const(value, type_))  # type: ignore[arg-type]


def among(name: str, values: set, type_: str = "string", negated: bool = False) -> ir.InSet:
    return ir.InSet(field(name, type_), frozenset(values), negated)


# ---------------------------------------------------------------- events


def at(when: str) -> dt.datetime:
    """`2027-05-04` (noon) or `2027-05-04 09:30`."""
    if " " in when:
        return dt.datetime.fromisoformat(when)
    return dt.datetime.combine(D(when), dt.time(12, 0))


def purchase(when: str, usd: str | int, id: str | None = None, **fields: object) -> Event:
    if "shipping" in fields:
        fields["shipping_cents"] = cents(fields.pop("shipping"))  # type: ignore[arg-type]
    return Event("purchase", at(when), amount_cents=cents(usd), fields=fields, id=id)


def ret(when: str, order: str, usd: str | None = None) -> Event:
    return Event("return", at(when), amount_cents=cents(usd) if usd is not None else None, name=order)


def event(kind: str, when: str, name: str | None = None, usd: str | None = None, **fields: object) -> Event:
    return Event(kind, at(when), amount_cents=cents(usd) if usd is not None else None, name=name, fields=fields)


def redeem(when: str, reward: str) -> Event:
    return Event("redeem", at(when), name=reward)




# ---------------------------------------------------------------- reading results


def steps(result):
    """The trace steps of events (calendar steps left out)."""
    return [s for s in result.trace if s.kind != "calendar"]


def rule_trace(result, event_index: int, rule_name: str):
    """The RuleTrace of `rule_name` on the event_index-th event."""
    step = steps(result)[event_index]
    for r in step.rules:
        if r.rule == rule_name:
            return r
    raise KeyError(f"{rule_name} is not a candidate of event {event_index}: {step}")


def reason(result, event_index: int, rule_name: str) -> str | None:
    return rule_trace(result, event_index, rule_name).reason


def points_of(result, event_index: int, rule_name: str) -> int:
    trace = rule_trace(result, event_index, rule_name)
    return trace.points if trace.fired else 0
