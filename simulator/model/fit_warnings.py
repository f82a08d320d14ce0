"""Does the population (or the recorded data) fit the program? Located warnings when it does not.

Takes: the compiled program (`ir.Program`), an `Observed` summary of what the customers did or
can do — built from a simulation run by `observed_from_run(result, population)`, or by
`loyalty replay` from recorded transactions — and, to locate the warnings, the program's
parsed source (`ast.SourceFile`) and text. Gives: `fit_warnings(...)` -> a list of
`Diagnostic`s of severity warning (codes RL660–RL679 and RL259, each with a page in docs/errors), and
`liability_check(...)`, the valuation of the points liability at what redemptions cost.

The checks, each against the run or the data (never against a guess):
- RL660 the program's currency differs from the population's or the data's (`currency:` key);
- RL661 a tier that fewer than `MIN_REACH` of the members reach (highest month-end share of
  the members in that tier or above, mean over trials: a tier passed through between month
  ends is not seen, so this can only under-count);
- RL662 a purchase threshold in a rule's condition (`amount >= 100 USD`) that fewer than
  `MIN_REACH` of the purchases reach (the population's spend model, sampled, or the data);
- RL663 / RL664 a rule whose condition needs a category / channel that never occurs;
- RL665 a rule on an event that never happens (returns, referrals, birthdays, sign-ups);
- RL666 a custom event the program declares and the population gives no rate;
- RL667 the cost per redeemed point the run observed (rewards + points payments + vouchers,
  over the points they took) differs from the declared `point cost` by more than
  `POINT_COST_TOLERANCE`: the liability at the declared cost would be misstated;
- RL668 the program offers rewards (or payment with points) but no point was redeemed in any
  trial: the liability can only be valued at the declared `point cost`;
- RL259 a rule's `any line` condition reads a line attribute (`line attribute brand: string`) that
  no segment's `lines` draws: every simulated line reads its default (no text, false, 0).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from rulelang import ast
from rulelang import ir
from rulelang.diagnostics import NO_SPAN, Diagnostic, Span
from rulelang.vocabulary import plural

# A tier or threshold reached by fewer than 1 % of members (purchases) is, for planning, one nobody
# reaches: at 10,000 simulated customers that is under 100 people, too few for its cost or its effect
# on the forecast to mean anything.
MIN_REACH = 0.01
# The liability is misstated when the declared point cost is more than a quarter off what redemptions
# cost (the issue that asked for this: the coffee example declares 0.004 USD and redeems at 0.009).
POINT_COST_TOLERANCE = 0.25
AMOUNT_SAMPLE = 20_000  # purchases drawn from a population's spend model to estimate a threshold's reach

CODES = {
    "RL660": "currency of the program and of the population or data differ",
    "RL661": "a tier almost nobody reaches",
    "RL662": "a purchase threshold almost no purchase reaches",
    "RL663": "a rule needs a category that never occurs",
    "RL664": "a rule needs a channel that never occurs",
    "RL665": "a rule on an event that never happens",
    "RL666": "a custom event with no rate",
    "RL667": "the declared point cost is not what redemptions cost",
    "RL668": "nothing was redeemed: the liability is valued at the declared point cost",
    "RL259": "a rule reads a line attribute the population never draws",
}


@dataclass(frozen=True)
class Redemptions:
    """What the redemptions of a run (or a replay) took and cost, summed over its trials."""

    points: float  # points redeemed
    cost: float  # money: rewards at their `costs us` + points payments + vouchers
    trials: int = 1


@dataclass(frozen=True)
class Observed:
    """What the customers do, as the checks need it; None where it is not known (no check then)."""

    source: str  # how messages name it: "population `default retail population`", "the transactions"
    currency: str | None = None
    categories: frozenset[str] | None = None  # every category that occurs
    channels: frozenset[str] | None = None
    events: frozenset[str] | None = None  # event kinds that happen: purchase, return, birthday, ..., custom names
    tier_reach: tuple[tuple[str, float], ...] | None = None  # tier -> share of members reaching it or above
    purchase_amounts_cents: np.ndarray | None = field(default=None, compare=False)  # a sample of baskets
    redemptions: Redemptions | None = None
    points_issued: float | None = None
    line_attributes: frozenset[str] | None = None  # the line attributes the population's lines draw


# ---------------------------------------------------------------- from a simulation


def observed_from_run(result: Any, population: Any) -> Observed:
    """The `Observed` summary of a `RunResult` on its `Population`: mixes and rates from the
    population, tier reach and redemptions from the run."""
    segs = population.segments
    cats = frozenset(str(v) for s in segs for v, w in zip(s.categories.values, s.categories.weights) if w > 0)
    chans = frozenset(str(v) for s in segs for v, w in zip(s.channels.values, s.channels.weights) if w > 0)
    events = {"purchase"}
    if any(s.enroll_share > 0 for s in segs):
        events.add("signup")
    if any(s.birthday_known > 0 for s in segs):
        events.add("birthday")
    if any(s.refer_per_day > 0 for s in segs) and population.response.referral_action_rate > 0:
        events.add("referral")
    if any(s.returns.rate > 0 for s in segs):
        events.add("return")
    events |= {name for s in segs for name, model in s.events if model.rate_per_day > 0}
    totals = result.totals
    redeemed = sum(v or 0.0 for v in result.per_trial.get("program.points_redeemed", []))
    cost = sum(sum(v or 0.0 for v in result.per_trial.get(k, []))
               for k in ("program.cost_rewards", "program.cost_points_payments", "program.cost_vouchers",
                         "program.voucher_liability"))  # the last: vouchers with a life still outstanding
    issued = (totals.get("program.points_issued") or {}).get("mean")
    return Observed(f"population `{population.name}`", getattr(population, "currency", None), cats, chans,
                    frozenset(events), tier_reach_of(result), sample_purchase_amounts(population),
                    Redemptions(redeemed, cost, int(result.meta.get("trials", 1) or 1)), issued,
                    line_attributes=frozenset(m.name for s in segs if s.lines is not None
                                              for models in s.lines.attributes for m in models))


def tier_reach_of(result: Any) -> tuple[tuple[str, float], ...] | None:
    """Per tier, the highest month-end share of enrolled members in that tier or above (mean over trials)."""
    names = list(result.tier_names or [])
    counts = (result.tier_mix or {}).get("counts") or {}
    if not names or not all(n in counts for n in names):
        return None
    series = np.array([[np.nan if v is None else v for v in counts[n]["mean"]] for n in names], dtype=np.float64)
    members = np.nansum(series, axis=0)
    out = []
    for k, name in enumerate(names):
        above = np.nansum(series[k:], axis=0)
        share = np.divide(above, members, out=np.zeros_like(above), where=members > 0)
        out.append((name, float(share.max()) if share.size else 0.0))
    return tuple(out)


def sample_purchase_amounts(population: Any, n: int = AMOUNT_SAMPLE, seed: int = 0) -> np.ndarray:
    """Basket amounts in cents drawn from the population's spend model (gamma-gamma): a segment by its
    share of purchases (share × mean purchase rate r / alpha), ν ~ Gamma(q, rate γ), amount ~ Gamma(p, rate ν).
    Shipping and the program's own effect on spending are left out: an estimate for the threshold check."""
    segs = population.segments
    weights = np.array([s.share * s.r / s.alpha_days for s in segs], dtype=np.float64)
    if weights.sum() <= 0:
        return np.zeros(0, dtype=np.float64)
    rng = np.random.Generator(np.random.PCG64(seed))
    seg = rng.choice(len(segs), size=n, p=weights / weights.sum())
    q = np.array([s.spend_q for s in segs])[seg]
    gamma = np.array([s.spend_gamma for s in segs])[seg]
    p = np.array([s.spend_p for s in segs])[seg]
    nu = rng.gamma(q, 1.0 / gamma)
    return np.sort(rng.gamma(p, 1.0 / nu) * 100.0)


