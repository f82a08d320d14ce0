"""Evaluating IR conditions against one event, and explaining why a condition is false.

Takes: an `ir.Expr` and a field reader (`Fields`: name -> value or None when the
value is missing). Gives: a bool, and for a false condition a sentence such as
`category is "tea", needed == "coffee"` for the interpreter's trace.

A missing value (an attribute or event field that was not given) equals
nothing: `==`, `<`, `<=`, `>`, `>=` and `in` are false, `!=` and `not in` are true.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

from rulelang import ir
from rulelang.run.calendar import WEEKDAY_NAMES

Reader = Callable[[str], object]


@dataclass(frozen=True)
class Formatter:
    """Renders values for traces: money in the program's currency, tiers by name."""

    currency: str
    tier_names: Sequence[str] = ()

    def value(self, value: object, type_: str | None = None) -> str:
        if value is None:
            return "missing"
        if isinstance(value, bool):
            return "true" if value else "false"
        if type_ == "money" and isinstance(value, (int, Fraction)):
            return money(value, self.currency)
        if type_ == "weekday" and isinstance(value, int):
            return WEEKDAY_NAMES[value] if 0 <= value < 7 else str(value)
        if type_ == "tier" and isinstance(value, int):
            return self.tier_names[value] if 0 <= value < len(self.tier_names) else str(value)
        if isinstance(value, str):
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, (int, Fraction)):
            return number(value)
        return str(value)


def number(value: int | Fraction) -> str:
    """A Fraction as a short decimal when it has one (7.4), else as `a/b`."""
    value = Fraction(value)
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    digits = 0
    scaled = value
    while scaled.denominator != 1:
        scaled *= 10
        digits += 1
    sign = "-" if scaled < 0 else ""
    text = str(abs(scaled.numerator)).rjust(digits + 1, "0")
    return f"{sign}{text[:-digits]}.{text[-digits:]}"


def money(cents: int | Fraction, currency: str) -> str:
    """`740` -> `7.40 USD`."""
    if isinstance(cents, Fraction) and cents.denominator != 1:
        return f"{number(cents / 100)} {currency}"
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d} {currency}"


# ---------------------------------------------------------------- evaluation


def value_of(expr: ir.Expr, read: Reader) -> object:
    if isinstance(expr, ir.Const):
        return expr.value
    if isinstance(expr, ir.Field):
        return read(expr.name)
    return holds(expr, read)


def _compare(op: str, left: object, right: object) -> bool:
    if left is None or right is None:
        return op == "!="
    try:
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op == "<":
            return left < right  # type: ignore[operator]
        if op == "<=":
            return left <= right  # type: ignore[operator]
        if op == ">":
            return left > right  # type: ignore[operator]
        if op == ">=":
            return left >= right  # type: ignore[operator]
    except TypeError:
        return op == "!="
    return False


def holds(expr: ir.Expr | None, read: Reader) -> bool:
    """True when the condition holds (no condition always holds)."""
    if expr is None:
        return True
    if isinstance(expr, ir.Cmp):
        return _compare(expr.op, value_of(expr.left, read), value_of(expr.right, read))
    if isinstance(expr, ir.InSet):
        value = value_of(expr.left, read)
        found = value is not None and value in expr.values
        return not found if expr.negated else found
    if isinstance(expr, ir.And):
        return all(holds(item, read) for item in expr.items)
    if isinstance(expr, ir.Or):
        return any(holds(item, read) for item in expr.items)
    if isinstance(expr, ir.Not):
        return not holds(expr.item, read)
    if isinstance(expr, ir.AnyLine):
        return any(holds(expr.item, line.get) for line in lines_of(read))
    if isinstance(expr, ir.Field):
        return read(expr.name) is True
    if isinstance(expr, ir.Const):
        return expr.value is True
    return False


LINES_KEY = "@lines"  # where a reader keeps the event's lines (one dict of LINE_FIELDS per line)


def lines_of(read: Reader) -> Sequence[dict]:
    """The lines of the event a reader reads (a purchase without lines is one line)."""
    lines = read(LINES_KEY)
    return lines if isinstance(lines, (list, tuple)) else ()


# ---------------------------------------------------------------- explanation

_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def field_label(name: str) -> str:
    """How a field is named in traces: `event.rating` is shown as `rating`, as it is written."""
    return name[len("event."):] if name.startswith("event.") else name


