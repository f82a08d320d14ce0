"""Program-wide warnings: rules that shadow each other, double earning, liability, returns.

Takes: a `CheckContext` (with the rules' resolved conditions) and the `ast.Program`.
Gives: warnings in the context's bag:
RL302 a rule of an exclusive group that can never fire because an earlier rule of the
group always fires first; RL303 two rules that can both award points on the same event
at the same priority outside one exclusive group; RL304 points awarded with no expiry and
no cap anywhere; RL305 purchases earn points but returns do not reverse them, or a rule
`on return` awards points.
"""

from __future__ import annotations

import datetime as dt

from rulelang.syntax import ast
from rulelang import ir
from rulelang.check.base import CheckContext
from rulelang.check.fold import both_possible
from rulelang.vocabulary import singular


def check_warnings(ctx: CheckContext, p: ast.Program) -> None:
    _group_shadowing(ctx, p)
    _double_earn(ctx, p)
    _liability(ctx, p)
    _returns(ctx, p)


def _eval_order(p: ast.Program) -> list[int]:
    return sorted(range(len(p.rules)), key=lambda i: (-_int(p.rules[i].priority), i))


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _always_fires(rule: ast.EarnRule) -> bool:
    """True when the rule fires on every event of its kind (nothing can make it skip)."""
    return (
        rule.condition is None
        and rule.window is None
        and not rule.caps
        and rule.budget is None
        and rule.every_nth is None
        and rule.streak is None
    )


def _group_shadowing(ctx: CheckContext, p: ast.Program) -> None:
    first_always: dict[tuple[str, str], ast.EarnRule] = {}
    for i in _eval_order(p):
        rule = p.rules[i]
        if rule.group is None:
            continue
        key = (rule.group, rule.event)
        winner = first_always.get(key)
        if winner is not None:
            ctx.warning(
                "RL302",
                f"rule `{rule.name}` can never fire: rule `{winner.name}` of group \"{rule.group}\" "
                f"always fires first on `{rule.event}` events",
                rule,
                f"give `{rule.name}` a higher priority, or add a condition to `{winner.name}`",
                p,
            )
        elif _always_fires(rule):
            first_always[key] = rule


def _award_kinds(rule: ast.EarnRule, unit: str = "points") -> set[str]:
    """What kinds of points a rule awards: "rate" (per amount / cashback) or "fixed:<recipient>"."""
    kinds: set[str] = set()
    for a in rule.actions:
        if isinstance(a, ast.Award) and a.points > 0:
            kind = "rate" if a.per is not None else f"fixed:{a.to}"
            # awards to a balance beside the points only overlap awards to that balance
            kinds.add(kind if singular(a.unit) == singular(unit) or a.unit in ("points", "point") else f"{singular(a.unit)}:{kind}")
        elif isinstance(a, ast.Cashback) and a.percent > 0:
            kinds.add("rate")
    return kinds


def _overlap(a: ast.EarnRule, b: ast.EarnRule) -> tuple[dt.date, dt.date] | None | bool:
    """The common campaign window of two rules: None for 'always', False if they never overlap."""
    if a.window is None and b.window is None:
        return None
    windows = [w for w in (a.window, b.window) if w is not None]
    start = max(w.start for w in windows)
    end = min(w.end for w in windows)
    return (start, end) if start <= end else False


def _required_values(expr: ir.Expr | None) -> dict[str, frozenset[object]]:
    """Fields the condition pins to a set of values at its top level (`category == "tea"`,
    `weekday in [sat, sun]`): a quick way to see that two conditions exclude each other."""
    out: dict[str, frozenset[object]] = {}
    items = expr.items if isinstance(expr, ir.And) else (expr,) if expr is not None else ()
    for item in items:
        values: frozenset[object] | None = None
        if isinstance(item, ir.Cmp) and item.op == "==" and isinstance(item.left, ir.Field) and isinstance(item.right, ir.Const):
            values, name = frozenset({item.right.value}), item.left.name
        elif isinstance(item, ir.InSet) and not item.negated and isinstance(item.left, ir.Field):
            values, name = frozenset(item.values), item.left.name
        if values is not None:
            out[name] = out[name] & values if name in out else values
    return out


def _exclusive(a: dict[str, frozenset[object]], b: dict[str, frozenset[object]]) -> bool:
    return any(not (values & b[name]) for name, values in a.items() if name in b)