# ---------------------------------------------------------------- the liability


@dataclass(frozen=True)
class LiabilityCheck:
    declared: float  # the declared point cost, money per point
    observed: float | None  # cost per redeemed point in the run (None: nothing redeemed)
    ratio: float | None  # observed / declared (None when either is missing or declared is 0)
    misstated: bool


def liability_check(program: ir.Program, redemptions: Redemptions | None) -> LiabilityCheck:
    declared = float(program.point_cost_cents) / 100.0
    if redemptions is None or redemptions.points <= 0:
        return LiabilityCheck(declared, None, None, False)
    observed = redemptions.cost / redemptions.points
    if declared <= 0:
        return LiabilityCheck(declared, observed, None, observed > 0)
    ratio = observed / declared
    return LiabilityCheck(declared, observed, ratio, abs(ratio - 1.0) > POINT_COST_TOLERANCE)


# ---------------------------------------------------------------- the checks


def fit_warnings(program: ir.Program, observed: Observed, source: ast.SourceFile | None = None,
                 text: str | None = None, path: str | None = None) -> list[Diagnostic]:
    """Every way `observed` does not fit `program`, as located warnings (in the program's file)."""
    loc = _Locator(program, source, text, path)
    out: list[Diagnostic] = []
    out += _currency(program, observed, loc)
    out += _tiers(program, observed, loc)
    custom = {e.name for e in program.events}
    out += _custom_events(program, observed, loc)
    for rule in program.rules:
        out += _rule(rule, observed, loc, custom)
        out += _line_attributes_never_drawn(program, rule, observed, loc)
    out += _liability(program, observed, loc)
    return out


