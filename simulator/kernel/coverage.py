"""Which constructs of a program the kernel runs, and which force the numpy path.

Takes: a `Plan` (and optionally the population; the kernel runs purchases with lines too). Gives:
`kernel_supports(plan, population) -> list[str]`: the constructs the kernel lacks, each
named (with its rule), empty when the whole program's purchases run on the kernel; and
`kind_reasons(plan, kind)`: the same for the rules and counters of another event kind (signups,
birthdays, referrals, custom events, returns: simulator.kernel.events), which runs on the kernel
when that is empty and the program's purchases do. The calendar work (pending, expiry, tier
review, conversion, perks per period) runs on the numpy path, over the same state arrays; the
returns' schedule and reversal have compiled steps of their own (`returns`).

The check is closed: a field of the IR that this module does not know (a construct added to
the language later) is reported as unsupported while it holds a value other than its default,
so a new construct never runs on the kernel unnoticed (a field without a default: while it holds a
value other than None, False, 0, "" or ()).
"""

from __future__ import annotations

import dataclasses

from rulelang import ir
from simulator.engine.program_plan import Plan
from simulator.kernel.conditions import ANY_LINE, CondCode, Unsupported, compile_condition
from simulator.model.strings import StringTable

# the IR fields the kernel (or the numpy path around it) knows, per class
KNOWN_FIELDS = {
    ir.Program: {"name", "points_unit", "currency", "point_cost_cents", "point_value_cents", "stacking", "rounding",
                 "pending_days", "events", "attributes", "counters", "rules", "tiers", "expiry", "returns",
                 "rewards", "pay_with_points", "conversion", "activity", "balances", "line_attributes"},
    ir.Rule: {"name", "order", "event", "condition", "actions", "rounding", "priority", "group", "start", "end",
              "caps", "budget", "every_nth", "streak", "line", "balance"},
    ir.TierSystem: {"metric", "window", "window_months", "tiers", "review", "downgrade", "grace_months",
                    "validity_months", "spend_before_discounts", "on_return", "status_through", "status_years",
                    "status_drop"},
    ir.Tier: {"name", "threshold", "multiplier", "discount_percent", "expiry", "perks", "rate"},
    ir.ReturnPolicy: {"reverse", "negative_balance", "lower_metrics"},
    ir.RateAward: {"rate", "base", "excluding", "only"},
    ir.Multiplier: {"factor", "only"},
    ir.FixedAward: {"points", "to"},
    ir.QuantityAward: {"rate", "unit", "excluding", "only"},
    ir.DiscountAction: {"percent", "fixed_cents", "base", "excluding", "only"},
    ir.PerkAction: {"name", "cost_cents"},
}
KERNEL_ACTIONS = (ir.RateAward, ir.QuantityAward, ir.Multiplier, ir.FixedAward, ir.DiscountAction, ir.PerkAction)
# the point sources in the order the kernel works them out (rulelang.ir.POINT_SOURCES)
KERNEL_SOURCES = (ir.RATE_AWARD, ir.QUANTITY_AWARD, ir.TIER_MULTIPLIER, ir.RULE_MULTIPLIER, ir.FIXED_AWARD)


def _new_fields(obj: object, where: str) -> list[str]:
    known = KNOWN_FIELDS.get(type(obj))
    if known is None:
        return [f"{type(obj).__name__} ({where})"]
    out = []
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        if f.name in known:
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        value = getattr(obj, f.name)
        if (value not in (None, False, 0, "", ()) if default is dataclasses.MISSING else value != default):
            out.append(f"`{f.name}` ({where})")
    return out


def _rule_reasons(plan: Plan, kind: str, strings: StringTable, fields: frozenset[str] = frozenset()) -> list[str]:
    """The constructs of the rules on `kind` the kernel does not run."""
    out: list[str] = []
    for spec in plan.by_event.get(kind, []):
        r = spec.rule
        name = f"rule `{r.name}`"
        out += _new_fields(r, name)
        for a in r.actions:
            if not isinstance(a, KERNEL_ACTIONS):
                out.append(f"{type(a).__name__} ({name})")
                continue
            out += _new_fields(a, name)
        try:
            code = CondCode.of(plan.program)
            code.event_fields = fields
            compile_condition(r.condition, strings, code)
        except Unsupported as exc:
            out.append(f"{exc} ({name})")
    return out


def event_fields(plan: Plan, kind: str) -> frozenset[str]:
    """The `event.<field>` names a custom event of `kind` carries (columns of its batches)."""
    etype = next((e for e in plan.program.events if e.name == kind), None)
    return frozenset("event." + f for f, _ in etype.fields) if etype is not None else frozenset()


def kind_reasons(plan: Plan, kind: str) -> list[str]:
    """The constructs of the rules and counters on `kind` (an event other than a purchase, of a
    program whose purchases run on the kernel) the kernel does not run (empty: the kind runs on it,
    simulator.kernel.events). Its conditions read the state, the day, the customer's attributes
    and the event's columns: the basket fields a return carries, a custom event's `event.<field>`."""
    from simulator.kernel.tables import KernelTables
    strings = StringTable()
    fields = event_fields(plan, kind)
    out = _rule_reasons(plan, kind, strings, fields)
    for c in plan.program.counters:
        if c.event == kind:
            try:
                code = CondCode.of(plan.program)
                code.event_fields = fields
                compile_condition(c.condition, strings, code)
            except Unsupported as exc:
                out.append(f"{exc} (counter `{c.name}`)")
    if not out:
        try:
            t = KernelTables(plan, strings, kind=kind, event_fields=fields)
        except Unsupported as exc:
            return [str(exc)]
        # an event is one line (its amount, category, quantity): an `any line` that reads more of a
        # line (its sku, a line attribute) needs drawn lines, which only purchases have
        flat = list(zip(t.cond_flat_lo, t.cond_flat_hi)) + list(zip(t.cnt_flat_lo, t.cnt_flat_hi))
        if any(t.op[pc] == ANY_LINE for lo, hi in flat for pc in range(lo, hi)):
            out.append(f"`any line` reading more than the one line of a `{kind}` event")
    return list(dict.fromkeys(out))


def kernel_supports(plan: Plan, population=None) -> list[str]:
    """The constructs of the program's purchases the kernel does not run (empty: it runs them all)."""
    p = plan.program
    out: list[str] = []
    if tuple(ir.POINT_SOURCES) != KERNEL_SOURCES:
        out.append("a point source the kernel does not know")
    out += _new_fields(p, "program")
    out += _new_fields(p.returns, "returns")
    strings = StringTable()
    for c in p.counters:
        if c.event == "purchase":
            try:
                compile_condition(c.condition, strings, CondCode.of(p))
            except Unsupported as exc:
                out.append(f"{exc} (counter `{c.name}`)")
    ts = p.tiers
    if ts is not None:
        out += _new_fields(ts, "tiers")
        for t in ts.tiers:
            out += _new_fields(t, f"tier {t.name}")
    out += _rule_reasons(plan, "purchase", strings)
    if not out:
        from simulator.kernel.tables import KernelTables  # the arithmetic bounds
        try:
            KernelTables(plan, strings)
        except Unsupported as exc:
            out.append(str(exc))
    return list(dict.fromkeys(out))
