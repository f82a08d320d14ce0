"""Explain: one customer's events through a program, with the trace of what fired and why.

Takes: a compiled `ir.Program` and an events file (YAML or JSON) such as

    customer: {tier: Gold, balance: 200, attributes: {vip: true}, purchases: 3,
               birthday: 05-04, metric: 120 USD, counters: {nights: 2}}
    until: 2027-06-01
    events:
      - {type: purchase, date: 2027-05-04, time: "09:30", amount: 7.40, category: coffee, id: A1}
      - {type: return, date: 2027-05-06, order: A1, amount: 2.00}
      - {type: redeem, date: 2027-05-07, reward: free_drink}

Gives: `load_events(text, path, program)` -> `EventsFile` (customer, events,
until) or diagnostics located at file:line:col of the offending YAML node, and
`explain(program, events_file, until)` -> the interpreter's `Result`
(`render_text()` for people, `to_json()` for machines).

Diagnostic codes: RL010 the file is not valid YAML/JSON; RL011 unknown key,
event type, reward, perk, tier or attribute; RL012 a value of the wrong form;
RL013 a required key is missing; RL501 events out of time order.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Callable, Iterable

import yaml

from rulelang import ir
from rulelang.diagnostics import Diagnostic, Span, did_you_mean
from rulelang.run.conditions import money
from rulelang.run.interpreter import Customer, Event, Result, run
from rulelang.run.state import Line
from rulelang.fields import EVENT_TYPES, FIELDS, canonical_event, given_keys
from rulelang.limits import MAX_MONEY_CENTS
from rulelang.syntax.read_limits import DATE_HINT, DATE_OUT_OF_RANGE, NUMBER_HINT, NUMBER_TOO_LONG, date_out_of_range, decimal_too_long, number_too_long
from rulelang.syntax.yaml_nodes import compose_yaml, mark_span

BAD_FILE = "RL010"
UNKNOWN_NAME = "RL011"
BAD_VALUE = "RL012"
MISSING_KEY = "RL013"
OUT_OF_ORDER = "RL501"
UNKNOWN_ORDER = "RL240"
RETURN_TOO_LARGE = "RL241"

TOP_KEYS = ("customer", "events", "until")
CUSTOMER_KEYS = ("tier", "balance", "balances", "attributes", "purchases", "birthday", "metric", "counters")
COMMON_EVENT_KEYS = ("type", "date", "time", "id")
TYPE_SLIPS = ("kind", "event", "event_type", "types", "name")  # keys written for `type` (RL013 names them)
# An event's own keys (rulelang.fields): its keys, then the built-in fields it carries.
BUILTIN_EVENT_KEYS: dict[str, tuple[str, ...]] = {
    e.name: e.keys + tuple(f.spelling.events_file for f in given_keys(e.name, "events_file") if f.spelling)
    for e in EVENT_TYPES
}
BUILTIN_EVENT_KEYS["purchase"] += ("lines",)  # `lines: [{amount: 12.00, category: fuel, quantity: 45}]`
LINE_KEYS = tuple(ir.LINE_FIELDS)  # a line's own keys; the program's line attributes besides
LINE_MISSING = "RL250"
LINES_DISAGREE = "RL251"
REQUIRED_EVENT_KEYS: dict[str, tuple[str, ...]] = {e.name: e.required for e in EVENT_TYPES if e.required}
# The built-in fields read from an events file, by key.
FIELD_KEYS = {f.spelling.events_file: f for f in FIELDS if f.spelling is not None and f.interpreter_key}
AMBIGUOUS_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})
TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")


class _Invalid(Exception):
    """Raised inside the walker to abandon one value; always turned into a Diagnostic."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass(frozen=True)
class EventsFile:
    """What an events file describes: a starting customer, time-ordered events, and an end date."""

    customer: Customer | None
    events: tuple[Event, ...]
    until: dt.date | None = None


