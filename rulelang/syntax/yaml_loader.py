"""YAML loader: the YAML form of a rule file -> the same AST the text parser gives.

Takes: YAML text and its path (`load_yaml(source, path)`). Gives: an
`ast.SourceFile` (a program and/or tests) equal to what `parser.parse_text`
gives for the same program written as text (spans excluded), plus located
diagnostics; `None` instead of the file when any error was found. Never raises
for bad input.

The YAML form is described in docs/yaml.md and by the JSON Schema in
`rulelang/syntax/schema/rulelang.schema.json`. The file is read with `yaml.compose`
(pyyaml's SafeLoader: no tags that run code) and walked node by node, so every
span points into the YAML file; conditions are parsed by the text parser's
`parse_expression` with their positions mapped back into the YAML file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

import yaml

from rulelang.fields import ACTION_EVENTS, FED_EVENTS, given_keys
from rulelang.ir import LINE_FIELDS
from rulelang.syntax.lifecycle_words import (ACTIVITY_KINDS, STATUS_DATE_TOO_EARLY, UNKNOWN_ACTIVITY,
                                             activity_hint, status_date_problem)
from rulelang.syntax import ast
from rulelang.diagnostics import Diagnostic, Span, did_you_mean, sort_key
from rulelang.syntax.parser import points_name_problem
from rulelang.syntax.nodes import ACTION_TYPES, NODES
from rulelang.syntax.expectations import normalise_expect_words, read_expect
from rulelang.syntax.slips import MONEY_SLIP, FlatClause, currency_word, flat_award_errors
from rulelang.vocabulary import own_unit_words, unit_words
from rulelang.syntax.balances import balance_metric, normalise_test_units, points_unit_dropped
from rulelang.syntax.yaml_nodes import NAME_RE, Entry, Node, NodeReader, compose_yaml, first_key, foreign_tags, number_of

__all__ = ["load_yaml", "EVENT_TIME_WHEN_NONE_GIVEN"]

# The time an event gets when its `on:` gives only a date (the text form does the same).
EVENT_TIME_WHEN_NONE_GIVEN = dt.time(12, 0)

# The keys of each YAML mapping, from the node declarations (rulelang/syntax/nodes.py).
PROGRAM_KEYS = NODES[ast.Program].yaml_keys
RULE_KEYS = NODES[ast.EarnRule].yaml_keys
ACTION_KEYS = tuple(dict.fromkeys(NODES[t].yaml_key or "" for t in ACTION_TYPES))
AWARD_KEYS = NODES[ast.Award].yaml_keys
DISCOUNT_KEYS = NODES[ast.Discount].yaml_keys
TIERS_KEYS = NODES[ast.TierSystem].yaml_keys
LEVEL_KEYS = NODES[ast.Tier].yaml_keys
EXPIRE_KEYS = NODES[ast.Expiry].yaml_keys
# settings kept when written at their default value: YAML key -> the text form's statement kind
WRITTEN_KEYS = {
    "program": {"points": "points", "multipliers": "multipliers", "round": "round", "pending": "pending"},
    "rule": {"priority": "priority"},
    "tiers": {"review": "review", "downgrade": "downgrade", "grace": "grace", "valid": "valid"},
}
# keys people write for an expiry, from the text form's words (`expire ... 6 months after earning`)
EXPIRE_SLIPS = {
    key: "the key is `after_earning`, e.g. `- after_earning: 12 months` (add `at_end_of_month: true` to "
         "expire at the end of that month)"
    for key in ("after", "after_months", "months", "expire_after", "after_earn", "earning")
} | {
    "inactive": "the key is `inactivity`: write `- inactivity: 18 months`",
    "inactivity_months": "the key is `inactivity`: write `- inactivity: 18 months`",
    "date": "the key is `on` (one date) or `yearly_on` (each year): write `- on: 2027-12-31` or `- yearly_on: 12-31`",
    "yearly": "the key is `yearly_on`: write `- yearly_on: 12-31`",
}
TEST_KEYS = NODES[ast.TestCase].yaml_keys
GIVEN_KEYS = NODES[ast.Given].yaml_keys  # any other word is a tier metric (`nights: 4`)
EXPECT_KEYS = NODES[ast.Expect].yaml_keys
_VALIDITY_RE = re.compile(r"(-?\d+)\s*(days?|months?|years?)")
# A purchase's keys besides its amount (the built-in fields of rulelang.fields, and its order id).
PURCHASE_FIELDS = tuple(f.spelling.yaml for f in given_keys("purchase", "yaml") if f.spelling) + ("id",)
FIELD_FORMS = {**{f.spelling.yaml: str(f.form) for f in given_keys("purchase", "yaml") if f.spelling}, "id": "text"}

LINE_KEYS = tuple(LINE_FIELDS)  # the keys of a purchase's line (docs/yaml.md), besides the program's line attributes

ROUNDING = {"down": "down", "up": "up", "nearest": "nearest"}
BASES = {"net": "net", "gross": "gross"}
PERIODS = {p: p for p in ("day", "week", "month", "quarter", "year", "lifetime")}
FIELD_TYPES = {t: t for t in ("string", "number", "bool", "money", "date")}
MONTHS = {"month": "month", "months": "month"}
DAYS = {"day": "day", "days": "day"}
STREAK_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month"}
ORDINAL_SUFFIXES = ("st", "nd", "rd", "th")
REFERRAL_ROLES = ("referrer", "referee")


def load_yaml(source: str, path: str) -> tuple[ast.SourceFile | None, list[Diagnostic]]:
    """Read the YAML form of a rule file; `None` and diagnostics when it has errors."""
    try:
        root, diags = compose_yaml(source, path)
        if diags:
            return None, diags
        reader = NodeReader(source, path)
        tagged = foreign_tags(root) if root is not None else []
        for node in tagged:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            reader.error("RL202", f"YAML tag `{tag}` is not supported in rule files", node,
                         "remove the `!` tag; rule files hold plain values only")
        sf = None if tagged else _Builder(reader).source_file(root)
        diagnostics = sorted(reader.diagnostics, key=sort_key)
        return (None if any(d.is_error for d in diagnostics) else sf), diagnostics
    except RecursionError:
        return None, [Diagnostic("RL100", "error", "YAML nesting is too deep to read", Span.point(path, 1, 1))]


class _Builder:
    """Builds AST nodes from the node tree; one method per construct of the YAML form."""

    def __init__(self, reader: NodeReader) -> None:
        self.r = reader
        self.points_unit = "points"
        self.balances: tuple[ast.Balance, ...] = ()
        self.has_program = False
        self.stmt_spans: list[tuple[tuple[int, int, str], Span]] = []
        self.tier_metric: str | None = None
        self.flat_awards: list[FlatClause] = []  # `award: {points: 3, of: net}`: reported once the currency is known

    # ------------------------------------------------------------ file

    def source_file(self, root: Node | None) -> ast.SourceFile:
        path = self.r.path
        if root is None or self.r.is_null(root):
            return ast.SourceFile(path, None)
        top = self.r.mapping(root, "the file", NODES[ast.SourceFile].yaml_keys)
        if isinstance(root, yaml.MappingNode) and not top and not root.value:
            return ast.SourceFile(path, None)
        self.has_program = "program" in top
        program = self.program(top["program"]) if "program" in top else None
        self.tier_metric = program.tiers.metric if program is not None and program.tiers is not None else None
        tests: tuple[ast.TestCase, ...] = ()
        if "tests" in top:
            items = self.r.sequence(top["tests"].node, "`tests`")
            tests = tuple(self.test_case(item) for item in items)
            tests = tuple(normalise_test_units(t, program) for t in tests)
        for found in flat_award_errors(self.flat_awards, program.currency if program is not None else None, True):
            self.r.error(found.code, found.message, found.span, found.hint)
        return ast.SourceFile(path, program, tests, statement_spans=tuple(self.stmt_spans))

    # ------------------------------------------------------------ program

    def program(self, entry: Entry) -> ast.Program:
        r = self.r
        m = r.mapping(entry.node, "`program`", PROGRAM_KEYS, required=("name",))
        fields: dict[str, object] = {}
        name = r.text(m["name"].node, "the program's `name`") if "name" in m else ""
        if "points" in m:
            fields["points_unit"] = self.points_unit = r.name(m["points"].node, "`points` (the unit's name)")
            problem = points_name_problem(self.points_unit) if self.points_unit else None
            if problem:
                r.error("RL121", problem, m["points"].node, "write one word, e.g. `points: miles`")
        if "currency" in m:
            fields["currency"] = self.currency(m["currency"].node)
        if "balances" in m:
            fields["balances"] = self.balances = tuple(self.balance(e) for e in r.named(m["balances"].node, "`balances`"))
        if "point_cost" in m:
            fields["point_cost"] = r.money(m["point_cost"].node, "`point_cost`")
        if "point_value" in m:
            fields["point_value"] = r.money(m["point_value"].node, "`point_value`")
        if "multipliers" in m:
            fields["stacking"] = r.choice(m["multipliers"].node, "`multipliers`",
                                          {"multiply": "multiply", "add": "add"}, "multiply")
        if "round" in m:
            fields["rounding"] = r.choice(m["round"].node, "`round`", ROUNDING, "down")
        if "pending" in m:
            fields["pending_days"] = r.quantity(m["pending"].node, "`pending`", DAYS, "day", "14 days")[0]
        if "attributes" in m:
            fields["attributes"] = self.field_decls(m["attributes"].node, "`attributes`")
        if "line_attributes" in m:
            fields["line_attributes"] = tuple(
                ast.LineAttributeDecl(d.name, d.type, span=d.span)
                for d in self.field_decls(m["line_attributes"].node, "`line_attributes`"))
        if "events" in m:
            fields["events"] = tuple(
                ast.EventDecl(e.key, self.field_decls(e.node, f"the fields of event `{e.key}`", empty_ok=True),
                              span=r.entry_span(e))
                for e in r.named(m["events"].node, "`events`"))
        if "counters" in m:
            fields["counters"] = tuple(self.counter(e) for e in r.named(m["counters"].node, "`counters`"))
        if "rules" in m:
            fields["rules"] = tuple(self.rule(e) for e in r.named(m["rules"].node, "`rules`"))
        if "tiers" in m:
            fields["tiers"] = self.tiers(m["tiers"])
        if "expire" in m:
            fields["expiry"] = self.expiries(m["expire"].node, "`expire`")
        if "returns" in m:
            fields["returns"] = self.returns(m["returns"])
        if "rewards" in m:
            fields["rewards"] = tuple(self.reward(e) for e in r.named(m["rewards"].node, "`rewards`"))
        if "pay_with_points" in m:
            fields["pay_with_points"] = self.pay_with_points(m["pay_with_points"])
        if "convert" in m:
            fields["conversion"] = self.conversion(m["convert"])
        words = unit_words(self.points_unit)
        for key in ("expiry", "rewards"):
            if key in fields:
                fields[key] = tuple(points_unit_dropped(x, words) for x in fields[key])  # type: ignore[attr-defined]
        for key in ("pay_with_points", "conversion"):
            if fields.get(key) is not None:
                fields[key] = points_unit_dropped(fields[key], words)
        if fields.get("tiers") is not None:
            fields["tiers"] = balance_metric(fields["tiers"], self.balances)  # type: ignore[arg-type]
        span = r.entry_span(entry)
        if "activity" in m:
            fields["activity"] = self.activity(m["activity"].node)
            self._statement(span, "activity", m["activity"])
        self._written(span, m, WRITTEN_KEYS["program"])
        return ast.Program(name, **fields, span=span)  # type: ignore[arg-type]

    def balance(self, entry: Entry) -> ast.Balance:
        """`balances: {qualifying_dollars: {redeemable: false}}`."""
        r = self.r
        what = f"balance `{entry.key}`"
        m = r.mapping(entry.node, what, NODES[ast.Balance].yaml_keys)
        redeemable = r.boolean(m["redeemable"].node, f"`redeemable` of {what}") if "redeemable" in m else True
        return ast.Balance(entry.key, redeemable, span=r.entry_span(entry))

    def unit_key(self, m: dict[str, Entry], what: str) -> str | None:
        """The `unit:` key of a mapping (a balance's word where the points are the default)."""
        return self.r.name(m["unit"].node, f"`unit` of {what}") if "unit" in m else None

    def currency(self, node: Node) -> str:
        text = self.r.scalar(node, "`currency`", "a currency code", "USD")
        if text is None:
            return "USD"
        if len(text) != 3 or not text.isascii() or not text.isupper() or not text.isalpha():
            self.r.error("RL202", f"`{text}` is not a currency code", node,
                         f"write `{text.upper()}`: a currency code is three capital letters" if currency_word(text)
                         else "a currency is three capital letters, e.g. USD, EUR, RUB")
            return "USD"
        return text

    def field_decls(self, node: Node, what: str, empty_ok: bool = False) -> tuple[ast.FieldDecl, ...]:
        if empty_ok and self.r.is_null(node):
            return ()
        return tuple(
            ast.FieldDecl(e.key, self.r.choice(e.node, f"the type of `{e.key}`", FIELD_TYPES, "string"),
                          span=self.r.entry_span(e))
            for e in self.r.named(node, what))

    def counter(self, entry: Entry) -> ast.CounterDecl:
        r = self.r
        what = f"counter `{entry.key}`"
        m = r.mapping(entry.node, what, NODES[ast.CounterDecl].yaml_keys, required=("on",))
        event = r.name(m["on"].node, f"`on` of {what}") if "on" in m else ""
        sums = r.name(m["sums"].node, f"`sums` of {what}") if "sums" in m else None
        condition = r.condition(m["when"].node, f"`when` of {what}") if "when" in m else None
        return ast.CounterDecl(entry.key, event, sums, condition, span=r.entry_span(entry))

    # ------------------------------------------------------------ earn rules

    def rule(self, entry: Entry) -> ast.EarnRule:
        r = self.r
        what = f"rule `{entry.key}`"
        m = r.mapping(entry.node, what, RULE_KEYS, required=("on", "actions"),
                      hints={"do": "actions go in a list under `actions:`",
                             "award": "actions go in a list under `actions:` (`- award: ...`)",
                             "multiply": "actions go in a list under `actions:` (`- multiply: 2`)"})
        fields: dict[str, object] = {}
        event = r.name(m["on"].node, f"`on` of {what}") if "on" in m else ""
        if "when" in m:
            fields["condition"] = r.condition(m["when"].node, f"`when` of {what}")
        if "actions" in m:
            fields["actions"] = tuple(self.action(item, what)
                                      for item in r.sequence(m["actions"].node, f"`actions` of {what}"))
        if "round" in m:
            fields["rounding"] = r.choice(m["round"].node, f"`round` of {what}", ROUNDING, "down")
        if "priority" in m:
            fields["priority"] = r.integer(m["priority"].node, f"`priority` of {what}", "10")
        if "group" in m:
            fields["group"] = r.text(m["group"].node, f"`group` of {what}")
        if "during" in m:
            fields["window"] = self.window(m["during"].node, f"`during` of {what}")
        caps: list[ast.Cap] = []
        for key in [k for k in m if k in ("cap", "limit")]:
            for item in r.sequence(m[key].node, f"`{key}` of {what}", single_ok=True):
                caps.append(self.cap(item, key, what))
        fields["caps"] = tuple(caps)
        if "budget" in m:
            fields["budget"] = self.budget(m["budget"].node, f"`budget` of {what}")
        if "every" in m:
            fields["every_nth"] = self.ordinal(m["every"].node, f"`every` of {what}")
        if "streak" in m:
            node = m["streak"].node
            length, unit = r.quantity(node, f"`streak` of {what}", STREAK_UNITS, None, "4 weeks")
            fields["streak"] = ast.Streak(length, unit or "day", span=r.span(node))  # type: ignore[arg-type]
        self._written(r.entry_span(entry), m, WRITTEN_KEYS["rule"])
        return ast.EarnRule(entry.key, event, **fields, span=r.entry_span(entry))  # type: ignore[arg-type]

    def action(self, node: Node, what: str) -> ast.Action:
        r = self.r
        m = r.mapping(node, f"an action of {what}", ACTION_KEYS)
        span = r.span(node)
        if len(m) != 1:
            if isinstance(node, yaml.MappingNode) and len(m) == len(node.value):
                r.error("RL202", f"an action of {what} must have exactly one of "
                        + ", ".join(f"`{k}`" for k in ACTION_KEYS), node,
                        "write one action per list item (`- award: ...`, `- multiply: 2`)")
            return ast.Multiply(Decimal(1), span=span)
        key, entry = next(iter(m.items()))
        value = entry.node
        if key == "multiply":
            if isinstance(value, yaml.MappingNode):  # `multiply: {factor: 2, in: [coffee]}`
                mm = r.mapping(value, f"`multiply` in {what}", NODES[ast.Multiply].yaml_keys, required=("factor",))
                factor = r.suffixed(mm["factor"].node, f"`factor` of `multiply` in {what}", "x", "2") \
                    if "factor" in mm else Decimal(1)
                only = r.names(mm["in"].node, f"`in` of `multiply` in {what}") if "in" in mm else ()
                return ast.Multiply(factor, only, span=span)
            return ast.Multiply(r.suffixed(value, f"`multiply` in {what}", "x", "2"), span=span)
        if key == "perk":
            pm = r.mapping(value, f"`perk` in {what}", NODES[ast.Perk].yaml_keys, required=("name", "costs"))
            name = r.name(pm["name"].node, "the perk's `name`") if "name" in pm else ""
            cost = r.money(pm["costs"].node, "the perk's `costs`") if "costs" in pm else _zero(span)
            return ast.Perk(name, cost, span=span)
        if key == "award":
            return self.award(value, f"`award` in {what}", span)
        return self.discount(value, f"`discount` in {what}", span)

    def award(self, node: Node, what: str, span: Span) -> ast.Action:
        r = self.r
        if isinstance(node, yaml.ScalarNode):  # shorthand: `award: 50`, `award: 50 stars`, `award: 2%`
            text = (r.scalar(node, what, "a number of points", "50") or "0").strip()
            if text.endswith("%"):
                return ast.Cashback(r.suffixed(node, what, "%", "2%"), span=span)
            head, _, unit = text.partition(" ")
            if unit.strip():
                unit_name = unit.strip()
                if not unit_name.isidentifier():
                    r.wrong_type(node, what, "a number of points", "50 stars")
                    unit_name = "points"
                return ast.Award(_number_or_zero(r, node, head, what), unit=unit_name, span=span)
            return ast.Award(r.decimal(node, what, "50"), span=span)
        m = r.mapping(node, what, AWARD_KEYS)
        if "percent" in m:
            for key in ("points", "unit", "per", "to"):
                if key in m:
                    r.error("RL202", f"`{key}` does not go with `percent` in {what}", m[key].key_node,
                            "`percent` awards a share of the amount in points worth `point_value`")
            base, excluding = self.base_and_exclusions(m, what)
            return ast.Cashback(r.suffixed(m["percent"].node, f"`percent` in {what}", "%", "2"),
                                base, excluding, span=span)  # type: ignore[arg-type]
        if "points" not in m:
            if isinstance(node, yaml.MappingNode):
                r.error("RL202", f"{what} needs `points` or `percent`", node, "e.g. `award: {points: 1, per: 1 USD}`")
            return ast.Award(Decimal(0), span=span)
        points = r.decimal(m["points"].node, f"`points` in {what}", "1")
        per = self.per(m["per"].node, f"`per` in {what}") if "per" in m else None
        base, excluding = self.base_and_exclusions(m, what)
        if per is None:
            self._flat_award(m, points, base, excluding)
        to = "customer"
        if "to" in m:
            to = r.choice(m["to"].node, f"`to` in {what}",
                          {"customer": "customer", "referrer": "referrer", "referee": "referee"}, "customer")
        unit = r.name(m["unit"].node, f"`unit` in {what}") if "unit" in m else "points"
        only = r.names(m["in"].node, f"`in` in {what}") if "in" in m else ()
        return ast.Award(points, per, base, excluding, to, unit or "points", only, span=span)  # type: ignore[arg-type]

    def _flat_award(self, m: dict[str, Entry], points: Decimal, base: str, excluding: tuple[str, ...]) -> None:
        """Remember `of` / `excluding` on an award without `per`: they would change nothing."""
        unit = str(m["unit"].node.value) if "unit" in m and isinstance(m["unit"].node, yaml.ScalarNode) else "points"
        clauses = tuple((key, value) for key, value in (("of", base), ("excluding", excluding)) if key in m)
        if clauses:
            self.flat_awards.append(FlatClause(str(points), unit, clauses, self.r.span(m[clauses[0][0]].key_node)))

    def per(self, node: Node, what: str) -> ast.Money | ast.Quantity:
        """`per: 1 USD` (an amount of money) or `per: 2 litres` (a quantity: a number and a
        lower-case unit word)."""
        r = self.r
        if isinstance(node, yaml.ScalarNode):
            parts = str(node.value).split()
            code = currency_word(parts[1]) if len(parts) == 2 else None
            if code is not None:
                r.error(MONEY_SLIP, f"`{node.value}`: currency codes are written in capitals", node,
                        f"write `per: {parts[0]} {code}` (`{parts[1]}` would be read as a unit of quantity)")
            elif len(parts) == 2 and parts[1][:1].islower() and parts[1].isidentifier() and number_of(parts[0]) is not None:
                return ast.Quantity(number_of(parts[0]), parts[1], span=r.span(node))  # type: ignore[arg-type]
        return r.money(node, what)

    def discount(self, node: Node, what: str, span: Span) -> ast.Discount:
        r = self.r
        if isinstance(node, yaml.ScalarNode):  # shorthand: `discount: 10%`, `discount: 5 USD`
            text = (r.scalar(node, what, "a percent or an amount", "10%") or "0%").strip()
            if text.endswith("%"):
                return ast.Discount(percent=r.suffixed(node, what, "%", "10%"), span=span)
            money = r.money_text(node, text, what)
            return ast.Discount(amount=money if money is not None else _zero(span), span=span)
        m = r.mapping(node, what, DISCOUNT_KEYS)
        base, excluding = self.base_and_exclusions(m, what)
        only = r.names(m["in"].node, f"`in` in {what}") if "in" in m else ()
        if ("percent" in m) == ("amount" in m):
            if isinstance(node, yaml.MappingNode):
                r.error("RL202", f"{what} needs exactly one of `percent` or `amount`", node,
                        "e.g. `discount: {percent: 10}` or `discount: {amount: 5 USD}`")
            return ast.Discount(percent=Decimal(0), span=span)
        if "percent" in m:
            percent = r.suffixed(m["percent"].node, f"`percent` in {what}", "%", "10")
            return ast.Discount(percent=percent, base=base, excluding=excluding, only=only, span=span)  # type: ignore[arg-type]
        amount = r.money(m["amount"].node, f"`amount` in {what}")
        return ast.Discount(amount=amount, base=base, excluding=excluding, only=only, span=span)  # type: ignore[arg-type]

    def base_and_exclusions(self, m: dict[str, Entry], what: str) -> tuple[str, tuple[str, ...]]:
        base = self.r.choice(m["of"].node, f"`of` in {what}", BASES, "net") if "of" in m else "net"
        excluding = self.r.names(m["excluding"].node, f"`excluding` in {what}") if "excluding" in m else ()
        return base, excluding

    def window(self, node: Node, what: str) -> ast.DateWindow:
        r = self.r
        span = r.span(node)
        if isinstance(node, yaml.MappingNode):
            m = r.mapping(node, what, NODES[ast.DateWindow].yaml_keys, required=("from", "to"))
            start = r.date(m["from"].node, f"`from` of {what}") if "from" in m else dt.date(2000, 1, 1)
            end = r.date(m["to"].node, f"`to` of {what}") if "to" in m else start
            return ast.DateWindow(start, end, span=span)
        text = r.scalar(node, what, "two dates", "2027-01-01 .. 2027-03-31")
        if text is None:
            return ast.DateWindow(dt.date(2000, 1, 1), dt.date(2000, 1, 1), span=span)
        first, sep, last = text.partition("..")
        if not sep:
            r.wrong_type(node, what, "two dates joined by `..`", "2027-01-01 .. 2027-03-31")
            return ast.DateWindow(dt.date(2000, 1, 1), dt.date(2000, 1, 1), span=span)
        start = r.date_text(node, first.strip(), what) or dt.date(2000, 1, 1)
        end = r.date_text(node, last.strip(), what) or start
        return ast.DateWindow(start, end, span=span)

    def cap(self, node: Node, key: str, what: str) -> ast.Cap:
        """`{points: 200, per: month}` (cap) or `{times: 1, per: day}` (limit), under `cap` or `limit`."""
        r = self.r
        where = f"`{key}` of {what}"
        m = r.mapping(node, where, NODES[ast.Cap].yaml_keys, required=("per",))
        units = [k for k in ("points", "times") if k in m]
        if len(units) != 1:
            if isinstance(node, yaml.MappingNode):
                r.error("RL202", f"{where} needs exactly one of `points` or `times`", node,
                        "e.g. `cap: {points: 200, per: month}` or `limit: {times: 1, per: day}`")
            return ast.Cap(0, "points", "day", span=r.span(node))
        unit = units[0]
        limit = r.integer(m[unit].node, f"`{unit}` in {where}", "200")
        period = r.choice(m["per"].node, f"`per` in {where}", PERIODS, "day") if "per" in m else "day"
        return ast.Cap(limit, unit, period, span=r.span(node))  # type: ignore[arg-type]

    def budget(self, node: Node, what: str) -> ast.Budget:
        r = self.r
        text = r.scalar(node, what, "a number of points or an amount of money", "100000")
        span = r.span(node)
        if text is None:
            return ast.Budget(points=0, span=span)
        parts = text.split()
        if len(parts) == 2 and parts[1].isupper():
            money = r.money_text(node, text.strip(), what)
            return ast.Budget(money=money if money is not None else _zero(span), span=span)
        if len(parts) == 2:  # `100000 stars`: the unit word is the program's
            return ast.Budget(points=_whole_or_zero(r, node, parts[0], what), span=span)
        return ast.Budget(points=r.integer(node, what, "100000"), span=span)

    def ordinal(self, node: Node, what: str) -> int:
        """`every: 10` or `every: 10th` (the Nth matching purchase)."""
        r = self.r
        text = r.scalar(node, what, "a whole number", "10")
        if text is None:
            return 0
        text = text.strip()
        if text[-2:].lower() in ORDINAL_SUFFIXES and text[:-2].isdigit():
            text = text[:-2]
        return _whole_or_zero(r, node, text, what)

    # ------------------------------------------------------------ tiers

    def tiers(self, entry: Entry) -> ast.TierSystem:
        r = self.r
        m = r.mapping(entry.node, "`tiers`", TIERS_KEYS, required=("by", "over", "levels"))
        metric = self.metric(m["by"].node) if "by" in m else "points"
        window = self.tier_window(m["over"].node) if "over" in m else ast.TierWindow("lifetime")
        levels = tuple(self.tier(e, metric) for e in r.named(m["levels"].node, "`levels` of `tiers`")) \
            if "levels" in m else ()
        fields: dict[str, object] = {}
        if "review" in m:
            fields["review"] = r.choice(m["review"].node, "`review` of `tiers`",
                                        {k: k for k in ("monthly", "quarterly", "yearly", "never")}, "never")
        if "downgrade" in m:
            fields["downgrade"] = r.choice(m["downgrade"].node, "`downgrade` of `tiers`",
                                           {k: k for k in ("one_step", "to_base", "to_qualified", "never")},
                                           "never")
        if "grace" in m:
            fields["grace_months"] = r.quantity(m["grace"].node, "`grace` of `tiers`", MONTHS, "month",
                                                "3 months")[0]
        if "valid" in m:
            fields["validity_months"] = r.quantity(m["valid"].node, "`valid` of `tiers`", MONTHS, "month",
                                                   "12 months")[0]
        if "spend" in m:
            fields["spend_basis"] = r.choice(m["spend"].node, "`spend` of `tiers`",
                                             {k: k for k in ("after_discounts", "before_discounts")},
                                             "after_discounts")
        if "on_return" in m:
            fields["on_return"] = r.choice(m["on_return"].node, "`on_return` of `tiers`",
                                           {k: k for k in ("keep_until_review", "lower_at_once")},
                                           "keep_until_review")
        span = r.entry_span(entry)
        if "status" in m:
            fields.update(self.status(m["status"].node))
            self._statement(span, "status", m["status"])
        self._written(span, m, WRITTEN_KEYS["tiers"])
        return ast.TierSystem(metric, window, levels, **fields, span=span)  # type: ignore[arg-type]

    def _written(self, owner: Span, m: dict[str, Entry], keys: dict[str, str]) -> None:
        """Which settings were written (even at their default), so fmt and convert keep them."""
        for key, kind in keys.items():
            if key in m:
                self._statement(owner, kind, m[key])

    def _statement(self, owner: Span, kind: str, entry: Entry) -> None:
        """Where a key without a node of its own was written, for the checker's errors."""
        self.stmt_spans.append(((owner.line, owner.column, kind), self.r.entry_span(entry)))

    def status(self, node: Node) -> dict[str, object]:
        """`status: {valid_through: 01-31, years_after: 2, then: one_step}` of `tiers`."""
        r = self.r
        what = "`status` of `tiers`"
        m = r.mapping(node, what, ("valid_through", "years_after", "then"), required=("valid_through", "years_after"))
        month_day = r.month_day(m["valid_through"].node, f"`valid_through` in {what}") \
            if "valid_through" in m else (1, 31)
        years = 1
        if "years_after" in m:
            years = r.integer(m["years_after"].node, f"`years_after` in {what}", "2")
            if years < 1:
                r.error(STATUS_DATE_TOO_EARLY, status_date_problem(month_day, years), m["years_after"].node,
                        "write `years_after: 1` (the next year) or more, e.g. "
                        "`status: {valid_through: 01-31, years_after: 2}`")
        drop = r.choice(m["then"].node, f"`then` in {what}", {"to_qualified": "to_qualified", "one_step": "one_step"},
                        "to_qualified") if "then" in m else "to_qualified"
        return {"status_through": month_day, "status_years": years, "status_drop": drop}

    def activity(self, node: Node) -> tuple[str, ...]:
        """`activity: [purchase, redemption, any earning event]` (or one kind)."""
        r = self.r
        kinds: list[str] = []
        for item in r.sequence(node, "`activity`", single_ok=True):
            text = r.scalar(item, "a kind of `activity`", "a kind of activity", "purchase")
            if text is None:
                continue
            word = " ".join(text.replace("_", " ").split())
            if word not in ACTIVITY_KINDS:
                r.error(UNKNOWN_ACTIVITY, f"`{text}` is not a kind of activity", item, activity_hint(word))
                continue
            kinds.append(ACTIVITY_KINDS[word])
        return tuple(dict.fromkeys(kinds))

    def metric(self, node: Node) -> str:
        name = self.r.name(node, "`by` of `tiers` (spend, points, purchases or a counter)")
        if name in unit_words(self.points_unit):
            return "points"
        return name or "points"

    def tier_window(self, node: Node) -> ast.TierWindow:
        r = self.r
        what = "`over` of `tiers`"
        span = r.span(node)
        text = r.scalar(node, what, "`calendar_year`, `lifetime` or `rolling N months`", "rolling 12 months")
        if text is None:
            return ast.TierWindow("lifetime", span=span)
        words = text.replace("_", " ").split()
        if words == ["calendar", "year"]:
            return ast.TierWindow("calendar_year", span=span)
        if words == ["lifetime"]:
            return ast.TierWindow("lifetime", span=span)
        if len(words) == 3 and words[0] == "rolling" and words[2] in MONTHS and words[1].isdigit():
            return ast.TierWindow("rolling", int(words[1]), span=span)
        hint = did_you_mean(text, ["calendar_year", "lifetime", "rolling 12 months"]) or \
            "write `calendar_year`, `lifetime` or `rolling 12 months`"
        r.error("RL202", f"{what} must be `calendar_year`, `lifetime` or `rolling N months`, got `{text}`",
                node, hint)
        return ast.TierWindow("lifetime", span=span)

    def tier(self, entry: Entry, metric: str) -> ast.Tier:
        r = self.r
        what = f"tier `{entry.key}`"
        m = r.mapping(entry.node, what, LEVEL_KEYS, required=("from",))
        threshold, money = Decimal(0), None
        if "from" in m:
            node = m["from"].node
            text = r.scalar(node, f"`from` of {what}", "a threshold", "500")
            if text is not None and len(text.split()) == 2:
                money = r.money_text(node, text.strip(), f"`from` of {what}")
                threshold = money.amount if money is not None else Decimal(0)
            elif text is not None:
                threshold = r.decimal(node, f"`from` of {what}", "500")
        fields: dict[str, object] = {}
        if "multiply" in m:
            fields["multiplier"] = r.suffixed(m["multiply"].node, f"`multiply` of {what}", "x", "1.2")
        if "discount" in m:
            fields["discount"] = r.suffixed(m["discount"].node, f"`discount` of {what}", "%", "3%")
        if "expire" in m:
            fields["expiry"] = self.expiries(m["expire"].node, f"`expire` of {what}")
        if "perks" in m:
            fields["perks"] = tuple(self.tier_perk(item, what)
                                    for item in r.sequence(m["perks"].node, f"`perks` of {what}", single_ok=True))
        if "award" in m:
            fields["rate"], fields["rate_per"] = self.tier_rate(m["award"].node, what)
            self._statement(r.entry_span(entry), "award", m["award"])
        return ast.Tier(entry.key, threshold, money, **fields, span=r.entry_span(entry))  # type: ignore[arg-type]

    def tier_rate(self, node: Node, what: str) -> tuple[Decimal, ast.Money]:
        """`award: {points: 1.2, per: 1 USD}` of a tier (`unit` may name the points)."""
        r = self.r
        where = f"`award` of {what}"
        m = r.mapping(node, where, ("points", "unit", "per"), required=("points", "per"))
        rate = r.decimal(m["points"].node, f"`points` in {where}", "1.2") if "points" in m else Decimal(0)
        per = r.money(m["per"].node, f"`per` in {where}") if "per" in m else _zero(r.span(node))
        if "unit" in m:
            word = r.name(m["unit"].node, f"`unit` in {where}")
            if word and word not in unit_words(self.points_unit):
                r.error("RL202", f"`{word}` is not this program's points unit", m["unit"].node,
                        did_you_mean(word, sorted(unit_words(self.points_unit))) or f"write `{self.points_unit}`")
        return rate, per

    def tier_perk(self, node: Node, what: str) -> ast.TierPerk:
        r = self.r
        m = r.mapping(node, f"a perk of {what}", NODES[ast.TierPerk].yaml_keys, required=("name", "costs"))
        name = r.name(m["name"].node, "the perk's `name`") if "name" in m else ""
        cost = r.money(m["costs"].node, "the perk's `costs`") if "costs" in m else _zero(r.span(node))
        per = r.choice(m["per"].node, "the perk's `per`", {"use": "use", "month": "month", "year": "year"},
                       "use") if "per" in m else "use"
        return ast.TierPerk(name, cost, per, span=r.span(node))  # type: ignore[arg-type]

    # ------------------------------------------------------------ lifecycle and redemption

    def expiries(self, node: Node, what: str) -> tuple[ast.Expiry, ...]:
        items = [node] if isinstance(node, (yaml.MappingNode, yaml.ScalarNode)) else \
            self.r.sequence(node, what)
        return tuple(self.expiry(item, what) for item in items)

    def expiry(self, node: Node, what: str) -> ast.Expiry:
        r = self.r
        span = r.span(node)
        if isinstance(node, yaml.ScalarNode):
            r.choice(node, what, {"never": "never"}, "never")
            return ast.Expiry("never", span=span)
        m = r.mapping(node, what, EXPIRE_KEYS, hints=EXPIRE_SLIPS)
        unit = self.unit_key(m, what)
        kinds = [k for k in m if k not in ("at_end_of_month", "unit")]
        if len(kinds) != 1:
            # a mistyped kind (`after: 6 months`) already has its RL201 with the right key
            mistyped = not kinds and isinstance(node, yaml.MappingNode) and any(
                isinstance(k, yaml.ScalarNode) and k.value not in EXPIRE_KEYS for k, _ in node.value)
            if isinstance(node, yaml.MappingNode) and not mistyped:
                r.error("RL202", f"{what} needs exactly one of `after_earning`, `inactivity`, `on`, `yearly_on`",
                        node, "e.g. `- after_earning: 12 months`")
            return ast.Expiry("never", span=span)
        kind = kinds[0]
        value = m[kind].node
        if "at_end_of_month" in m and kind != "after_earning":
            r.error("RL202", "`at_end_of_month` goes only with `after_earning`", m["at_end_of_month"].key_node)
        if kind == "after_earning":
            months = r.quantity(value, f"`after_earning` in {what}", MONTHS, "month", "12 months")[0]
            end = r.boolean(m["at_end_of_month"].node, "`at_end_of_month`") if "at_end_of_month" in m else False
            return ast.Expiry("after_earning", months=months, end_of_month=end, unit=unit, span=span)
        if kind == "inactivity":
            months = r.quantity(value, f"`inactivity` in {what}", MONTHS, "month", "18 months")[0]
            return ast.Expiry("inactivity", months=months, unit=unit, span=span)
        if kind == "on":
            return ast.Expiry("fixed_date", date=r.date(value, f"`on` in {what}"), unit=unit, span=span)
        return ast.Expiry("yearly", month_day=r.month_day(value, f"`yearly_on` in {what}"), unit=unit, span=span)

    def returns(self, entry: Entry) -> ast.ReturnPolicy:
        r = self.r
        m = r.mapping(entry.node, "`returns`", NODES[ast.ReturnPolicy].yaml_keys)
        reverse = r.boolean(m["reverse"].node, "`reverse` of `returns`") if "reverse" in m else True
        negative = r.choice(m["negative_balance"].node, "`negative_balance` of `returns`",
                            {"allowed": "allowed", "forbidden": "forbidden"}, "forbidden") \
            if "negative_balance" in m else "forbidden"
        lower = r.boolean(m["lower_metrics"].node, "`lower_metrics` of `returns`") if "lower_metrics" in m else False
        return ast.ReturnPolicy(reverse, negative, bool(lower), span=r.entry_span(entry))  # type: ignore[arg-type]

    def reward(self, entry: Entry) -> ast.Reward:
        r = self.r
        what = f"reward `{entry.key}`"
        m = r.mapping(entry.node, what, NODES[ast.Reward].yaml_keys, required=("price",))
        price = r.integer(m["price"].node, f"`price` of {what}", "150") if "price" in m else 0
        if "price" in m:
            self._statement(r.entry_span(entry), "price", m["price"])
        worth = r.money(m["worth"].node, f"`worth` of {what}") if "worth" in m else None
        cost = r.money(m["costs_us"].node, f"`costs_us` of {what}") if "costs_us" in m else None
        voucher = r.money(m["voucher"].node, f"`voucher` of {what}") if "voucher" in m else None
        valid, valid_unit = self.validity(m["valid"].node, f"`valid` of {what}") if "valid" in m else (None, "years")
        return ast.Reward(entry.key, price, worth, cost, voucher, valid, valid_unit,  # type: ignore[arg-type]
                          unit=self.unit_key(m, what), span=r.entry_span(entry))

    def pay_with_points(self, entry: Entry) -> ast.PayWithPoints:
        r = self.r
        what = "`pay_with_points`"
        m = r.mapping(entry.node, what, NODES[ast.PayWithPoints].yaml_keys,
                      required=("points", "worth"))
        points = r.integer(m["points"].node, f"`points` of {what}", "100") if "points" in m else 0
        money = r.money(m["worth"].node, f"`worth` of {what}") if "worth" in m else _zero(r.span(entry.node))
        fields: dict[str, object] = {}
        if "minimum_balance" in m:
            fields["minimum_balance"] = r.integer(m["minimum_balance"].node, f"`minimum_balance` of {what}", "500")
        if "at_most" in m:
            fields["max_share"] = r.suffixed(m["at_most"].node, f"`at_most` of {what}", "%", "50%")
        return ast.PayWithPoints(points, money, **fields, unit=self.unit_key(m, what),  # type: ignore[arg-type]
                                 span=r.entry_span(entry))

    def conversion(self, entry: Entry) -> ast.Conversion:
        r = self.r
        what = "`convert`"
        m = r.mapping(entry.node, what, NODES[ast.Conversion].yaml_keys, required=("every", "into", "at_end_of"))
        points = r.integer(m["every"].node, f"`every` of {what}", "150") if "every" in m else 0
        voucher = r.money(m["into"].node, f"`into` of {what}") if "into" in m else _zero(r.span(entry.node))
        period, months = "month", ()
        if "at_end_of" in m and isinstance(m["at_end_of"].node, yaml.SequenceNode):
            period = "months"
            months = tuple(r.name(item, f"a month of `at_end_of` of {what}")
                           for item in r.sequence(m["at_end_of"].node, f"`at_end_of` of {what}"))
        elif "at_end_of" in m:
            period = r.choice(m["at_end_of"].node, f"`at_end_of` of {what}",
                              {"month": "month", "quarter": "quarter", "year": "year"}, "month")
        valid, valid_unit = None, "years"
        if "valid" in m:
            valid, valid_unit = self.validity(m["valid"].node, f"`valid` of {what}")
        return ast.Conversion(points, voucher, period, months, valid, valid_unit,  # type: ignore[arg-type]
                              unit=self.unit_key(m, what), span=r.entry_span(entry))

    def validity(self, node: Node, what: str) -> tuple[int | None, str]:
        """`2 years`, `18 months`, `90 days` (a count of 0 or less is the checker's RL260)."""
        text = self.r.scalar(node, what, "a validity", "2 years")
        match = _VALIDITY_RE.fullmatch((text or "").strip())
        if match is None:
            if text is not None:
                self.r.wrong_type(node, what, "a validity", "2 years")
            return None, "years"
        unit = match.group(2)
        return int(match.group(1)), unit if unit.endswith("s") else unit + "s"

    # ------------------------------------------------------------ tests

    def test_case(self, node: Node) -> ast.TestCase:
        r = self.r
        m = r.mapping(node, "a test", TEST_KEYS, required=("name",))
        name = r.text(m["name"].node, "the test's `name`") if "name" in m else ""
        what = f"test `{name}`" if name else "a test"
        givens = tuple(g for e in r.pairs(m["given"].node, f"`given` of {what}") for g in self.given(e, what)) \
            if "given" in m and not r.is_null(m["given"].node) else ()
        events = tuple(self.event(item, what) for item in r.sequence(m["when"].node, f"`when` of {what}")) \
            if "when" in m and not r.is_null(m["when"].node) else ()
        expects = tuple(x for e in r.pairs(m["expect"].node, f"`expect` of {what}") for x in self.expect(e, what)) \
            if "expect" in m and not r.is_null(m["expect"].node) else ()
        until = r.date(m["until"].node, f"`until` of {what}") if "until" in m else None
        case = ast.TestCase(name, givens, events, expects, until, span=r.span(node))
        return normalise_expect_words(case, self.points_unit, self.tier_metric) if self.has_program else case

    def given(self, e: Entry, what: str) -> list[ast.Given]:
        r = self.r
        span = r.entry_span(e)
        where = f"`given {e.key}` in {what}"
        if e.key == "tier":
            return [ast.Given("tier", value=r.name(e.node, where), span=span)]
        if e.key == "birthday":
            return [ast.Given("birthday", value=r.month_day(e.node, where), span=span)]
        if e.key in ("attribute", "attributes", "counter", "counters"):
            kind = "attribute" if e.key.startswith("attribute") else "counter"
            out = []
            for inner in r.named(e.node, where):
                if kind == "attribute":
                    value: object = r.literal(inner.node, f"attribute `{inner.key}`").value
                else:
                    value = r.decimal(inner.node, f"counter `{inner.key}`", "3")
                given = ast.Given(kind, name=inner.key, value=value, span=r.entry_span(inner))  # type: ignore[arg-type]
                out.append(given)
            return out
        close = did_you_mean(e.key, GIVEN_KEYS)
        if e.key not in GIVEN_KEYS and (close or not NAME_RE.fullmatch(e.key)):
            r.error("RL201", f"unknown key `{e.key}` in `given` of {what}", e.key_node,
                    close or "allowed: " + ", ".join(f"`{k}`" for k in GIVEN_KEYS) + ", or a tier metric")
            return []
        value, unit = self.number_with_word(e.node, where)
        if e.key in ("balance", "purchases"):
            if isinstance(value, ast.Money):
                r.wrong_type(e.node, where, "a number", "500")
            given = ast.Given(e.key, value=value, unit=unit, span=span)  # type: ignore[arg-type]
        else:  # any other word is the tier metric so far: `spend: 120 USD`, `points: 300`, `nights: 4`
            metric = "points" if self.has_program and e.key in unit_words(self.points_unit) else e.key
            given = ast.Given("metric", name=metric, value=value, unit=unit, span=span)  # type: ignore[arg-type]
        if unit is not None and self.has_program and unit in own_unit_words(self.points_unit):
            given = dataclasses.replace(given, unit=None)
        return [given]

    def number_with_word(self, node: Node, what: str) -> tuple[Decimal | ast.Money, str | None]:
        """`500`, `120 USD`, or `500 stars` (a number and a points word, for the checker)."""
        text = self.r.scalar(node, what, "a number or an amount of money", "120 USD") if isinstance(node, yaml.ScalarNode) else None
        parts = text.split() if text is not None else []
        if len(parts) == 2 and NAME_RE.fullmatch(parts[1]) and not re.fullmatch(r"[A-Z]{3}", parts[1]) \
                and number_of(parts[0]) is not None:
            if self.r.too_long(node, parts[0]):
                return Decimal(0), None
            return number_of(parts[0]) or Decimal(0), parts[1]
        return self.amount_or_number(node, what), None

    def amount_or_number(self, node: Node, what: str) -> Decimal | ast.Money:
        text = self.r.scalar(node, what, "a number or an amount of money", "120 USD")
        if text is not None and len(text.split()) == 2:
            return self.r.money_text(node, text.strip(), what) or Decimal(0)
        if text is not None:
            return self.r.decimal(node, what, "120 USD")
        return Decimal(0)

    def event(self, node: Node, what: str) -> ast.EventSpec:
        r = self.r
        span = r.span(node)
        kind = first_key(node)
        if kind is None:
            r.wrong_type(node, f"an event in `when` of {what}", "a mapping that starts with the event",
                         "- purchase: 7.40 USD")
            return ast.EventSpec("", dt.datetime(2000, 1, 1), span=span)
        main = node.value[0][1]
        ewhat = f"event `{kind}` in {what}"
        allowed = [kind, "on"]
        if kind == "purchase":
            allowed += PURCHASE_FIELDS + ("lines",)
        elif kind not in ACTION_EVENTS:  # fields of returns, referrals, custom events
            allowed += [str(k.value) for k, _ in node.value[1:] if isinstance(k, yaml.ScalarNode)]
        m = r.mapping(node, ewhat, allowed, required=("on",))
        if not NAME_RE.fullmatch(kind):
            r.error("RL202", f"`{kind}` is not an event name", node.value[0][0],
                    f"the first key of an event is its kind: {', '.join(FED_EVENTS)} or a declared event")
        at = r.datetime(m["on"].node, f"`on` of {ewhat}", EVENT_TIME_WHEN_NONE_GIVEN) if "on" in m \
            else dt.datetime(2000, 1, 1)
        amount: ast.Money | None = None
        name: str | None = None
        fields: list[tuple[str, ast.Literal]] = []
        if kind == "pay":
            amount = r.money(main, f"the amount of {ewhat}")
        elif kind == "return":
            name = r.text(main, f"the order id of {ewhat}")
        elif kind in ("redeem", "use_perk"):
            name = r.name(main, f"the name of {ewhat}")
        elif kind == "referral":
            if not r.is_null(main):
                role = r.choice(main, f"the side of {ewhat}", {s: s for s in REFERRAL_ROLES}, "referrer")
                fields.append(("role", ast.Literal(role, span=r.span(main))))
        elif not r.is_null(main):  # a purchase's (or any event's) amount
            amount = r.money(main, f"the amount of {ewhat}")
        lines: tuple[ast.LineSpec, ...] = ()
        for key, entry in m.items():
            if key in (kind, "on"):
                continue
            if key == "lines" and kind == "purchase":
                lines = tuple(self.line(item, i, ewhat) for i, item in enumerate(r.sequence(entry.node, f"`lines` of {ewhat}")))
                continue
            literal = self.field_value(entry, kind, ewhat)
            if key == "amount" and amount is None and isinstance(literal.value, ast.Money):
                amount = literal.value  # `return: A1` + `amount: 10 USD`, as in the text form
            else:
                fields.append((key, literal))
        return ast.EventSpec(kind, at, amount, name, tuple(fields), lines, span=span)

    def line(self, node: Node, index: int, what: str) -> ast.LineSpec:
        """`- {amount: 12.00 EUR, category: fuel, quantity: 45, sku: E10}`: one line of a purchase."""
        r = self.r
        lwhat = f"line {index + 1} of {what}"
        # a line's own keys, and any other: a line attribute of the program (the checker knows them, RL254)
        others = tuple(k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)
                       and isinstance(k.value, str)) if isinstance(node, yaml.MappingNode) else ()
        m = r.mapping(node, lwhat, LINE_KEYS + tuple(k for k in others if k not in LINE_KEYS))
        amount = r.money(m["amount"].node, f"`amount` of {lwhat}") if "amount" in m else None
        fields = tuple((key, self.field_value(entry, "purchase", lwhat)) for key, entry in m.items() if key != "amount")
        return ast.LineSpec(amount, fields, span=r.span(node))

    def field_value(self, entry: Entry, kind: str, what: str) -> ast.Literal:
        r = self.r
        where = f"`{entry.key}` of {what}"
        span = r.span(entry.node)
        form = FIELD_FORMS.get(entry.key) if kind == "purchase" else None
        if form == "text":
            return ast.Literal(r.text(entry.node, where), span=span)
        if form == "whole":
            return ast.Literal(r.decimal(entry.node, where, "3"), span=span)
        if form == "money":
            return ast.Literal(r.money(entry.node, where), span=span)
        return r.literal(entry.node, where)

    def expect(self, e: Entry, what: str) -> list[ast.Expect]:
        return read_expect(self.r, e, what, EXPECT_KEYS, did_you_mean)


def _zero(span: Span) -> ast.Money:
    return ast.Money(Decimal(0), "USD", span=span)


def _number_or_zero(r: NodeReader, node: Node, text: str, what: str) -> Decimal:
    if r.too_long(node, text):
        return Decimal(0)
    value = number_of(text)
    if value is None:
        r.wrong_type(node, what, "a number", "50")
        return Decimal(0)
    return value


def _whole_or_zero(r: NodeReader, node: Node, text: str, what: str) -> int:
    value = _number_or_zero(r, node, text, what)
    if value != value.to_integral_value():
        r.wrong_type(node, what, "a whole number", "10")
        return 0
    return int(value)

