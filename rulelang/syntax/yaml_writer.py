"""YAML writer: an AST -> the canonical YAML form of the rule file.

Takes: an `ast.SourceFile` (from the text parser or the YAML loader). Gives:
`to_yaml(sf)`, the canonical YAML text (`loyalty convert --to yaml`), such that
`load_yaml(to_yaml(sf))` gives an AST equal to `sf` (spans excluded).
Conditions are written with the text formatter's `expr_to_text` (re-exported
here), so both forms spell a condition the same way.

Canonical style: block mappings and lists, two-space indents, keys in the
order of docs/yaml.md, values left out where they equal the default unless the source
wrote them (`round down`, `review: never` are kept: `SourceFile.statement_spans`), small
leaf mappings (actions, caps, perks, expiry) on one line in flow style, money
as `7.40 USD`, dates as ISO `2027-05-04`. Comments are placed by
`rulelang.syntax.convert_comments` (what `loyalty convert` writes).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Union

import yaml

from rulelang.diagnostics import Span
from rulelang.fields import given_keys
from rulelang.syntax.lifecycle_words import ACTIVITY_WORDS
from rulelang.syntax import ast
from rulelang.syntax.formatter import expr_to_text, validity_text  # conditions are written exactly as the text form writes them
from rulelang.syntax.yaml_loader import EVENT_TIME_WHEN_NONE_GIVEN
from rulelang.syntax.nodes import ACTION_TYPES, NODES, dispatch
from rulelang.syntax.expectations import write_expects
from rulelang.vocabulary import counted
from rulelang.syntax.yaml_nodes import AMBIGUOUS_WORDS, BOOL_WORDS, DATE_RE, MONEY_RE, NULL_WORDS, number_of

__all__ = ["to_yaml", "expr_to_text"]

SCHEMA_MODELINE = "# yaml-language-server: $schema={url}"


# ---------------------------------------------------------------- a tiny YAML tree


@dataclass(frozen=True, slots=True)
class Raw:
    """A scalar already written as YAML (`7.40 USD`, `"Bean Club"`); empty text is a null value."""

    text: str


@dataclass(frozen=True, slots=True)
class Flow:
    """A mapping or list written on one line: `{points: 200, per: month}`, `[a, b]`."""

    value: Union[dict[str, "Value"], list["Value"]]


Value = Union[Raw, Flow, dict[str, "Value"], list["Value"]]


def _render(value: Value, indent: int) -> list[str]:
    """Block lines for a mapping or list at `indent` spaces."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (Raw, Flow)) or not item:
                inline = _inline(item)
                lines.append(f"{pad}{key}:" + (f" {inline}" if inline else ""))
            else:
                lines.append(f"{pad}{key}:")
                lines.extend(_render(item, indent + 2))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (Raw, Flow)) or not item:
                lines.append(f"{pad}- {_inline(item)}")
            else:
                inner = _render(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
    return lines


def _inline(value: Value) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Flow):
        value = value.value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_inline(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_inline(v) for v in value) + "]"


# ---------------------------------------------------------------- scalars

