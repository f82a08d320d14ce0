"""Earn rules on one event: steps 2-9 of docs/semantics.md §4.2, for the reference interpreter.

Takes: the running state of one customer (`rulelang.run.state.RunState`), the event, the
values its conditions read (as of before the event) and the event's amount in cents.
Gives: an `EarnOutcome` — one `RuleTrace` per candidate rule (fired with its
points and how they were worked out, or the reason it did not fire), the
points earned, the net amount after discounts; and, as side effects on the
state, the lots created, discount and perk costs booked, cap / limit / budget /
every-Nth / streak counters advanced.

One function per step, named as in the vectorized engine (`simulator.engine.program_arm`,
`ProgramArm`'s methods of the same names), each with its step number in its docstring:
`candidates` (2), `skips` (3), `discounts` (4), the point sources of `rulelang.ir.POINT_SOURCES`
through `SOURCE_STEPS`: `rate_awards` and `quantity_awards` (5), `tier_multiplier` and `rule_multipliers` (6),
`fixed_awards` (7); then `caps_and_budget` (8) and `book_lots` (9). Steps 10-11
(`counters_and_metrics`, `upgrade`) are the interpreter's (`rulelang.run.interpreter`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping

from rulelang import ir
from rulelang.run.calendar import ordinal, period_index, period_key
from rulelang.run.conditions import holds, money, number, why_false
from rulelang.run.ledger import Entry
from rulelang.run.state import Event, RunState
from rulelang.run.trace import RuleTrace
from rulelang.vocabulary import plural, singular


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
    balances: Mapping[str, int] = field(default_factory=dict)  # what the event earned of each balance beside the points


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


@dataclass
class _Work:
    """One event while its rules are evaluated: what each step leaves for the next."""

    run: RunState
    ev: Event
    values: Mapping[str, object]
    amount: int
    candidates: list[ir.Rule] = field(default_factory=list)
    firing: list[_Firing] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    tier: ir.Tier | None = None
    tier_discount: int = 0
    total_discount: int = 0
    net: int = 0
    total_raw: Fraction = Fraction(0)  # R of step 6
    product: Fraction = Fraction(1)  # m1 × … × mj so far (`multipliers multiply`)
    tier_bonus: int = 0
    tier_detail: str = ""

    @property
    def category(self) -> object:
        return self.values.get("category")


def _skip_reason(run: RunState, rule: ir.Rule, ev: Event, values: Mapping[str, object],
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
                streak_reason = (f"streak {streak.length} {plural(streak.period)}: completed this "
                                 f"{streak.period} already")
            else:
                streak_reason = f"streak {streak.length} {plural(streak.period)}: {length} of {streak.length}"
        else:
            length = length + 1 if last is not None and index == last + 1 else 1
            if length >= streak.length:
                length = 0  # completed: the next streak starts from scratch
            else:
                streak_reason = f"streak {streak.length} {plural(streak.period)}: {length} of {streak.length}"
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


def _used(run: RunState, rule: ir.Rule, index: int, cap: ir.Cap, day: dt.date) -> int:
    key = period_key(cap.period, day)
    stored = run.cap_usage.get((rule.name, index))
    return stored[1] if stored is not None and stored[0] == key else 0


def _add_usage(run: RunState, rule: ir.Rule, index: int, cap: ir.Cap, day: dt.date, amount: int) -> None:
    run.cap_usage[(rule.name, index)] = (period_key(cap.period, day), _used(run, rule, index, cap, day) + amount)


def evaluate_rules(run: RunState, ev: Event, values: Mapping[str, object], amount: int) -> EarnOutcome:
    """Steps 2-9 for one event (see the module docstring)."""
    work = _Work(run, ev, values, amount, candidates(run, ev))
    skips(work)
    discounts(work)
    for _source, step in ir.in_source_order(SOURCE_STEPS, "the reference interpreter (rulelang.run.earning)"):
        step(work)
    caps_and_budget(work)
    return book_lots(work)


def candidates(run: RunState, ev: Event) -> list[ir.Rule]:
    """§4.2 step 2: the rules on this event, by priority (higher first), then source order."""
    return [r for r in run.rules if r.event == ev.kind]


def skips(w: _Work) -> None:
    """§4.2 step 3: each candidate, in order, fires or is skipped with a reason."""
    groups: dict[str, str] = {}
    for rule in w.candidates:
        reason = _skip_reason(w.run, rule, w.ev, w.values, groups)
        if reason is not None:
            w.reasons[rule.name] = reason
            continue
        if rule.group is not None:
            groups[rule.group] = rule.name
        w.firing.append(_Firing(rule))


def discounts(w: _Work) -> None:
    """§4.2 step 4: discounts of firing rules, then the tier's; capped at amount - shipping.
    The net base is then known."""
    run, amount, cur = w.run, w.amount, w.run.p.currency
    shipping = w.values.get("shipping") if w.ev.kind == "purchase" else 0
    shipping = shipping if isinstance(shipping, int) else 0
    goods = max(amount - shipping, 0)
    room = goods
    for f in w.firing:
        for action in f.rule.actions:
            if isinstance(action, ir.DiscountAction):
                base = _line_base(w, action.base, action.excluding, before_discounts=True, only=action.only)
                if action.percent is not None:
                    wanted = round_points(action.percent * base / 100, f.rule.rounding)
                else:
                    wanted = min(action.fixed_cents or 0, base)
                given = max(min(wanted, room), 0)
                room -= given
                f.discount += given
                f.details.append(f"discount {money(given, cur)}")
    w.tier = tier = run.current_tier()
    if tier is not None and tier.discount_percent and w.ev.kind == "purchase":
        w.tier_discount = max(min(round_points(tier.discount_percent * goods / 100, run.p.rounding), room), 0)
        room -= w.tier_discount
    w.total_discount = goods - room
    w.net = goods - w.total_discount


def _rate(w: _Work, action: ir.RateAward, rule: ir.Rule | None = None) -> Fraction:
    """The award's rate, or on a purchase the rate of the tier held when the tier sets one
    (`award 1.2 stars per 1 USD` in the tier: the checker makes every purchase rate award
    of the points share one rate, which the tier's replaces; a rule that awards a balance
    beside the points keeps its own rate)."""
    if rule is not None and rule.balance is not None:
        return action.rate
    if w.tier is not None and w.tier.rate is not None and w.ev.kind == "purchase":
        return w.tier.rate
    return action.rate


def rate_awards(w: _Work) -> None:
    """§4.2 step 5 (point source `ir.RATE_AWARD`): raw = rate × base cents, exact (the tier's
    rate where it sets one); each firing rule's points round(raw) by its mode; R = the sum of
    the raw points."""
    net, amount, cur, category = w.net, w.amount, w.run.p.currency, w.category
    for f in w.firing:
        for action in f.rule.actions:
            if isinstance(action, ir.RateAward):
                f.raw += _rate(w, action, f.rule) * _line_base(w, action.base, action.excluding, only=action.only)
    # R: the points' raw awards only; a rule that awards a balance beside the points is not multiplied
    w.total_raw = sum((f.raw for f in w.firing if f.rule.balance is None), Fraction(0))
    for f in w.firing:
        rates = [a for a in f.rule.actions if isinstance(a, ir.RateAward)]
        if rates:
            f.points = round_points(f.raw, f.rule.rounding)
            terms = " + ".join(
                _lines_text(w, a.excluding, money(_line_base(w, a.base, a.excluding, only=a.only), cur), a.only)
                + f" x {number(_rate(w, a, f.rule) * 100)} per {cur}"
                + (f" (tier {w.tier.name}'s rate)" if _rate(w, a, f.rule) is not a.rate else "")
                if w.ev.lines or a.only is not None else
                f"category {w.run.fmt.value(category)} excluded" if category in a.excluding else
                f"{money(net if a.base == 'net' else amount, cur)} x {number(_rate(w, a, f.rule) * 100)} per {cur}"
                + (f" (tier {w.tier.name}'s rate)" if _rate(w, a, f.rule) is not a.rate else "")
                for a in rates)
            f.details.append(f"{terms} = {number(f.raw)} -> {f.points} (round {f.rule.rounding})")


def quantity_awards(w: _Work) -> None:
    """§4.2 step 5 (point source `ir.QUANTITY_AWARD`): raw = rate × the purchase's `quantity`,
    exact, added to the rule's raw points of `rate_awards` (its points are round(raw) of the
    sum) and to R."""
    quantity = w.values.get("quantity")
    quantity = quantity if isinstance(quantity, (int, Fraction)) and not isinstance(quantity, bool) else 0
    category = w.category
    for f in w.firing:
        awards = [a for a in f.rule.actions if isinstance(a, ir.QuantityAward)]
        if not awards:
            continue
        raw = sum((a.rate * _line_quantity(w, a.excluding, a.only) for a in awards), Fraction(0))
        f.raw += raw
        if f.rule.balance is None:
            w.total_raw += raw
        f.points = round_points(f.raw, f.rule.rounding)
        terms = " + ".join(
            _lines_text(w, a.excluding, f"{_line_quantity(w, a.excluding, a.only)} {a.unit}", a.only)
            + f" x {number(a.rate)} per {singular(a.unit)}"
            if w.ev.lines or a.only is not None else
            f"category {w.run.fmt.value(category)} excluded" if category in a.excluding else
            f"{number(Fraction(quantity))} {a.unit} x {number(a.rate)} per {singular(a.unit)}"
            for a in awards)
        f.details.append(f"{terms} = {number(raw)} -> {f.points} (round {f.rule.rounding})")


def _bonus(w: _Work, factor: Fraction, mode: str, only: frozenset[str] | None = None) -> tuple[int, str]:
    """Multiplier j's bonus: round(R × m1×…×m(j−1) × (mj − 1)) when multipliers multiply,
    round(R × (mj − 1)) when they add; the product moves on to include mj. With `in category`
    (`only`), R is what the rate awards award on the lines of those categories (§3.1)."""
    multiply = w.run.p.stacking == "multiply"
    base = w.total_raw if only is None else _raw_on(w, only)
    exact = base * (w.product if multiply else 1) * (factor - 1)
    bonus = round_points(exact, mode)
    if multiply:
        w.product *= factor
    on = "" if only is None else " of the lines in " + ", ".join(w.run.fmt.value(c) for c in sorted(only))
    return bonus, f"{number(factor)}x on {number(base)}{on}: bonus {number(exact)} -> {bonus} (round {mode})"


def _raw_on(w: _Work, only: frozenset[str]) -> Fraction:
    """R on the lines of the categories `only`: the firing rules' rate awards and awards per
    quantity, each on those of its lines that are in `only`."""
    total = Fraction(0)
    for f in w.firing:
        if f.rule.balance is not None:  # a balance beside the points is not multiplied
            continue
        for a in f.rule.actions:
            if isinstance(a, ir.RateAward):
                total += _rate(w, a) * _line_base(w, a.base, a.excluding, only=_meet(a.only, only))
            elif isinstance(a, ir.QuantityAward):
                total += a.rate * _line_quantity(w, a.excluding, _meet(a.only, only))
    return total


def _meet(a: frozenset[str] | None, b: frozenset[str]) -> frozenset[str]:
    return b if a is None else a & b


def tier_multiplier(w: _Work) -> None:
    """§4.2 step 6 (point source `ir.TIER_MULTIPLIER`): the tier's multiplier is m1, its
    bonus rounded by the program's mode and booked to `tier <name>`."""
    if w.tier is not None and w.tier.multiplier is not None:
        w.tier_bonus, w.tier_detail = _bonus(w, w.tier.multiplier, w.run.p.rounding)


