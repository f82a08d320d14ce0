"""Checks of status dates, what counts as activity, and tier earn rates.

Takes: a `CheckContext` and the `ast.Program`. Gives: diagnostics in the context's bag:
RL271 a status date beside reviews, grace or validity (the status date alone decides when a
status ends), RL273 an `activity` statement without an inactivity expiry (it would change
nothing), RL274 a tier rate (`award 1.2 stars per 1 USD` in a tier) that cannot replace the
program's rate: beside `multiply` in the same tier, not above zero, or in a program whose
purchase rules do not award one rate per money. RL270 (a status date not after its
qualification year) and RL272 (an unknown kind of activity) are reported by the readers.
"""

from __future__ import annotations

from decimal import Decimal

from rulelang.syntax import ast
from rulelang.check.base import CheckContext
from rulelang.check.balances import rule_balance
from rulelang.check.calendar import DURATION_TOO_LONG
from rulelang.limits import MAX_MONTHS

__all__ = ["check_status_rules", "STATUS_CONFLICT", "ACTIVITY_UNUSED", "TIER_RATE"]

STATUS_CONFLICT = "RL271"
ACTIVITY_UNUSED = "RL273"
TIER_RATE = "RL274"


def check_status_rules(ctx: CheckContext, p: ast.Program) -> None:
    if p.tiers is not None:
        _status_date(ctx, p, p.tiers)
        for tier in p.tiers.tiers:
            if tier.rate is not None:
                _tier_rate(ctx, p, tier)
    if p.activity:
        _activity(ctx, p)


def _statement(ctx: CheckContext, owner: object, keyword: str) -> object:
    """Where a statement without a node of its own was written (text form), else its owner."""
    span = ctx.span(owner)
    for (line, column, kind), where in ctx.sf.statement_spans:
        if kind == keyword and (line, column) == (span.line, span.column):
            return where
    return owner


def _status_date(ctx: CheckContext, p: ast.Program, ts: ast.TierSystem) -> None:
    if ts.status_through is None:
        return
    if ts.status_years > MAX_MONTHS // 12:
        ctx.error(DURATION_TOO_LONG, f"a status of {ts.status_years} years is too long "
                                     f"(at most {MAX_MONTHS // 12} years after the qualification year)",
                  _statement(ctx, ts, "status"), f"durations are at most {MAX_MONTHS // 12} years", p)
    beside = [text for text, on in (
        (f"`review {ts.review}`", ts.review != "never"),
        (f"`downgrade {ts.downgrade.replace('_', ' ')}`", ts.downgrade != "never"),
        (f"`grace {ts.grace_months} months`", bool(ts.grace_months)),
        (f"`valid {ts.validity_months} months`", bool(ts.validity_months))) if on]
    if beside:
        ctx.error(STATUS_CONFLICT,
                  f"a status date decides when a status ends; it cannot stand beside {' and '.join(beside)}",
                  _statement(ctx, ts, "status"),
                  "remove the review, downgrade, grace and validity lines, and say what the end of a status "
                  "does with `then one step` or `then to qualified` (the default)", p)


def _has_inactivity(p: ast.Program) -> bool:
    policies = list(p.expiry)
    if p.tiers is not None:
        policies += [e for tier in p.tiers.tiers for e in tier.expiry]
    return any(e.kind == "inactivity" for e in policies)


def _activity(ctx: CheckContext, p: ast.Program) -> None:
    if not _has_inactivity(p):
        ctx.error(ACTIVITY_UNUSED, "`activity` says what keeps points alive, but nothing expires after inactivity",
                  _statement(ctx, p, "activity"),
                  f"add e.g. `expire {p.points_unit} after 18 months of inactivity`, or remove the `activity` line", p)


def _tier_rate(ctx: CheckContext, p: ast.Program, tier: ast.Tier) -> None:
    where = _statement(ctx, tier, "award")
    unit = p.points_unit
    if tier.multiplier is not None:
        ctx.error(TIER_RATE, f"tier `{tier.name}` sets both a rate and a multiplier",
                  where, f"keep one: `award 1.2 {unit} per 1 {p.currency}` (rounded once per purchase) or "
                         "`multiply 1.2x` (base and bonus rounded apart)", tier)
        return
    if tier.rate is None or tier.rate <= 0 or tier.rate_per is None or tier.rate_per.amount <= Decimal(0):
        ctx.error(TIER_RATE, f"the rate of tier `{tier.name}` must be above zero", where,
                  f"write e.g. `award 1.2 {unit} per 1 {p.currency}`", tier)
        return
    if not ctx.money(tier.rate_per, f"the rate of tier `{tier.name}`", tier, positive=True):
        return
    rates: list[tuple[str, Decimal]] = []
    for rule in p.rules:
        if rule.event != "purchase" or rule_balance(rule, p.balances) is not None:  # a balance keeps its rate
            continue
        for action in rule.actions:
            if isinstance(action, ast.Cashback):
                ctx.error(TIER_RATE, f"tier `{tier.name}` sets a rate per money, but rule `{rule.name}` awards "
                                     f"a percentage ({action.percent}%)", where,
                          f"give the tier a multiplier instead (`multiply 1.2x`), or write the rule as "
                          f"`award N {unit} per 1 {p.currency}`", tier)
                return
            if isinstance(action, ast.Award) and isinstance(action.per, ast.Money) and action.per.amount > 0:
                rates.append((rule.name, action.points / action.per.amount))
    if not rates:
        ctx.error(TIER_RATE, f"tier `{tier.name}` sets a rate per money, but no purchase rule awards points "
                             "per money: there is no rate for it to replace", where,
                  f"add e.g. `earn base on purchase {{ award 1 {unit} per 1 {p.currency} }}`, "
                  "or give the tier a multiplier (`multiply 1.2x`)", tier)
        return
    first_name, first = rates[0]
    for name, rate in rates[1:]:
        if rate != first:
            ctx.error(TIER_RATE, f"tier `{tier.name}` sets one rate, but purchase rules `{first_name}` and "
                                 f"`{name}` award different rates per {p.currency}", where,
                      "a tier rate replaces the rate of every purchase rule: give the tier a multiplier "
                      "(`multiply 1.2x`) instead", tier)
            return
