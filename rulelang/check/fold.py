"""Proving that a condition can never be true.

Takes: a resolved condition (`ir.Expr`), optionally a campaign window and the number
of tiers. Gives: `never_true(...)` — True only when the condition is false for every
possible event (constant folding plus per-field ranges, e.g. `amount > 10 USD and
amount < 5 USD`, `hour > 23`, `weekday in [sat, sun] and weekday == mon`). It is
sound but not complete: when in doubt it answers False ("might be true"), so the
checker only warns about provable cases (RL302, and RL303 for rule pairs).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction

from rulelang import ir
from rulelang.check.scope import FIELD_RANGES, INTEGER_FIELDS

_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
from rulelang.limits import MAX_ENUMERATION as _MAX_ENUMERATION


def _num(value: object) -> object:
    """Dates become day numbers so that they behave like whole numbers."""
    if isinstance(value, dt.date):
        return value.toordinal()
    return value


@dataclass
class _Domain:
    """The values a field may still take under a conjunction of constraints."""

    integer: bool
    lo: object = None
    lo_strict: bool = False
    hi: object = None
    hi_strict: bool = False
    allowed: set[object] | None = None
    excluded: set[object] = field(default_factory=set)

    def add(self, op: str, value: object) -> None:
        value = _num(value)
        if op == "==":
            self.allowed = {value} if self.allowed is None else self.allowed & {value}
        elif op == "!=":
            self.excluded.add(value)
        elif op in ("<", "<="):
            strict = op == "<"
            if self.hi is None or value < self.hi or (value == self.hi and strict):  # type: ignore[operator]
                self.hi, self.hi_strict = value, strict
        elif op in (">", ">="):
            strict = op == ">"
            if self.lo is None or value > self.lo or (value == self.lo and strict):  # type: ignore[operator]
                self.lo, self.lo_strict = value, strict

    def restrict(self, values: frozenset[object], negated: bool) -> None:
        vals = {_num(v) for v in values}
        if negated:
            self.excluded |= vals
        else:
            self.allowed = vals if self.allowed is None else self.allowed & vals

    def _in_bounds(self, v: object) -> bool:
        try:
            if self.lo is not None and (v < self.lo or (v == self.lo and self.lo_strict)):  # type: ignore[operator]
                return False
            if self.hi is not None and (v > self.hi or (v == self.hi and self.hi_strict)):  # type: ignore[operator]
                return False
        except TypeError:
            return True
        return True

    def empty(self) -> bool:
        if self.allowed is not None:
            return not any(v not in self.excluded and self._in_bounds(v) for v in self.allowed)
        if self.lo is None or self.hi is None:
            return False
        try:
            if self.integer:
                lo = Fraction(self.lo)  # type: ignore[arg-type]
                hi = Fraction(self.hi)  # type: ignore[arg-type]
                first = math.floor(lo) + 1 if self.lo_strict else math.ceil(lo)
                last = math.ceil(hi) - 1 if self.hi_strict else math.floor(hi)
                if first > last:
                    return True
                if last - first < _MAX_ENUMERATION:
                    return all(v in self.excluded for v in range(first, last + 1))
                return False
            if self.lo > self.hi:  # type: ignore[operator]
                return True
            if self.lo == self.hi:
                return self.lo_strict or self.hi_strict or self.lo in self.excluded
        except (TypeError, ValueError):
            return False
        return False


def _nnf(expr: ir.Expr, negate: bool = False) -> ir.Expr:
    """Push `not` down to the comparisons (De Morgan)."""
    if isinstance(expr, ir.Not):
        return _nnf(expr.item, not negate)
    if isinstance(expr, ir.And):
        items = tuple(_nnf(i, negate) for i in expr.items)
        return ir.Or(items) if negate else ir.And(items)
    if isinstance(expr, ir.Or):
        items = tuple(_nnf(i, negate) for i in expr.items)
        return ir.And(items) if negate else ir.Or(items)
    if not negate:
        return expr
    if isinstance(expr, ir.Cmp):
        return ir.Cmp(_NEGATE[expr.op], expr.left, expr.right)  # type: ignore[arg-type]
    if isinstance(expr, ir.InSet):
        return ir.InSet(expr.left, expr.values, not expr.negated)
    if isinstance(expr, ir.Const) and isinstance(expr.value, bool):
        return ir.Const(not expr.value, "bool")
    if isinstance(expr, ir.Field) and expr.type == "bool":
        return ir.Cmp("==", expr, ir.Const(False, "bool"))
    return ir.Not(expr)


def _compare_consts(op: str, a: object, b: object) -> bool | None:
    try:
        a, b = _num(a), _num(b)
        return {
            "==": a == b, "!=": a != b,
            "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,  # type: ignore[operator]
        }[op]
    except TypeError:
        return None


class _Prover:
    def __init__(self, tier_count: int):
        self.tier_count = tier_count

    def domain_for(self, f: ir.Field) -> _Domain:
        integer = f.name in INTEGER_FIELDS or f.type in ("money", "date", "weekday", "tier")
        d = _Domain(integer=integer)
        lo, hi = FIELD_RANGES.get(f.name, (None, None))
        if f.type == "tier":
            lo, hi = (0, self.tier_count - 1) if self.tier_count > 0 else (None, None)
        if f.type == "bool":
            d.allowed = {True, False}
        if lo is not None:
            d.add(">=", lo)
        if hi is not None:
            d.add("<=", hi)
        return d

    def possible(self, expr: ir.Expr, seed: list[tuple[ir.Field, str, object]] = ()) -> bool:  # type: ignore[assignment]
        """False only when `expr` (in NNF) is provably never true."""
        if isinstance(expr, ir.Or):
            return any(self.possible(i, seed) for i in expr.items)
        items = list(expr.items) if isinstance(expr, ir.And) else [expr]
        domains: dict[str, _Domain] = {}

        def constrain(f: ir.Field, op: str, value: object) -> None:
            d = domains.setdefault(f.name, self.domain_for(f))
            d.add(op, value)

        for f, op, value in seed:
            constrain(f, op, value)
        pending = list(items)
        while pending:
            item = pending.pop()
            if isinstance(item, ir.And):
                pending.extend(item.items)
                continue
            if isinstance(item, ir.Const):
                if item.value is False:
                    return False
                continue
            if isinstance(item, ir.Field) and item.type == "bool":
                constrain(item, "==", True)
                continue
            if isinstance(item, ir.Cmp):
                left, right, op = item.left, item.right, item.op
                if isinstance(left, ir.Const) and isinstance(right, ir.Const):
                    if _compare_consts(op, left.value, right.value) is False:
                        return False
                elif isinstance(left, ir.Field) and isinstance(right, ir.Const):
                    constrain(left, op, right.value)
                elif isinstance(left, ir.Const) and isinstance(right, ir.Field):
                    constrain(right, _FLIP[op], left.value)
                continue
            if isinstance(item, ir.InSet):
                if isinstance(item.left, ir.Field):
                    d = domains.setdefault(item.left.name, self.domain_for(item.left))
                    d.restrict(item.values, item.negated)
                elif isinstance(item.left, ir.Const):
                    inside = _num(item.left.value) in {_num(v) for v in item.values}
                    if inside == item.negated:
                        return False
                continue
            if isinstance(item, ir.Or) and not self.possible(item, seed):
                return False
        return not any(d.empty() for d in domains.values())


def never_true(
    condition: ir.Expr | None,
    window: tuple[dt.date, dt.date] | None = None,
    tier_count: int = 0,
) -> bool:
    """True when no event (inside `window`, if given) can make `condition` true."""
    seed: list[tuple[ir.Field, str, object]] = []
    if window is not None:
        date_field = ir.Field("date", "date")
        seed = [(date_field, ">=", window[0]), (date_field, "<=", window[1])]
    if condition is None:
        return bool(window) and window[0] > window[1]  # type: ignore[index]
    return not _Prover(tier_count).possible(_nnf(condition), seed)


def both_possible(
    a: ir.Expr | None,
    b: ir.Expr | None,
    window: tuple[dt.date, dt.date] | None = None,
    tier_count: int = 0,
) -> bool:
    """False when no single event can make both conditions true (inside `window`)."""
    items = tuple(c for c in (a, b) if c is not None)
    combined: ir.Expr = ir.And(items) if items else ir.Const(True, "bool")
    return not never_true(combined, window, tier_count)
