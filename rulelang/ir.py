"""IR: the executable form of a program — the contract between the language and the engines.

Takes: nothing (plain data, built by `rulelang.check.compiler`). Gives: frozen dataclasses
with every quantity in exact units: money in integer cents, rates as `Fraction`
points per cent, dates as `datetime.date`, weekdays 0=Mon..6=Sun, tiers by index
(0 = base tier). Both the reference interpreter and the vectorized simulator run
this and nothing else. No source spans except `rule_line` for traces.

Sources of points: `POINT_SOURCES` (at the end) names every place an event's points come
from (rate awards per money, awards per quantity, the tier's multiplier, rules' multipliers,
fixed awards), in the order
docs/semantics.md §4.2 works them out, with what each is per (`AwardBasis`). The reference
interpreter (`rulelang.run.earning`), the vectorized engine (`simulator.engine.program_arm`)
and the engine's global-budget bound each keep a table of one handler per source and run
them through `in_source_order`, which refuses a table that misses a source; signup,
birthday and referral awards, streaks and every-Nth rules are rules whose actions are these
sources. (Opening balances are issued once, before any event, and are not earned; discounts
and perks give money, not points: `MONEY_ACTIONS`.)

Adding an award basis (the purchase `quantity`'s "award 1 point per 2 litres" was added so:
`AwardBasis.QUANTITY`, `QuantityAward`, `QUANTITY_AWARD`):
1. `AwardBasis`: a member (`QUANTITY = "quantity"`).
2. An action dataclass that declares it (`QuantityAward(rate=..., excluding=...)`, rate in
   points per unit), added to `Action`; the compiler builds it.
3. A `PointSource` for it in `POINT_SOURCES`, at its §4.2 step (5 for a rate on an event
   value), saying whether multipliers multiply its points (`multiplied`: in R of step 6).
4. One handler in each table: `rulelang.run.earning.SOURCE_STEPS`,
   `simulator.engine.program_arm.SOURCE_STEPS` and `simulator.engine.program_arm.BOUND_TERMS`
   (what one customer's event can take at most, for the global-budget bound), and
   `rulelang.check.number_limits.BOUND_TERMS` (what one action adds to its event's RL410 bound).
   `tests/test_point_sources.py` fails until all four have it, and until every `Action`
   class is either declared by a source or listed in `MONEY_ACTIONS`.
5. docs/semantics.md §4 (the actions table and §4.2) says what it earns.
A new field with a default on an existing IR class changes `program_hash` of every program
(the hash covers every field) unless it is declared with `metadata=OMIT_DEFAULT` (left out of the
hash at its default, as the vouchers' `months` and `valid` of `Conversion`); a new class changes
only the programs that use it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from typing import Literal as Lit, Mapping, TypeVar, Union

Rounding = Lit["down", "up", "nearest"]
Base = Lit["net", "gross"]
Period = Lit["day", "week", "month", "quarter", "year", "lifetime"]
ValueType = Lit["string", "number", "bool", "money", "date", "weekday", "tier"]

# A field added to an existing class after programs were hashed: left out of `program_hash` while
# it holds its default, so the programs that do not use it keep their hash.
NEW_FIELD = {"hash": "omit default"}

# ---------------------------------------------------------------- expressions
# Values: string -> str, number -> Fraction, bool -> bool, money -> int cents,
# date -> datetime.date, weekday -> int 0..6, tier -> int index.


@dataclass(frozen=True, slots=True, kw_only=True)
class Const:
    value: Union[str, Fraction, bool, int, dt.date]
    type: ValueType


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """A value read from the event or the customer. Names are the documented
    field names (`amount`, `category`, `weekday`, `tier`, `first_purchase`, ...),
    `customer.<attr>` for declared attributes and `event.<field>` for declared
    custom-event fields."""

    name: str
    type: ValueType


@dataclass(frozen=True, slots=True, kw_only=True)
class Cmp:
    op: Lit["==", "!=", "<", "<=", ">", ">="]
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True, slots=True, kw_only=True)
class InSet:
    left: "Expr"
    values: frozenset[Union[str, Fraction, bool, int, dt.date]]
    negated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class And:
    items: tuple["Expr", ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Or:
    items: tuple["Expr", ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Not:
    item: "Expr"


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyLine:
    """`any line COND`: true when COND holds for at least one line of the purchase; COND reads
    only the line fields (`LINE_FIELDS`). A purchase without lines is one line."""

    item: "Expr"


# The fields a line carries, as a condition inside `any line` reads them, with their types: the one
# table of a line's built-in fields (the checker, the tests' lines, events files and both engines read
# it); a program adds its own with `line attribute NAME: TYPE` (`Program.line_attributes`).
LINE_FIELDS: dict[str, ValueType] = {"amount": "money", "category": "string", "quantity": "number", "sku": "string"}
# The types a declared line attribute may have, and the value a line that does not give it reads:
# a string none (it equals no text, as a missing `sku`), false, 0.
LINE_ATTRIBUTE_TYPES: tuple[ValueType, ...] = ("string", "number", "bool", "money")
LINE_ATTRIBUTE_DEFAULTS: dict[str, object] = {"string": None, "number": Fraction(0), "bool": False, "money": 0}

Expr = Union[Const, Field, Cmp, InSet, And, Or, Not, AnyLine]

# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True, kw_only=True)
class FixedAward:
    points: int
    to: Lit["customer", "referrer", "referee"] = "customer"


@dataclass(frozen=True, slots=True, kw_only=True)
class RateAward:
    """points = round(rate * base_cents * multiplier); cashback compiles to this too."""

    rate: Fraction  # points per cent of base
    base: Base
    excluding: frozenset[str] = frozenset()
    only: frozenset[str] | None = field(default=None, metadata=NEW_FIELD)  # `in category`: only these lines


@dataclass(frozen=True, slots=True, kw_only=True)
class QuantityAward:
    """points = round(rate * quantity * multiplier): `award 1 point per 2 litres` is rate 1/2
    points per unit of the purchase's `quantity`."""

    rate: Fraction  # points per unit of quantity
    unit: str  # the unit word as written (`litres`, `nights`, `quantity`), for traces
    excluding: frozenset[str] = frozenset()
    only: frozenset[str] | None = field(default=None, metadata=NEW_FIELD)  # `in category`: only these lines


