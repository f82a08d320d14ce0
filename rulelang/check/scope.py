"""Names a program defines, and the fields each event offers.

Takes: an `ast.Program`. Gives: a `Scope` the checker and the compiler share —
the events (built-in and declared), the fields readable on each event with their
types, customer attributes, counters, tiers (by index, in threshold order),
rules, rewards, perks, and the words accepted for the points unit.
The built-in fields and events are the table of rulelang.fields (docs/semantics.md §3).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from rulelang.fields import FIELDS, RULE_EVENTS, fields_on
from rulelang.ir import LINE_FIELDS
from rulelang.syntax import ast
from rulelang.vocabulary import singular, unit_words  # noqa: F401  (re-exported for the checker)

# Fields whose values are whole numbers in a known range (used to prove a condition is never true).
INTEGER_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.integer)
FIELD_RANGES: dict[str, tuple[int | None, int | None]] = {
    f.name: (f.low, f.high) for f in FIELDS if f.low is not None or f.high is not None
}

WEEKDAYS: dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}

VALUE_TYPES: tuple[str, ...] = ("string", "number", "bool", "money", "date")
TIER_METRICS: tuple[str, ...] = ("spend", "points", "purchases")


TYPE_WORDS: dict[str, str] = {
    "string": "text",
    "number": "a number",
    "bool": "true/false",
    "money": "money",
    "date": "a date",
    "weekday": "a weekday",
    "tier": "a tier",
}


def type_word(t: str) -> str:
    """How a marketer would call a value type."""
    return TYPE_WORDS.get(t, t)


def tier_order(tiers: ast.TierSystem) -> list[int]:
    """Source positions of the tiers in threshold order (stable): IR tier index -> source index."""
    return sorted(range(len(tiers.tiers)), key=lambda i: threshold_units(tiers, tiers.tiers[i]))


def threshold_units(tiers: ast.TierSystem, tier: ast.Tier) -> Decimal:
    """A tier's threshold in the metric's unit (cents for spend)."""
    if tiers.metric == "spend":
        amount = tier.threshold_money.amount if tier.threshold_money is not None else tier.threshold
        return Decimal(amount) * 100
    if tier.threshold_money is not None:  # a counter that sums money: cents
        return Decimal(tier.threshold_money.amount) * 100
    return Decimal(tier.threshold)


@dataclass
class Scope:
    """Everything a program names. Dictionaries keep the first declaration of a name."""

    program: ast.Program | None
    events: dict[str, dict[str, str]] = field(default_factory=dict)  # custom event -> field -> type
    attributes: dict[str, str] = field(default_factory=dict)
    line_attributes: dict[str, str] = field(default_factory=dict)  # `line attribute brand: string`
    counters: dict[str, ast.CounterDecl] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)  # tier name -> IR index
    rules: dict[str, ast.EarnRule] = field(default_factory=dict)
    rewards: dict[str, ast.Reward] = field(default_factory=dict)
    perks: set[str] = field(default_factory=set)
    units: frozenset[str] = frozenset({"points", "point"})
    currency: str = "USD"

    @property
    def event_names(self) -> list[str]:
        return list(RULE_EVENTS) + [e for e in self.events if e not in RULE_EVENTS]

    def is_event(self, name: str) -> bool:
        return name in RULE_EVENTS or name in self.events

    def fields_of(self, event: str) -> dict[str, str]:
        """Bare field names readable on `event` and their types (declared fields included)."""
        out = {f.name: f.type for f in fields_on(event)}
        for name, typ in self.events.get(event, {}).items():
            out.setdefault(name, typ)
        return out

    def events_with_field(self, name: str) -> list[str]:
        """Events on which a bare field name is readable (for 'not available here' messages)."""
        return [e for e in self.event_names if name in self.fields_of(e)]


LINE_ATTRIBUTE_DECLARATION = "RL256"  # a line attribute that cannot be declared (rulelang.check.line_attributes)
LINE_ATTRIBUTE_OUTSIDE = "RL257"  # a line attribute read where no line is (outside `any line`)


def line_fields(scope: Scope) -> dict[str, str]:
    """The fields a line of this program carries: its own (`rulelang.ir.LINE_FIELDS`), then the
    declared line attributes (`line attribute brand: string`)."""
    out: dict[str, str] = dict(LINE_FIELDS)
    for name, typ in scope.line_attributes.items():
        out.setdefault(name, typ)
    return out


def build_scope(program: ast.Program | None) -> Scope:
    """Collect the names a program declares. Duplicates are reported by the checker, not here."""
    scope = Scope(program=program)
    if program is None:
        return scope
    scope.currency = program.currency
    scope.units = unit_words(program.points_unit) | frozenset(
        w for b in program.balances for w in (b.name, singular(b.name)))  # a balance's words name its unit
    for ev in program.events:
        if ev.name in scope.events or ev.name in RULE_EVENTS:
            continue
        fields: dict[str, str] = {}
        for f in ev.fields:
            fields.setdefault(f.name, f.type)
        scope.events[ev.name] = fields
    for attr in program.attributes:
        scope.attributes.setdefault(attr.name, attr.type)
    for line_attr in program.line_attributes:
        scope.line_attributes.setdefault(line_attr.name, line_attr.type)
    for counter in program.counters:
        scope.counters.setdefault(counter.name, counter)
    if program.tiers is not None:
        order = tier_order(program.tiers)
        for index, source_index in enumerate(order):
            scope.tiers.setdefault(program.tiers.tiers[source_index].name, index)
        for tier in program.tiers.tiers:
            for perk in tier.perks:
                scope.perks.add(perk.name)
    for rule in program.rules:
        scope.rules.setdefault(rule.name, rule)
        for action in rule.actions:
            if isinstance(action, ast.Perk):
                scope.perks.add(action.name)
    for reward in program.rewards:
        scope.rewards.setdefault(reward.name, reward)
    return scope


def literal_type(value: object) -> str | None:
    """The value type of an AST literal's value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (Decimal, int)):
        return "number"
    if isinstance(value, ast.Money):
        return "money"
    if isinstance(value, dt.date):
        return "date"
    return None
