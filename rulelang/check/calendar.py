"""Calendar limits of a program and its tests: dates and durations the engines can compute with.

Takes: a `CheckContext` (the source file: program and tests).
Gives: errors in the context's bag: RL422 a date outside `MIN_DATE`..`MAX_DATE` (campaign windows,
fixed expiry dates, dates in conditions, test events and `until`, date values given to fields),
RL423 a duration longer than `MAX_MONTHS` months (expiry, inactivity, rolling tier windows, grace,
validity) or `MAX_DAYS` days (the pending period). Within these bounds every date a run computes
(a date plus an expiry, a pending period, a tier window) stays inside Python's calendar, so the
interpreter and the engine never overflow.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from decimal import Decimal

from rulelang.syntax import ast
from rulelang.check.base import CheckContext
from rulelang.limits import MAX_DAYS, MAX_MONTHS
from rulelang.syntax.read_limits import DATE_HINT, DATE_OUT_OF_RANGE, date_out_of_range

__all__ = ["check_calendar", "DURATION_TOO_LONG"]

DURATION_TOO_LONG = "RL423"


def check_calendar(ctx: CheckContext, program: ast.Program | None) -> None:
    """The program's durations and dates (`program` may be the checked part of `ctx.program`), and
    the dates of the tests."""
    roots: list[object] = [*ctx.sf.tests]
    if program is not None:
        roots.insert(0, program)
        _durations(ctx, program)
    for root in roots:
        _dates(ctx, root)


def _months(ctx: CheckContext, value: object, what: str, node: object, parent: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_MONTHS:
        ctx.error(DURATION_TOO_LONG, f"{what} of {value} months is too long (at most {MAX_MONTHS} months)", node,
                  f"durations are at most {MAX_MONTHS // 12} years", parent)


def _statement(ctx: CheckContext, owner: object, keyword: str) -> object:
    """Where a statement without a node of its own was written (text form), else its owner."""
    span = ctx.span(owner)
    for (line, column, kind), where in ctx.sf.statement_spans:
        if kind == keyword and (line, column) == (span.line, span.column):
            return where
    return owner


def _durations(ctx: CheckContext, p: ast.Program) -> None:
    if isinstance(p.pending_days, int) and not isinstance(p.pending_days, bool) and p.pending_days > MAX_DAYS:
        ctx.error(DURATION_TOO_LONG,
                  f"a pending period of {p.pending_days} days is too long (at most {MAX_DAYS} days)",
                  _statement(ctx, p, "pending"), f"durations are at most {MAX_DAYS // 366} years", p)
    expiries = [(e, p) for e in p.expiry]
    if p.tiers is not None:
        ts = p.tiers
        _months(ctx, ts.window.months, "a rolling tier window", ts, p)
        _months(ctx, ts.grace_months, "a grace period", _statement(ctx, ts, "grace"), p)
        _months(ctx, ts.validity_months, "a tier validity", _statement(ctx, ts, "valid"), p)
        expiries += [(e, tier) for tier in ts.tiers for e in tier.expiry]
    for expiry, parent in expiries:
        what = "an inactivity period" if expiry.kind == "inactivity" else "an expiry"
        _months(ctx, expiry.months, what, expiry, parent)


_SCALARS = (str, int, float, Decimal, bool, type(None))


@functools.lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "span")


def _dates(ctx: CheckContext, root: object) -> None:
    """Every date held anywhere under `root`, reported at the nearest node that has a span."""
    stack: list[tuple[object, object]] = [(root, root)]
    while stack:
        value, holder = stack.pop()
        if isinstance(value, _SCALARS):
            continue
        if isinstance(value, (dt.date, dt.datetime)):
            day = value.date() if isinstance(value, dt.datetime) else value
            problem = date_out_of_range(day)
            if problem:
                ctx.error(DATE_OUT_OF_RANGE, problem, holder, DATE_HINT)
        elif isinstance(value, (tuple, list)):
            stack.extend((item, holder) for item in value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            here = value if getattr(value, "span", None) is not None else holder
            stack.extend((getattr(value, name), here) for name in _field_names(type(value)))
