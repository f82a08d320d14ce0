"""AST: what the text parser and the YAML loader both produce.

Takes: nothing (plain data). Gives: frozen dataclasses that mirror the surface
language one-to-one, with a source `span` on every node. Spans are excluded
from equality, so the text and YAML forms of one program give equal ASTs.
Numbers keep their written form as `Decimal`; meaning (cents, fractions,
ordinals) is assigned later by the compiler (`rulelang.check.compiler`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal as Lit, Union

from rulelang.diagnostics import NO_SPAN, Span


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False, kw_only=True)  # type: ignore[return-value]


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Money:
    """A money literal such as `7.40 USD`."""

    amount: Decimal
    currency: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: string, number, bool, date (`2027-05-04`) or money."""

    value: Union[str, Decimal, bool, dt.date, Money]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ref:
    """A bare or dotted name: a field (`category`, `customer.vip`, `event.rating`)
    or an enum constant (`sat`, `Gold`) — the checker decides which."""

    path: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Compare:
    op: Lit["==", "!=", "<", "<=", ">", ">="]
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class InList:
    left: "Expr"
    items: tuple["Expr", ...]
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Lit["and", "or"]
    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    item: "Expr"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AnyLine:
    """`any line category == "coffee"`: true when the condition holds for a line of the purchase."""

    item: "Expr"
    span: Span = _span()


Expr = Union[Literal, Ref, Compare, InList, BoolOp, Not, AnyLine]


# ---------------------------------------------------------------- rule parts

Base = Lit["net", "gross"]
Period = Lit["day", "week", "month", "quarter", "year", "lifetime"]
Rounding = Lit["down", "up", "nearest"]


@dataclass(frozen=True, slots=True)
class Quantity:
    """A quantity of the purchase as an award is per: `2 litres`, `1 night`, `5 quantity`."""

    value: Decimal
    unit: str  # the unit word as written (free text: the purchase's `quantity` counts it)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Award:
    """`award 1 star per 1 USD of net amount excluding category "gift_card"`,
    `award 50 stars`, `award 100 stars to referrer`."""

    points: Decimal
    per: Money | Quantity | None = None  # money: per amount; quantity: per unit of the purchase's `quantity`
    base: Base = "net"
    excluding: tuple[str, ...] = ()
    to: Lit["customer", "referrer", "referee"] = "customer"
    unit: str = "points"  # the unit word as written (checked against the program's)
    only: tuple[str, ...] = ()  # `in category "fuel"`: only the lines of these categories count
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cashback:
    """`award 2% of net amount excluding category "shipping"` (points worth `point value`)."""

    percent: Decimal
    base: Base = "net"
    excluding: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Multiply:
    """`multiply 2x`: scales rate-based awards of the same event; `multiply 2x in category
    "coffee"`: only what they award on the lines of those categories."""

    factor: Decimal
    only: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Discount:
    """`discount 10% of net amount excluding category "sale"` or `discount 5 USD`."""

    percent: Decimal | None = None
    amount: Money | None = None
    base: Base = "net"
    excluding: tuple[str, ...] = ()
    only: tuple[str, ...] = ()  # `discount 10% in category "produce"`: only the lines of these categories
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Perk:
    """`perk free_delivery costs 4.99 USD` (cost to the business each time it fires)."""

    name: str
    cost: Money
    span: Span = _span()


Action = Union[Award, Cashback, Multiply, Discount, Perk]


