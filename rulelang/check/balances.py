"""Checks of a program's balances beside the points (`balance "qualifying_dollars" not redeemable`).

Takes: the `CheckContext` and the AST program. Gives: diagnostics (RL230-RL236), and
`rule_balance`, the balance a rule's awards go to (None: the points), which the compiler uses.

RL230 a balance not declared `not redeemable`; RL231 a balance name that cannot be one
(not a word, a reserved word, the points' word, a currency code, a tier measure, a counter,
declared twice); RL232 a rule whose awards go to two balances (or a balance and the points);
RL233 an action or modifier a rule that awards a balance cannot have (multiply, discount, perk,
cashback, budget); RL234 an expiry a balance cannot have (after earning, inactivity); RL235 a
balance spent (rewards, pay with, convert); RL236 a unit word that is neither the points' nor a
declared balance's (in an expiry or a redemption).
"""

from __future__ import annotations

import re

from rulelang.syntax import ast
from rulelang.syntax.balances import balance_named
from rulelang.check.base import CheckContext
from rulelang.check.scope import TIER_METRICS
from rulelang.diagnostics import did_you_mean
from rulelang.vocabulary import RESERVED_WORDS, singular, unit_words

__all__ = ["check_balances", "rule_balance", "balance_words"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")


def balance_words(p: ast.Program) -> frozenset[str]:
    """Every word that names a declared balance (its name and its singular)."""
    return frozenset(w for b in p.balances for w in (b.name, singular(b.name)))


def rule_balance(rule: ast.EarnRule, balances: tuple[ast.Balance, ...]) -> str | None:
    """The balance a rule's awards go to: the first award that names one; None: the points."""
    for a in rule.actions:
        if isinstance(a, ast.Award):
            name = balance_named(a.unit, balances)
            if name is not None:
                return name
    return None


def check_balances(ctx: CheckContext, p: ast.Program) -> None:
    """Every RL23x check of the module docstring."""
    _declarations(ctx, p)
    for rule in p.rules:
        _rule(ctx, p, rule)
    for exp in p.expiry:
        _expiry(ctx, p, exp)
    for reward in p.rewards:
        _spent(ctx, p, reward.unit, reward, f"reward `{reward.name}`", f"price {reward.price} {p.points_unit}")
    if p.pay_with_points is not None:
        _spent(ctx, p, p.pay_with_points.unit, p.pay_with_points, "`pay with`", "pay with points { ... }")
    if p.conversion is not None:
        c = p.conversion
        _spent(ctx, p, c.unit, c, "`convert`", f"convert every {c.points} {p.points_unit} into ...")


def _declarations(ctx: CheckContext, p: ast.Program) -> None:
    ctx.duplicates(p.balances, "balance")
    points = unit_words(p.points_unit)
    for b in p.balances:
        if b.redeemable:
            ctx.error("RL230", f"balance `{b.name}` would be redeemable, but only the points (`{p.points_unit}`) can be spent",
                      b, f'write `balance "{b.name}" not redeemable` (rewards, `pay with` and `convert` spend '
                      f'{p.points_unit})', p)
        problem = None
        if not _NAME.fullmatch(b.name):
            problem = "must be one word of letters, digits and `_`", "e.g. `qualifying_dollars`"
        elif b.name in RESERVED_WORDS or b.name in points or singular(b.name) in points:
            problem = (f"is {'the points word' if b.name in points or singular(b.name) in points else 'a reserved word'}",
                       "give it a word of its own, e.g. `status_points`")
        elif _CURRENCY_CODE.fullmatch(b.name) or _CURRENCY_CODE.fullmatch(singular(b.name)):
            problem = ("reads as a currency code: `award 1 " + singular(b.name) + " per 1 USD` would be money",
                       "write it as a word, e.g. `qualifying_dollars`")
        elif b.name in TIER_METRICS or b.name in ctx.scope.counters:
            problem = ("is already a tier measure" if b.name in TIER_METRICS else "is already a counter",
                       "give the balance another word")
        if problem is not None:
            ctx.error("RL231", f"the balance name `{b.name}` {problem[0]}", b, problem[1], p)


def _rule(ctx: CheckContext, p: ast.Program, rule: ast.EarnRule) -> None:
    target = rule_balance(rule, p.balances)
    if target is None:
        return
    for a in rule.actions:
        if isinstance(a, ast.Award):
            name = balance_named(a.unit, p.balances)
            if name != target and a.unit in ctx.scope.units:
                ctx.error("RL232", f"rule `{rule.name}` awards both {target} and `{a.unit}`", a,
                          f"split it: one rule per balance, e.g. `earn {rule.name}_{name or 'points'} on {rule.event} {{ ... }}`",
                          rule)
        else:
            what = {ast.Multiply: "`multiply`", ast.Discount: "a discount", ast.Perk: "a perk",
                    ast.Cashback: "a cashback"}[type(a)]
            ctx.error("RL233", f"rule `{rule.name}` awards {target}, so it cannot give {what}", a,
                      f"write a rate instead (`award 2 {singular(target)} per 1 {p.currency}`), or move {what} to a rule "
                      f"that awards {p.points_unit}", rule)
    if rule.budget is not None:
        ctx.error("RL233", f"rule `{rule.name}` awards {target}, which costs nothing: it cannot have a budget",
                  rule.budget, "remove the budget, or cap it: `cap N " + target + " per customer per year`", rule)


def _expiry(ctx: CheckContext, p: ast.Program, exp: ast.Expiry) -> None:
    if exp.unit is None:
        return
    name = balance_named(exp.unit, p.balances)
    if name is None:
        _unknown(ctx, p, exp.unit, exp, "`expire`")
        return
    if exp.kind in ("after_earning", "inactivity"):
        ctx.error("RL234", f"balance `{name}` can only expire all at once, on a date", exp,
                  f"write `expire {name} yearly on 01-01` (each year) or `expire {name} on 2028-01-01`; "
                  "without an `expire` it never expires", p)


def _spent(ctx: CheckContext, p: ast.Program, unit: str | None, node: object, what: str, example: str) -> None:
    if unit is None:
        return
    name = balance_named(unit, p.balances)
    if name is None:
        _unknown(ctx, p, unit, node, what)
        return
    ctx.error("RL235", f"{what} spends {name}, but balance `{name}` is not redeemable", node,
              f"only the points are spent: write `{example}`", p)


def _unknown(ctx: CheckContext, p: ast.Program, unit: str, node: object, what: str) -> None:
    words = sorted(unit_words(p.points_unit) | balance_words(p))
    ctx.error("RL236", f"unknown unit `{unit}` in {what}; this program's balances are "
              + ", ".join(f"`{w}`" for w in [p.points_unit] + [b.name for b in p.balances]),
              node, did_you_mean(unit, words) or f"write `{p.points_unit}`", p)
