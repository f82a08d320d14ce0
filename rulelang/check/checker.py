"""The checker: everything wrong with a parsed program, before it runs.

Takes: an `ast.SourceFile` (from the text parser or the YAML loader).
Gives: `check(sf) -> list[Diagnostic]`, every problem found (not only the first),
sorted by position. Errors: RL201 unknown name, RL202 type or value error, RL203 wrong
currency, RL204 duplicate name, RL205 field not available on the event, RL206 action not
valid for the event, RL301 (a decreasing tier threshold), RL302 (an impossible campaign window),
RL401 limits. Warnings: RL301 tier thresholds (equal, or a base tier above 0), RL302 rules or tiers that can never fire, RL303 possible double earn,
RL304 unbounded liability, RL305 returns not reversed. Calendar limits (RL422 dates, RL423 durations): `check_calendar`.

Passes: this module checks the header, declarations and earn rules; `check_tiers` the tiers,
expiry and redemption; `check_warnings` the program-wide warnings; `check_tests` the tests.
"""

from __future__ import annotations

import dataclasses

from rulelang.syntax import ast
from rulelang.check.status_rules import check_status_rules
from rulelang.syntax.nodes import UnhandledNode
from rulelang.check.base import CheckContext
from rulelang.check.calendar import check_calendar
from rulelang.check.expressions import ConditionResolver
from rulelang.check.fold import never_true
from rulelang.fields import FED_EVENTS, FIELD_BY_NAME
from rulelang.check.scope import TIER_METRICS, VALUE_TYPES, build_scope
from rulelang.check.program_tests import check_tests
from rulelang.check.tiers import check_lifecycle, check_tiers
from rulelang.check.balances import check_balances
from rulelang.check.line_attributes import check_line_attributes
from rulelang.check.program_warnings import check_warnings
from rulelang.syntax.slips import percent_hint
from rulelang.diagnostics import Diagnostic, DiagnosticBag, did_you_mean, sort_key

__all__ = ["check"]

from rulelang.check.number_limits import check_limits
from rulelang.limits import MAX_PERIODS, MAX_RULES


def check(sf: ast.SourceFile) -> list[Diagnostic]:
    """All diagnostics of a source file, errors and warnings, sorted by position."""
    bag = DiagnosticBag()
    ctx = CheckContext(sf=sf, scope=build_scope(sf.program), bag=bag)
    try:
        checked = _check_program(ctx, sf.program) if sf.program is not None else None
        check_tests(ctx)
        check_calendar(ctx, checked)
    except Exception as exc:  # noqa: BLE001 - a checker bug must not become a traceback for the user
        bag.error(
            "RL999",
            f"internal error while checking this file: {type(exc).__name__}: {exc}",
            ctx.file_span(),
            "this is a bug in the checker; please report it with the file",
        )
    return sorted(bag.items, key=sort_key)


def _check_program(ctx: CheckContext, p: ast.Program) -> ast.Program:
    """Checks the program; returns the part checked (the first MAX_RULES rules)."""
    _check_header(ctx, p)
    _check_declarations(ctx, p)
    if len(p.rules) > MAX_RULES:
        ctx.error(
            "RL401",
            f"the program has {len(p.rules)} rules; at most {MAX_RULES} are allowed",
            p.rules[MAX_RULES],
            "merge similar rules, e.g. with `in [...]` conditions",
            parent=p,
        )
        p = dataclasses.replace(p, rules=p.rules[:MAX_RULES])  # the rest is not checked
    ctx.duplicates(p.rules, "rule")
    for index, rule in enumerate(p.rules):
        _check_rule(ctx, p, index, rule)
    check_balances(ctx, p)
    check_tiers(ctx, p)
    check_status_rules(ctx, p)
    check_lifecycle(ctx, p)
    check_limits(ctx, p)
    check_warnings(ctx, p)
    return p


# ---------------------------------------------------------------- header and declarations


def _check_header(ctx: CheckContext, p: ast.Program) -> None:
    ctx.money(p.point_cost, "the point cost", p, fractional_cents=True)
    ctx.money(p.point_value, "the point value", p, positive=True, fractional_cents=True)
    ctx.count(p.pending_days, "the pending period (days)", p)


def _check_declarations(ctx: CheckContext, p: ast.Program) -> None:
    ctx.duplicates(p.events, "event")
    for ev in p.events:
        if ev.name in FED_EVENTS:
            ctx.error(
                "RL204",
                f"`{ev.name}` is a built-in event and cannot be declared again",
                ev,
                "give your event another name, e.g. `app_checkin`",
                parent=p,
            )
        ctx.duplicates(ev.fields, f"field of event `{ev.name}`")
        for f in ev.fields:
            _check_type(ctx, f, ev)
    ctx.duplicates(p.attributes, "attribute")
    for attr in p.attributes:
        _check_type(ctx, attr, p)
    check_line_attributes(ctx, p)
    ctx.duplicates(p.counters, "counter")
    for counter in p.counters:
        _check_counter(ctx, p, counter)


