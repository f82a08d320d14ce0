"""Engine plan: what the vectorized engine needs to know about a compiled program.

Takes: an `ir.Program`, the simulated calendar and a `StringTable`. Gives: `Plan`,
with per-rule specs (exact `Fraction` rates, rounding, caps split into point caps
and time limits), expiry sets (the program's and each tier's override) turned into
per-day expiry cut-off tables, the lot granularity the expiry needs, and the
reward the simulated customers save for. A construct the engine cannot simulate
raises `SimulationError` naming the rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm

import numpy as np

from rulelang import ir
from rulelang.fields import FIELDS, SIMULATED_RULE_EVENTS
from rulelang.diagnostics import NO_SPAN, Diagnostic, RulelangError

from simulator.engine.calendar import Calendar, add_months, first_of_month, month_index
from simulator.model.strings import StringTable
from simulator.engine.line_attributes import attributes_read
from simulator.engine.conditions import LINES_FIELD, fields_read


class SimulationError(RulelangError):
    """The program (or population) uses something the simulator cannot simulate."""

    @staticmethod
    def of(message: str, hint: str | None = None, code: str = "RL610") -> "SimulationError":
        return SimulationError([Diagnostic(code, "error", message, NO_SPAN, hint)])


# The built-in fields a condition can read, and the built-in events the simulator generates on
# which rules fire (rulelang.fields).
BUILTIN_FIELDS = frozenset(f.name for f in FIELDS)
SIMULATED_EVENTS = frozenset(SIMULATED_RULE_EVENTS)
# The built-in fields an event's data carries (the rest the engine derives from the day and the customer).
CARRIED_FIELDS = tuple(f for f in FIELDS if f.carried_by)


def round_div(num: np.ndarray, den: int, mode: str) -> np.ndarray:
    """round(num / den) for int64 arrays, by rounding mode (down=floor, up=ceil, nearest=floor(x+1/2))."""
    if isinstance(den, int) and den == 1:
        return num
    if mode == "down":
        return num // den
    if mode == "up":
        return -((-num) // den)
    return (2 * num + den) // (2 * den)


@dataclass(frozen=True)
class RateSpec:
    num: int  # rate = num / den points per cent
    den: int
    base: str
    excluding: tuple[int, ...]  # category codes
    only: tuple[int, ...] | None = None  # `in category`: only the lines of these category codes


@dataclass(frozen=True)
class DiscountSpec:
    percent: Fraction | None
    fixed_cents: int | None
    base: str
    excluding: tuple[int, ...]
    only: tuple[int, ...] | None = None  # `discount 10% in category "produce"`: only these category codes


@dataclass
class RuleSpec:
    rule: ir.Rule
    index: int
    rates: list[RateSpec]
    multipliers: list[Fraction]
    fixed: list[tuple[int, str]]
    discounts: list[DiscountSpec]
    perks: list[tuple[str, int]]
    point_caps: list[ir.Cap]
    limits: list[ir.Cap]
    sides: tuple[str, ...] = ()  # the rule only awards these referral sides
    gives_money: bool = False
    quantities: list[RateSpec] = field(default_factory=list)  # awards per quantity: num / den points per unit
    multiplier_only: list[tuple[int, ...] | None] = field(default_factory=list)  # per multiplier: `in category` codes

    @property
    def name(self) -> str:
        return self.rule.name


@dataclass
class ExpirySet:
    """One set of expiry statements (the program's, or a tier's override)."""

    after: list[tuple[int, bool]] = field(default_factory=list)  # (months, end_of_month)
    inactivity_months: int | None = None
    fixed_days: list[dt.date] = field(default_factory=list)
    yearly: list[tuple[int, int]] = field(default_factory=list)
    cutoff: np.ndarray | None = None  # per day: newest lot slot expired by that day (-1: none)
    inactive_due: np.ndarray | None = None  # per activity day: the day its inactivity expiry falls

    @property
    def empty(self) -> bool:
        return not (self.after or self.inactivity_months or self.fixed_days or self.yearly)


def _expiry_set(items: tuple[ir.Expiry, ...]) -> ExpirySet:
    s = ExpirySet()
    for e in items:
        if e.kind == "after_earning" and e.months is not None:
            s.after.append((int(e.months), bool(e.end_of_month)))
        elif e.kind == "inactivity" and e.months is not None:
            m = int(e.months)
            s.inactivity_months = m if s.inactivity_months is None else min(s.inactivity_months, m)
        elif e.kind == "fixed_date" and e.date is not None:
            s.fixed_days.append(e.date)
        elif e.kind == "yearly" and e.month_day is not None:
            s.yearly.append(e.month_day)
    return s


@dataclass
class Plan:
    program: ir.Program
    cal: Calendar
    rules: list[RuleSpec]
    by_event: dict[str, list[RuleSpec]]
    common_den: int  # common denominator of all rate awards
    expiry_sets: list[ExpirySet]  # index 0: program; 1 + t: tier t override
    tier_expiry: list[int]  # per tier: index into expiry_sets
    granularity: str  # "none" | "day" | "month"
    ring_size: int
    fold_old: bool  # tiers change expiry: lots may outlive the ring
    month_of_day: np.ndarray
    goal_points: int  # points the customers save for (0: no goal)
    warnings: list[str]
    referral_rules: bool
    custom_events: tuple[str, ...]
    reads_quantity: bool = False  # a rule or counter reads the purchase's `quantity`: the day loop draws it
    reads_lines: bool = False  # a rule reads a purchase's lines (exclusions, awards per quantity, `any line`)
    balance_expiry_days: dict[str, frozenset[int]] = field(default_factory=dict)  # balance -> days it empties
    # the line attributes `any line` conditions read (name, type): the day loop draws these
    line_attributes: tuple[tuple[str, str], ...] = ()

    def slot_of_day(self, day: int) -> int:
        return int(self.month_of_day[day]) if self.granularity == "month" else day


def _check_rule(r: ir.Rule, program: ir.Program) -> None:
    declared = {e.name for e in program.events}
    if r.event not in SIMULATED_EVENTS and r.event not in declared:
        raise SimulationError.of(f"rule `{r.name}` is on event `{r.event}`, which the simulator does not know")
    attrs = {a for a, _ in program.attributes}
    ev_fields = {f for e in program.events for f, _ in e.fields}
    counters = {c.name for c in program.counters}
    for name in fields_read(r.condition):
        ok = (name in BUILTIN_FIELDS or name in counters or name == LINES_FIELD
              or (name.startswith("customer.") and name[9:] in attrs)
              or (name.startswith("event.") and name[6:] in ev_fields) or name in ev_fields)
        if not ok:
            raise SimulationError.of(f"rule `{r.name}` reads `{name}`, which the simulator cannot provide",
                                     "use one of the fields listed in docs/semantics.md §3")


def build_plan(program: ir.Program, cal: Calendar, strings: StringTable) -> Plan:
    specs: list[RuleSpec] = []
    dens: list[int] = [1]
    for i, r in enumerate(program.rules):
        _check_rule(r, program)
        rates, mults, fixed, discounts, perks, quantities = [], [], [], [], [], []
        mult_only: list[tuple[int, ...] | None] = []
        for a in r.actions:
            if isinstance(a, ir.RateAward):
                rate = Fraction(a.rate)
                rates.append(RateSpec(rate.numerator, rate.denominator, a.base,
                                      tuple(sorted(strings.code(c) for c in a.excluding)), _codes(strings, a.only)))
                dens.append(rate.denominator)
            elif isinstance(a, ir.QuantityAward):
                rate = Fraction(a.rate)
                quantities.append(RateSpec(rate.numerator, rate.denominator, "quantity",
                                           tuple(sorted(strings.code(c) for c in a.excluding)),
                                           _codes(strings, a.only)))
                dens.append(rate.denominator)
            elif isinstance(a, ir.Multiplier):
                mults.append(Fraction(a.factor))
                mult_only.append(_codes(strings, a.only))
            elif isinstance(a, ir.FixedAward):
                fixed.append((int(a.points), a.to))
            elif isinstance(a, ir.DiscountAction):
                discounts.append(DiscountSpec(None if a.percent is None else Fraction(a.percent), a.fixed_cents,
                                              a.base, tuple(sorted(strings.code(c) for c in a.excluding)),
                                              only=_codes(strings, a.only)))
            elif isinstance(a, ir.PerkAction):
                perks.append((a.name, int(a.cost_cents)))
            else:
                raise SimulationError.of(f"rule `{r.name}` has an action the simulator does not know: {type(a).__name__}")
        sides = tuple(sorted({to for _, to in fixed if to != "customer"}))
        only_sides = bool(sides) and len(fixed) == len(r.actions)
        specs.append(RuleSpec(r, i, rates, mults, fixed, discounts, perks,
                              [c for c in r.caps if c.unit == "points"], [c for c in r.caps if c.unit == "times"],
                              sides if only_sides else (), bool(discounts or perks), quantities,
                              multiplier_only=mult_only))
    for t in (program.tiers.tiers if program.tiers else ()):
        if t.rate is not None:  # a tier's own rate replaces the rate awards' (§4.2 step 5)
            dens.append(Fraction(t.rate).denominator)
    by_event: dict[str, list[RuleSpec]] = {}
    for s in specs:
        by_event.setdefault(s.rule.event, []).append(s)
    common = 1
    for d in dens:
        common = lcm(common, d)

    sets = [_expiry_set(program.expiry)]
    tier_expiry: list[int] = []
    tiers = program.tiers.tiers if program.tiers else ()
    for t in tiers:
        if t.expiry is None:
            tier_expiry.append(0)
        else:
            sets.append(_expiry_set(t.expiry))
            tier_expiry.append(len(sets) - 1)
    if not tier_expiry:
        tier_expiry = [0]
    fold_old = len(sets) > 1
    after_all = [a for s in sets for a in s.after]
    dated = any(s.fixed_days or s.yearly for s in sets)
    if dated or any(not eom for _, eom in after_all):
        granularity = "day"
    elif after_all:
        granularity = "month"
    else:
        granularity = "none"
    if after_all and program.pending_days >= 28 * max(1, min(m for m, _ in after_all)):
        raise SimulationError.of("points would expire while still pending; the simulator cannot simulate that",
                                 "make the pending period shorter than the expiry")
    month_of_day = cal.month_of_day()
    start_m = month_index(cal.start)
    span = 1
    for s in sets:
        if s.after or s.fixed_days or s.yearly:
            if granularity == "day":
                slots = np.arange(cal.days)
                exp_day = np.array([_lot_expiry_day(cal, s, cal.date(int(d))) for d in slots], dtype=np.int64)
            else:
                slots = np.arange(cal.months)
                exp_day = np.array([min(cal.day_of(first_of_month(start_m + int(mi) + m + 1)) for m, _ in s.after)
                                    for mi in slots], dtype=np.int64)
            finite = exp_day < NEVER_DAY
            if finite.any():
                span = max(span, int((exp_day[finite] - (slots[finite] if granularity == "day" else
                                                         np.array([cal.day_of(first_of_month(start_m + int(mi)))
                                                                   for mi in slots[finite]]))).max()))
            s.cutoff = np.searchsorted(exp_day, np.arange(cal.days), side="right").astype(np.int64) - 1
        if s.inactivity_months:
            s.inactive_due = np.array([cal.day_of(add_months(cal.date(d), s.inactivity_months))
                                       for d in range(cal.days)], dtype=np.int64)
    if granularity == "day":
        ring = min(cal.days + 1, span + 2)
    elif granularity == "month":
        ring = min(cal.months + 1, span // 28 + 3)
    else:
        ring = 0
    goal = 0
    if program.rewards:
        goal = min(r.price for r in program.rewards)
    elif program.pay_with_points is not None:
        goal = max(program.pay_with_points.minimum_balance, program.pay_with_points.points)
    elif program.conversion is not None:
        goal = program.conversion.points
    warnings: list[str] = []
    return Plan(program, cal, specs, by_event, common, sets, tier_expiry, granularity, ring, fold_old,
                month_of_day, goal, warnings, "referral" in by_event,
                tuple(e.name for e in program.events), _reads_quantity(program, specs), _reads_lines(specs),
                {b.name: _balance_expiry_days(cal, b) for b in program.balances if b.expiry},
                line_attributes=attributes_read(program))


def _codes(strings: StringTable, only: frozenset[str] | None) -> tuple[int, ...] | None:
    return None if only is None else tuple(sorted(strings.code(c) for c in only))


def _reads_lines(specs: list[RuleSpec]) -> bool:
    """Whether a rule reads a purchase's lines: an `any line` condition, an exclusion of
    categories or an award per quantity (each of those applies per line)."""
    return any(s.rule.event == "purchase" and (
        LINES_FIELD in fields_read(s.rule.condition) or s.quantities
        or any(r.excluding or r.only is not None for r in s.rates) or any(d.excluding or d.only is not None for d in s.discounts)
        or any(o is not None for o in s.multiplier_only))
        for s in specs)


def _balance_expiry_days(cal: Calendar, balance: ir.Balance) -> frozenset[int]:
    """The days of the simulated calendar on which a balance beside the points expires all at
    once (`expire B on 2028-01-01`, `expire B yearly on 01-01`, a day past the month's end
    clamped to its last day)."""
    days: set[int] = set()
    for e in balance.expiry:
        if e.kind == "fixed_date" and e.date is not None and cal.start <= e.date:
            days.add(cal.day_of(e.date))
        elif e.kind == "yearly" and e.month_day is not None:
            month, mday = e.month_day
            for year in range(cal.start.year, cal.date(cal.days - 1).year + 1):
                days.add(cal.day_of(_clamped(year, month, mday)))
        elif e.kind != "never":
            raise SimulationError.of(f"balance `{balance.name}` has an expiry the simulator cannot run ({e.kind})",
                                     "a balance expires all at once, on a date (docs/semantics.md §2.1)")
    return frozenset(d for d in days if 0 <= d < cal.days)


def _reads_quantity(program: ir.Program, specs: list[RuleSpec]) -> bool:
    """Whether a rule (its condition or an award per quantity) or a counter reads `quantity`."""
    return (any(s.quantities or "quantity" in fields_read(s.rule.condition) for s in specs)
            or any(c.sums == "quantity" or "quantity" in fields_read(c.condition) for c in program.counters))


NEVER_DAY = 2**40


def _lot_expiry_day(cal: Calendar, s: ExpirySet, earned: dt.date) -> int:
    """The day (index) a lot earned on `earned` expires under `s`'s per-lot policies (the
    earliest of: N months after earning [at end of month], a fixed date for lots earned
    before it, the first MM-DD strictly after the earn date)."""
    days = [NEVER_DAY]
    for months, eom in s.after:
        due = add_months(earned, months)
        if eom:
            due = first_of_month(month_index(due) + 1)
        days.append(cal.day_of(due))
    for fd in s.fixed_days:
        if earned < fd:
            days.append(cal.day_of(fd))
    for month, mday in s.yearly:
        due = _clamped(earned.year, month, mday)
        if due <= earned:
            due = _clamped(earned.year + 1, month, mday)
        days.append(cal.day_of(due))
    return min(days)


def _clamped(year: int, month: int, day: int) -> dt.date:
    import calendar as _c
    return dt.date(year, month, min(day, _c.monthrange(year, month)[1]))