def _line_attributes_never_drawn(program: ir.Program, rule: ir.Rule, obs: Observed, loc: "_Locator") -> list[Diagnostic]:
    """RL259: the line attributes a rule's `any line` condition reads that no segment draws."""
    if obs.line_attributes is None or not program.line_attributes:
        return []
    declared = dict(program.line_attributes)
    read = sorted({f.name for f in _line_fields_read(rule.condition, False) if f.name in declared})
    out = []
    for name in read:
        if name in obs.line_attributes:
            continue
        default = {"string": "no text", "bool": "false", "number": "0", "money": "0"}.get(declared[name], "its default")
        out.append(_warn("RL259", f"rule `{rule.name}` reads line attribute `{name}`, which {obs.source} never "
                         f"draws: every simulated line has {default} there", loc.rule(rule),
                         f"give the categories of the segments' `lines` a model of it: `attributes: {{{name}: "
                         "{...: 0.3, ...: 0.7}}` (docs/simulator.md)"))
    return out


def _line_fields_read(expr: ir.Expr | None, inside: bool) -> list[ir.Field]:
    """The fields read inside `any line` of a condition."""
    if expr is None:
        return []
    if isinstance(expr, ir.Field):
        return [expr] if inside else []
    if isinstance(expr, ir.Cmp):
        return _line_fields_read(expr.left, inside) + _line_fields_read(expr.right, inside)
    if isinstance(expr, ir.InSet):
        return _line_fields_read(expr.left, inside)
    if isinstance(expr, (ir.And, ir.Or)):
        return [f for item in expr.items for f in _line_fields_read(item, inside)]
    if isinstance(expr, ir.Not):
        return _line_fields_read(expr.item, inside)
    if isinstance(expr, ir.AnyLine):
        return _line_fields_read(expr.item, True)
    return []


def _warn(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, "warning", message, span, hint)


def _currency(program: ir.Program, obs: Observed, loc: "_Locator") -> list[Diagnostic]:
    if obs.currency is None or obs.currency.upper() == program.currency.upper():
        return []
    return [_warn("RL660", f"the program counts money in {program.currency} but {obs.source} is in "
                  f"{obs.currency}: every amount, threshold and cost is compared across currencies",
                  loc.statement("currency"),
                  f"simulate on a population in {program.currency} (`currency: {program.currency}` in the "
                  f"population file, its spend fitted to your {program.currency} transactions with `loyalty fit`)")]


def _tiers(program: ir.Program, obs: Observed, loc: "_Locator") -> list[Diagnostic]:
    if program.tiers is None or obs.tier_reach is None:
        return []
    reach = dict(obs.tier_reach)
    ts = program.tiers
    out = []
    for tier in ts.tiers[1:]:
        share = reach.get(tier.name)
        if share is None or share >= MIN_REACH:
            continue
        out.append(_warn("RL661", f"tier {tier.name} ({_threshold_text(program, tier)}) is reached by "
                         f"{_pct(share)} of the members of {obs.source} (fewer than {_pct(MIN_REACH)}): its "
                         "perks, multipliers and costs barely enter the forecast",
                         loc.tier(tier.name),
                         "check the threshold against what your customers spend, or simulate customers "
                         "fitted to your own transactions (`loyalty fit`)"))
    return out


def _custom_events(program: ir.Program, obs: Observed, loc: "_Locator") -> list[Diagnostic]:
    if obs.events is None:
        return []
    out = []
    for e in program.events:
        if e.name in obs.events:
            continue
        rules = [r.name for r in program.rules if r.event == e.name]
        on = f"; {plural('rule', len(rules))} {', '.join(f'`{r}`' for r in rules)} never fire" if rules else ""
        out.append(_warn("RL666", f"custom event `{e.name}` has no rate in {obs.source}: it never happens{on}",
                         loc.event(e.name),
                         f"give it a rate per segment in the population file: `events: {{{e.name}: 0.05}}` "
                         "(per time unit)"))
    return out


