"""Checks of the size of numbers: what both engines hold exactly (RL410).

Takes: a `CheckContext` and the `ast.Program`. Gives: RL410 errors in the context's bag for
a point amount, price, cap, threshold, budget, rate or multiplier above its bound in
`rulelang.limits`, and for an event whose rules together could earn more than one event may
(fixed awards: `MAX_EVENT_POINTS`; rates times the largest product of multipliers:
`MAX_EARN_PER_UNIT` points per unit of money). Each message names the bound; the reasoning
behind the bounds is in `rulelang.limits`. Values of the wrong kind (negative, fractional)
are RL202 and are left to the other checks.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Callable

from rulelang import ir
from rulelang.syntax import ast
from rulelang.check.base import CheckContext
from rulelang.limits import MAX_BUDGET_POINTS, MAX_EARN_PER_UNIT, MAX_EVENT_POINTS, MAX_MONEY_CENTS, MAX_MULTIPLIER, MAX_POINTS, MAX_RATE_POINTS_PER_UNIT

HINT = "the engines hold points exactly only within these bounds (see docs/errors/RL410.md)"


def _n(value: object) -> str:
    if isinstance(value, (Decimal, Fraction)) and Fraction(value).denominator == 1:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _over(ctx: CheckContext, value: object, bound: int, what: str, node: object, parent: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, Fraction)) or value <= bound:
        return False
    ctx.error("RL410", f"{what} is {_n(value)}, more than the {bound:,} the engines hold exactly", node, HINT, parent)
    return True


def check_limits(ctx: CheckContext, p: ast.Program) -> None:
    unit = p.points_unit
    before = len(ctx.bag.items)
    for rule in p.rules:
        for action in rule.actions:
            if isinstance(action, ast.Award):
                if action.per is None:
                    _over(ctx, action.points, MAX_POINTS, f"the {unit} awarded", action, rule)
                else:
                    rate = _rate_of_award(p, action)
                    if rate is not None and rate > MAX_RATE_POINTS_PER_UNIT:
                        per = action.per.unit if isinstance(action.per, ast.Quantity) else action.per.currency
                        ctx.error("RL410", f"the rate of {_frac(rate)} {unit} per 1 {per} is more "
                                  f"than the {MAX_RATE_POINTS_PER_UNIT:,} {unit} per unit of money the engines hold "
                                  "exactly", action, HINT, rule)
            elif isinstance(action, ast.Multiply):
                _over(ctx, action.factor, MAX_MULTIPLIER, "the multiplier", action, rule)
        for cap in rule.caps:
            if cap.unit == "points":
                _over(ctx, cap.limit, MAX_POINTS, "the cap", cap, rule)
        if rule.budget is not None and rule.budget.points is not None:
            _over(ctx, rule.budget.points, MAX_BUDGET_POINTS, "the budget", rule.budget, rule)
    if p.tiers is not None:
        for tier in p.tiers.tiers:
            if tier.threshold_money is None:  # spend thresholds with a currency are checked as money
                bound = MAX_MONEY_CENTS // 100 if p.tiers.metric == "spend" else MAX_POINTS
                _over(ctx, tier.threshold, bound, f"the threshold of tier `{tier.name}`", tier, p.tiers)
            if tier.multiplier is not None:
                _over(ctx, tier.multiplier, MAX_MULTIPLIER, f"the multiplier of tier `{tier.name}`", tier, p.tiers)
    for reward in p.rewards:
        _over(ctx, reward.price, MAX_POINTS, f"the price of reward `{reward.name}`", reward, p)
    if p.pay_with_points is not None:
        pw = p.pay_with_points
        _over(ctx, pw.points, MAX_POINTS, f"the {unit} in `pay with points`", pw, p)
        _over(ctx, pw.minimum_balance, MAX_POINTS, "the minimum balance", pw, p)
    if p.conversion is not None:
        _over(ctx, p.conversion.points, MAX_POINTS, f"the {unit} per voucher", p.conversion, p)
    if len(ctx.bag.items) == before:  # a value over its own bound is reported once, not again per event
        _check_events(ctx, p)


def _frac(x: Fraction) -> str:
    return f"{x.numerator:,}" if x.denominator == 1 else f"{float(x):,.6g}"


def _per_rate(points: object, per: object) -> Fraction | None:
    if per is None or per <= 0:
        return None
    return Fraction(points) / Fraction(per)


def _money_rate(p: ast.Program, a: object) -> Fraction | None:
    """A rate award's points per unit of money: `award N per X USD`, or a cashback at the point value."""
    if isinstance(a, ast.Cashback):
        if p.point_value is None or p.point_value.amount <= 0 or a.percent < 0:
            return None
        return Fraction(a.percent) / 100 / Fraction(p.point_value.amount)
    if isinstance(a, ast.Award) and a.per is not None and not isinstance(a.per, ast.Quantity):
        return _per_rate(a.points, a.per.amount)
    return None