@dataclass(frozen=True, slots=True)
class Cap:
    """`cap 200 stars per customer per month` or `limit 1 times per customer per day`."""

    limit: int
    unit: Lit["points", "times"]
    period: Period
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Budget:
    """`budget 100000 stars` or `budget 5000 USD` (global, all customers together)."""

    points: int | None = None
    money: Money | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DateWindow:
    """`during 2027-01-01 .. 2027-03-31` (both ends inclusive)."""

    start: dt.date
    end: dt.date
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Streak:
    """`streak 4 weeks`: fires on the event that completes N consecutive periods with a match."""

    length: int
    period: Lit["day", "week", "month"]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EarnRule:
    name: str
    event: str
    condition: Expr | None = None
    actions: tuple[Action, ...] = ()
    rounding: Rounding | None = None
    priority: int = 0
    group: str | None = None
    window: DateWindow | None = None
    caps: tuple[Cap, ...] = ()
    budget: Budget | None = None
    every_nth: int | None = None
    streak: Streak | None = None
    span: Span = _span()


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class FieldDecl:
    """`rating: number` inside `event review { ... }`, or `attribute vip: bool`."""

    name: str
    type: Lit["string", "number", "bool", "money", "date"]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LineAttributeDecl:
    """`line attribute brand: string`: a product attribute the lines of a purchase carry."""

    name: str
    type: Lit["string", "number", "bool", "money", "date"]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EventDecl:
    name: str
    fields: tuple[FieldDecl, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CounterDecl:
    """`counter nights sums items on purchase when category == "room"`; without `sums` it counts events."""

    name: str
    event: str
    sums: str | None = None
    condition: Expr | None = None
    span: Span = _span()


# ---------------------------------------------------------------- tiers


@dataclass(frozen=True, slots=True)
class TierPerk:
    """`perk free_refill costs 0.30 USD per use` / `per month` / `per year`."""

    name: str
    cost: Money
    per: Lit["use", "month", "year"] = "use"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expiry:
    """One expiry policy; a lot expires at the earliest date any policy gives.

    kind "after_earning": `expire stars 12 months after earning [at end of month]`
    kind "inactivity":   `expire stars after 18 months of inactivity`
    kind "fixed_date":   `expire stars on 2027-12-31`
    kind "yearly":       `expire stars yearly on 12-31`
    kind "never":        `stars never expire` (only inside a tier)
    """

    kind: Lit["after_earning", "inactivity", "fixed_date", "yearly", "never"]
    months: int | None = None
    end_of_month: bool = False
    date: dt.date | None = None
    month_day: tuple[int, int] | None = None
    unit: str | None = None  # a declared balance's word (`expire qualifying_dollars yearly on 01-01`); None: the points
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    threshold: Decimal
    threshold_money: Money | None = None  # set when the metric is spend and a currency was written
    multiplier: Decimal | None = None
    discount: Decimal | None = None  # percent off every purchase while in this tier
    expiry: tuple[Expiry, ...] = ()
    perks: tuple[TierPerk, ...] = ()
    rate: Decimal | None = None  # `award 1.2 stars per 1 USD`: the tier sets the earn rate ...
    rate_per: Money | None = None  # ... per this much money (rounded once per purchase)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TierWindow:
    kind: Lit["calendar_year", "rolling", "lifetime"]
    months: int | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TierSystem:
    """`tiers by spend over rolling 12 months { tier ... ; review monthly; downgrade one step }`."""

    metric: str  # "spend" | "points" | "purchases" | a declared counter name
    window: TierWindow
    tiers: tuple[Tier, ...]
    review: Lit["monthly", "quarterly", "yearly", "never"] = "never"
    downgrade: Lit["one_step", "to_base", "to_qualified", "never"] = "never"
    grace_months: int = 0
    validity_months: int = 0
    spend_basis: Lit["after_discounts", "before_discounts"] | None = None  # `by spend before discounts`; None: not written (after)
    on_return: Lit["keep_until_review", "lower_at_once"] | None = None  # `returns keep tier until review`; None: not written (keep)
    # `status valid through 01-31 of the year after next [then one step]`: a status earned in a
    # qualification year Y lasts through that month-day of year Y + status_years
    status_through: tuple[int, int] | None = None
    status_years: int = 0
    status_drop: Lit["to_qualified", "one_step"] = "to_qualified"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Balance:
    """`balance "qualifying_dollars" not redeemable`: a balance beside the points, earned by
    rules that award its word, never spent (docs/semantics.md §2.1)."""

    name: str
    redeemable: bool = True  # as written: `not redeemable` sets False (the checker requires it)
    span: Span = _span()


# ---------------------------------------------------------------- redemption


@dataclass(frozen=True, slots=True)
class Reward:
    """`reward free_drink { price 150 stars; worth 5 USD; costs us 1.50 USD }`;
    `reward coupon { price 500 points; voucher 5 EUR valid 1 year }` issues a voucher with a life."""

    name: str
    price: int
    worth: Money | None = None
    cost: Money | None = None
    voucher: Money | None = None
    valid: int | None = None
    valid_unit: Lit["days", "months", "years"] = "years"
    unit: str | None = None  # the price's unit word when it is not the points' (the checker refuses it)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PayWithPoints:
    """`pay with points { 100 points = 1 USD; minimum balance 500 points; at most 50% of basket }`."""

    points: int
    money: Money
    minimum_balance: int = 0
    max_share: Decimal = Decimal(100)
    unit: str | None = None  # `pay with WORD` when WORD is not the points' (the checker refuses it)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Conversion:
    """`convert every 150 points into a 5 USD voucher at end of quarter`;
    `... into a 5 EUR voucher valid 2 years at end of Feb, May, Aug, Nov`.

    `period` is "months" when the schedule is a list of months (`months`, as written);
    `valid` / `valid_unit`: the voucher's validity (None: a voucher without a life,
    its cost booked at issue)."""

    points: int
    voucher: Money
    period: Lit["month", "quarter", "year", "months"]
    months: tuple[str, ...] = ()
    valid: int | None = None
    valid_unit: Lit["days", "months", "years"] = "years"
    unit: str | None = None  # `convert every N WORD` when WORD is not the points' (the checker refuses it)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    """`returns reverse earned points; negative balance allowed|forbidden`."""

    reverse: bool = True
    negative_balance: Lit["allowed", "forbidden"] = "forbidden"
    lower_metrics: bool = False  # `returns lower tier metric and counters`
    span: Span = _span()


# ---------------------------------------------------------------- tests


@dataclass(frozen=True, slots=True)
class Given:
    """`given tier Gold`, `given balance 500 stars`, `given attribute vip = true`,
    `given purchases 9`, `given spend 120 USD` (qualifying metric so far),
    `given birthday 05-04`, `given counter nights = 3`."""

    kind: Lit["tier", "balance", "attribute", "purchases", "metric", "birthday", "counter"]
    name: str | None = None
    value: Union[str, Decimal, bool, dt.date, Money, tuple[int, int], None] = None
    unit: str | None = None  # a points word written after the number that is not the program's (for the checker)
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EventSpec:
    """`when purchase 7.40 USD category "coffee" channel "app" on 2027-05-04 at 09:30`.

    `amount` is the leading money; other fields by name. For redeem / use perk /
    return the `name` is the reward, perk, or order id."""

    kind: str
    at: dt.datetime
    amount: Money | None = None
    name: str | None = None
    fields: tuple[tuple[str, Literal], ...] = ()
    lines: tuple["LineSpec", ...] = ()  # a purchase's lines: `{ line 12.00 EUR category "fuel" quantity 45 }`
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class LineSpec:
    """`line 12.00 EUR category "fuel" quantity 45 sku "E10"`: one line of a purchase in a test."""

    amount: Money | None = None
    fields: tuple[tuple[str, Literal], ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Expect:
    """`expect earned 8 stars`, `expect balance 8`, `expect tier Gold`,
    `expect discount 3.00 USD`, `expect fired weekend_coffee`, `expect not fired x`,
    also available / pending / redeemed / expired / reversed / cost; `expect counter visits 5`,
    `expect spend 120 USD` (kind `metric`), any of those `on 2027-06-01` (the state at the end of
    that date), and `expect purchase on 2027-05-04 earned 24 stars` (what one event moved)."""

    kind: str
    value: Union[int, str, Money, Decimal, None] = None
    negated: bool = False
    # what the expectation is about (tests that check each step):
    name: str | None = None  # `counter NAME`; for `metric`, the word written (`spend`, `nights`), None for `metric`
    unit: str | None = None  # a points word written that is not the program's own (kept for the checker)
    on: dt.date | None = None  # the state at the end of this date; with `event`, the event's date
    event: str | None = None  # `expect purchase ... earned 24 stars`: what one event of this kind moved
    event_id: str | None = None  # the event by its id (`expect purchase "A1" ...`)
    at: dt.time | None = None  # the event's time, when several events of the kind share the date
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TestCase:
    name: str
    givens: tuple[Given, ...] = ()
    events: tuple[EventSpec, ...] = ()
    expects: tuple[Expect, ...] = ()
    until: dt.date | None = None
    span: Span = _span()


# ---------------------------------------------------------------- program


@dataclass(frozen=True, slots=True)
class Comment:
    """A `# ...` comment kept for the formatter; `line` is where it was written."""

    text: str
    line: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Program:
    name: str
    points_unit: str = "points"
    currency: str = "USD"
    balances: tuple[Balance, ...] = ()
    point_cost: Money | None = None
    point_value: Money | None = None
    stacking: Lit["add", "multiply"] = "multiply"
    rounding: Rounding = "down"
    pending_days: int = 0
    events: tuple[EventDecl, ...] = ()
    attributes: tuple[FieldDecl, ...] = ()
    counters: tuple[CounterDecl, ...] = ()
    rules: tuple[EarnRule, ...] = ()
    tiers: TierSystem | None = None
    expiry: tuple[Expiry, ...] = ()
    returns: ReturnPolicy | None = None
    rewards: tuple[Reward, ...] = ()
    pay_with_points: PayWithPoints | None = None
    conversion: Conversion | None = None
    # `activity is purchase, redemption, any earning event`: what keeps points alive under an
    # inactivity expiry; () is the default, a purchase or any earning event
    activity: tuple[Lit["purchase", "redemption", "earning"], ...] = ()
    # `line attribute brand: string`: the lines' own attributes (docs/semantics.md §3.1)
    line_attributes: tuple[LineAttributeDecl, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One parsed file: a program (or none, for a tests-only file), its tests and comments."""

    path: str
    program: Program | None
    tests: tuple[TestCase, ...] = ()
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    # Where statements that have no node of their own were written (`currency USD`,
    # `priority 10`, `review monthly`, `price 150 stars`, `until ...`), keyed by
    # (line, column) of the enclosing node's span and the statement's keyword.
    # Filled by the text parser; the formatter uses it to keep comments beside them.
    statement_spans: tuple[tuple[tuple[int, int, str], Span], ...] = field(default=(), compare=False)