def rule_multipliers(w: _Work) -> None:
    """§4.2 step 6 (point source `ir.RULE_MULTIPLIER`): firing rules' multipliers, in
    candidate order after the tier's, each bonus rounded by its rule's mode."""
    for f in w.firing:
        for action in f.rule.actions:
            if isinstance(action, ir.Multiplier):
                bonus, text = _bonus(w, action.factor, f.rule.rounding, action.only)
                f.points += bonus
                f.details.append(text)


def fixed_awards(w: _Work) -> None:
    """§4.2 step 7 (point source `ir.FIXED_AWARD`): fixed awards add their points (referral
    sides: only the side the event's role names); perks granted are costed in the same pass,
    so the trace lists them as written. A rule's points are never negative."""
    role = w.values.get("role")
    cur = w.run.p.currency
    for f in w.firing:
        for action in f.rule.actions:
            if isinstance(action, ir.FixedAward) and (action.to == "customer" or action.to == role):
                f.points += action.points
                f.details.append(f"{action.points} fixed" + (f" to {action.to}" if action.to != "customer" else ""))
            elif isinstance(action, ir.PerkAction):
                f.perk_cents += action.cost_cents
                f.details.append(f"perk {action.name} costs {money(action.cost_cents, cur)}")
        f.points = max(f.points, 0)


