"""Vectorized evaluation of rule conditions (IR expressions) over a batch of customers.

Takes: an `ir.Expr` and a `BatchContext` that yields one numpy array (or a scalar)
per field for the k customers having the event. Gives: a boolean array of length k.
Strings are compared as integer codes from a shared `StringTable`; numbers as
float64 (exact for the integer-valued fields the engine produces); money as integer
cents; dates as ordinals; weekdays and tiers as integers.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Callable, Union

import numpy as np

from rulelang import ir
from simulator.engine.line_attributes import KEY as ATTRIBUTE_KEY, default_value
from simulator.model.strings import StringTable

Value = Union[np.ndarray, int, float, bool]


def const_value(value: object, vtype: str, strings: StringTable) -> Value:
    """An IR constant in the engine's representation."""
    if vtype == "string":
        return strings.code(str(value))
    if vtype == "date" and isinstance(value, dt.date):
        return value.toordinal()
    if vtype == "bool":
        return bool(value)
    if isinstance(value, Fraction):
        return float(value) if value.denominator != 1 else int(value)
    if isinstance(value, dt.date):
        return value.toordinal()
    return value  # type: ignore[return-value]


class BatchContext:
    """Field values for a batch of k customers; `getters` computes each field lazily."""

    def __init__(self, k: int, getters: dict[str, Callable[[], Value]], strings: StringTable):
        self.k = k
        self.getters = getters
        self.strings = strings
        self.cache: dict[str, Value] = {}

    def field(self, name: str) -> Value:
        if name in self.cache:
            return self.cache[name]
        getter = self.getters.get(name)
        if getter is None and not name.startswith("event.") and ("event." + name) in self.getters:
            getter = self.getters["event." + name]
        if getter is None:
            raise KeyError(name)
        value = getter()
        self.cache[name] = value
        return value


_OPS = {
    "==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
    ">": np.greater, ">=": np.greater_equal,
}


def _as_bool(value: Value, k: int) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value.astype(bool, copy=False)
    return np.full(k, bool(value))


def evaluate(expr: ir.Expr | None, ctx: BatchContext) -> np.ndarray:
    """Boolean mask (length k) of the customers for whom `expr` holds."""
    if expr is None:
        return np.ones(ctx.k, dtype=bool)
    return _as_bool(_eval(expr, ctx), ctx.k)


def _eval(expr: ir.Expr, ctx: BatchContext) -> Value:
    if isinstance(expr, ir.Const):
        return const_value(expr.value, expr.type, ctx.strings)
    if isinstance(expr, ir.Field):
        return ctx.field(expr.name)
    if isinstance(expr, ir.Cmp):
        left = _eval(expr.left, ctx)
        right = _eval(expr.right, ctx)
        return _OPS[expr.op](left, right)
    if isinstance(expr, ir.InSet):
        left = _eval(expr.left, ctx)
        ltype = getattr(expr.left, "type", None)
        vals = [const_value(v, ltype or _guess_type(v), ctx.strings) for v in expr.values]
        if isinstance(left, np.ndarray):
            hit = np.isin(left, np.array(vals)) if vals else np.zeros(ctx.k, dtype=bool)
        else:
            hit = left in vals
        return np.logical_not(hit) if expr.negated else hit
    if isinstance(expr, ir.And):
        out = np.ones(ctx.k, dtype=bool)
        for item in expr.items:
            out &= _as_bool(_eval(item, ctx), ctx.k)
        return out
    if isinstance(expr, ir.Or):
        out = np.zeros(ctx.k, dtype=bool)
        for item in expr.items:
            out |= _as_bool(_eval(item, ctx), ctx.k)
        return out
    if isinstance(expr, ir.Not):
        return np.logical_not(_as_bool(_eval(expr.item, ctx), ctx.k))
    if isinstance(expr, ir.AnyLine):
        lines, valid = ctx.field(LINES_FIELD)  # type: ignore[misc]
        inner = _as_bool(_eval(expr.item, lines), lines.k).reshape(valid.shape)
        return (inner & valid).any(axis=1)
    raise TypeError(f"unknown expression {expr!r}")


def _guess_type(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dt.date):
        return "date"
    return "number"


def fields_read(expr: ir.Expr | None) -> set[str]:
    """Names of the fields an expression reads (used to reject unsupported ones early)."""
    out: set[str] = set()
    if expr is None:
        return out
    if isinstance(expr, ir.Field):
        out.add(expr.name)
    elif isinstance(expr, ir.Cmp):
        out |= fields_read(expr.left) | fields_read(expr.right)
    elif isinstance(expr, ir.InSet):
        out |= fields_read(expr.left)
    elif isinstance(expr, (ir.And, ir.Or)):
        for item in expr.items:
            out |= fields_read(item)
    elif isinstance(expr, ir.Not):
        out |= fields_read(expr.item)
    elif isinstance(expr, ir.AnyLine):
        out.add(LINES_FIELD)  # the line fields inside are the lines', not the event's
    return out


LINES_FIELD = "@lines"  # a BatchContext's getter of (the lines' context over k × L rows, valid (k, L))


def line_context(k: int, data: dict, goods: np.ndarray, strings: StringTable,
                 attributes: tuple[tuple[str, str], ...] = ()) -> tuple["BatchContext", np.ndarray]:
    """The context an `any line` condition reads: the lines' fields as k × L rows (a purchase
    without lines is one line: its goods, category and quantity), and which rows are lines; the
    program's line attributes from the drawn `lines.attr.NAME` arrays, or their defaults."""
    if "lines.amount" in data:
        amount, cat, qty, valid = (data[key] for key in ("lines.amount", "lines.category", "lines.quantity",
                                                         "lines.valid"))
    else:
        amount = np.asarray(goods, dtype=np.int64).reshape(k, 1)
        cat = np.asarray(data.get("category", np.zeros(k, dtype=np.int64))).reshape(k, 1)
        qty = np.asarray(data.get("quantity", np.zeros(k, dtype=np.int64))).reshape(k, 1)
        valid = np.ones((k, 1), dtype=bool)
    none = strings.code("")
    getters = {"amount": lambda: amount.ravel(), "category": lambda: cat.ravel(), "quantity": lambda: qty.ravel(),
               "sku": lambda: np.full(amount.size, none, dtype=np.int64)}
    for name, vtype in attributes:
        getters[name] = _line_attribute(data, name, vtype, amount.size, strings)
    return BatchContext(amount.size, getters, strings), valid


def _line_attribute(data: dict, name: str, vtype: str, size: int, strings: StringTable) -> Callable[[], Value]:
    """A line attribute's getter: its drawn values (simulator.engine.line_attributes), or, where the
    purchase's lines were not drawn, its default on every line (no text, false, 0)."""
    drawn = data.get(ATTRIBUTE_KEY + name)
    if drawn is not None and "lines.amount" in data:
        return lambda: drawn.ravel()
    default = default_value(vtype, strings)
    return lambda: np.full(size, default)
