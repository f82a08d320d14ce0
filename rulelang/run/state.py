"""The reference interpreter's inputs and the state its earning steps work on.

Takes: nothing (plain data). Gives: `Event` (one thing a customer did), `Customer` (the
starting state of a run), `BudgetState` (the global budgets, shared across customers when
the caller passes one instance to several runs), and `RunState`, what
`rulelang.run.earning` reads and changes of one customer's run (`rulelang.run.interpreter`
implements it). Below both modules, so that neither imports the other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Hashable, Mapping, Protocol, Sequence

from rulelang import ir
from rulelang.diagnostics import Span
from rulelang.run.conditions import Formatter
from rulelang.run.ledger import Ledger

@dataclass(frozen=True)
class Line:
    """One line of a purchase: its amount (cents, the goods of the line), category, quantity
    (litres, nights, units) and SKU. A purchase without lines is one line (docs/semantics.md §3.1)."""

    amount_cents: int
    category: str | None = None
    quantity: int = 0
    sku: str | None = None
    # the program's line attributes this line gives (`brand "Own"`), name -> value (string,
    # Fraction, bool or money in cents); one it does not give reads its default
    # (`rulelang.ir.LINE_ATTRIBUTE_DEFAULTS`)
    attributes: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Event:
    """One thing the customer did. `at` may be a date (taken as 12:00).

    purchase: amount_cents, fields category / channel / store / items / shipping_cents;
    return: name = the order id (the purchase's `id`), amount_cents = returned part (None: all);
    referral: fields role = "referrer" | "referee"; custom events: their declared fields;
    redeem: name = reward; pay: amount_cents paid with points (fields basket_cents optional);
    use_perk: name = perk. `lines`: a purchase's lines (empty: the purchase is one line)."""

    kind: str
    at: dt.datetime
    amount_cents: int | None = None
    name: str | None = None
    fields: Mapping[str, object] = field(default_factory=dict)
    id: str | None = None
    span: Span | None = field(default=None, compare=False)
    lines: tuple[Line, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.at, dt.date) and not isinstance(self.at, dt.datetime):
            object.__setattr__(self, "at", dt.datetime.combine(self.at, dt.time(12, 0)))

    @property
    def date(self) -> dt.date:
        return self.at.date()


@dataclass(frozen=True)
class Customer:
    """The starting state (a test's `given` lines). `metric` is in the tier metric's unit
    (cents for spend); `balance` becomes one lot earned the day before the first event."""

    tier: str | None = None
    balance: int = 0
    attributes: Mapping[str, object] = field(default_factory=dict)
    purchases: int = 0
    metric: Fraction | int = 0
    birthday: tuple[int, int] | None = None
    counters: Mapping[str, int] = field(default_factory=dict)
    balances: Mapping[str, int] = field(default_factory=dict)  # opening balances beside the points, by name


@dataclass
class BudgetState:
    """Remaining global budget per rule name (points, or Fraction cents for money budgets).

    Share one instance across customers to model a campaign budget for everyone."""

    remaining: dict[str, int | Fraction] = field(default_factory=dict)

    def left(self, rule: ir.Rule) -> int | Fraction | None:
        if rule.budget is None:
            return None
        if rule.name not in self.remaining:
            start = rule.budget.points if rule.budget.points is not None else Fraction(rule.budget.cents or 0)
            self.remaining[rule.name] = start
        return self.remaining[rule.name]

    def spend(self, rule: ir.Rule, amount: int | Fraction) -> None:
        if rule.budget is not None and amount:
            self.remaining[rule.name] = self.left(rule) - amount  # type: ignore[operator]



class RunState(Protocol):
    """One customer's run as the earning steps (§4.2 steps 2-9) see it."""

    p: ir.Program
    customer: Customer
    rules: Sequence[ir.Rule]  # in evaluation order
    fmt: Formatter
    budgets: BudgetState
    ledger: Ledger
    nth_counts: dict[str, int]
    streaks: dict[str, tuple[int, int]]
    cap_usage: dict[tuple[str, int], tuple[Hashable, int]]
    fired: set[str]
    points_by_rule: dict[str, int]
    cents: dict[str, int]
    books: dict[str, Any]  # balance name -> `rulelang.run.balances.BalanceBook`

    def current_tier(self) -> ir.Tier | None: ...

    def book_perk(self, day: dt.date, name: str, cents: int, note: str) -> None: ...
