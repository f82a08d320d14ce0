"""The compiler: a checked AST program becomes the IR both engines run.

Takes: an `ast.Program` with no check errors (`compile_program`), or a whole
`ast.SourceFile` (`compile_source` = check + compile, never raises for bad input).
Gives: an `ir.Program` — money in integer cents, rates as exact `Fraction` points per
cent, weekdays 0..6, tier names as indices into the tiers sorted by threshold, rules in
evaluation order (priority high to low, then source order), every default resolved.
Also `program_hash`, a stable sha256 of an IR program for reports.

Unit rules (docs/semantics.md §4):
- `award N per M CUR` -> RateAward(rate = N / (M * 100)) points per cent.
- `award P% of ...`  -> RateAward(rate = P / 100 / point_value_cents).
- thresholds of `tiers by spend` are cents; other measures keep their unit.
- a reward's cost defaults to price x point cost, rounded to the nearest cent (half up).
- a counter's `sums` names a field like `ir.Field` does: `items`, or `event.<field>`
  for a declared field of a custom event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import fields, is_dataclass
from decimal import Decimal
from fractions import Fraction

from rulelang.syntax import ast
from rulelang.syntax.nodes import UnhandledNode
from rulelang import ir
from rulelang.check.vouchers import month_number
from rulelang.check.expressions import ConditionResolver, money_cents, span_of
from rulelang.fields import FIELD_BY_NAME
from rulelang.check.scope import Scope, build_scope, tier_order, threshold_units
from rulelang.check.checker import check
from rulelang.check.balances import rule_balance
from rulelang.diagnostics import NO_SPAN, Diagnostic, DiagnosticBag, RuleCheckError, Span, sort_key

__all__ = ["compile_program", "compile_source", "program_hash"]


def _frac(value: Decimal | int) -> Fraction:
    return Fraction(Decimal(value))


def _cents(money: ast.Money) -> int:
    """Whole cents of a money amount (the checker guarantees there is no fraction of a cent)."""
    cents = money_cents(money)
    return math.floor(cents + Fraction(1, 2)) if cents.denominator != 1 else int(cents)


def _cents_or_none(money: ast.Money | None) -> int | None:
    return None if money is None else _cents(money)


class _Compiler:
    def __init__(self, p: ast.Program):
        self.p = p
        self.scope: Scope = build_scope(p)
        self.point_cost = money_cents(p.point_cost) if p.point_cost is not None else Fraction(0)
        self.point_value = money_cents(p.point_value) if p.point_value is not None else None

    # ------------------------------------------------------------ conditions

    def condition(self, expr: ast.Expr | None, event: str, owner: object) -> ir.Expr | None:
        if expr is None:
            return None
        bag = DiagnosticBag()
        resolved = ConditionResolver(self.scope, event, bag, span_of(owner, NO_SPAN)).condition(expr)
        if resolved is None or bag.has_errors:
            raise RuleCheckError(bag.items or [Diagnostic("RL202", "error", "invalid condition", NO_SPAN)])
        return resolved

    # ------------------------------------------------------------ rules

    def action(self, a: ast.Action) -> ir.Action:
        if isinstance(a, ast.Award):
            if a.per is None:
                return ir.FixedAward(points=int(a.points), to=a.to)
            if isinstance(a.per, ast.Quantity):
                return ir.QuantityAward(rate=_frac(a.points) / _frac(a.per.value), unit=a.per.unit,
                                        excluding=frozenset(a.excluding), only=frozenset(a.only) if a.only else None)
            rate = _frac(a.points) / money_cents(a.per)
            return ir.RateAward(rate=rate, base=a.base, excluding=frozenset(a.excluding),
                                only=frozenset(a.only) if a.only else None)
        if isinstance(a, ast.Cashback):
            if not self.point_value:
                raise RuleCheckError([Diagnostic("RL206", "error", "a cashback needs `point value`", span_of(a, NO_SPAN))])
            return ir.RateAward(rate=_frac(a.percent) / 100 / self.point_value, base=a.base, excluding=frozenset(a.excluding))
        if isinstance(a, ast.Multiply):
            return ir.Multiplier(factor=_frac(a.factor), only=frozenset(a.only) if a.only else None)
        if isinstance(a, ast.Discount):
            percent = _frac(a.percent) if a.percent is not None else None
            return ir.DiscountAction(percent=percent, fixed_cents=_cents_or_none(a.amount), base=a.base,
                                     excluding=frozenset(a.excluding), only=frozenset(a.only) if a.only else None)
        if isinstance(a, ast.Perk):
            return ir.PerkAction(name=a.name, cost_cents=_cents(a.cost))
        raise UnhandledNode("compiler: action", a)  # tests/test_nodes.py compiles every action type

    def rule(self, index: int, r: ast.EarnRule) -> ir.Rule:
        budget = None
        if r.budget is not None:
            budget = ir.Budget(points=r.budget.points, cents=_cents_or_none(r.budget.money))
        return ir.Rule(
            name=r.name,
            order=index,
            event=r.event,
            condition=self.condition(r.condition, r.event, r),
            actions=tuple(self.action(a) for a in r.actions),
            rounding=r.rounding or self.p.rounding,
            priority=r.priority,
            group=r.group,
            start=r.window.start if r.window is not None else None,
            end=r.window.end if r.window is not None else None,
            caps=tuple(ir.Cap(limit=c.limit, unit=c.unit, period=c.period) for c in r.caps),
            budget=budget,
            every_nth=r.every_nth,
            streak=ir.Streak(length=r.streak.length, period=r.streak.period) if r.streak is not None else None,
            line=span_of(r, NO_SPAN).line,
            balance=rule_balance(r, self.p.balances),
        )

    # ------------------------------------------------------------ declarations

    def counter(self, c: ast.CounterDecl) -> ir.Counter:
        sums = c.sums
        if sums is not None:
            builtin = sums in FIELD_BY_NAME and FIELD_BY_NAME[sums].on(c.event)
            sums = sums if builtin else f"event.{sums}"
        return ir.Counter(name=c.name, event=c.event, sums=sums, condition=self.condition(c.condition, c.event, c))

    @staticmethod
    def expiry(e: ast.Expiry) -> ir.Expiry:
        month_day = (int(e.month_day[0]), int(e.month_day[1])) if e.month_day is not None else None
        return ir.Expiry(kind=e.kind, months=e.months, end_of_month=e.end_of_month, date=e.date, month_day=month_day)

    def tiers(self, ts: ast.TierSystem) -> ir.TierSystem:
        ordered = [ts.tiers[i] for i in tier_order(ts)]
        tiers = tuple(
            ir.Tier(
                name=t.name,
                threshold=Fraction(threshold_units(ts, t)),
                multiplier=_frac(t.multiplier) if t.multiplier is not None else None,
                discount_percent=_frac(t.discount) if t.discount is not None else None,
                expiry=tuple(self.expiry(e) for e in t.expiry) if t.expiry else None,
                perks=tuple(ir.TierPerk(name=k.name, cost_cents=_cents(k.cost), per=k.per) for k in t.perks),
                rate=_frac(t.rate) / _cents(t.rate_per) if t.rate is not None and t.rate_per is not None else None,
            )
            for t in ordered
        )
        return ir.TierSystem(
            metric=ts.metric,
            window=ts.window.kind,
            window_months=ts.window.months,
            tiers=tiers,
            review=ts.review,
            downgrade=ts.downgrade,
            grace_months=ts.grace_months,
            validity_months=ts.validity_months,
            spend_before_discounts=ts.spend_basis == "before_discounts",
            on_return=ts.on_return or "keep_until_review",
            status_through=ts.status_through,
            status_years=ts.status_years,
            status_drop=ts.status_drop,
        )

    def reward(self, r: ast.Reward) -> ir.Reward:
        if r.voucher is not None and r.valid is not None:  # a voucher with a life: its cost is booked when used
            valid, unit = _validity(r.valid, r.valid_unit)
            return ir.Reward(name=r.name, price=r.price, worth_cents=_cents_or_none(r.worth), cost_cents=0,
                             voucher_cents=_cents(r.voucher), valid=valid, valid_unit=unit)  # type: ignore[arg-type]
        if r.cost is not None:
            cost = _cents(r.cost)
        else:
            cost = math.floor(r.price * self.point_cost + Fraction(1, 2))
        return ir.Reward(name=r.name, price=r.price, worth_cents=_cents_or_none(r.worth), cost_cents=cost)

    # ------------------------------------------------------------ program

    def program(self) -> ir.Program:
        p = self.p
        rules = [self.rule(i, r) for i, r in enumerate(p.rules)]
        rules.sort(key=lambda r: (-r.priority, r.order))
        returns = ir.ReturnPolicy(reverse=False, negative_balance=False)
        if p.returns is not None:
            returns = ir.ReturnPolicy(reverse=p.returns.reverse, negative_balance=p.returns.negative_balance == "allowed",
                                      lower_metrics=p.returns.lower_metrics)
        pw = p.pay_with_points
        conv = p.conversion
        return ir.Program(
            name=p.name,
            points_unit=p.points_unit,
            currency=p.currency,
            point_cost_cents=self.point_cost,
            point_value_cents=self.point_value,
            stacking=p.stacking,
            rounding=p.rounding,
            pending_days=p.pending_days,
            events=tuple(ir.EventType(name=e.name, fields=tuple((f.name, f.type) for f in e.fields)) for e in p.events),
            attributes=tuple((a.name, a.type) for a in p.attributes),
            line_attributes=tuple((a.name, a.type) for a in p.line_attributes),
            counters=tuple(self.counter(c) for c in p.counters),
            rules=tuple(rules),
            tiers=self.tiers(p.tiers) if p.tiers is not None else None,
            expiry=tuple(self.expiry(e) for e in p.expiry if e.unit is None),
            returns=returns,
            rewards=tuple(self.reward(r) for r in p.rewards),
            pay_with_points=(
                ir.PayWithPoints(points=pw.points, cents=_cents(pw.money), minimum_balance=pw.minimum_balance, max_share=_frac(pw.max_share))
                if pw is not None
                else None
            ),
            conversion=_conversion(conv) if conv is not None else None,
            activity=tuple(p.activity) or ("purchase", "earning"),
            balances=tuple(ir.Balance(name=b.name, expiry=tuple(self.expiry(e) for e in p.expiry if e.unit == b.name))
                           for b in p.balances),
        )


def _validity(valid: int, unit: str) -> tuple[int, str]:
    """A voucher's validity in days, or in months (years are 12 months)."""
    return (valid, "days") if unit == "days" else (valid * (12 if unit == "years" else 1), "months")