def render(expr: ir.Expr, fmt: Formatter) -> str:
    """The condition written back as text (for traces)."""
    if isinstance(expr, ir.Const):
        return fmt.value(expr.value, expr.type)
    if isinstance(expr, ir.Field):
        return field_label(expr.name)
    if isinstance(expr, ir.Cmp):
        return f"{render(expr.left, fmt)} {expr.op} {render(expr.right, fmt)}"
    if isinstance(expr, ir.InSet):
        return f"{render(expr.left, fmt)} {'not in' if expr.negated else 'in'} {_set_text(expr, fmt)}"
    if isinstance(expr, ir.And):
        return " and ".join(_wrap(item, fmt) for item in expr.items)
    if isinstance(expr, ir.Or):
        return " or ".join(_wrap(item, fmt) for item in expr.items)
    if isinstance(expr, ir.Not):
        return f"not {_wrap(expr.item, fmt)}"
    if isinstance(expr, ir.AnyLine):
        return f"any line {_wrap(expr.item, fmt)}"
    return str(expr)


def _wrap(expr: ir.Expr, fmt: Formatter) -> str:
    text = render(expr, fmt)
    return f"({text})" if isinstance(expr, (ir.And, ir.Or)) else text


def _type_of(expr: ir.Expr) -> str | None:
    return expr.type if isinstance(expr, (ir.Const, ir.Field)) else None


def _set_text(expr: ir.InSet, fmt: Formatter) -> str:
    kind = _type_of(expr.left)
    items = sorted((fmt.value(v, kind) for v in expr.values))
    if kind in ("weekday", "tier"):
        items = [fmt.value(v, kind) for v in sorted(expr.values, key=lambda v: (str(type(v)), v))]  # type: ignore[arg-type]
    return "[" + ", ".join(items) + "]"


def _reads(expr: ir.Expr, read: Reader, fmt: Formatter, out: list[str]) -> None:
    if isinstance(expr, ir.Field):
        text = f"{field_label(expr.name)} is {fmt.value(read(expr.name), expr.type)}"
        if text not in out:
            out.append(text)
    elif isinstance(expr, ir.Cmp):
        _reads(expr.left, read, fmt, out)
        _reads(expr.right, read, fmt, out)
    elif isinstance(expr, ir.InSet):
        _reads(expr.left, read, fmt, out)
    elif isinstance(expr, (ir.And, ir.Or)):
        for item in expr.items:
            _reads(item, read, fmt, out)
    elif isinstance(expr, ir.Not):
        _reads(expr.item, read, fmt, out)


def _line_type(name: str, value: object) -> str | None:
    """The type of a line's value, for traces: a line's own field by `ir.LINE_FIELDS`; a line
    attribute by its value (money is held in integer cents, numbers as Fraction)."""
    if name in ir.LINE_FIELDS:
        return ir.LINE_FIELDS[name]
    return "money" if isinstance(value, int) and not isinstance(value, bool) else None


def why_false(expr: ir.Expr, read: Reader, fmt: Formatter) -> str:
    """Why a false condition is false: the values read and what was needed."""
    if isinstance(expr, ir.Cmp):
        left, right = expr.left, expr.right
        if isinstance(left, ir.Const) and isinstance(right, ir.Field):
            left, right, op = right, left, _FLIP[expr.op]
        else:
            op = expr.op
        if isinstance(left, ir.Field):
            needed = render(right, fmt)
            if isinstance(right, ir.Field):
                needed += f" ({fmt.value(read(right.name), right.type)})"
            return f"{field_label(left.name)} is {fmt.value(read(left.name), left.type)}, needed {op} {needed}"
    if isinstance(expr, ir.InSet) and isinstance(expr.left, ir.Field):
        value = fmt.value(read(expr.left.name), expr.left.type)
        return f"{field_label(expr.left.name)} is {value}, needed {'not in' if expr.negated else 'in'} {_set_text(expr, fmt)}"
    if isinstance(expr, ir.And):
        for item in expr.items:
            if not holds(item, read):
                return why_false(item, read, fmt)
    if isinstance(expr, ir.Or):
        return " and ".join(why_false(item, read, fmt) for item in expr.items)
    if isinstance(expr, ir.AnyLine):
        lines = lines_of(read)
        shown = "; ".join(", ".join(f"{name} {fmt.value(value, _line_type(name, value))}" for name, value in line.items()
                                    if value is not None) for line in lines)
        return f"no line has {render(expr.item, fmt)} (lines: {shown or 'none'})"
    reads: list[str] = []
    _reads(expr, read, fmt, reads)
    prefix = ", ".join(reads)
    return f"{prefix}, needed {render(expr, fmt)}" if prefix else f"needed {render(expr, fmt)}"