# ---------------------------------------------------------------- lines (docs/semantics.md §3.1)


def _lines(w: _Work) -> list[tuple[int, object, int]]:
    """(amount cents, category, quantity) of each line; a purchase without lines (and any other
    event) is one line: its amount less shipping, its category and quantity."""
    if w.ev.lines:
        return [(line.amount_cents, line.category, line.quantity) for line in w.ev.lines]
    quantity = w.values.get("quantity")
    quantity = int(quantity) if isinstance(quantity, (int, Fraction)) and not isinstance(quantity, bool) else 0
    return [(_goods(w), w.category, quantity)]


def _goods(w: _Work) -> int:
    shipping = w.values.get("shipping") if w.ev.kind == "purchase" else 0
    return max(w.amount - (shipping if isinstance(shipping, int) else 0), 0)


def shares(total: int, weights: list[int]) -> list[int]:
    """`total` cents split over lines in proportion to `weights`, in whole cents that sum to
    `total`: line j gets floor(total × W_j / W) − floor(total × W_(j−1) / W), W_j the running sum of
    the weights; with all weights 0, the last line gets it all."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * (len(weights) - 1) + [total]
    out, before, running = [], 0, 0
    for weight in weights:
        running += weight
        upto = total * running // whole
        out.append(upto - before)
        before = upto
    return out


def _counted(cat: object, excluding: frozenset[str], only: frozenset[str] | None) -> bool:
    """Whether a line of category `cat` counts: not excluded, and in `only` when it is given."""
    return cat not in excluding and (only is None or cat in only)


def _line_base(w: _Work, base: str, excluding: frozenset[str], before_discounts: bool = False,
               only: frozenset[str] | None = None) -> int:
    """The money base of an award or discount: the sum over the lines whose category is not
    excluded of the line's net amount (its amount less its share of the discounts) or gross
    amount (its amount plus its share of the shipping)."""
    lines = _lines(w)
    amounts = [a for a, _, _ in lines]
    if base == "gross":
        parts = [a + s for a, s in zip(amounts, shares(w.amount - _goods(w), amounts))]
    elif before_discounts:
        parts = amounts
    else:
        parts = [a - d for a, d in zip(amounts, shares(w.total_discount, amounts))]
    return sum(v for v, (_, cat, _) in zip(parts, lines) if _counted(cat, excluding, only))


def _line_quantity(w: _Work, excluding: frozenset[str], only: frozenset[str] | None = None) -> int:
    """The quantity over the lines that count (not excluded; in `only` when given)."""
    return sum(q for _, cat, q in _lines(w) if _counted(cat, excluding, only))


def _lines_text(w: _Work, excluding: frozenset[str], what: str, only: frozenset[str] | None = None) -> str:
    """`12.00 EUR on 2 of 3 lines` for a trace."""
    lines = _lines(w)
    counted = sum(1 for _, cat, _ in lines if _counted(cat, excluding, only))
    return f"{what} on {counted} of {len(lines)} lines"


SOURCE_STEPS: dict[ir.PointSource, Callable[[_Work], None]] = {
    ir.RATE_AWARD: rate_awards,
    ir.QUANTITY_AWARD: quantity_awards,
    ir.TIER_MULTIPLIER: tier_multiplier,
    ir.RULE_MULTIPLIER: rule_multipliers,
    ir.FIXED_AWARD: fixed_awards,
}


def caps_and_budget(w: _Work) -> None:
    """§4.2 step 8: each firing rule's points cut to what its caps leave, then to what its
    global budget leaves."""
    run, day = w.run, w.ev.date
    point_cost = run.p.point_cost_cents
    for f in w.firing:
        rule = f.rule
        unit = rule.balance or run.p.points_unit
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


def book_lots(w: _Work) -> EarnOutcome:
    """§4.2 step 9: book the fired rules — their lots (and the tier bonus's), discounts and
    perks; the counters of caps, limits and budgets."""
    run, ev, p, day, cur = w.run, w.ev, w.run.p, w.ev.date, w.run.p.currency
    point_cost = p.point_cost_cents
    traces: dict[str, RuleTrace] = {}
    earned = 0
    balances: dict[str, int] = {}
    pending_until = day + dt.timedelta(days=p.pending_days)
    for f in w.firing:
        rule = f.rule
        gives_money = any(isinstance(a, ir.MONEY_ACTIONS) for a in rule.actions)
        if f.cut is not None and f.points == 0 and not gives_money:
            w.reasons[rule.name] = f.cut
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
                run.book_perk(day, action.name, action.cost_cents, f"granted by {rule.name}")
        if f.points > 0 and rule.balance is not None:
            run.books[rule.balance].earn(f.points, ev.id if ev.kind == "purchase" else None)
            balances[rule.balance] = balances.get(rule.balance, 0) + f.points
        elif f.points > 0:
            run.ledger.earn(rule.name, ev.id, day, pending_until, f.points)
            run.points_by_rule[rule.name] = run.points_by_rule.get(rule.name, 0) + f.points
            earned += f.points
        traces[rule.name] = RuleTrace(rule.name, True, f.points, None, "; ".join(f.details) or None, rule.balance)
    tier, tier_discount, tier_bonus = w.tier, w.tier_discount, w.tier_bonus
    if tier_discount:
        run.cents["discount"] += tier_discount
        run.ledger.book(Entry(day, "discount", 0, tier_discount, f"tier {tier.name}", None,  # type: ignore[union-attr]
                              f"{number(tier.discount_percent)}% tier discount"))  # type: ignore[union-attr]
    ordered = [traces.get(r.name) or RuleTrace(r.name, False, 0, w.reasons.get(r.name)) for r in w.candidates]
    if tier is not None and ((tier.multiplier is not None and w.total_raw) or tier_discount):
        label = f"tier {tier.name}"
        detail = "; ".join(x for x in (w.tier_detail, f"discount {money(tier_discount, cur)}" if tier_discount else "")
                           if x)
        if tier_bonus > 0:
            run.ledger.earn(label, ev.id, day, pending_until, tier_bonus)
            run.points_by_rule[label] = run.points_by_rule.get(label, 0) + tier_bonus
            earned += tier_bonus
        ordered.append(RuleTrace(label, True, max(tier_bonus, 0), None, detail or None))
    return EarnOutcome(tuple(ordered), earned, w.net, w.total_discount, balances=balances)