def _conversion(conv: ast.Conversion) -> ir.Conversion:
    """Vouchers, with their schedule as months (1-12) and their validity in days or months."""
    months = tuple(sorted(n for n in (month_number(m) for m in conv.months) if n is not None))
    if conv.valid is None:
        return ir.Conversion(points=conv.points, voucher_cents=_cents(conv.voucher), period=conv.period, months=months)
    valid, unit = _validity(conv.valid, conv.valid_unit)
    return ir.Conversion(points=conv.points, voucher_cents=_cents(conv.voucher), period=conv.period, months=months,
                         valid=valid, valid_unit=unit)  # type: ignore[arg-type]


def compile_program(p: ast.Program) -> ir.Program:
    """Compile a program that `check` found free of errors (raises RuleCheckError otherwise)."""
    return _Compiler(p).program()


def compile_source(sf: ast.SourceFile) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Check, then compile. The program is None when the file has errors or no program.
    Never raises for bad input: every problem is a diagnostic."""
    diagnostics = check(sf)
    if sf.program is None or any(d.is_error for d in diagnostics):
        return None, diagnostics
    try:
        return compile_program(sf.program), diagnostics
    except RuleCheckError as exc:
        return None, sorted(diagnostics + exc.diagnostics, key=sort_key)
    except Exception as exc:  # noqa: BLE001 - a compiler bug must not become a traceback for the user
        internal = Diagnostic(
            "RL999",
            "error",
            f"internal error while compiling this program: {type(exc).__name__}: {exc}",
            span_of(sf.program, Span(sf.path, 1, 1, 1, 1)),
            "this is a bug in the compiler; please report it with the file",
        )
        return None, sorted(diagnostics + [internal], key=sort_key)


# ---------------------------------------------------------------- hashing


def _canonical(value: object) -> str:
    """A text form of an IR value that does not depend on set order or hash seeds."""
    if is_dataclass(value) and not isinstance(value, type):
        parts = ",".join(f"{f.name}={_canonical(getattr(value, f.name))}" for f in fields(value) if f.compare
                         and not ((f.metadata.get("omit_default") or f.metadata.get("hash") == "omit default")
                                  and getattr(value, f.name) == f.default))
        return f"{type(value).__name__}({parts})"
    if isinstance(value, (frozenset, set)):
        return "{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, (tuple, list)):
        return "(" + ",".join(_canonical(v) for v in value) + ")"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, Fraction):
        return f"F{value.numerator}/{value.denominator}"
    if isinstance(value, int):
        return f"I{value}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"D{value.isoformat()}"
    if isinstance(value, str):
        return "S" + repr(value)
    return repr(value)


def program_hash(p: ir.Program) -> str:
    """sha256 (hex) of the program's canonical form: equal programs hash equal, in any process
    (source lines are left out, so a text program and its YAML twin hash the same)."""
    return hashlib.sha256(_canonical(p).encode("utf-8")).hexdigest()