class _Reader:
    """Walks composed YAML nodes, turning values into interpreter inputs and problems into diagnostics."""

    def __init__(self, path: str, program: ir.Program) -> None:
        self.path = path
        self.program = program
        self.diags: list[Diagnostic] = []

    # ------------------------------------------------------------ helpers

    def span(self, node: yaml.Node) -> Span:
        return mark_span(node, self.path)

    def error(self, code: str, message: str, node: yaml.Node, hint: str | None = None) -> _Invalid:
        return _Invalid(Diagnostic(code, "error", message, self.span(node), hint))

    def mapping(self, node: yaml.Node, what: str, allowed: Iterable[str]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Keys -> (key node, value node); unknown and repeated keys are reported, then skipped."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(BAD_VALUE, f"{what} must be a mapping of `key: value` lines", node)
        allowed = tuple(allowed)
        known = ", ".join(allowed) if allowed else "none are declared in the program"
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self.diags.append(self.error(BAD_VALUE, f"keys of {what} must be plain words", key_node).diagnostic)
            elif key in out:
                self.diags.append(self.error(BAD_VALUE, f"`{key}` appears twice in {what}", key_node,
                                             "keep one of them").diagnostic)
            elif key not in allowed:
                hint = did_you_mean(key, allowed) or f"known keys: {known}"
                self.diags.append(self.error(UNKNOWN_NAME, f"unknown key `{key}` in {what}", key_node, hint).diagnostic)
            else:
                out[key] = (key_node, value_node)
        return out

    def scalar(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(BAD_VALUE, f"{what} must be a single value, not a list or mapping", node)
        return str(node.value)

    def text(self, node: yaml.Node, what: str) -> str:
        value = self.scalar(node, what)
        if value == "" or (getattr(node, "style", None) is None and value in ("~", "null", "Null", "NULL")):
            raise self.error(BAD_VALUE, f"{what} is empty", node)
        return value

    def bounded(self, node: yaml.Node, text: str) -> None:
        """RL420 for a number written with too many digits."""
        problem = number_too_long(text)
        if problem:
            raise self.error(NUMBER_TOO_LONG, problem, node, NUMBER_HINT)

    def whole(self, node: yaml.Node, what: str, minimum: int = 0) -> int:
        value = self.scalar(node, what).replace("_", "")
        self.bounded(node, value)
        try:
            number = int(value)
        except ValueError:
            raise self.error(BAD_VALUE, f"{what} must be a whole number, got `{value}`", node) from None
        if number < minimum:
            raise self.error(BAD_VALUE, f"{what} must be {minimum} or more, got {number}", node)
        return number

    def number(self, node: yaml.Node, what: str) -> Fraction:
        value = self.scalar(node, what).replace("_", "")
        self.bounded(node, value)
        try:
            number = Decimal(value)
        except (InvalidOperation, ValueError):
            raise self.error(BAD_VALUE, f"{what} must be a number, got `{value}`", node) from None
        if not number.is_finite():
            raise self.error(BAD_VALUE, f"{what} must be a number, got `{value}`", node,
                             "`Infinity` and `NaN` are not numbers here")
        problem = decimal_too_long(number, value)
        if problem:
            raise self.error(NUMBER_TOO_LONG, f"{what}: {problem}", node, NUMBER_HINT)
        return Fraction(number)

    def cents(self, node: yaml.Node, what: str) -> int:
        """`7.40`, `7.40 USD` or `"7.40 USD"` -> 740; the currency, if written, must be the program's."""
        value = self.scalar(node, what).strip()
        parts = value.split()
        currency = self.program.currency
        if len(parts) == 2:
            value, written = parts
            if written != currency:
                raise self.error(BAD_VALUE, f"{what} is in {written}, the program uses {currency}", node,
                                 f"write the amount in {currency}")
        elif len(parts) != 1:
            raise self.error(BAD_VALUE, f"{what} must be an amount such as `7.40` or `7.40 {currency}`", node)
        self.bounded(node, value)
        try:
            amount = Decimal(value.replace("_", ""))
        except InvalidOperation:
            raise self.error(BAD_VALUE, f"{what} must be an amount such as `7.40` or `7.40 {currency}`, "
                                        f"got `{value}`", node) from None
        if not amount.is_finite() or amount < 0:
            raise self.error(BAD_VALUE, f"{what} must be 0 or more", node)
        if amount > MAX_MONEY_CENTS // 100:
            raise self.error(NUMBER_TOO_LONG, f"{what} `{value}` is more than the largest amount, "
                                              f"{MAX_MONEY_CENTS // 100:,} {currency}", node,
                             "an amount this large is a typing mistake or another unit")
        cents = amount * 100
        if cents != cents.to_integral_value():
            raise self.error(BAD_VALUE, f"{what} has fractions of a cent: `{value}`", node,
                             "write at most two decimals")
        return int(cents)

    def boolean(self, node: yaml.Node, what: str) -> bool:
        value = self.scalar(node, what)
        if value.lower() == "true":
            return True
        if value.lower() == "false":
            return False
        hint = "write true or false" + (" (YAML 1.1 words such as yes/no are not booleans here)"
                                        if value.lower() in AMBIGUOUS_WORDS else "")
        raise self.error(BAD_VALUE, f"{what} must be true or false, got `{value}`", node, hint)

    def date(self, node: yaml.Node, what: str) -> dt.date:
        value = self.scalar(node, what)
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise self.error(BAD_VALUE, f"{what} must be a date such as 2027-05-04, got `{value}`", node) from None
        problem = date_out_of_range(day)
        if problem:
            raise self.error(DATE_OUT_OF_RANGE, f"{what}: {problem}", node, DATE_HINT)
        return day

    def time(self, node: yaml.Node, what: str) -> dt.time:
        value = self.scalar(node, what)
        try:
            match = TIME_RE.fullmatch(value.strip())
            if match is None:
                raise ValueError(value)
            return dt.time(int(match.group(1)), int(match.group(2)))
        except ValueError:
            raise self.error(BAD_VALUE, f"{what} must be a time such as \"09:30\", got `{value}`", node,
                             "quote times in YAML: time: \"09:30\"") from None

    def month_day(self, node: yaml.Node, what: str) -> tuple[int, int]:
        value = self.scalar(node, what)
        try:
            if value.count("-") == 2:
                day = dt.date.fromisoformat(value)
            else:
                day = dt.date.fromisoformat("2000-" + value)  # a leap year, so 02-29 is accepted
            return day.month, day.day
        except ValueError:
            raise self.error(BAD_VALUE, f"{what} must be a month-day such as 05-04 (or a full date), "
                                        f"got `{value}`", node) from None

    def name_among(self, node: yaml.Node, what: str, names: Iterable[str]) -> str:
        value = self.text(node, what)
        names = list(names)
        if value not in names:
            hint = did_you_mean(value, names) or ("known: " + ", ".join(names) if names
                                                  else f"the program has no {what}s")
            raise self.error(UNKNOWN_NAME, f"unknown {what} `{value}`", node, hint)
        return value

    def typed(self, node: yaml.Node, what: str, value_type: str) -> object:
        """A value of a declared type: string, number, bool, money (cents), date."""
        if value_type == "number":
            return self.number(node, what)
        if value_type == "bool":
            return self.boolean(node, what)
        if value_type == "money":
            return self.cents(node, what)
        if value_type == "date":
            return self.date(node, what)
        return self.text(node, what)

    def attempt(self, read: Callable[[], object]) -> object | None:
        """Run one reader; a problem becomes a diagnostic and the value None."""
        try:
            return read()
        except _Invalid as problem:
            self.diags.append(problem.diagnostic)
            return None

    # ------------------------------------------------------------ program names

    def tier_names(self) -> list[str]:
        return [t.name for t in self.program.tiers.tiers] if self.program.tiers else []

    def perk_names(self) -> list[str]:
        names: list[str] = []
        if self.program.tiers:
            names += [p.name for t in self.program.tiers.tiers for p in t.perks]
        names += [a.name for r in self.program.rules for a in r.actions if isinstance(a, ir.PerkAction)]
        return list(dict.fromkeys(names))

    # ------------------------------------------------------------ sections

    def customer(self, node: yaml.Node) -> Customer | None:
        keys = self.mapping(node, "customer", CUSTOMER_KEYS)
        values: dict[str, object] = {}
        if "tier" in keys:
            values["tier"] = self.attempt(lambda: self.name_among(keys["tier"][1], "tier", self.tier_names()))
        for key in ("balance", "purchases"):
            if key in keys:
                values[key] = self.attempt(lambda key=key: self.whole(keys[key][1], f"customer {key}"))
        if "birthday" in keys:
            values["birthday"] = self.attempt(lambda: self.month_day(keys["birthday"][1], "birthday"))
        if "metric" in keys:
            values["metric"] = self.attempt(lambda: self.metric(keys["metric"][1]))
        if "attributes" in keys:
            values["attributes"] = self.attempt(lambda: self.attributes(keys["attributes"][1]))
        if "counters" in keys:
            values["counters"] = self.attempt(lambda: self.counters(keys["counters"][1]))
        if "balances" in keys:
            values["balances"] = self.attempt(lambda: self.balances(keys["balances"][1]))
        given = {k: v for k, v in values.items() if v is not None}
        return Customer(**given)  # type: ignore[arg-type]

    def metric(self, node: yaml.Node) -> Fraction | int:
        tiers = self.program.tiers
        if tiers is not None and tiers.metric == "spend":
            return self.cents(node, "metric (spend so far)")
        number = self.number(node, "metric")
        return int(number) if number.denominator == 1 else number

    def attributes(self, node: yaml.Node) -> dict[str, object]:
        declared = dict(self.program.attributes)
        keys = self.mapping(node, "attributes", declared.keys())
        out: dict[str, object] = {}
        for name, (_, value_node) in keys.items():
            value = self.attempt(lambda name=name, value_node=value_node:
                                 self.typed(value_node, f"attribute {name}", declared[name]))
            if value is not None:
                out[name] = value
        return out

    def balances(self, node: yaml.Node) -> dict[str, int]:
        """`balances: {qualifying_dollars: 1200}`: opening balances beside the points."""
        keys = self.mapping(node, "balances", self.program.balance_names())
        out: dict[str, int] = {}
        for name, (_, value_node) in keys.items():
            value = self.attempt(lambda value_node=value_node, name=name: self.whole(value_node, f"balance {name}"))
            if isinstance(value, int):
                out[name] = value
        return out

    def counters(self, node: yaml.Node) -> dict[str, int]:
        names = [c.name for c in self.program.counters]
        keys = self.mapping(node, "counters", names)
        out: dict[str, int] = {}
        for name, (_, value_node) in keys.items():
            value = self.attempt(lambda value_node=value_node, name=name: self.whole(value_node, f"counter {name}"))
            if isinstance(value, int):
                out[name] = value
        return out

    def event(self, node: yaml.Node, index: int) -> tuple[Event, yaml.Node] | None:
        what = f"event {index + 1}"
        if not isinstance(node, yaml.MappingNode):
            raise self.error(BAD_VALUE, f"{what} must be a mapping such as "
                                        "`{type: purchase, date: 2027-05-04, amount: 7.40}`", node)
        type_node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == "type"), None)
        if type_node is None:
            known = [*BUILTIN_EVENT_KEYS, *self.custom_events()]
            slip = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value in TYPE_SLIPS
                         and isinstance(v, yaml.ScalarNode)), None)
            if slip is not None:  # `kind: purchase`: the right word is `type`
                raise self.error(MISSING_KEY, f"{what} has no `type` (`{slip[0].value}` is not a key of an event)",
                                 slip[0], f"write `type: {slip[1].value}`; types: " + ", ".join(known))
            raise self.error(MISSING_KEY, f"{what} has no `type`", node, "types: " + ", ".join(known))
        kind = self.text(type_node, "event type")
        custom = self.custom_events()
        kind = canonical_event(kind)
        if kind not in BUILTIN_EVENT_KEYS and kind not in custom:
            known = [*BUILTIN_EVENT_KEYS, *custom]
            raise self.error(UNKNOWN_NAME, f"unknown event type `{kind}`", type_node,
                             did_you_mean(kind, known) or "types: " + ", ".join(known))
        own = BUILTIN_EVENT_KEYS.get(kind) or tuple(custom.get(kind, {}))
        keys = self.mapping(node, f"{what} ({kind})", COMMON_EVENT_KEYS + own)
        for required in ("date", *REQUIRED_EVENT_KEYS.get(kind, ())):
            if required == "amount" and "lines" in keys:
                continue  # a purchase with lines: its amount is the sum of its lines
            if required not in keys:
                raise self.error(MISSING_KEY, f"{what} ({kind}) needs `{required}`", node)
        day = self.date(keys["date"][1], "date")
        moment = dt.datetime.combine(day, self.time(keys["time"][1], "time") if "time" in keys else dt.time(12, 0))
        amount = name = event_id = None
        fields: dict[str, object] = {}
        if "id" in keys:
            event_id = self.text(keys["id"][1], "id")
        if "amount" in keys:
            amount = self.cents(keys["amount"][1], "amount")
        for key, builtin in FIELD_KEYS.items():
            if key in keys and kind in builtin.carried_by:
                read = {"text": self.text, "whole": self.whole, "money": self.cents}[str(builtin.form)]
                fields[str(builtin.interpreter_key)] = read(keys[key][1], key)
        if "basket" in keys:
            fields["basket_cents"] = self.cents(keys["basket"][1], "basket")
        if "order" in keys:
            name = self.text(keys["order"][1], "order")
        if "role" in keys:
            fields["role"] = self.name_among(keys["role"][1], "referral role", ("referrer", "referee"))
            name = str(fields["role"])
        if "reward" in keys:
            name = self.name_among(keys["reward"][1], "reward", [r.name for r in self.program.rewards])
        if "perk" in keys:
            name = self.name_among(keys["perk"][1], "perk", self.perk_names())
        for field_name, value_type in custom.get(kind, {}).items():
            if field_name in keys:
                fields[field_name] = self.typed(keys[field_name][1], field_name, value_type)
        lines: tuple[Line, ...] = ()
        if "lines" in keys:
            amount, lines = self.lines(keys["lines"][1], what, amount, fields)
        event = Event(kind, moment, amount_cents=amount, name=name, fields=fields, id=event_id, span=self.span(node),
                      lines=lines)
        return event, node

    def lines(self, node: yaml.Node, what: str, amount: int | None,
              fields: dict[str, object]) -> tuple[int, tuple[Line, ...]]:
        """A purchase's `lines`: each `{amount: 12.00, category: fuel, quantity: 45, sku: E10}`;
        the purchase's amount is their sum plus shipping (and must be, when it is given)."""
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.error(BAD_VALUE, f"`lines` of {what} must be a list of lines", node,
                             "e.g. `lines: [{amount: 12.00, category: fuel, quantity: 45}]`")
        out: list[Line] = []
        for i, item in enumerate(node.value):
            lwhat = f"line {i + 1} of {what}"
            attributes = dict(self.program.line_attributes)
            keys = self.mapping(item, lwhat, LINE_KEYS + tuple(attributes))
            if "amount" not in keys:
                raise self.error(LINE_MISSING, f"{lwhat} has no `amount`", item,
                                 "give each line its amount: `{amount: 3.50, category: coffee}`")
            out.append(Line(self.cents(keys["amount"][1], "amount"),
                            self.text(keys["category"][1], "category") if "category" in keys else
                            fields.get("category"),  # type: ignore[arg-type]
                            self.whole(keys["quantity"][1], "quantity") if "quantity" in keys else 0,
                            self.text(keys["sku"][1], "sku") if "sku" in keys else None,
                            attributes=tuple((name, self.typed(keys[name][1], name, typ))
                                             for name, typ in attributes.items() if name in keys)))
        shipping = fields.get("shipping_cents", 0)
        total = sum(line.amount_cents for line in out) + (shipping if isinstance(shipping, int) else 0)
        if amount is not None and amount != total:
            raise self.error(LINES_DISAGREE, f"the lines of {what} add up to {total / 100:.2f} with shipping, but its "
                                             f"`amount` is {amount / 100:.2f}", node,
                             "leave `amount` out (it is the sum of the lines and shipping), or correct a line")
        quantity = sum(line.quantity for line in out)
        if "quantity" in fields and fields["quantity"] != quantity:
            raise self.error(LINES_DISAGREE, f"the lines' quantities of {what} add up to {quantity}, but its "
                                             f"`quantity` is {fields['quantity']}", node,
                             "leave `quantity` out: with lines it is the sum of the lines' quantities")
        if quantity or "quantity" in fields:
            fields["quantity"] = quantity
        return total, tuple(out)

    def custom_events(self) -> dict[str, dict[str, str]]:
        return {e.name: dict(e.fields) for e in self.program.events}

    def events(self, node: yaml.Node) -> list[Event]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(BAD_VALUE, "events must be a list, one `- {type: ..., date: ...}` per event", node)
        out: list[Event] = []
        previous: Event | None = None
        orders: dict[str, int] = {}  # order id -> amount not yet returned
        for index, item in enumerate(node.value):
            read = self.attempt(lambda item=item, index=index: self.event(item, index))
            if read is None:
                continue
            event, event_node = read  # type: ignore[misc]
            if previous is not None and event.at < previous.at:
                self.diags.append(self.error(
                    OUT_OF_ORDER, f"events out of order: {event.at:%Y-%m-%d %H:%M} comes after "
                                  f"{previous.at:%Y-%m-%d %H:%M}", event_node,
                    "list the events in time order").diagnostic)
            previous = event
            out.append(event)
            self._check_return(event, event_node, orders)
        return out

    def _check_return(self, event: Event, node: yaml.Node, orders: dict[str, int]) -> None:
        """RL240 a return of an order no earlier purchase has; RL241 returns of one order that
        add up to more than its amount."""
        if event.kind == "purchase" and event.id is not None:
            orders[event.id] = event.amount_cents or 0
        if event.kind != "return":
            return
        order = str(event.name)
        if order not in orders:
            self.diags.append(self.error(
                UNKNOWN_ORDER, f"a return of order \"{order}\", but no earlier purchase has that id", node,
                did_you_mean(order, list(orders)) or
                f"give the purchase `id: {order}`, or name an earlier purchase's id in `order:`").diagnostic)
            return
        whole = orders[order]
        returned = whole if event.amount_cents is None else event.amount_cents
        if returned > whole:
            cur = self.program.currency
            self.diags.append(self.error(
                RETURN_TOO_LARGE, f"this return of \"{order}\" is {money(returned, cur)}, more than the "
                                  f"{money(whole, cur)} its purchase has left to return", node,
                f"return at most {money(whole, cur)}, or leave `amount` out to return the rest").diagnostic)
        orders[order] = max(whole - returned, 0)


