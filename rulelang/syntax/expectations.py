"""A test's `expect` lines in the YAML form, and the points words written after them.

Takes: one `expect` entry of a YAML test (a `NodeReader` entry), or a parsed `ast.TestCase`.
Gives: `ast.Expect` nodes (`read_expect`), the YAML mapping of one or more expectations
(`write_expects`); `normalise_expect_words` (from rulelang/syntax/expect_words.py, which both
readers apply once the program is known) is re-exported.

The YAML values mirror the text form: `earned: 24` or `earned: 24 stars`, any state value
followed by `on DATE` (`tier: Gold on 2027-06-01`), `counter: {visits: 5}`, the tier metric
under its word or `metric` (`spend: 120 USD`), and what one event moved under `event`:
`event: {purchase: A1, earned: 24}` or `event: {purchase: on 2027-05-04 at 09:30, earned: 24}`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Callable

from rulelang.syntax import ast
from rulelang.syntax.yaml_nodes import NAME_RE, Entry, NodeReader, number_of
from rulelang.syntax.expect_words import normalise_expect_words

__all__ = ["POINT_KINDS", "MONEY_KINDS", "EVENT_KINDS", "read_expect", "write_expects", "normalise_expect_words"]

POINT_KINDS = ("earned", "balance", "available", "pending", "redeemed", "expired", "reversed")
MONEY_KINDS = ("discount", "cost")
#: what an expectation on one event may check
EVENT_KINDS = ("earned", "redeemed", "reversed", "discount", "cost")
_ON = re.compile(r"^(.*?)\s+on\s+(\S+)$")
_EVENT_ON = re.compile(r"^on\s+(\S+)(?:\s+at\s+(\S+))?$")


# ---------------------------------------------------------------- reading


def _split_on(r: NodeReader, e: Entry, text: str, where: str) -> tuple[str, dt.date | None]:
    """`24 stars on 2027-06-01` -> (`24 stars`, the date)."""
    match = _ON.fullmatch(text.strip())
    if match is None:
        return text.strip(), None
    return match.group(1), r.date_text(e.node, match.group(2), where)


def _points(r: NodeReader, e: Entry, text: str, where: str) -> tuple[int, str | None]:
    """`24` or `24 stars` -> the points and the word written."""
    parts = text.split()
    value = number_of(parts[0]) if parts else None
    if value is None or len(parts) > 2 or value != value.to_integral_value() or \
            (len(parts) == 2 and not NAME_RE.fullmatch(parts[1])):
        r.wrong_type(e.node, where, "a whole number of points, optionally with its word", "24 stars")
        return 0, None
    return int(value), parts[1] if len(parts) == 2 else None


def _number_or_money(r: NodeReader, e: Entry, text: str, where: str) -> tuple[Decimal | ast.Money, str | None]:
    parts = text.split()
    if len(parts) == 2 and number_of(parts[0]) is not None and re.fullmatch(r"[A-Z]{3}", parts[1]):
        return r.money_text(e.node, text, where) or ast.Money(Decimal(0), "USD"), None
    value = number_of(parts[0]) if parts else None
    if value is None or len(parts) > 2:
        r.wrong_type(e.node, where, "a number or an amount of money", "120 USD")
        return Decimal(0), None
    return value, parts[1] if len(parts) == 2 else None


def _scalar(r: NodeReader, e: Entry, where: str, example: str) -> str:
    return r.scalar(e.node, where, "a value", example) or ""


def _state(r: NodeReader, e: Entry, kind: str, where: str, name: str | None = None) -> ast.Expect | None:
    """One expectation on the state (at the end, or `on DATE`)."""
    span = r.entry_span(e)
    head, on = _split_on(r, e, _scalar(r, e, where, "24"), where)
    if kind in POINT_KINDS:
        points, unit = _points(r, e, head, where)
        return ast.Expect(kind, points, unit=unit, on=on, span=span)
    if kind == "tier":
        if not NAME_RE.fullmatch(head):
            r.wrong_type(e.node, where, "a tier name", "Gold")
            return None
        return ast.Expect("tier", head, on=on, span=span)
    if kind in MONEY_KINDS:
        money = r.money_text(e.node, head, where)
        return ast.Expect(kind, money, on=on, span=span) if money is not None else None
    if kind == "counter":
        value = number_of(head)
        if value is None:
            r.wrong_type(e.node, where, "a number", "5")
            return None
        return ast.Expect("counter", value, name=name, on=on, span=span)
    value, unit = _number_or_money(r, e, head, where)  # the tier metric
    return ast.Expect("metric", value, name=None if name == "metric" else name, unit=unit, on=on, span=span)


def _event(r: NodeReader, e: Entry, what: str) -> list[ast.Expect]:
    where = f"`expect event` in {what}"
    entries = r.pairs(e.node, where) if not r.is_null(e.node) else []
    if not entries or entries[0].key in EVENT_KINDS:
        r.error("RL202", f"{where} must begin with the event: `purchase: A1` (its id) or `purchase: on DATE`",
                e.key_node, "e.g. `event: {purchase: on 2027-05-04, earned: 24}`")
        return []
    first, items = entries[0], entries[1:]
    kind = first.key
    event_id: str | None = None
    on: dt.date | None = None
    at: dt.time | None = None
    text = (r.scalar(first.node, where, "an id or `on DATE`", "on 2027-05-04") or "").strip()
    match = _EVENT_ON.fullmatch(text)
    if match is not None:
        on = r.date_text(first.node, match.group(1), where)
        at = r.time_text(first.node, match.group(2), where) if match.group(2) else None
    else:
        event_id = text
    out: list[ast.Expect] = []
    for item in items:
        iwhere = f"`{item.key}` of the event in {what}"
        if item.key not in EVENT_KINDS:
            r.error("RL433", f"`{item.key}` is not something one event moves", item.key_node,
                    "an event's expectations are " + ", ".join(f"`{k}`" for k in EVENT_KINDS)
                    + "; write other expectations outside `event` (with `on DATE` for a date)")
            continue
        x = _state(r, item, item.key, iwhere)
        if x is not None:
            if x.on is not None:
                r.error("RL433", f"{iwhere} takes no date of its own", item.node,
                        "the event's date goes with the event: `purchase: on 2027-05-04`")
            out.append(dataclasses.replace(x, on=on, event=kind, event_id=event_id, at=at))
    if not items:
        r.error("RL202", f"{where} checks nothing", e.key_node, "add e.g. `earned: 24`")
    return out


def read_expect(r: NodeReader, e: Entry, what: str, known: tuple[str, ...],
                did_you_mean: Callable[[str, tuple[str, ...]], str | None]) -> list[ast.Expect]:
    """One `expect` entry -> its expectations (several for `counter` and `event` mappings)."""
    where = f"`expect {e.key}` in {what}"
    if e.key == "event":
        return _event(r, e, what)
    if e.key == "counter":
        return [x for inner in r.named(e.node, where)
                if (x := _state(r, inner, "counter", f"counter `{inner.key}` in {what}", inner.key)) is not None]
    if e.key in ("fired", "not_fired"):
        negated = e.key == "not_fired"
        return [ast.Expect("fired", r.name(item, where), negated, span=r.span(item))
                for item in r.sequence(e.node, where, single_ok=True)]
    if e.key in POINT_KINDS or e.key in MONEY_KINDS or e.key == "tier":
        x = _state(r, e, e.key, where)
        return [x] if x is not None else []
    close = did_you_mean(e.key, known) if e.key not in known else None
    if close or not NAME_RE.fullmatch(e.key):
        r.error("RL201", f"unknown key `{e.key}` in `expect` of {what}", e.key_node,
                close or "allowed: " + ", ".join(f"`{k}`" for k in known) + ", or the tier metric's word")
        return []
    x = _state(r, e, "metric", where, e.key)  # any other word is the tier metric: `spend: 120 USD`
    return [x] if x is not None else []


# ---------------------------------------------------------------- writing


def _value_text(x: ast.Expect, money: Callable[[ast.Money], str], number: Callable[[object], str]) -> str:
    if isinstance(x.value, ast.Money):
        text = money(x.value)
    elif isinstance(x.value, str):
        text = x.value
    else:
        text = number(x.value)
    return text + (f" {x.unit}" if x.unit else "")


def _same_event(a: ast.Expect, b: ast.Expect) -> bool:
    return (a.event, a.event_id, a.on, a.at) == (b.event, b.event_id, b.on, b.at)


def write_expects(expects: tuple[ast.Expect, ...], money: Callable[[ast.Money], str],
                  number: Callable[[object], str]) -> list[tuple[str, object]]:
    """The expectations as (key, value) pairs in written order; values are text, or a list of
    pairs for `counter` and `event` (consecutive expectations on one event share one `event`)."""
    out: list[tuple[str, object]] = []
    for x in expects:
        if x.kind == "fired":
            out.append(("not_fired" if x.negated else "fired", str(x.value)))
            continue
        text = _value_text(x, money, number)
        if x.event is not None:
            group = out[-1][1] if out and out[-1][0] == "event" else None
            if group is not None and _same_event(group[0][2], x) and all(k != x.kind for k, _, _ in group):  # type: ignore
                group.append((x.kind, text, x))  # type: ignore[union-attr]
            else:
                which = x.event_id if x.event_id is not None else \
                    f"on {x.on.isoformat() if x.on else ''}" + (f" at {x.at.hour:02d}:{x.at.minute:02d}" if x.at else "")
                out.append(("event", [(x.event, which, x), (x.kind, text, x)]))
            continue
        if x.on is not None:
            text += f" on {x.on.isoformat()}"
        if x.kind == "counter":
            out.append(("counter", [(x.name or "", text, x)]))
        elif x.kind == "metric":
            out.append((x.name or "metric", text))
        else:
            out.append((x.kind, text))
    return out