@dataclass(frozen=True, slots=True, kw_only=True)
class Multiplier:
    factor: Fraction
    only: frozenset[str] | None = field(default=None, metadata=NEW_FIELD)  # `in category`: on these lines' R


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscountAction:
    percent: Fraction | None  # e.g. Fraction(10) for 10 %
    fixed_cents: int | None
    base: Base = "net"
    excluding: frozenset[str] = frozenset()
    only: frozenset[str] | None = field(default=None, metadata=NEW_FIELD)  # `in category`: only these lines


@dataclass(frozen=True, slots=True, kw_only=True)
class PerkAction:
    name: str
    cost_cents: int


Action = Union[FixedAward, RateAward, QuantityAward, Multiplier, DiscountAction, PerkAction]


@dataclass(frozen=True, slots=True, kw_only=True)
class Cap:
    limit: int
    unit: Lit["points", "times"]
    period: Period


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    points: int | None
    cents: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Streak:
    length: int
    period: Lit["day", "week", "month"]


@dataclass(frozen=True, slots=True, kw_only=True)
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
    # the balance its points go to (a `Balance` name); None: the points. Left out of `program_hash`
    # while None, so programs with one balance hash as before.
    balance: str | None = field(default=None, metadata=NEW_FIELD)


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True, kw_only=True)
class EventType:
    name: str
    fields: tuple[tuple[str, ValueType], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Counter:
    name: str
    event: str
    sums: str | None
    condition: Expr | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Expiry:
    kind: Lit["after_earning", "inactivity", "fixed_date", "yearly", "never"]
    months: int | None = None
    end_of_month: bool = False
    date: dt.date | None = None
    month_day: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TierPerk:
    name: str
    cost_cents: int
    per: Lit["use", "month", "year"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Tier:
    name: str
    threshold: Fraction  # in metric units: cents for spend, points, purchases, counter units
    multiplier: Fraction | None
    discount_percent: Fraction | None
    expiry: tuple[Expiry, ...] | None  # None: program expiry applies
    perks: tuple[TierPerk, ...]
    # `award 1.2 stars per 1 USD` in the tier: points per cent that replace the rate of every
    # rate award on a purchase while the customer holds the tier (rounded once, per rule)
    rate: Fraction | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TierSystem:
    metric: str  # "spend" | "points" | "purchases" | counter name
    window: Lit["calendar_year", "rolling", "lifetime"]
    window_months: int | None
    tiers: tuple[Tier, ...]  # increasing thresholds; index 0 is the base tier
    review: Lit["monthly", "quarterly", "yearly", "never"]
    downgrade: Lit["one_step", "to_base", "to_qualified", "never"]
    grace_months: int
    validity_months: int
    # spend metric: amount - shipping before the purchase's discounts (default: after them)
    spend_before_discounts: bool = False
    # a return that lowers the metric below the current tier's threshold: keep the tier until
    # the next review (default), or move at once to the tier the metric now reaches
    on_return: Lit["keep_until_review", "lower_at_once"] = "keep_until_review"
    # status dates: a status earned in qualification year Y lasts through month-day
    # `status_through` of year Y + `status_years`; the day after, it drops (`status_drop`)
    status_through: tuple[int, int] | None = None
    status_years: int = 0
    status_drop: Lit["to_qualified", "one_step"] = "to_qualified"


#: Field metadata: a field added to an existing IR class that `program_hash` leaves out while it
#: holds its default (rulelang.check.compiler), so the programs that do not use it keep their hash.
OMIT_DEFAULT = {"omit_default": True}


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    """A balance beside the points (`balance "qualifying_dollars" not redeemable`): earned by
    the rules whose `balance` is its name, never redeemed, reversed by returns like the points,
    emptied by its own expiry (`fixed_date` or `yearly` only; none: it never expires)."""

    name: str  # the unit word as declared, e.g. "qualifying_dollars"
    expiry: tuple[Expiry, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Reward:
    name: str
    price: int
    worth_cents: int | None
    cost_cents: int  # booked when redeemed; 0 for a reward that issues a voucher (it costs when used)
    # a reward that issues a voucher with a life: its face value and validity (as `Conversion`)
    voucher_cents: int | None = field(default=None, metadata=OMIT_DEFAULT)
    valid: int | None = field(default=None, metadata=OMIT_DEFAULT)
    valid_unit: Lit["days", "months"] = field(default="months", metadata=OMIT_DEFAULT)


@dataclass(frozen=True, slots=True, kw_only=True)
class PayWithPoints:
    points: int  # this many points ...
    cents: int  # ... pay this much
    minimum_balance: int
    max_share: Fraction  # percent of the basket, 0..100


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversion:
    points: int
    voucher_cents: int
    period: Lit["month", "quarter", "year", "months"]
    # (`OMIT_DEFAULT`: left out of `program_hash` at their default, so programs without them keep their hash)
    months: tuple[int, ...] = field(default=(), metadata=OMIT_DEFAULT)  # "months": runs after these months end (1-12)
    valid: int | None = field(default=None, metadata=OMIT_DEFAULT)  # a voucher with a life: valid this many units
    valid_unit: Lit["days", "months"] = field(default="months", metadata=OMIT_DEFAULT)

    @property
    def end_months(self) -> tuple[int, ...]:
        """The months (1-12) after whose end the conversion runs, on the 1st of the next month."""
        if self.period == "months":
            return self.months
        return {"month": tuple(range(1, 13)), "quarter": (3, 6, 9, 12), "year": (12,)}[self.period]

    def runs_on(self, day: "dt.date") -> bool:
        """Conversion day: the 1st of the month after one of `end_months`."""
        return day.day == 1 and (12 if day.month == 1 else day.month - 1) in self.end_months


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnPolicy:
    reverse: bool
    negative_balance: bool  # True: balance may go below zero
    # `returns lower tier metric and counters`: a return lowers the tier metric, the counters and
    # the purchase count by the returned share of what its purchase added (docs/semantics.md §6)
    lower_metrics: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
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
    # what counts as activity for an inactivity expiry: "purchase" (any purchase), "redemption"
    # (a reward or a payment with points), "earning" (any event that earned points)
    activity: tuple[Lit["purchase", "redemption", "earning"], ...] = ("purchase", "earning")
    # balances beside the points; left out of `program_hash` while empty
    balances: tuple[Balance, ...] = field(default=(), metadata=NEW_FIELD)
    # `line attribute brand: string`: the product attributes a purchase's lines carry beside
    # `LINE_FIELDS`, read inside `any line`; left out of `program_hash` while empty
    line_attributes: tuple[tuple[str, ValueType], ...] = field(default=(), metadata=NEW_FIELD)

    def balance_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.balances)

    def line_fields(self) -> dict[str, ValueType]:
        """Every field a line of this program's purchases carries: `LINE_FIELDS` and its line attributes."""
        return {**LINE_FIELDS, **dict(self.line_attributes)}



def vouchers_with_a_life(p: Program) -> bool:
    """The program issues vouchers with a validity (a conversion's or a reward's): both engines keep
    a voucher ledger for them, and their cost is booked when one is used."""
    return (p.conversion is not None and p.conversion.valid is not None) or \
        any(r.voucher_cents is not None for r in p.rewards)


# ---------------------------------------------------------------- sources of points


class AwardBasis(Enum):
    """What the points of a source are per."""

    FIXED = "fixed"  # a number of points as written, once per firing
    MONEY = "money"  # a rate times a money base of the event, in cents (net or gross amount)
    QUANTITY = "quantity"  # a rate times the purchase's `quantity` (litres, nights, units)
    POINTS = "points"  # a factor on R, the event's rate-award points (a multiplier's bonus)


@dataclass(frozen=True, slots=True, kw_only=True)
class PointSource:
    """One place an event's points come from (docs/semantics.md §4.2)."""

    name: str
    step: int  # the §4.2 step that works it out
    basis: AwardBasis
    declared_by: type  # the IR class that declares it: a rule `Action`, or `Tier`
    booked_to: Lit["rule", "tier"]  # whose points they are in the ledger and the trace
    multiplied: bool  # part of R, the points multipliers multiply (step 6)


RATE_AWARD = PointSource(name="rate award", step=5, basis=AwardBasis.MONEY, declared_by=RateAward,
                         booked_to="rule", multiplied=True)
QUANTITY_AWARD = PointSource(name="quantity award", step=5, basis=AwardBasis.QUANTITY, declared_by=QuantityAward,
                             booked_to="rule", multiplied=True)
TIER_MULTIPLIER = PointSource(name="tier multiplier", step=6, basis=AwardBasis.POINTS, declared_by=Tier,
                              booked_to="tier", multiplied=False)
RULE_MULTIPLIER = PointSource(name="rule multiplier", step=6, basis=AwardBasis.POINTS, declared_by=Multiplier,
                              booked_to="rule", multiplied=False)
FIXED_AWARD = PointSource(name="fixed award", step=7, basis=AwardBasis.FIXED, declared_by=FixedAward,
                          booked_to="rule", multiplied=False)

# Every source of an event's points, in the order §4.2 works them out (the tier's multiplier
# is m1, before the rules' multipliers).
POINT_SOURCES: tuple[PointSource, ...] = (RATE_AWARD, QUANTITY_AWARD, TIER_MULTIPLIER, RULE_MULTIPLIER, FIXED_AWARD)

# Rule actions that give money, not points: a money budget counts them (§4.2 step 8).
MONEY_ACTIONS: tuple[type, ...] = (DiscountAction, PerkAction)

_H = TypeVar("_H")


def in_source_order(handlers: Mapping[PointSource, _H], engine: str) -> tuple[tuple[PointSource, _H], ...]:
    """`handlers` (one per point source) in `POINT_SOURCES` order; a table that misses a
    source, or has one that is not in the list, is a programming error named here."""
    missing = [s.name for s in POINT_SOURCES if s not in handlers]
    unknown = [s.name for s in handlers if s not in POINT_SOURCES]
    if missing or unknown:
        raise NotImplementedError(
            f"{engine}: no handler for point source(s) {missing}" if missing else
            f"{engine}: handler for point source(s) {unknown} that rulelang.ir.POINT_SOURCES does not list")
    return tuple((s, handlers[s]) for s in POINT_SOURCES)