def _check_type(ctx: CheckContext, decl: ast.FieldDecl, parent: object) -> None:
    if decl.type not in VALUE_TYPES:
        ctx.error(
            "RL201",
            f"unknown type `{decl.type}` for `{decl.name}`",
            decl,
            did_you_mean(decl.type, VALUE_TYPES) or f"types are {', '.join(VALUE_TYPES)}",
            parent,
        )


def _check_event_name(ctx: CheckContext, event: str, node: object, parent: object) -> bool:
    if ctx.scope.is_event(event):
        return True
    ctx.error(
        "RL201",
        f"unknown event `{event}`",
        node,
        did_you_mean(event, ctx.scope.event_names)
        or f"events are {', '.join(ctx.scope.event_names)}; declare others with `event {event} {{ ... }}`",
        parent,
    )
    return False


def _check_counter(ctx: CheckContext, p: ast.Program, counter: ast.CounterDecl) -> None:
    if counter.name in TIER_METRICS:
        ctx.error(
            "RL204",
            f"`{counter.name}` is a built-in tier measure and cannot be a counter name",
            counter,
            f"call the counter something else, e.g. `{counter.name}_count`",
            p,
        )
    if not _check_event_name(ctx, counter.event, counter, p):
        return
    span = ctx.span(counter, p)
    if counter.condition is not None:
        ConditionResolver(ctx.scope, counter.event, ctx.bag, span).condition(counter.condition)
    if counter.sums is not None:
        fields = ctx.scope.fields_of(counter.event)
        typ = fields.get(counter.sums)
        if typ is None:
            elsewhere = ctx.scope.events_with_field(counter.sums)
            if elsewhere:
                ctx.error(
                    "RL205",
                    f"`{counter.sums}` is not available on `{counter.event}` events",
                    counter,
                    f"it exists on {', '.join(elsewhere)}",
                    p,
                )
            else:
                ctx.error(
                    "RL201",
                    f"unknown field `{counter.sums}` to sum",
                    counter,
                    did_you_mean(counter.sums, fields) or "a counter sums a number field, e.g. `sums items`",
                    p,
                )
        elif typ not in ("number", "money"):
            ctx.error(
                "RL202",
                f"a counter can only sum numbers or money, and `{counter.sums}` is neither",
                counter,
                "count the events instead: leave out `sums`",
                p,
            )


# ---------------------------------------------------------------- earn rules


def _check_rule(ctx: CheckContext, p: ast.Program, index: int, rule: ast.EarnRule) -> None:
    span = ctx.span(rule, p)
    known_event = _check_event_name(ctx, rule.event, rule, p)
    condition_ok = True
    resolved = None
    if known_event and rule.condition is not None:
        resolver = ConditionResolver(ctx.scope, rule.event, ctx.bag, span)
        resolved = resolver.condition(rule.condition)
        condition_ok = not resolver.failed
    if not rule.actions:
        ctx.error("RL206", f"rule `{rule.name}` has no action", rule, "add e.g. `award 10 points`", p)
    for action in rule.actions:
        _check_action(ctx, p, rule, action, known_event)
    window_ok = _check_modifiers(ctx, rule)
    if known_event and condition_ok:
        ctx.conditions[index] = resolved
        window = (rule.window.start, rule.window.end) if rule.window is not None and window_ok else None
        tier_count = len(ctx.scope.tiers)
        if rule.condition is not None and never_true(resolved, window, tier_count):
            ctx.warning(
                "RL302",
                f"rule `{rule.name}` can never fire: its condition is never true"
                + (" inside its campaign window" if window else ""),
                rule.condition,
                "check the comparisons: they contradict each other",
                rule,
            )


