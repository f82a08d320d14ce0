"""IR: the executable form of a program — the contract between the language and the engines.

Takes: nothing (plain data, built by `rulelang.check.compiler`). Gives: frozen dataclasses
with every quantity in exact units: money in integer cents, rates as `Fraction`
points per cent, dates as `datetime.date`, weekdays 0=Mon..6=Sun, tiers by index
(0 = base tier). Both the reference interpreter and the vectorized simulator run
this and nothing else. No source spans except `rule_line` for traces.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal as Lit, Union

Rounding = Lit["down", "up", "nearest"]
Base = Lit["net", "gross"]
Period = Lit["day", "week", "month", "quarter", "year", "lifetime"]
ValueType = Lit["string", "number", "bool", "money", "date", "weekday", "tier"]

# ---------------------------------------------------------------- expressions
# Values: string -> str, number -> Fraction, bool -> bool, money -> int cents,
# date -> datetime.date, weekday -> int 0..6, tier -> int index.


@dataclass(frozen=True, slots=True)
class Const:
    value: Union[str, Fraction, bool, int, dt.date]
    type: ValueType


@dataclass(frozen=True, slots=True)
class Field:
    """A value read from the event or the customer. Names are the documented
    field names (`amount`, `category`, `weekday`, `tier`, `first_purchase`, ...),
    `customer.<attr>` for declared attributes and `event.<field>` for declared
    custom-event fields."""

    name: str
    type: ValueType


@dataclass(frozen=True, slots=True)
class Cmp:
    op: Lit["==", "!=", "<", "<=", ">", ">="]
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True, slots=True)
class InSet:
    left: "Expr"
    values: frozenset[Union[str, Fraction, bool, int, dt.date]]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple["Expr", ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: "Expr"


Expr = Union[Const, Field, Cmp, InSet, And, Or, Not]

# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class FixedAward:
    points: int
    to: Lit["customer", "referrer", "referee"] = "customer"


@dataclass(frozen=True, slots=True)
class RateAward:
    """points = round(rate * base_cents * multiplier); cashback compiles to this too."""

    rate: Fraction  # points per cent of base
    base: Base
    excluding: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Multiplier:
    factor: Fraction


@dataclass(frozen=True, slots=True)
class DiscountAction:
    percent: Fraction | None  # e.g. Fraction(10) for 10 %
    fixed_cents: int | None
    base: Base = "net"
    excluding: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PerkAction:
    name: str
    cost_cents: int


Action = Union[FixedAward, RateAward, Multiplier, DiscountAction, PerkAction]


@dataclass(frozen=True, slots=True)
class Cap:
    limit: int
    unit: Lit["points", "times"]
    period: Period


@dataclass(frozen=True, slots=True)
class Budget:
    points: int | None
    cents: int | None


@dataclass(frozen=True, slots=True)
class Streak:
    length: int
    period: Lit["day", "week", "month"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    order: int  # source order, 0-based; tie-break after priority
    event: str
    condition: Expr | None
    actions: tuple[Action, ...]
    rounding: Rounding
    priority: int
    group: str | None
    start: dt.date | None
    end: dt.date | None
    caps: tuple[Cap, ...]
    budget: Budget | None
    every_nth: int | None
    streak: Streak | None
    line: int = field(default=0, compare=False)  # source line for traces; not part of equality


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    fields: tuple[tuple[str, ValueType], ...]


@dataclass(frozen=True, slots=True)
class Counter:
    name: str
    event: str
    sums: str | None
    condition: Expr | None


@dataclass(frozen=True, slots=True)
class Expiry:
    kind: Lit["after_earning", "inactivity", "fixed_date", "yearly", "never"]
    months: int | None = None
    end_of_month: bool = False
    date: dt.date | None = None
    month_day: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class TierPerk:
    name: str
    cost_cents: int
    per: Lit["use", "month", "year"]


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    threshold: Fraction  # in metric units: cents for spend, points, purchases, counter units
    multiplier: Fraction | None
    discount_percent: Fraction | None
    expiry: tuple[Expiry, ...] | None  # None: program expiry applies
    perks: tuple[TierPerk, ...]


@dataclass(frozen=True, slots=True)
class TierSystem:
    metric: str  # "spend" | "points" | "purchases" | counter name
    window: Lit["calendar_year", "rolling", "lifetime"]
    window_months: int | None
    tiers: tuple[Tier, ...]  # increasing thresholds; index 0 is the base tier
    review: Lit["monthly", "quarterly", "yearly", "never"]
    downgrade: Lit["one_step", "to_base", "to_qualified", "never"]
    grace_months: int
    validity_months: int


@dataclass(frozen=True, slots=True)
class Reward:
    name: str
    price: int
    worth_cents: int | None
    cost_cents: int


@dataclass(frozen=True, slots=True)
class PayWithPoints:
    points: int  # this many points ...
    cents: int  # ... pay this much
    minimum_balance: int
    max_share: Fraction  # percent of the basket, 0..100


@dataclass(frozen=True, slots=True)
class Conversion:
    points: int
    voucher_cents: int
    period: Lit["month", "quarter", "year"]


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    reverse: bool
    negative_balance: bool  # True: balance may go below zero


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    points_unit: str
    currency: str
    point_cost_cents: Fraction  # cost to the business of one redeemed point
    point_value_cents: Fraction | None  # face value of one point to the customer
    stacking: Lit["add", "multiply"]
    rounding: Rounding
    pending_days: int
    events: tuple[EventType, ...]  # declared custom events
    attributes: tuple[tuple[str, ValueType], ...]
    counters: tuple[Counter, ...]
    rules: tuple[Rule, ...]  # in evaluation order: priority desc, then source order
    tiers: TierSystem | None
    expiry: tuple[Expiry, ...]
    returns: ReturnPolicy
    rewards: tuple[Reward, ...]
    pay_with_points: PayWithPoints | None
    conversion: Conversion | None
