"""Names a program defines, and the fields each event offers.

Takes: an `ast.Program`. Gives: a `Scope` the checker and the compiler share —
the events (built-in and declared), the fields readable on each event with their
types, customer attributes, counters, tiers (by index, in threshold order),
rules, rewards, perks, and the words accepted for the points unit.
The built-in field table is the one in docs/semantics.md §3.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from rulelang.syntax import ast

BUILTIN_EVENTS: tuple[str, ...] = ("purchase", "return", "signup", "birthday", "referral")

# Fields readable on every event.
COMMON_FIELDS: dict[str, str] = {
    "weekday": "weekday",
    "hour": "number",
    "date": "date",
    "month": "number",
    "purchases": "number",
    "tier": "tier",
    "days_from_birthday": "number",
    "balance": "number",
}

# Fields of a basket: readable on purchases (and on returns, which refer to a purchase).
BASKET_FIELDS: dict[str, str] = {
    "amount": "money",
    "shipping": "money",
    "category": "string",
    "channel": "string",
    "store": "string",
    "items": "number",
}

PURCHASE_ONLY_FIELDS: dict[str, str] = {"first_purchase": "bool"}

# Fields whose values are whole numbers in a known range (used to prove a condition is never true).
INTEGER_FIELDS: frozenset[str] = frozenset(
    {"hour", "month", "purchases", "days_from_birthday", "balance", "items", "weekday", "tier"}
)
FIELD_RANGES: dict[str, tuple[int | None, int | None]] = {
    "hour": (0, 23),
    "month": (1, 12),
    "days_from_birthday": (0, 366),
    "purchases": (0, None),
    "items": (0, None),
    "weekday": (0, 6),
}

WEEKDAYS: dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}

VALUE_TYPES: tuple[str, ...] = ("string", "number", "bool", "money", "date")
TIER_METRICS: tuple[str, ...] = ("spend", "points", "purchases")

# Event kinds a test may use besides the program's events.
TEST_ONLY_EVENTS: tuple[str, ...] = ("redeem", "pay", "use_perk")

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


def singular(word: str) -> str:
    """`stars` -> `star`, `miles` -> `mile`, `bunnies` -> `bunny`."""
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith("s") and len(word) > 1:
        return word[:-1]
    return word


def unit_words(points_unit: str) -> frozenset[str]:
    """Words accepted wherever points are written: the unit, its singular, and `points`/`point`."""
    return frozenset({points_unit, singular(points_unit), "points", "point"})


def tier_order(tiers: ast.TierSystem) -> list[int]:
    """Source positions of the tiers in threshold order (stable): IR tier index -> source index."""
    return sorted(range(len(tiers.tiers)), key=lambda i: threshold_units(tiers, tiers.tiers[i]))


def threshold_units(tiers: ast.TierSystem, tier: ast.Tier) -> Decimal:
    """A tier's threshold in the metric's unit (cents for spend)."""
    if tiers.metric == "spend":
        amount = tier.threshold_money.amount if tier.threshold_money is not None else tier.threshold
        return Decimal(amount) * 100
    return Decimal(tier.threshold)


@dataclass
class Scope:
    """Everything a program names. Dictionaries keep the first declaration of a name."""

    program: ast.Program | None
    events: dict[str, dict[str, str]] = field(default_factory=dict)  # custom event -> field -> type
    attributes: dict[str, str] = field(default_factory=dict)
    counters: dict[str, ast.CounterDecl] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)  # tier name -> IR index
    rules: dict[str, ast.EarnRule] = field(default_factory=dict)
    rewards: dict[str, ast.Reward] = field(default_factory=dict)
    perks: set[str] = field(default_factory=set)
    units: frozenset[str] = frozenset({"points", "point"})
    currency: str = "USD"

    @property
    def event_names(self) -> list[str]:
        return list(BUILTIN_EVENTS) + [e for e in self.events if e not in BUILTIN_EVENTS]

    def is_event(self, name: str) -> bool:
        return name in BUILTIN_EVENTS or name in self.events

    def fields_of(self, event: str) -> dict[str, str]:
        """Bare field names readable on `event` and their types (declared fields included)."""
        out = dict(COMMON_FIELDS)
        if event in ("purchase", "return"):
            out.update(BASKET_FIELDS)
        if event == "purchase":
            out.update(PURCHASE_ONLY_FIELDS)
        for name, typ in self.events.get(event, {}).items():
            out.setdefault(name, typ)
        return out

    def events_with_field(self, name: str) -> list[str]:
        """Events on which a bare field name is readable (for 'not available here' messages)."""
        return [e for e in self.event_names if name in self.fields_of(e)]


def build_scope(program: ast.Program | None) -> Scope:
    """Collect the names a program declares. Duplicates are reported by the checker, not here."""
    scope = Scope(program=program)
    if program is None:
        return scope
    scope.currency = program.currency
    scope.units = unit_words(program.points_unit)
    for ev in program.events:
        if ev.name in scope.events or ev.name in BUILTIN_EVENTS:
            continue
        fields: dict[str, str] = {}
        for f in ev.fields:
            fields.setdefault(f.name, f.type)
        scope.events[ev.name] = fields
    for attr in program.attributes:
        scope.attributes.setdefault(attr.name, attr.type)
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