def _quantity_rate(p: ast.Program, a: object) -> Fraction | None:
    """A quantity award's points per unit of quantity (`award 1 point per 2 litres`)."""
    if isinstance(a, ast.Award) and isinstance(a.per, ast.Quantity):
        return _per_rate(a.points, a.per.value)
    return None


def _rule_factor(p: ast.Program, a: object) -> Fraction | None:
    """A rule multiplier's factor, when it raises the points (`multiply 2x`)."""
    return Fraction(a.factor) if isinstance(a, ast.Multiply) and a.factor > 1 else None


def _fixed(p: ast.Program, a: object) -> Fraction | None:
    """A fixed award's points (`award 50 points`)."""
    return Fraction(a.points) if isinstance(a, ast.Award) and a.per is None and a.points >= 0 else None


def _no_action(p: ast.Program, a: object) -> Fraction | None:
    """The tier's multiplier is the program's, not a rule action's (`_tier_factor`)."""
    return None


# What one rule action contributes to its event's bound, per source of points (rulelang.ir);
# a source's basis says how: FIXED adds points, MONEY and QUANTITY add a rate, POINTS a factor.
BOUND_TERMS: dict[ir.PointSource, Callable[[ast.Program, object], Fraction | None]] = {
    ir.RATE_AWARD: _money_rate, ir.QUANTITY_AWARD: _quantity_rate, ir.TIER_MULTIPLIER: _no_action,
    ir.RULE_MULTIPLIER: _rule_factor, ir.FIXED_AWARD: _fixed,
}
_RATE_BASES = (ir.AwardBasis.MONEY, ir.AwardBasis.QUANTITY)


def _terms(p: ast.Program, action: object):
    """(source, its contribution) of one action, for each source of points that declares it."""
    for source, term in ir.in_source_order(BOUND_TERMS, "the checker's number limits"):
        value = term(p, action)
        if value is not None:
            yield source, value


def _rate_of_award(p: ast.Program, action: object) -> Fraction | None:
    """The points per unit of an action of a rate source (money or quantity); None: none."""
    rates = [v for s, v in _terms(p, action) if s.basis in _RATE_BASES]
    return sum(rates, Fraction(0)) if rates else None


def _check_events(ctx: CheckContext, p: ast.Program) -> None:
    """Per event: the fixed awards its rules can fire together, and its rates times the largest
    factor its multipliers (and the highest tier's) can reach."""
    by_event: dict[str, list[ast.EarnRule]] = {}
    for rule in p.rules:
        by_event.setdefault(rule.event, []).append(rule)
    tier_factor = Fraction(1)
    if p.tiers is not None:
        tier_factor = max([Fraction(t.multiplier) for t in p.tiers.tiers if t.multiplier is not None and t.multiplier > 0]
                          + [Fraction(1)])
    for event, rules in by_event.items():
        fixed, rate = 0, Fraction(0)
        factors: list[Fraction] = []
        for rule in rules:
            for a in rule.actions:
                for source, value in _terms(p, a):
                    if source.basis is ir.AwardBasis.FIXED:
                        fixed += int(value)
                    elif source.basis in _RATE_BASES:
                        rate += value
                    elif source.basis is ir.AwardBasis.POINTS:
                        factors.append(value)
        if fixed > MAX_EVENT_POINTS:
            ctx.error("RL410", f"the rules on `{event}` can award {fixed:,} {p.points_unit} for one event together, "
                      f"more than the {MAX_EVENT_POINTS:,} one event may earn", rules[0], HINT, p)
        if rate == 0:
            continue
        if p.stacking == "add":
            factor = 1 + (tier_factor - 1) + sum((f - 1 for f in factors), Fraction(0))
        else:
            factor = tier_factor
            for f in factors:
                factor *= f
        if rate * factor > MAX_EARN_PER_UNIT:
            ctx.error("RL410", f"the rules on `{event}` can earn {_frac(rate * factor)} {p.points_unit} per unit of "
                      f"money (rates × multipliers), more than the {MAX_EARN_PER_UNIT:,} the engines hold exactly",
                      rules[0], HINT, p)
