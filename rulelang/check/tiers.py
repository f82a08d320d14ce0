"""Checks of tiers, points expiry, returns and redemption.

Takes: a `CheckContext` and the `ast.Program`. Gives: diagnostics in the context's bag:
RL201 unknown tier measure, RL202 bad values (negative thresholds, percentages over
100, zero prices), RL203 wrong currency, RL204 duplicate tier or reward names, RL206
statements not valid where written, RL301 thresholds not increasing / first tier not 0
(an error when a threshold decreases), RL302 tiers no customer can reach and downgrades that never happen.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from rulelang.syntax import ast
from rulelang.check.base import CheckContext
from rulelang.check.vouchers import check_conversion, check_reward_vouchers
from rulelang.check.fold import never_true
from rulelang.check.expressions import ConditionResolver
from rulelang.check.scope import TIER_METRICS, threshold_units
from rulelang.diagnostics import did_you_mean

from rulelang.limits import MAX_TIERS


def check_tiers(ctx: CheckContext, p: ast.Program) -> None:
    ts = p.tiers
    if ts is None:
        return
    metric_ok = _check_metric(ctx, p, ts)
    _check_return_policies(ctx, p, ts)
    if ts.window.kind == "rolling":
        ctx.count(ts.window.months, "the rolling window (months)", ctx.span(ts.window, ts), minimum=1)
    ctx.count(ts.grace_months, "the grace period (months)", ctx.span(ts))
    ctx.count(ts.validity_months, "the validity (months)", ctx.span(ts))
    if not ts.tiers:
        ctx.error("RL206", "a tier system needs at least one tier", ts, "add e.g. `tier Member from 0`", p)
        return
    if len(ts.tiers) > MAX_TIERS:
        ctx.error("RL401", f"{len(ts.tiers)} tiers are too many (at most {MAX_TIERS})", ts, None, p)
    ctx.duplicates(ts.tiers, "tier")
    thresholds_ok = True
    for tier in ts.tiers:
        thresholds_ok &= _check_tier(ctx, p, ts, tier)
    if thresholds_ok:
        _check_threshold_order(ctx, ts)
        if metric_ok:
            _check_reachable(ctx, p, ts)
    if ts.downgrade != "never" and ts.review == "never" and len(ts.tiers) > 1:
        ctx.warning(
            "RL302",
            "customers are never downgraded: there is no tier review",
            ts,
            "add `review monthly` (or quarterly / yearly), or remove the `downgrade` line",
            p,
        )


def _check_return_policies(ctx: CheckContext, p: ast.Program, ts: ast.TierSystem) -> None:
    """RL242: `before|after discounts` on a metric that is not spend; `returns lower tier at once`
    in a program whose returns do not lower the metric (the policy could never apply)."""
    if ts.spend_basis is not None and ts.metric != "spend":
        ctx.error("RL242", f"`{ts.spend_basis.replace('_', ' ')}` says how spend is counted, but these tiers go by "
                           f"{_metric_word(ctx, ts.metric)}", ts,
                  "remove it, or write `tiers by spend before discounts ...`", p)
    lowers = p.returns is not None and p.returns.lower_metrics
    if ts.on_return == "lower_at_once" and not lowers:
        ctx.error("RL242", "`returns lower tier at once`, but returns do not lower the tier metric", ts,
                  "add `returns lower tier metric and counters` to the program", p)


def _check_metric(ctx: CheckContext, p: ast.Program, ts: ast.TierSystem) -> bool:
    if ts.metric in TIER_METRICS or ts.metric in ctx.scope.counters or ts.metric in [b.name for b in p.balances]:
        return True
    choices = list(TIER_METRICS) + list(ctx.scope.counters) + [b.name for b in p.balances]
    ctx.error(
        "RL201",
        f"unknown tier measure `{ts.metric}`",
        ts,
        did_you_mean(ts.metric, choices)
        or f"tiers go by {', '.join(choices)}; declare a counter or a balance (`balance \"{ts.metric}\" not redeemable`) "
           "for anything else",
        p,
    )
    return False


def _check_tier(ctx: CheckContext, p: ast.Program, ts: ast.TierSystem, tier: ast.Tier) -> bool:
    ok = True
    money_metric = ts.metric == "spend" or money_counter(ctx, ts.metric)
    if tier.threshold_money is None and money_metric and ts.metric != "spend":
        ctx.error("RL202", f"tiers go by {ts.metric}, which sums money: write the threshold of tier `{tier.name}` as money",
                  tier, f"e.g. `tier {tier.name} from {tier.threshold} {p.currency}`", p)
        ok = False
    if tier.threshold_money is not None:
        if not money_metric:
            ctx.error(
                "RL202",
                f"tier `{tier.name}` has a money threshold, but tiers go by {ts.metric}",
                tier.threshold_money,
                f"write the threshold as a plain number of {_metric_word(ctx, ts.metric)}",
                tier,
            )
            ok = False
        else:
            ok &= ctx.money(tier.threshold_money, f"the threshold of tier `{tier.name}`", tier, fractional_cents=True)
    if isinstance(tier.threshold, (int, Decimal)) and tier.threshold < 0:
        ctx.error("RL202", f"the threshold of tier `{tier.name}` cannot be negative", tier, None, p)
        ok = False
    if tier.multiplier is not None and tier.multiplier <= 0:
        ctx.error("RL202", f"the multiplier {tier.multiplier}x of tier `{tier.name}` must be more than 0", tier, None, p)
    ctx.percent(tier.discount, f"the discount of tier `{tier.name}`", ctx.span(tier, p))
    ctx.duplicates(tier.perks, f"perk of tier `{tier.name}`")
    for perk in tier.perks:
        ctx.money(perk.cost, f"the cost of perk `{perk.name}`", perk)
    for exp in tier.expiry:
        _check_expiry(ctx, exp, tier, in_tier=True)
    return ok


def money_counter(ctx: CheckContext, metric: str) -> bool:
    """Whether `metric` is a counter that sums a money field (`counter coffee_spend sums amount on purchase`)."""
    counter = ctx.scope.counters.get(metric)
    if counter is None or counter.sums is None or not ctx.scope.is_event(counter.event):
        return False
    return ctx.scope.fields_of(counter.event).get(counter.sums) == "money"


def _metric_word(ctx: CheckContext, metric: str) -> str:
    return {"points": ctx.unit, "purchases": "purchases"}.get(metric, metric)


def _check_threshold_order(ctx: CheckContext, ts: ast.TierSystem) -> None:
    first = ts.tiers[0]
    if threshold_units(ts, first) != 0:
        ctx.warning(
            "RL301",
            f"the first tier `{first.name}` starts at {first.threshold}, but it is the base tier: "
            "customers below that threshold hold it too",
            first,
            f"make the base tier start at 0: `tier {first.name} from 0`",
            ts,
        )
    for before, tier in zip(ts.tiers, ts.tiers[1:]):
        if threshold_units(ts, tier) < threshold_units(ts, before):
            _decreasing_threshold(ctx, ts, before, tier)
        elif threshold_units(ts, tier) == threshold_units(ts, before):
            ctx.warning(
                "RL301",
                f"tier `{tier.name}` starts at {tier.threshold}, not above tier `{before.name}` ({before.threshold})",
                tier,
                "list tiers from lowest to highest threshold, each higher than the one before",
                ts,
            )


def _decreasing_threshold(ctx: CheckContext, ts: ast.TierSystem, before: ast.Tier, tier: ast.Tier) -> None:
    """RL301 as an error: a threshold below the one before it (swapped tiers, a missing digit)."""
    ctx.error(
        "RL301",
        f"tier `{tier.name}` starts at {tier.threshold}, below tier `{before.name}` ({before.threshold}) "
        "listed before it",
        tier,
        f"list tiers from lowest to highest threshold: move `{tier.name}` above `{before.name}`, "
        "or correct the threshold",
        ts,
    )


def _check_reachable(ctx: CheckContext, p: ast.Program, ts: ast.TierSystem) -> None:
    """RL302 for tiers that no customer can reach."""
    units = [threshold_units(ts, t) for t in ts.tiers]
    for i, tier in enumerate(ts.tiers):
        shadow = next((ts.tiers[j] for j in range(len(ts.tiers)) if j > i and units[j] == units[i]), None)
        if shadow is not None:
            ctx.warning(
                "RL302",
                f"tier `{tier.name}` can never be reached: tier `{shadow.name}` has the same threshold",
                tier,
                "give each tier a different threshold",
                ts,
            )
    if _metric_never_grows(ctx, p, ts.metric):
        for tier, unit in zip(ts.tiers, units):
            if unit > 0:
                ctx.warning(
                    "RL302",
                    f"tier `{tier.name}` can never be reached: nothing in the program increases {ts.metric}",
                    tier,
                    "add a rule that awards points" if ts.metric == "points" else "check the counter's event and condition",
                    ts,
                )


def _metric_never_grows(ctx: CheckContext, p: ast.Program, metric: str) -> bool:
    if metric == "points":
        return not any(isinstance(a, (ast.Award, ast.Cashback)) for r in p.rules for a in r.actions)
    counter = ctx.scope.counters.get(metric)
    if counter is None or counter.condition is None or not ctx.scope.is_event(counter.event):
        return False
    resolver = ConditionResolver(ctx.scope, counter.event, type(ctx.bag)(), ctx.span(counter, p))
    resolved = resolver.condition(counter.condition)
    return not resolver.failed and never_true(resolved, None, len(ctx.scope.tiers))


# ---------------------------------------------------------------- lifecycle and redemption


def _check_expiry(ctx: CheckContext, exp: ast.Expiry, parent: object, *, in_tier: bool) -> None:
    if exp.kind == "never" and not in_tier:
        ctx.error(
            "RL206",
            f"`{ctx.unit} never expire` is only valid inside a tier",
            exp,
            "without any `expire` statement points never expire",
            parent,
        )
    if exp.kind in ("after_earning", "inactivity"):
        ctx.count(exp.months, "the expiry period (months)", ctx.span(exp, parent), minimum=1)
    if exp.kind == "fixed_date" and exp.date is None:
        ctx.error("RL202", "`expire ... on` needs a date", exp, None, parent)
    if exp.kind == "yearly":
        month_day = exp.month_day
        valid = False
        if month_day is not None and len(month_day) == 2:
            try:
                dt.date(2000, int(month_day[0]), int(month_day[1]))  # a leap year accepts 02-29
                valid = True
            except (TypeError, ValueError):
                valid = False
        if not valid:
            ctx.error("RL103", f"`{month_day}` is not a day of the year", exp, "write it as MM-DD, e.g. `12-31`", parent)


def check_lifecycle(ctx: CheckContext, p: ast.Program) -> None:
    for exp in p.expiry:
        _check_expiry(ctx, exp, p, in_tier=False)
    ctx.duplicates(p.rewards, "reward")
    for reward in p.rewards:
        ctx.count(reward.price, f"the price of reward `{reward.name}`", ctx.statement_span(reward, "price"),
                  minimum=1, hint=f"a price is a whole number of {p.points_unit} from 1, e.g. `price 150 {p.points_unit}`")
        ctx.money(reward.worth, f"the worth of reward `{reward.name}`", reward)
        ctx.money(reward.cost, f"the cost of reward `{reward.name}`", reward)
    check_reward_vouchers(ctx, p)
    pw = p.pay_with_points
    if pw is not None:
        ctx.count(pw.points, f"the {p.points_unit} in `pay with points`", ctx.span(pw, p), minimum=1)
        ctx.money(pw.money, "the money in `pay with points`", pw, positive=True)
        ctx.count(pw.minimum_balance, "the minimum balance", ctx.span(pw, p))
        if pw.max_share <= 0 or pw.max_share > 100:
            ctx.error(
                "RL202",
                f"`at most {pw.max_share}% of basket` is not between 0% and 100%",
                pw,
                "a percentage is at most 100%",
                p,
            )
    conv = p.conversion
    if conv is not None:
        ctx.count(conv.points, f"the {p.points_unit} per voucher", ctx.span(conv, p), minimum=1)
        ctx.money(conv.voucher, "the voucher", conv, positive=True)
        check_conversion(ctx, p)
