"""Earn rules on one event: steps 2-9 of docs/semantics.md §4.2, for the reference interpreter.

Takes: the interpreter's running state of one customer (`interpreter._Run`), the
event, the values its conditions read (as of before the event) and the event's
amount in cents.
Gives: an `EarnOutcome` — one `RuleTrace` per candidate rule (fired with its
points and how they were worked out, or the reason it did not fire), the
points earned, the net amount after discounts; and, as side effects on the
state, the lots created, discount and perk costs booked, cap / limit / budget /
every-Nth / streak counters advanced.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Mapping

from rulelang import ir
from rulelang.run.calendar import ordinal, period_index, period_key
from rulelang.run.conditions import holds, money, number, why_false
from rulelang.run.ledger import Entry
from rulelang.run.trace import RuleTrace

if TYPE_CHECKING:  # pragma: no cover - typing only
    from rulelang.run.interpreter import Event, _Run


def round_points(x: Fraction, mode: str) -> int:
    """down = floor, up = ceiling, nearest = floor(x + 1/2)."""
    if mode == "up":
        return math.ceil(x)
    if mode == "nearest":
        return math.floor(x + Fraction(1, 2))
    return math.floor(x)


@dataclass(frozen=True)
class EarnOutcome:
    traces: tuple[RuleTrace, ...]
    points: int
    net_cents: int
    discount_cents: int
    notes: tuple[str, ...] = ()


@dataclass
class _Firing:
    """A rule that passed the skip checks, while its points are worked out."""

    rule: ir.Rule
    discount: int = 0
    perk_cents: int = 0
    raw: Fraction = Fraction(0)
    points: int = 0
    details: list[str] = field(default_factory=list)
    cut: str | None = None


def _plural(period: str) -> str:
    return period + "s"


def _skip_reason(run: "_Run", rule: ir.Rule, ev: "Event", values: Mapping[str, object],
                 groups: dict[str, str]) -> str | None:
    """Step 3: why this candidate does not fire, or None. Every-Nth counts and streak
    state advance for every matching event (in window, condition true, side matches)."""
    day = ev.date
    if (rule.start is not None and day < rule.start) or (rule.end is not None and day > rule.end):
        return f"outside campaign window {rule.start or ''}..{rule.end or ''}"
    if rule.condition is not None and not holds(rule.condition, values.get):
        return "condition false: " + why_false(rule.condition, values.get, run.fmt)
    sided = [a for a in rule.actions if isinstance(a, ir.FixedAward) and a.to != "customer"]
    sides = {a.to for a in sided}
    if sided and len(sided) == len(rule.actions) and values.get("role") not in sides:
        sides_text = " and ".join(sorted(sides))
        return f"awards only the {sides_text}; this event's role is {values.get('role') or 'not given'}"
    nth_reason = streak_reason = None
    if rule.every_nth:
        start = run.customer.purchases if rule.event == "purchase" else 0
        count = run.nth_counts.get(rule.name, start) + 1
        run.nth_counts[rule.name] = count
        if count % rule.every_nth:
            nth_reason = f"every {ordinal(rule.every_nth)} {rule.event}: this is number {count}"
    if rule.streak is not None:
        streak = rule.streak
        index = period_index(streak.period, day)
        last, length = run.streaks.get(rule.name, (None, 0))
        if last == index:
            if length == 0:
                streak_reason = (f"streak {streak.length} {_plural(streak.period)}: completed this "
                                 f"{streak.period} already")
            else:
                streak_reason = f"streak {streak.length} {_plural(streak.period)}: {length} of {streak.length}"
        else:
            length = length + 1 if last is not None and index == last + 1 else 1
            if length >= streak.length:
                length = 0  # completed: the next streak starts from scratch
            else:
                streak_reason = f"streak {streak.length} {_plural(streak.period)}: {length} of {streak.length}"
            run.streaks[rule.name] = (index, length)
    if rule.group is not None and rule.group in groups:
        return f'group "{rule.group}" already fired by {groups[rule.group]}'
    for i, cap in enumerate(rule.caps):
        if cap.unit == "times" and _used(run, rule, i, cap, day) >= cap.limit:
            return f"limit {cap.limit} per {cap.period} reached"
    if nth_reason:
        return nth_reason
    if streak_reason:
        return streak_reason
    left = run.budgets.left(rule)
    if left is not None and left <= 0:
        return "budget exhausted"
    return None


def _used(run: "_Run", rule: ir.Rule, index: int, cap: ir.Cap, day: dt.date) -> int:
    key = period_key(cap.period, day)
    stored = run.cap_usage.get((rule.name, index))
    return stored[1] if stored is not None and stored[0] == key else 0


def _add_usage(run: "_Run", rule: ir.Rule, index: int, cap: ir.Cap, day: dt.date, amount: int) -> None:
    run.cap_usage[(rule.name, index)] = (period_key(cap.period, day), _used(run, rule, index, cap, day) + amount)


def evaluate_rules(run: "_Run", ev: "Event", values: Mapping[str, object], amount: int) -> EarnOutcome:
    """Steps 2-9 for one event (see the module docstring)."""
    p = run.p
    day = ev.date
    cur = p.currency
    unit = p.points_unit
    category = values.get("category")
    candidates = [r for r in run.rules if r.event == ev.kind]

    # 2-3. candidates and skip reasons
    groups: dict[str, str] = {}
    reasons: dict[str, str] = {}
    firing: list[_Firing] = []
    for rule in candidates:
        reason = _skip_reason(run, rule, ev, values, groups)
        if reason is not None:
            reasons[rule.name] = reason
            continue
        if rule.group is not None:
            groups[rule.group] = rule.name
        firing.append(_Firing(rule))

    # 4. discounts of firing rules, then the tier's; capped at amount - shipping
    shipping = values.get("shipping") if ev.kind == "purchase" else 0
    shipping = shipping if isinstance(shipping, int) else 0
    goods = max(amount - shipping, 0)
    room = goods
    for f in firing:
        for action in f.rule.actions:
            if isinstance(action, ir.DiscountAction):
                base = 0 if category in action.excluding else (amount if action.base == "gross" else goods)
                if action.percent is not None:
                    wanted = round_points(action.percent * base / 100, f.rule.rounding)
                else:
                    wanted = min(action.fixed_cents or 0, base)
                given = max(min(wanted, room), 0)
                room -= given
                f.discount += given
                f.details.append(f"discount {money(given, cur)}")
    tier = run._current_tier()
    tier_discount = 0
    if tier is not None and tier.discount_percent and ev.kind == "purchase":
        tier_discount = max(min(round_points(tier.discount_percent * goods / 100, p.rounding), room), 0)
        room -= tier_discount
    total_discount = goods - room
    net = goods - total_discount

    # 5. rate awards
    for f in firing:
        for action in f.rule.actions:
            if isinstance(action, ir.RateAward):
                base = 0 if category in action.excluding else (net if action.base == "net" else amount)
                f.raw += action.rate * base
    total_raw = sum((f.raw for f in firing), Fraction(0))
    for f in firing:
        rates = [a for a in f.rule.actions if isinstance(a, ir.RateAward)]
        if rates:
            f.points = round_points(f.raw, f.rule.rounding)
            terms = " + ".join(
                f"category {run.fmt.value(category)} excluded" if category in a.excluding else
                f"{money(net if a.base == 'net' else amount, cur)} x {number(a.rate * 100)} per {cur}"
                for a in rates)
            f.details.append(f"{terms} = {number(f.raw)} -> {f.points} (round {f.rule.rounding})")

    # 6. multipliers: the tier's first, then firing rules' in candidate order
    multipliers: list[tuple[_Firing | None, Fraction, str]] = []
    if tier is not None and tier.multiplier is not None:
        multipliers.append((None, tier.multiplier, p.rounding))
    for f in firing:
        multipliers.extend((f, a.factor, f.rule.rounding) for a in f.rule.actions if isinstance(a, ir.Multiplier))
    product = Fraction(1)
    tier_bonus = 0
    tier_detail = ""
    for owner, factor, mode in multipliers:
        exact = total_raw * (product if p.stacking == "multiply" else 1) * (factor - 1)
        bonus = round_points(exact, mode)
        if p.stacking == "multiply":
            product *= factor
        text = f"{number(factor)}x on {number(total_raw)}: bonus {number(exact)} -> {bonus} (round {mode})"
        if owner is None:
            tier_bonus, tier_detail = bonus, text
        else:
            owner.points += bonus
            owner.details.append(text)

    # 7. fixed awards (referral sides: only the side the event's role names)
    role = values.get("role")
    for f in firing:
        for action in f.rule.actions:
            if isinstance(action, ir.FixedAward) and (action.to == "customer" or action.to == role):
                f.points += action.points
                f.details.append(f"{action.points} fixed" + (f" to {action.to}" if action.to != "customer" else ""))
            elif isinstance(action, ir.PerkAction):
                f.perk_cents += action.cost_cents
                f.details.append(f"perk {action.name} costs {money(action.cost_cents, cur)}")
        f.points = max(f.points, 0)

    # 8. caps, then the global budget
    point_cost = p.point_cost_cents
    for f in firing:
        rule = f.rule
        wanted = f.points
        for i, cap in enumerate(rule.caps):
            if cap.unit != "points":
                continue
            used = _used(run, rule, i, cap, day)
            allowed = max(cap.limit - used, 0)
            if f.points > allowed:
                f.points = allowed
                f.cut = f"cap {cap.limit} {unit} per {cap.period} reached ({used} used)"
        left = run.budgets.left(rule)
        if left is not None and rule.budget is not None:
            if rule.budget.points is not None:
                allowed = max(int(left), 0)
            elif point_cost > 0:
                allowed = math.floor(max(left - f.discount - f.perk_cents, 0) / point_cost)
            else:
                allowed = f.points
            if f.points > allowed:
                f.points = allowed
                f.cut = "budget exhausted" if allowed == 0 else f"budget: only {allowed} {unit} left"
        if f.points < wanted:
            f.details.append(f"cut from {wanted} to {f.points}: {f.cut}")

    # 9. book: fired rules, their discounts, perks, lots; counters of caps, limits and budgets
    traces: dict[str, RuleTrace] = {}
    earned = 0
    pending_until = day + dt.timedelta(days=p.pending_days)
    for f in firing:
        rule = f.rule
        gives_money = any(isinstance(a, (ir.DiscountAction, ir.PerkAction)) for a in rule.actions)
        if f.cut is not None and f.points == 0 and not gives_money:
            reasons[rule.name] = f.cut
            continue
        run.fired.add(rule.name)
        for i, cap in enumerate(rule.caps):
            _add_usage(run, rule, i, cap, day, f.points if cap.unit == "points" else 1)
        if rule.budget is not None:
            if rule.budget.points is not None:
                run.budgets.spend(rule, f.points)
            else:
                run.budgets.spend(rule, f.discount + f.perk_cents + f.points * point_cost)
        if f.discount:
            run.cents["discount"] += f.discount
            run.ledger.book(Entry(day, "discount", 0, f.discount, rule.name, None, "instant discount"))
        for action in rule.actions:
            if isinstance(action, ir.PerkAction):
                run._book_perk(day, action.name, action.cost_cents, f"granted by {rule.name}")
        if f.points > 0:
            run.ledger.earn(rule.name, ev.id, day, pending_until, f.points)
            run.points_by_rule[rule.name] = run.points_by_rule.get(rule.name, 0) + f.points
            earned += f.points
        traces[rule.name] = RuleTrace(rule.name, True, f.points, None, "; ".join(f.details) or None)
    if tier_discount:
        run.cents["discount"] += tier_discount
        run.ledger.book(Entry(day, "discount", 0, tier_discount, f"tier {tier.name}", None,  # type: ignore[union-attr]
                              f"{number(tier.discount_percent)}% tier discount"))  # type: ignore[union-attr]
    ordered = [traces.get(r.name) or RuleTrace(r.name, False, 0, reasons.get(r.name)) for r in candidates]
    if tier is not None and ((tier.multiplier is not None and total_raw) or tier_discount):
        label = f"tier {tier.name}"
        detail = "; ".join(x for x in (tier_detail, f"discount {money(tier_discount, cur)}" if tier_discount else "")
                           if x)
        if tier_bonus > 0:
            run.ledger.earn(label, ev.id, day, pending_until, tier_bonus)
            run.points_by_rule[label] = run.points_by_rule.get(label, 0) + tier_bonus
            earned += tier_bonus
        ordered.append(RuleTrace(label, True, max(tier_bonus, 0), None, detail or None))
    return EarnOutcome(tuple(ordered), earned, net, total_discount)