EVENT_SOURCES = {
    "return": "no purchase is returned (no `returns:` rate in any segment)",
    "referral": "nobody refers anyone (no `refer:` rate, or `referral_action_rate: 0`)",
    "birthday": "no customer has a known birthday (`birthday_known: 0`)",
    "signup": "nobody enrolls (`enrollment: {share: 0}`)",
    "purchase": "nobody buys",
}


def _rule(rule: ir.Rule, obs: Observed, loc: "_Locator", custom: set[str]) -> list[Diagnostic]:
    span = loc.rule(rule)
    if obs.events is not None and rule.event not in obs.events and rule.event not in custom:
        why = EVENT_SOURCES.get(rule.event, f"no `{rule.event}` event happens")
        return [_warn("RL665", f"rule `{rule.name}` never fires: it runs on `{rule.event}` and in {obs.source} {why}",
                      span, "give the population a rate for it, or leave the rule out of this forecast")]
    out = []
    for fld, code, known in (("category", "RL663", obs.categories), ("channel", "RL664", obs.channels)):
        need = required_values(rule.condition, fld)
        if need is None or known is None or need & known:
            continue
        wanted = " or ".join(f'"{v}"' for v in sorted(need))
        have = ", ".join(f'"{v}"' for v in sorted(known)) or "none"
        out.append(_warn(code, f"rule `{rule.name}` never fires: it needs {fld} {wanted}, {'which never occurs' if len(need) == 1 else 'none of which occurs'} "
                         f"in {obs.source} (its {fld} values: {have})", span,
                         f"name the {fld} as your data does, or add it to the population's `{fld}` mix"
                         if fld == "channel" else
                         f"name the category as your data does, or add it to the population's `categories` mix"))
    if rule.event in ("purchase", "return") and obs.purchase_amounts_cents is not None \
            and obs.purchase_amounts_cents.size:
        for op, cents in amount_thresholds(rule.condition):
            amounts = obs.purchase_amounts_cents
            share = float(np.mean(amounts >= cents) if op == ">=" else np.mean(amounts > cents))
            if share < MIN_REACH:
                out.append(_warn("RL662", f"rule `{rule.name}` needs a basket {op} {cents / 100:,.2f}: "
                                 f"{_pct(share)} of the purchases of {obs.source} reach it (fewer than "
                                 f"{_pct(MIN_REACH)})", span,
                                 "check the threshold against what your customers spend per purchase"))
    return out


def _liability(program: ir.Program, obs: Observed, loc: "_Locator") -> list[Diagnostic]:
    check = liability_check(program, obs.redemptions)
    unit = program.points_unit
    one = unit[:-1] if unit.endswith("s") else unit
    if check.observed is None:
        redeemable = bool(program.rewards) or program.pay_with_points is not None or program.conversion is not None
        if redeemable and obs.redemptions is not None and (obs.points_issued or 0) > 0:
            return [_warn("RL668", f"no {unit} were redeemed in {obs.source}: the liability is valued at the "
                          f"declared point cost ({_money(check.declared)} {program.currency} a {one}), which "
                          "nothing in the run confirms", loc.statement("point cost"),
                          "simulate more months, or check that customers can reach a reward's price")]
        return []
    if not check.misstated:
        return []
    if check.ratio is None:
        return [_warn("RL667", f"the program declares no point cost, but its redemptions in {obs.source} cost "
                      f"{_money(check.observed)} {program.currency} a {one}", loc.statement("point cost"),
                      f"declare `point cost {_money(check.observed)} {program.currency}`")]
    how = "understates" if check.ratio > 1 else "overstates"
    return [_warn("RL667", f"the declared point cost {_money(check.declared)} {program.currency} a {one} {how} what "
                  f"the redemptions in {obs.source} cost: {_money(check.observed)} {program.currency} a {one} "
                  f"({check.ratio:.2f}x, more than {POINT_COST_TOLERANCE:.0%} off); the report values the "
                  "liability at the redemptions' cost and shows the declared one beside it",
                  loc.statement("point cost"),
                  f"declare `point cost {_money(check.observed)} {program.currency}`, or check the rewards' "
                  "`costs us` and prices")]


# ---------------------------------------------------------------- conditions