def _compose(text: str, path: str) -> tuple[yaml.Node | None, list[Diagnostic]]:
    if path.endswith(".json"):
        # JSON allows tabs between tokens, YAML does not; a tab in a valid JSON string is escaped,
        # so this changes nothing else (and keeps every column where it was).
        text = text.replace("\t", " ")
    return compose_yaml(text, path, code=BAD_FILE, prefix="not valid YAML or JSON", what="an events file", hint=None)


def load_events(text: str, path: str, program: ir.Program) -> tuple[EventsFile | None, list[Diagnostic]]:
    """Read an events file; every problem found is reported, each at its place in the file.

    Returns:
        The events file (None when there were errors) and the diagnostics.
    """
    root, diags = _compose(text, path)
    if diags:
        return None, diags
    reader = _Reader(path, program)
    if root is None:
        return None, [Diagnostic(BAD_FILE, "error", f"{path} is empty", Span(path, 0, 0, 0, 0),
                                 "an events file has `events:` (a list) and optionally `customer:`")]
    try:
        keys = reader.mapping(root, "the events file", TOP_KEYS)
    except _Invalid as problem:
        return None, [problem.diagnostic]
    customer = reader.attempt(lambda: reader.customer(keys["customer"][1])) if "customer" in keys else None
    until = reader.attempt(lambda: reader.date(keys["until"][1], "until")) if "until" in keys else None
    events: object = []
    if "events" in keys:
        events = reader.attempt(lambda: reader.events(keys["events"][1])) or []
    else:
        reader.diags.append(Diagnostic(MISSING_KEY, "error", f"{path} has no `events:` list", reader.span(root),
                                       "add `events:` with one `- {type: purchase, date: ..., amount: ...}` per event"))
    if any(d.is_error for d in reader.diags):
        return None, reader.diags
    return EventsFile(customer, tuple(events), until), reader.diags  # type: ignore[arg-type]


def load_customer(text: str, path: str, program: ir.Program) -> tuple[Customer | None, list[Diagnostic]]:
    """A customer file: either `customer: {...}` or the customer mapping itself."""
    root, diags = _compose(text, path)
    if diags:
        return None, diags
    reader = _Reader(path, program)
    if root is None:
        return None, [Diagnostic(BAD_FILE, "error", f"{path} is empty", Span(path, 0, 0, 0, 0))]
    node = root
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if isinstance(key, yaml.ScalarNode) and key.value == "customer":
                node = value
    customer = reader.attempt(lambda: reader.customer(node))
    if any(d.is_error for d in reader.diags):
        return None, reader.diags
    return customer, reader.diags  # type: ignore[return-value]


def explain(program: ir.Program, events_file: EventsFile, customer: Customer | None = None,
            until: dt.date | None = None) -> Result:
    """Run the events through the program. `customer` and `until` override the file's."""
    return run(program, list(events_file.events), customer=customer or events_file.customer,
               until=until or events_file.until)
