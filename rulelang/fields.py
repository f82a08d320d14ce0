"""Built-in events and fields: the one table every reader, checker, engine and document derives from.

Takes: nothing (imports only `rulelang.limits`). Gives: `FIELDS`, one frozen `BuiltinField` per
field a condition can read without declaring it (its value type, the events it is readable on,
the events that carry it, its default, how tests, events files and the YAML form spell it, its
doc line, its representation in both engines and the bound its readers enforce), and
`EVENT_TYPES`, one frozen `EventType` per built-in event (whether a rule can be `on` it, whether
the simulator generates it, its own keys), with the event lists and aliases derived from them.

Consumers (each derives its list from here; tests/test_fields.py checks each one knows every
field): the checker's scopes and value ranges (rulelang.check.scope), the test checker
(rulelang.check.program_tests), the test runner (rulelang.tools.testing), the events-file reader
of `explain` (rulelang.tools.explain), the YAML reader and writer (rulelang.syntax.yaml_loader,
yaml_writer), the interpreter's values and defaults (rulelang.run.interpreter), the simulator's
field list, event list, batch context and recorded events (simulator.engine.program_plan,
program_arm, day_events, interpreter_check), the JSON Schema and the field tables of
docs/semantics.md §3 and docs/language.md (checked by tests/test_fields.py).

Adding a built-in field (as the purchase `quantity` was added):
1. one `BuiltinField` entry below (name, type, events, carried_by, default, spelling, doc,
   engine representation and default, bound from rulelang.limits) and, for a purchase field,
   its simulator columns: `simulated` (the simulator draws it), `population_key` (the segment
   key it is drawn from), `file_columns` (a transaction file records it: its standard column
   names); a carried field left out of them reads its engine default there, as `store` is not
   simulated and `shipping` not recorded (tests/simulator/test_field_places.py checks each place
   handles exactly the fields so marked);
2. its row in docs/semantics.md §3 (the doc line, verbatim), in docs/language.md's field
   table, and its property in rulelang/syntax/schema/rulelang.schema.json (tests/test_fields.py
   fails until they agree with the table);
3. the engine semantics that are not a lookup: a simulated field is drawn by the population
   (simulator/model/population.py: its segment key, bound and Segment attribute; the draw in
   simulator/engine/day_loop.py `_draws`, a `Basket` attribute of the field's name; its row in
   docs/simulator.md; a mean the sweep can set in simulator/whatif/sweep.py); a recorded field
   is a `ColumnMap`/`Transactions` attribute and a `--<name>-column` flag
   (simulator/transactions/reader.py, columns.py `FIELD_FLAGS`); any new way points are earned
   from it (the award sources of rulelang.ir and both engines' earning). Everything else, the
   checker, tests, events files, YAML, the interpreter's values, the engine's batch context, a
   simulated purchase's data and its return, a replayed purchase and the transaction file's
   standard names, reads it from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from rulelang import limits

# Value types of a field, as the checker names them.
FieldType = str  # "money" | "string" | "number" | "bool" | "date" | "weekday" | "tier"

# Written as the event's main value rather than under a key (`when purchase 7.40 USD`,
# `- purchase: 7.40 USD`).
MAIN_VALUE = "(main value)"


@dataclass(frozen=True, kw_only=True)
class Spelling:
    """How a field given with an event is written in each input form (a key, or `MAIN_VALUE`)."""

    test: str  # a test's `when` line (`when purchase 7.40 USD shipping 1.99 USD`)
    events_file: str  # an events file of `loyalty explain` (`{type: purchase, amount: 7.40}`)
    yaml: str  # a test event in the YAML form (`- purchase: 7.40 USD` + `shipping: 1.99 USD`)


@dataclass(frozen=True, kw_only=True)
class BuiltinField:
    """One field a condition can read without declaring it."""

    name: str  # the name a condition reads (`amount`, `category`)
    type: FieldType
    readable_on: tuple[str, ...] | None  # built-in events it is readable on; None: every event
    carried_by: tuple[str, ...] = ()  # events that carry the value as input; (): the engines derive it
    form: str | None = None  # how a given value is read: "money" (cents), "text", "whole"
    spelling: Spelling | None = None  # how inputs write it (None: not given, derived)
    default: object = None  # the interpreter's value when an event does not give it (None: missing)
    interpreter_key: str | None = None  # key in `interpreter.Event.fields` (None: not in fields)
    doc: str  # the meaning, as docs/semantics.md §3 states it
    engine: str  # the vectorized engine's representation
    engine_default: int | None = None  # the engine's value when the event's data does not carry it
    simulated: bool = False  # the simulator's purchases draw it (the engine's `Basket` attribute of its name)
    file_columns: tuple[str, ...] = ()  # a transaction file's standard column names for it (`loyalty fit`,
    #                                    `loyalty replay`; `--<name>-column` maps another); (): not recorded
    population_key: str | None = None  # the population segment key its simulated draw follows (docs/simulator.md)
    low: int | None = None  # smallest value it can take (the checker's prover uses it)
    high: int | None = None  # largest value it can take
    bound: int | None = None  # largest value its readers accept (a constant of rulelang.limits)

    @property
    def recorded(self) -> bool:
        """A transaction file can record it (it has standard column names)."""
        return bool(self.file_columns)

    @property
    def integer(self) -> bool:
        """Whole numbers only (the prover uses it to show a condition is never true)."""
        return self.type in ("weekday", "tier") or (self.type == "number" and (self.form == "whole" or not self.carried_by))

    def on(self, event: str) -> bool:
        """Readable on this event (custom events read only the fields readable on every event)."""
        return self.readable_on is None or event in self.readable_on


def _given(key: str) -> Spelling:
    return Spelling(test=key, events_file=key, yaml=key)


BASKET = ("purchase", "return")  # a return reads the basket fields of its order

FIELDS: tuple[BuiltinField, ...] = (
    BuiltinField(name="amount", type="money", readable_on=BASKET, carried_by=BASKET, form="money",
                 simulated=True, file_columns=("amount",), population_key="spend",
                 spelling=Spelling(test=MAIN_VALUE, events_file="amount", yaml=MAIN_VALUE),
                 doc="purchase: gross basket amount (includes shipping)",
                 engine="int64 cents", engine_default=0, bound=limits.MAX_MONEY_CENTS),
    BuiltinField(name="category", type="string", readable_on=BASKET, carried_by=("purchase",), form="text",
                 simulated=True, file_columns=("category",), population_key="categories",
                 spelling=_given("category"), interpreter_key="category",
                 doc="purchase: category of the basket",
                 engine="int64 string code (StringTable; 0 = missing)", engine_default=0),
    BuiltinField(name="channel", type="string", readable_on=BASKET, carried_by=("purchase",), form="text",
                 simulated=True, file_columns=("channel",), population_key="channels",
                 spelling=_given("channel"), interpreter_key="channel",
                 doc="purchase: its channel, `store`, `online`, `app`, … (free text)",
                 engine="int64 string code (StringTable; 0 = missing)", engine_default=0),
    BuiltinField(name="store", type="string", readable_on=BASKET, carried_by=("purchase",), form="text",
                 file_columns=("store", "store_id"),
                 spelling=_given("store"), interpreter_key="store",
                 doc="purchase: store id",
                 engine="int64 string code (StringTable; 0 = missing)", engine_default=0),
    BuiltinField(name="items", type="number", readable_on=BASKET, carried_by=("purchase",), form="whole",
                 simulated=True, file_columns=("items",), population_key="items",
                 spelling=_given("items"), default=1, interpreter_key="items",
                 doc="purchase: number of items (default 1)",
                 engine="int64", engine_default=1, low=0),
    BuiltinField(name="quantity", type="number", readable_on=BASKET, carried_by=("purchase",), form="whole",
                 simulated=True, file_columns=("quantity", "qty"), population_key="quantity",
                 spelling=_given("quantity"), default=0, interpreter_key="quantity",
                 doc="purchase: quantity bought, a whole number of the program's unit: litres, nights, units (default 0)",
                 engine="int64", engine_default=0, low=0, bound=limits.MAX_QUANTITY),
    BuiltinField(name="shipping", type="money", readable_on=BASKET, carried_by=("purchase",), form="money",
                 simulated=True, population_key="shipping",
                 spelling=_given("shipping"), default=0, interpreter_key="shipping_cents",
                 doc="purchase: shipping part of the amount (default 0)",
                 engine="int64 cents", engine_default=0, bound=limits.MAX_MONEY_CENTS),
    BuiltinField(name="weekday", type="weekday", readable_on=None,
                 doc="`mon` … `sun`", engine="int 0-6 (Monday 0), from the day", low=0, high=6),
    BuiltinField(name="hour", type="number", readable_on=None,
                 doc="0–23 (purchases with a time; 12 when none given)",
                 engine="int (12 for simulated events; the recorded hour in a replay)", low=0, high=23),
    BuiltinField(name="date", type="date", readable_on=None,
                 doc="the event's date", engine="int date ordinal"),
    BuiltinField(name="month", type="number", readable_on=None,
                 doc="1–12", engine="int 1-12, from the day", low=1, high=12),
    BuiltinField(name="first_purchase", type="bool", readable_on=("purchase",),
                 doc="purchase: the customer had no purchase before this one",
                 engine="bool array (purchase count == 0)"),
    BuiltinField(name="purchases", type="number", readable_on=None,
                 doc="purchases the customer made before this event",
                 engine="int64 per customer", low=0),
    BuiltinField(name="tier", type="tier", readable_on=None,
                 doc="the customer's tier before this event (compare with tier names: `tier == Gold`, `tier >= Gold`)",
                 engine="int64 tier index (threshold order)"),
    BuiltinField(name="days_from_birthday", type="number", readable_on=None,
                 doc="days between the event date and the nearest birthday (366 if unknown)",
                 engine="int64 per customer, from the birthday's day of year", low=0, high=366),
    BuiltinField(name="balance", type="number", readable_on=None,
                 doc="the customer's outstanding points before this event",
                 engine="int64 outstanding points per customer"),
)

FIELD_BY_NAME: dict[str, BuiltinField] = {f.name: f for f in FIELDS}


def fields_on(event: str) -> tuple[BuiltinField, ...]:
    """The built-in fields readable on `event` (a built-in or a custom event), in table order."""
    return tuple(f for f in FIELDS if f.on(event))


def carried_by(event: str) -> tuple[BuiltinField, ...]:
    """The built-in fields an input of `event` may give, in table order."""
    return tuple(f for f in FIELDS if event in f.carried_by)


def simulated_fields(event: str) -> tuple[BuiltinField, ...]:
    """The built-in fields the simulator draws for `event` (carried and `simulated`), in table order.
    A carried field that is not simulated (the purchase's `store`) reads its engine default."""
    return tuple(f for f in carried_by(event) if f.simulated)


def recorded_fields(event: str) -> tuple[BuiltinField, ...]:
    """The built-in fields of `event` a transaction file can record, in table order."""
    return tuple(f for f in carried_by(event) if f.recorded)


def given_keys(event: str, form: str) -> tuple[BuiltinField, ...]:
    """The fields `event` carries under a key (not as its main value) in one input form:
    "test", "events_file" or "yaml"."""
    return tuple(f for f in carried_by(event)
                 if f.spelling is not None and getattr(f.spelling, form) != MAIN_VALUE)


# ---------------------------------------------------------------- events


@dataclass(frozen=True, kw_only=True)
class EventType:
    """One built-in event."""

    name: str
    rules: bool  # a rule (or a counter) can be `on` it
    simulated: bool  # the simulator generates it
    keys: tuple[str, ...] = ()  # its keys in an events file besides `type`, `date`, `time`, `id` and its fields
    required: tuple[str, ...] = ()  # keys (or fields) an events file must give
    doc: str


EVENT_TYPES: tuple[EventType, ...] = (
    EventType(name="purchase", rules=True, simulated=True, required=("amount",), doc="a purchase of a basket"),
    EventType(name="return", rules=True, simulated=True, keys=("order",), required=("order",),
              doc="a return of (part of) an earlier purchase"),
    EventType(name="signup", rules=True, simulated=True, doc="the customer joins the program"),
    EventType(name="birthday", rules=True, simulated=True, doc="the customer's birthday"),
    EventType(name="referral", rules=True, simulated=True, keys=("role",), required=("role",),
              doc="a referral, seen by the referrer or the referee"),
    EventType(name="redeem", rules=False, simulated=True, keys=("reward",), required=("reward",),
              doc="the customer redeems a reward"),
    EventType(name="pay", rules=False, simulated=True, keys=("amount", "basket"), required=("amount",),
              doc="the customer pays part of a basket with points"),
    EventType(name="use_perk", rules=False, simulated=True, keys=("perk",), required=("perk",),
              doc="the customer uses a perk"),
)

EVENT_BY_NAME: dict[str, EventType] = {e.name: e for e in EVENT_TYPES}

# Built-in events a rule or a counter can be `on` (custom events are declared by the program).
RULE_EVENTS: tuple[str, ...] = tuple(e.name for e in EVENT_TYPES if e.rules)
# Customer actions a test or an events file can feed besides those: no rule is `on` them.
ACTION_EVENTS: tuple[str, ...] = tuple(e.name for e in EVENT_TYPES if not e.rules)
# Every built-in event the interpreter accepts (tests and events files feed these).
FED_EVENTS: tuple[str, ...] = RULE_EVENTS + ACTION_EVENTS
# Built-in events the simulator generates on which rules can fire.
SIMULATED_RULE_EVENTS: tuple[str, ...] = tuple(e.name for e in EVENT_TYPES if e.rules and e.simulated)

# Other spellings of an event kind in tests and events files.
EVENT_ALIASES: dict[str, str] = {
    "use perk": "use_perk", "use-perk": "use_perk", "use": "use_perk", "perk": "use_perk",
    "pay with points": "pay",
}


def canonical_event(kind: str) -> str:
    """An event kind as written (`use perk`) -> its name (`use_perk`)."""
    kind = kind.strip()
    return EVENT_ALIASES.get(kind, kind)


__all__ = [
    "ACTION_EVENTS", "BASKET", "BuiltinField", "EVENT_ALIASES", "EVENT_BY_NAME", "EVENT_TYPES", "EventType",
    "FED_EVENTS", "FIELDS", "FIELD_BY_NAME", "MAIN_VALUE", "RULE_EVENTS", "SIMULATED_RULE_EVENTS", "Spelling",
    "canonical_event", "carried_by", "fields_on", "given_keys", "recorded_fields", "simulated_fields",
]