def required_values(expr: ir.Expr | None, name: str) -> frozenset[Any] | None:
    """The values field `name` must take for `expr` to hold, when the condition pins them down
    (`category == "x"`, `category in [...]`, a conjunction containing one, a disjunction of them);
    None when it does not."""
    if expr is None:
        return None
    if isinstance(expr, ir.Cmp) and expr.op == "==":
        for a, b in ((expr.left, expr.right), (expr.right, expr.left)):
            if isinstance(a, ir.Field) and a.name == name and isinstance(b, ir.Const):
                return frozenset([b.value])
        return None
    if isinstance(expr, ir.InSet) and not expr.negated and isinstance(expr.left, ir.Field) and expr.left.name == name:
        return frozenset(expr.values)
    if isinstance(expr, ir.And):
        found = [v for v in (required_values(x, name) for x in expr.items) if v is not None]
        if not found:
            return None
        out = found[0]
        for v in found[1:]:
            out = out & v
        return out
    if isinstance(expr, ir.Or):
        parts = [required_values(x, name) for x in expr.items]
        if any(p is None for p in parts):
            return None
        return frozenset().union(*parts)  # type: ignore[arg-type]
    return None


AMOUNT_FIELDS = ("amount",)


def amount_thresholds(expr: ir.Expr | None) -> list[tuple[str, int]]:
    """(`>=` or `>`, cents) for each lower bound on the basket amount the condition requires."""
    if expr is None:
        return []
    if isinstance(expr, ir.And):
        return [t for x in expr.items for t in amount_thresholds(x)]
    if isinstance(expr, ir.Cmp) and expr.op in (">=", ">", "<=", "<"):
        left, right, op = expr.left, expr.right, expr.op
        if isinstance(right, ir.Field) and isinstance(left, ir.Const):
            left, right = right, left
            op = {"<=": ">=", "<": ">", ">=": "<=", ">": "<"}[op]
        if isinstance(left, ir.Field) and left.name in AMOUNT_FIELDS and isinstance(right, ir.Const) \
                and op in (">=", ">") and isinstance(right.value, (int, float)) and not isinstance(right.value, bool):
            return [(op, int(right.value))]
    return []


# ---------------------------------------------------------------- locations and words


class _Locator:
    """Spans in the program's file for a rule, a tier, an event or a statement (`currency`, `point cost`)."""

    def __init__(self, program: ir.Program, source: ast.SourceFile | None, text: str | None, path: str | None):
        self.path = path or (source.path if source is not None else "<program>")
        self.prog = source.program if source is not None else None
        self.lines = text.splitlines() if text else []

    def _top(self) -> Span:
        if self.prog is not None and self.prog.span.line:
            return self.prog.span
        return Span.point(self.path, 1, 1) if self.lines else NO_SPAN

    def _named(self, items: Iterable[Any], name: str) -> Span:
        for item in items:
            if getattr(item, "name", None) == name and item.span.line:
                return item.span
        return self._top()

    def rule(self, rule: ir.Rule) -> Span:
        if self.prog is not None:
            return self._named(self.prog.rules, rule.name)
        if rule.line:
            return Span.point(self.path, rule.line, 1)
        return self._top()

    def tier(self, name: str) -> Span:
        tiers = self.prog.tiers.tiers if self.prog is not None and self.prog.tiers is not None else ()
        return self._named(tiers, name)

    def event(self, name: str) -> Span:
        return self._named(self.prog.events if self.prog is not None else (), name)

    def statement(self, words: str) -> Span:
        """The line where `currency` or `point cost` (text) / `currency:` or `point_cost:` (YAML) is written."""
        pattern = re.compile(r"^(\s*)(" + re.escape(words) + r"\b|" + re.escape(words.replace(" ", "_")) + r"\s*:)")
        for i, line in enumerate(self.lines, 1):
            m = pattern.match(line)
            if m:
                col = len(m.group(1)) + 1
                return Span(self.path, i, col, i, len(line.rstrip()))
        return self._top()


def _pct(x: float) -> str:
    if x == 0:
        return "0%"
    return f"{100 * x:.2g}%" if x < 0.1 else f"{100 * x:.0f}%"


def _money(x: float | None) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


def _threshold_text(program: ir.Program, tier: ir.Tier) -> str:
    ts = program.tiers
    if ts is None:
        return ""
    metric = ts.metric
    if metric == "spend":
        value = f"{float(tier.threshold) / 100:,.0f} {program.currency} spent"
    elif metric == "points":
        value = f"{float(tier.threshold):,.0f} {program.points_unit} earned"
    else:
        value = f"{float(tier.threshold):,.0f} {metric}"
    window = {"calendar_year": "in a calendar year", "lifetime": "in total",
              "rolling": f"over {ts.window_months} months"}.get(ts.window, "")
    return f"from {value} {window}".strip()


def diagnostics_json(diags: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    """The warnings as report.json lists them: code, severity, message, hint, and where."""
    return [{"code": d.code, "severity": d.severity, "message": d.message, "hint": d.hint,
             "location": f"{d.span.file}:{d.span.line}:{d.span.column}" if d.span.line else d.span.file}
            for d in diags]