class _PinnedIndex:
    """The earlier rules of one bucket, indexed by the values their conditions pin, so that a rule
    is compared only with the earlier rules its own pinned values do not exclude (near-linear in
    the number of rules instead of every pair)."""

    def __init__(self) -> None:
        self.count = 0
        self.by_value: dict[str, dict[object, list[int]]] = {}  # field -> value -> positions pinning it
        self.not_pinning: dict[str, list[int]] = {}  # field -> positions whose condition leaves it free

    def candidates(self, pins: dict[str, frozenset[object]]) -> list[int]:
        """Positions, in order, of the earlier rules not excluded by one of `pins`' fields."""
        best: list[int] | None = None
        for name, values in pins.items():
            if name not in self.not_pinning:
                continue  # no earlier rule pins this field: it excludes none of them
            found = set(self.not_pinning[name])
            table = self.by_value[name]
            for value in values:
                found.update(table.get(value, ()))
            if best is None or len(found) < len(best):
                best = sorted(found)
        return best if best is not None else list(range(self.count))

    def add(self, pins: dict[str, frozenset[object]]) -> None:
        position = self.count
        self.count += 1
        for name in pins:
            if name not in self.not_pinning:
                self.not_pinning[name] = list(range(position))
                self.by_value[name] = {}
            for value in pins[name]:
                self.by_value[name].setdefault(value, []).append(position)
        for name, free in self.not_pinning.items():
            if name not in pins:
                free.append(position)


def _double_earn(ctx: CheckContext, p: ast.Program) -> None:
    tier_count = len(ctx.scope.tiers)
    required = {i: _required_values(c) for i, c in ctx.conditions.items()}
    kinds = {i: _award_kinds(p.rules[i], p.points_unit) for i in ctx.conditions}
    buckets: dict[tuple[str, int], list[int]] = {}
    for i in _eval_order(p):
        if i in ctx.conditions and kinds[i]:
            rule = p.rules[i]
            buckets.setdefault((rule.event, _int(rule.priority)), []).append(i)
    for indices in buckets.values():
        index = _PinnedIndex()
        for j in indices:
            later = p.rules[j]
            for position in index.candidates(required[j]):
                i = indices[position]
                earlier = p.rules[i]
                if earlier.group is not None and earlier.group == later.group:
                    continue
                if not (kinds[i] & kinds[j]):
                    continue
                if _exclusive(required[i], required[j]):
                    continue
                window = _overlap(earlier, later)
                if window is False:
                    continue
                if not both_possible(ctx.conditions[i], ctx.conditions[j], window or None, tier_count):
                    continue
                ctx.warning(
                    "RL303",
                    f"rules `{earlier.name}` and `{later.name}` can both award {ctx.unit} on the same "
                    f"`{later.event}` event (possible double earn)",
                    later,
                    "if only one should apply, give both the same exclusive `group \"...\"`; "
                    "if both should, give them different priorities",
                    p,
                )
                break  # one warning per rule is enough
            index.add(required[j])


def _awards_points(p: ast.Program) -> bool:
    return any(
        isinstance(a, (ast.Award, ast.Cashback)) and (a.points if isinstance(a, ast.Award) else a.percent) > 0
        for r in p.rules
        for a in r.actions
    )


def _liability(ctx: CheckContext, p: ast.Program) -> None:
    if not _awards_points(p) or p.expiry:
        return
    if any(any(c.unit == "points" for c in r.caps) or r.budget is not None for r in p.rules):
        return
    ctx.warning(
        "RL304",
        f"{ctx.unit} are awarded but never expire and no rule has a cap or budget: the liability has no bound",
        p,
        f"add an expiry, e.g. `expire {ctx.unit} 12 months after earning`, or a cap on the big rules",
    )


def _returns(ctx: CheckContext, p: ast.Program) -> None:
    purchase_points = any(
        r.event == "purchase" and any(isinstance(a, (ast.Award, ast.Cashback, ast.Multiply)) for a in r.actions)
        for r in p.rules
    )
    reverses = p.returns is not None and p.returns.reverse
    if purchase_points and not reverses:
        node = p.returns if p.returns is not None else p
        ctx.warning(
            "RL305",
            f"purchases earn {ctx.unit}, but returned purchases keep them",
            node,
            f"add `returns reverse earned {ctx.unit}; negative balance forbidden`",
            p,
        )
    for rule in p.rules:
        if rule.event != "return":
            continue
        for a in rule.actions:
            if (isinstance(a, ast.Award) and a.points > 0) or isinstance(a, (ast.Cashback, ast.Multiply)):
                ctx.warning(
                    "RL305",
                    f"rule `{rule.name}` gives {ctx.unit} for a return instead of taking them back",
                    a,
                    f"to take back what a purchase earned use `returns reverse earned {ctx.unit}`",
                    rule,
                )
                break