_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# Characters a YAML reader refuses or reads as line breaks: written as escapes in quoted text.
_NOT_PLAIN = re.compile("[^\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _quoted(text: str) -> Raw:
    return Raw(_NOT_PLAIN.sub(_escape, json.dumps(text, ensure_ascii=False)))


def _word(text: str) -> Raw:
    """A name or short text: plain when it is a safe single word, else double-quoted."""
    lowered = text.lower()
    if _WORD_RE.fullmatch(text) and lowered not in AMBIGUOUS_WORDS and lowered not in BOOL_WORDS \
            and lowered not in NULL_WORDS:
        return Raw(text)
    return _quoted(text)


def _text(text: str) -> Raw:
    """Free text (program and test names): plain when YAML reads it back unchanged, else quoted."""
    return Raw(text) if _plain_ok(text) and not _looks_typed(text) else _quoted(text)


def _looks_typed(text: str) -> bool:
    """Text that a plain scalar would turn into a number, money, date or yes/no value."""
    stripped = text.strip()
    return (number_of(stripped) is not None or MONEY_RE.fullmatch(stripped) is not None
            or DATE_RE.fullmatch(stripped) is not None or stripped.lower() in AMBIGUOUS_WORDS
            or stripped.lower() in BOOL_WORDS or stripped.lower() in NULL_WORDS)


@functools.lru_cache(maxsize=4096)
def _plain_ok(text: str) -> bool:
    """Whether `key: text` reads back as the plain scalar `text` in block context."""
    if not text or text != text.strip() or any(ch in text for ch in "\n\r\t\x85\u2028\u2029"):
        return False
    try:
        node = yaml.compose(f"k: {text}\n", Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return False
    if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
        return False
    value = node.value[0][1]
    return isinstance(value, yaml.ScalarNode) and value.style is None and value.value == text


def _condition(expr: ast.Expr) -> Raw:
    text = expr_to_text(expr)
    if _plain_ok(text) and text.lower() not in AMBIGUOUS_WORDS | set(BOOL_WORDS) | NULL_WORDS:
        return Raw(text)
    return Raw("'" + text.replace("'", "''") + "'")


def _num(value: Decimal | int) -> str:
    if isinstance(value, Decimal):
        text = format(value, "f")
        return "0" if text in ("-0", "-0.0") else text
    return str(value)


def _money(money: ast.Money) -> Raw:
    return Raw(f"{_num(money.amount)} {money.currency}")


def _number(value: Decimal | int) -> Raw:
    return Raw(_num(value))


def _count(n: int, unit: str) -> Raw:
    return Raw(counted(n, unit))


def _date(day: dt.date) -> Raw:
    return Raw(day.isoformat())


def _names(names: tuple[str, ...]) -> Flow:
    return Flow([_word(n) for n in names])


def _literal_value(value: object) -> Raw:
    """An event field or attribute value, written so that it reads back as the same type."""
    if isinstance(value, bool):
        return Raw("true" if value else "false")
    if isinstance(value, (Decimal, int)):
        return _number(value)
    if isinstance(value, ast.Money):
        return _money(value)
    if isinstance(value, dt.date):
        return _date(value)
    text = str(value)
    if _looks_typed(text):
        return _quoted(text)
    return _word(text) if _WORD_RE.fullmatch(text) else _text(text)


# ---------------------------------------------------------------- program


def to_yaml(sf: ast.SourceFile, schema_url: str | None = None) -> str:
    """The canonical YAML text of a rule file; with `schema_url`, a schema modeline on top."""
    doc: dict[str, Value] = {}
    if sf.program is not None:
        doc["program"] = _program(sf.program, {key for key, _ in sf.statement_spans})
    if sf.tests:
        doc["tests"] = [_test(t) for t in sf.tests]
    lines = [SCHEMA_MODELINE.format(url=schema_url)] if schema_url else []
    lines.extend(_render(doc, 0) if doc else ["{}"])
    return "\n".join(lines) + "\n"


# The YAML keys of the program, a rule, the tiers and a tier, by AST field (rulelang.syntax.nodes)
_PROGRAM = NODES[ast.Program].yaml_fields
_RULE = NODES[ast.EarnRule].yaml_fields
_TIERS = NODES[ast.TierSystem].yaml_fields
_TIER = NODES[ast.Tier].yaml_fields
_RETURNS = NODES[ast.ReturnPolicy].yaml_fields


Written = set[tuple[int, int, str]]  # (owner line, owner column, statement kind) of the settings written


def _said(written: Written, owner: Span, kind: str) -> bool:
    """Whether the source wrote this setting (kept even at its default)."""
    return (owner.line, owner.column, kind) in written


def _program(p: ast.Program, written: Written) -> dict[str, Value]:
    out: dict[str, Value] = {_PROGRAM["name"]: _text(p.name)}
    if p.points_unit != "points" or _said(written, p.span, "points"):
        out[_PROGRAM["points_unit"]] = _word(p.points_unit)
    out[_PROGRAM["currency"]] = _word(p.currency)
    if p.balances:
        out[_PROGRAM["balances"]] = {b.name: Flow({"redeemable": Raw("true" if b.redeemable else "false")})
                                     for b in p.balances}
    if p.point_cost is not None:
        out[_PROGRAM["point_cost"]] = _money(p.point_cost)
    if p.point_value is not None:
        out[_PROGRAM["point_value"]] = _money(p.point_value)
    if p.stacking != "multiply" or _said(written, p.span, "multipliers"):
        out[_PROGRAM["stacking"]] = Raw(p.stacking)
    if p.rounding != "down" or _said(written, p.span, "round"):
        out[_PROGRAM["rounding"]] = Raw(p.rounding)
    if p.pending_days or _said(written, p.span, "pending"):
        out[_PROGRAM["pending_days"]] = _count(p.pending_days, "day")
    if p.attributes:
        out[_PROGRAM["attributes"]] = {a.name: Raw(a.type) for a in p.attributes}
    if p.line_attributes:
        out[_PROGRAM["line_attributes"]] = {a.name: Raw(a.type) for a in p.line_attributes}
    if p.events:
        out[_PROGRAM["events"]] = {e.name: Flow({f.name: Raw(f.type) for f in e.fields}) for e in p.events}
    if p.counters:
        out[_PROGRAM["counters"]] = {c.name: _counter(c) for c in p.counters}
    if p.rules:
        out[_PROGRAM["rules"]] = {r.name: _rule(r, written) for r in p.rules}
    if p.tiers is not None:
        out[_PROGRAM["tiers"]] = _tiers(p.tiers, written)
    if p.expiry:
        out[_PROGRAM["expiry"]] = _expiries(p.expiry)
    if p.returns is not None:
        ret: dict[str, Value] = {_RETURNS["reverse"]: Raw("true" if p.returns.reverse else "false"),
                                 _RETURNS["negative_balance"]: Raw(p.returns.negative_balance)}
        if p.returns.lower_metrics:
            ret[_RETURNS["lower_metrics"]] = Raw("true")
        out[_PROGRAM["returns"]] = Flow(ret)
    if p.rewards:
        out[_PROGRAM["rewards"]] = {r.name: _reward(r) for r in p.rewards}
    if p.pay_with_points is not None:
        out[_PROGRAM["pay_with_points"]] = _pay(p.pay_with_points)
    if p.conversion is not None:
        c = p.conversion
        conv: dict[str, Value] = {"every": _number(c.points), "into": _money(c.voucher)}
        if c.valid is not None:
            conv["valid"] = Raw(validity_text(c.valid, c.valid_unit))
        conv["at_end_of"] = Flow([_word(m) for m in c.months]) if c.period == "months" else Raw(c.period)
        out[_PROGRAM["conversion"]] = _with_unit(conv, c.unit)
    if p.activity:
        out[_PROGRAM["activity"]] = Flow([Raw(ACTIVITY_WORDS[k]) for k in p.activity])
    return out


def _counter(c: ast.CounterDecl) -> dict[str, Value]:
    out: dict[str, Value] = {"on": _word(c.event)}
    if c.sums is not None:
        out["sums"] = _word(c.sums)
    if c.condition is not None:
        out["when"] = _condition(c.condition)
    return out


def _rule(r: ast.EarnRule, written: Written) -> dict[str, Value]:
    out: dict[str, Value] = {_RULE["event"]: _word(r.event)}
    if r.condition is not None:
        out[_RULE["condition"]] = _condition(r.condition)
    out[_RULE["actions"]] = [_action(a) for a in r.actions]
    if r.rounding is not None:
        out[_RULE["rounding"]] = Raw(r.rounding)
    if r.priority or _said(written, r.span, "priority"):
        out[_RULE["priority"]] = _number(r.priority)
    if r.group is not None:
        out[_RULE["group"]] = _word(r.group)
    if r.window is not None:
        out[_RULE["window"]] = Raw(f"{r.window.start.isoformat()} .. {r.window.end.isoformat()}")
    if r.caps:
        key = _RULE["caps"] if any(c.unit == "points" for c in r.caps) else "limit"  # (EarnRule's yaml_keys)
        out[key] = [Flow({c.unit: _number(c.limit), "per": Raw(c.period)}) for c in r.caps]
    if r.budget is not None:
        b = r.budget
        out[_RULE["budget"]] = _money(b.money) if b.money is not None else _number(b.points or 0)
    if r.every_nth is not None:
        out[_RULE["every_nth"]] = _number(r.every_nth)
    if r.streak is not None:
        out[_RULE["streak"]] = _count(r.streak.length, r.streak.period)
    return out


def _action(a: ast.Action) -> dict[str, Value]:
    """`{award: {...}}`, `{multiply: 2}`...: the action's YAML key and its body."""
    return {NODES[type(a)].yaml_key or "": _ACTION_BODY(a)(a)}


def _award_body(a: ast.Award) -> Value:
    key = NODES[ast.Award].yaml_fields
    body: dict[str, Value] = {key["points"]: _number(a.points)}
    if a.unit != "points":
        body[key["unit"]] = _word(a.unit)
    if isinstance(a.per, ast.Quantity):
        body[key["per"]] = Raw(f"{_num(a.per.value)} {a.per.unit}")
    elif a.per is not None:
        body[key["per"]] = _money(a.per)
    if a.only:
        body[key["only"]] = _names(a.only)
    _base_and_excluding(body, key, a.base, a.excluding)
    if a.to != "customer":
        body[key["to"]] = Raw(a.to)
    return Flow(body)


def _cashback_body(a: ast.Cashback) -> Value:
    key = NODES[ast.Cashback].yaml_fields
    body: dict[str, Value] = {key["percent"]: _number(a.percent)}
    _base_and_excluding(body, key, a.base, a.excluding)
    return Flow(body)


def _discount_body(a: ast.Discount) -> Value:
    key = NODES[ast.Discount].yaml_fields
    body: dict[str, Value] = {}
    if a.amount is not None:
        body[key["amount"]] = _money(a.amount)
    else:
        body[key["percent"]] = _number(a.percent if a.percent is not None else Decimal(0))
    if a.only:
        body[key["only"]] = _names(a.only)
    _base_and_excluding(body, key, a.base, a.excluding)
    return Flow(body)


def _base_and_excluding(body: dict[str, Value], key: Mapping[str, str], base: str, excluding: tuple[str, ...]) -> None:
    if base != "net":
        body[key["base"]] = Raw(base)
    if excluding:
        body[key["excluding"]] = _names(excluding)


def _perk_body(a: ast.Perk) -> Value:
    key = NODES[ast.Perk].yaml_fields
    return Flow({key["name"]: _word(a.name), key["cost"]: _money(a.cost)})


_ACTION_BODY = dispatch("YAML writer: action", {
    ast.Award: _award_body,
    ast.Cashback: _cashback_body,
    ast.Multiply: lambda a: Flow({"factor": _number(a.factor), "in": _names(a.only)}) if a.only else _number(a.factor),
    ast.Discount: _discount_body,
    ast.Perk: _perk_body,
}, ACTION_TYPES)


def _tiers(t: ast.TierSystem, written: Written) -> dict[str, Value]:
    window = {"calendar_year": "calendar_year", "lifetime": "lifetime"}.get(t.window.kind)
    out: dict[str, Value] = {
        _TIERS["metric"]: _word(t.metric),
        _TIERS["window"]: Raw(window or f"rolling {t.window.months or 0} months"),
        _TIERS["tiers"]: {tier.name: _tier(tier) for tier in t.tiers},
    }
    if t.review != "never" or _said(written, t.span, "review"):
        out[_TIERS["review"]] = Raw(t.review)
    if t.downgrade != "never" or _said(written, t.span, "downgrade"):
        out[_TIERS["downgrade"]] = Raw(t.downgrade)
    if t.grace_months or _said(written, t.span, "grace"):
        out[_TIERS["grace_months"]] = _count(t.grace_months, "month")
    if t.validity_months or _said(written, t.span, "valid"):
        out[_TIERS["validity_months"]] = _count(t.validity_months, "month")
    if t.spend_basis is not None:
        out[_TIERS["spend_basis"]] = Raw(t.spend_basis)
    if t.on_return is not None:
        out[_TIERS["on_return"]] = Raw(t.on_return)
    if t.status_through is not None:
        status: dict[str, Value] = {"valid_through": Raw("%02d-%02d" % t.status_through),
                                    "years_after": _number(t.status_years)}
        if t.status_drop != "to_qualified":
            status["then"] = Raw(t.status_drop)
        out[_TIERS["status_through"]] = Flow(status)
    return out


def _tier(t: ast.Tier) -> dict[str, Value]:
    out: dict[str, Value] = {_TIER["threshold"]: _money(t.threshold_money) if t.threshold_money is not None
                             else _number(t.threshold)}
    if t.multiplier is not None:
        out[_TIER["multiplier"]] = _number(t.multiplier)
    if t.discount is not None:
        out[_TIER["discount"]] = Raw(_num(t.discount) + "%")
    if t.expiry:
        out[_TIER["expiry"]] = _expiries(t.expiry)
    if t.perks:
        out[_TIER["perks"]] = [Flow({"name": _word(p.name), "costs": _money(p.cost), "per": Raw(p.per)}) for p in t.perks]
    if t.rate is not None and t.rate_per is not None:
        out[_TIER["rate"]] = Flow({"points": _number(t.rate), "per": _money(t.rate_per)})
    return out


def _expiries(items: tuple[ast.Expiry, ...]) -> Value:
    if len(items) == 1 and items[0].kind == "never":
        return Raw("never")
    return [_expiry(e) for e in items]


def _with_unit(body: dict[str, Value], unit: str | None) -> Value:
    """A flow mapping, with `unit:` last when a balance's word was written."""
    if unit is not None:
        body["unit"] = _word(unit)
    return Flow(body)


def _expiry(e: ast.Expiry) -> Value:
    if e.kind == "never":
        return Raw("never")
    if e.unit is not None:
        inner = _expiry(dataclasses.replace(e, unit=None))
        return _with_unit(dict(inner.value) if isinstance(inner, Flow) and isinstance(inner.value, dict) else {}, e.unit)
    if e.kind == "after_earning":
        body: dict[str, Value] = {"after_earning": _count(e.months or 0, "month")}
        if e.end_of_month:
            body["at_end_of_month"] = Raw("true")
        return Flow(body)
    if e.kind == "inactivity":
        return Flow({"inactivity": _count(e.months or 0, "month")})
    if e.kind == "fixed_date":
        return Flow({"on": _date(e.date or dt.date(2000, 1, 1))})
    month, day = e.month_day or (1, 1)
    return Flow({"yearly_on": Raw(f"{month:02d}-{day:02d}")})


def _reward(r: ast.Reward) -> Value:
    body: dict[str, Value] = {"price": _number(r.price)}
    if r.worth is not None:
        body["worth"] = _money(r.worth)
    if r.cost is not None:
        body["costs_us"] = _money(r.cost)
    if r.voucher is not None:
        body["voucher"] = _money(r.voucher)
    if r.valid is not None:
        body["valid"] = Raw(validity_text(r.valid, r.valid_unit))
    return _with_unit(body, r.unit)


def _pay(p: ast.PayWithPoints) -> Value:
    body: dict[str, Value] = {"points": _number(p.points), "worth": _money(p.money)}
    if p.minimum_balance:
        body["minimum_balance"] = _number(p.minimum_balance)
    if p.max_share != Decimal(100):
        body["at_most"] = Raw(_num(p.max_share) + "%")
    return _with_unit(body, p.unit)


# ---------------------------------------------------------------- tests


def _test(t: ast.TestCase) -> dict[str, Value]:
    out: dict[str, Value] = {"name": _text(t.name)}
    if t.givens:
        out["given"] = [_given(g) for g in t.givens]
    if t.events:
        out["when"] = [_event(e) for e in t.events]
    if t.until is not None:
        out["until"] = _date(t.until)
    if t.expects:
        out["expect"] = _expects(t.expects)
    return out


def _given(g: ast.Given) -> dict[str, Value]:
    value = g.value
    if g.kind == "tier":
        return {"tier": _word(str(value if isinstance(value, str) else g.name))}
    if g.kind in ("balance", "purchases", "metric"):
        written = _literal_value(value)
        if g.unit:  # a word that is not the program's, kept for the checker (RL430)
            written = Raw(f"{written.text} {g.unit}")
        return {(g.name or "points") if g.kind == "metric" else g.kind: written}
    if g.kind == "birthday":
        month, day = value if isinstance(value, tuple) else (1, 1)
        return {"birthday": Raw(f"{month:02d}-{day:02d}")}
    return {g.kind: Flow({g.name or "": _literal_value(value)})}


# A purchase's text keys: its text fields (rulelang.fields) and its order id.
_TEXT_KEYS = tuple(f.spelling.yaml for f in given_keys("purchase", "yaml") if f.spelling and f.form == "text") + ("id",)


def _event(e: ast.EventSpec) -> dict[str, Value]:
    out: dict[str, Value] = {}
    fields = list(e.fields)
    if e.kind == "return":
        out[e.kind] = _text(e.name or "")
    elif e.kind in ("redeem", "use_perk"):
        out[e.kind] = _word(e.name or "")
    elif e.kind == "referral" and fields and fields[0][0] == "role" \
            and fields[0][1].value in ("referrer", "referee"):
        out[e.kind] = Raw(str(fields.pop(0)[1].value))
    elif e.amount is not None and e.kind != "return":
        out[e.kind] = _money(e.amount)
    else:
        out[e.kind] = Raw("")
    if e.kind == "return" and e.amount is not None:
        out["amount"] = _money(e.amount)
    for key, literal in fields:
        value = literal.value
        if e.kind == "purchase" and key in _TEXT_KEYS and isinstance(value, str):
            out[key] = _text(value)
        else:
            out[key] = _literal_value(value)
    when = e.at.date().isoformat()
    clock = e.at.time()
    if clock != EVENT_TIME_WHEN_NONE_GIVEN:
        when += " at " + (clock.strftime("%H:%M:%S") if clock.second else clock.strftime("%H:%M"))
    out["on"] = Raw(when)
    if e.lines:
        out["lines"] = [Flow(_line(line)) for line in e.lines]
    return out


def _line(line: ast.LineSpec) -> dict[str, Value]:
    out: dict[str, Value] = {"amount": _money(line.amount)} if line.amount is not None else {}
    for key, literal in line.fields:
        value = literal.value
        out[key] = _text(value) if isinstance(value, str) else _literal_value(value)
    return out


def _expects(expects: tuple[ast.Expect, ...]) -> list[Value]:
    """The expectations as one-key mappings in written order (rulelang/syntax/expectations.py)."""
    def value(key: str, text: object) -> Value:
        if key in ("fired", "not_fired"):
            return _word(str(text))
        if isinstance(text, list):
            return Flow({k: _plain(str(v)) for k, v, _ in text})
        return _plain(str(text))
    return [{key: value(key, text)} for key, text in write_expects(expects, lambda m: _money(m).text, lambda v: _num(v))]


def _plain(text: str) -> Value:
    """A value of an expectation: written bare unless YAML would read it as something else."""
    plain = _plain_ok(text) and text.lower() not in AMBIGUOUS_WORDS | set(BOOL_WORDS) | NULL_WORDS
    return Raw(text) if plain else _quoted(text)