def _check_action(
    ctx: CheckContext, p: ast.Program, rule: ast.EarnRule, action: ast.Action, known_event: bool
) -> None:
    """Values of one action, and whether it suits the rule's event (unless the event is unknown)."""
    on_basket = FIELD_BY_NAME["amount"].on(rule.event) or not known_event  # the event has an amount
    event_ok = known_event
    if isinstance(action, ast.Award):
        if action.unit not in ctx.scope.units:
            balances = "".join(f", its balance `{b.name}`" for b in p.balances)  # docs/semantics.md §2.1
            ctx.error(
                "RL201",
                f"unknown unit `{action.unit}`; this program's points are called `{p.points_unit}`{balances}",
                action,
                percent_hint(str(action.points), action.unit) or did_you_mean(action.unit, ctx.scope.units)
                or f"write `{p.points_unit}`",
                rule,
            )
        ctx.count(action.points, f"the {p.points_unit} awarded", ctx.span(action, rule), whole=action.per is None)
        if action.only and action.per is None:
            ctx.error("RL255", "`in category` picks the lines an award per amount or quantity counts; a fixed award "
                               "counts no lines", action,
                      f"put the condition on the rule: `when any line category == \"{action.only[0]}\"`", rule)
        elif action.only and known_event and rule.event != "purchase":
            ctx.error("RL255", f"`in category` counts a purchase's lines, and `{rule.event}` events have none", action,
                      "make the rule `on purchase`", rule)
        if isinstance(action.per, ast.Quantity):
            quantity = FIELD_BY_NAME["quantity"]
            if action.per.value <= 0:
                ctx.error("RL202", f"the quantity per which points are awarded must be more than 0 (got {action.per.value})",
                          action, f"e.g. `award 1 {p.points_unit} per 2 {action.per.unit}`", rule)
            if known_event and rule.event not in quantity.carried_by:
                ctx.error(
                    "RL206",
                    f"`award ... per {action.per.value} {action.per.unit}` needs the purchase's `quantity`, "
                    f"and `{rule.event}` events have none",
                    action,
                    f"make the rule `on purchase`, or award a fixed number, e.g. `award 50 {p.points_unit}`",
                    rule,
                )
            if action.base != "net":
                ctx.error("RL206", f"`of {action.base} amount` does not go with an award per quantity", action,
                          f"write `award {action.points} {action.unit} per {action.per.value} {action.per.unit}`", rule)
        elif action.per is not None:
            ctx.money(action.per, "the amount per which points are awarded", action, positive=True, fractional_cents=True)
            if not on_basket:
                ctx.error(
                    "RL206",
                    f"`award ... per ...` needs an amount, and `{rule.event}` events have none",
                    action,
                    f"award a fixed number instead, e.g. `award 50 {p.points_unit}`",
                    rule,
                )
        if action.to != "customer" and rule.event != "referral" and event_ok:
            ctx.error(
                "RL206",
                f"`to {action.to}` only makes sense on `referral` events, not on `{rule.event}`",
                action,
                f"remove `to {action.to}` or make the rule `on referral`",
                rule,
            )
    elif isinstance(action, ast.Cashback):
        ctx.percent(action.percent, "a cashback", ctx.span(action, rule))
        if p.point_value is None:
            ctx.error(
                "RL206",
                f"`award {action.percent}% of ...` needs to know what one point is worth",
                action,
                f"add `point value 0.01 {p.currency}` to the program",
                rule,
            )
        if not on_basket:
            ctx.error("RL206", f"a cashback needs an amount, and `{rule.event}` events have none", action, None, rule)
    elif isinstance(action, ast.Multiply):
        if action.factor <= 0:
            ctx.error("RL202", f"the multiplier {action.factor}x must be more than 0", action, None, rule)
        if action.only and known_event and rule.event != "purchase":
            ctx.error("RL255", f"`in category` multiplies what a purchase's lines earn, and `{rule.event}` events "
                               "have none", action, "make the rule `on purchase`", rule)
        if not on_basket:
            ctx.error(
                "RL206",
                f"`multiply` scales points earned per amount spent, which `{rule.event}` events do not have",
                action,
                "use it in a rule `on purchase`",
                rule,
            )
    elif isinstance(action, ast.Discount):
        ctx.percent(action.percent, "a discount", ctx.span(action, rule))
        ctx.money(action.amount, "the discount", action, positive=True)
        if rule.event != "purchase" and event_ok:
            ctx.error(
                "RL206",
                f"a discount can only be given on a purchase, not on `{rule.event}`",
                action,
                "make the rule `on purchase`, or give points or a perk instead",
                rule,
            )
    elif isinstance(action, ast.Perk):
        ctx.money(action.cost, f"the cost of perk `{action.name}`", action)
    else:  # every action type of the AST has a branch above (tests/test_nodes.py checks them all)
        raise UnhandledNode("checker: action", action)


def _check_modifiers(ctx: CheckContext, rule: ast.EarnRule) -> bool:
    """Window, caps, budget, every Nth, streak. Returns whether the window is usable."""
    window_ok = True
    if rule.window is not None and rule.window.end < rule.window.start:
        window_ok = False
        ctx.error(
            "RL302",
            f"the campaign window of `{rule.name}` ends ({rule.window.end}) before it starts ({rule.window.start})",
            rule.window,
            "swap the two dates",
            rule,
        )
    for cap in rule.caps:
        word = "limit" if cap.unit == "times" else "cap"
        if ctx.count(cap.limit, f"the {word}", ctx.span(cap, rule)) and cap.limit == 0:
            ctx.warning(
                "RL302",
                f"rule `{rule.name}` can never give anything: its {word} is 0",
                cap,
                f"remove the rule or raise the {word}",
                rule,
            )
    if rule.budget is not None:
        b = rule.budget
        if b.points is not None:
            ctx.count(b.points, "the budget", ctx.span(b, rule))
        ctx.money(b.money, "the budget", b)
    if rule.every_nth is not None:
        if ctx.count(rule.every_nth, "`every Nth`", ctx.span(rule), minimum=1) and rule.every_nth > MAX_PERIODS:
            ctx.error(
                "RL401",
                f"`every {rule.every_nth}th purchase` is too large (at most {MAX_PERIODS})",
                rule,
            )
    if rule.streak is not None:
        s = rule.streak
        if ctx.count(s.length, "the streak length", ctx.span(s, rule), minimum=1) and s.length > MAX_PERIODS:
            ctx.error("RL401", f"a streak of {s.length} {s.period}s is too long (at most {MAX_PERIODS})", s, None, rule)
    return window_ok

