"""`loyalty sweep`: one or two parameters over a grid, on common random numbers.

Takes: a loaded program, one or two `--vary PATH=FROM:TO:STEP` (or `PATH=v1,v2,...`),
optional constraints (`--max "program_cost / revenue=0.02"`, `--min "retention=0.6"`), an
objective (default: maximise incremental profit), a population source and run settings.
Gives: `SweepResult` — per grid point the objective, program cost, incremental profit and
retention (mean, range of outcomes, Monte Carlo precision), whether the constraints hold (on
the mean), the leading feasible point and whether its difference to the current setting is
resolved (`resolve_leader`: their ranges of outcomes do not overlap and the Monte Carlo
precision of the paired difference excludes 0; only then is it called best); `to_json()`
(`schema: loyalty-sweep/1`).

Parameters are addressed by a path (documented in docs/whatif.md): `point_cost`,
`rule.base.rate` (or `base.rate`), `base.award`, `rule.weekend_coffee.cap`,
`tier.Gold.threshold`, `reward.free_drink.price`, `population.response.goal_gradient`, ...
Programs are changed on the AST (`dataclasses.replace`) and compiled again; population
parameters on the loaded `Population`. Every grid point runs the same trials.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Sequence

import numpy as np

from rulelang import ast
from rulelang.diagnostics import did_you_mean

from simulator.model.population import Population, Response
from simulator.whatif.compare import fmt_interval, legend_json
from simulator.trials.stats import PRECISION, RANGE, outcome_range
from simulator.whatif.runner import KNOWN_METRICS, Arm, LoadedProgram, MetricExpr, PopulationSource, Settings, WhatIfError, WhatIfRun, compile_ast_program, metric_values, paired_summary, run_programs, short_name, summary, usage_error

SCHEMA = "loyalty-sweep/1"
MAX_POINTS = 400
SHOWN = ("incremental.profit", "program.program_cost", "program.retention")


# ---------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Parameter:
    """A named, settable number of the program (AST) or of the population."""

    path: str
    current: float | None  # the value in the loaded program / population
    integer: bool = False
    unit: str = ""
    set_program: Callable[[ast.Program, Decimal], ast.Program] | None = None
    set_population: Callable[[Population, float], Population] | None = None

    @property
    def on_population(self) -> bool:
        return self.set_population is not None


def _err(path: str, message: str, hint: str | None = None) -> WhatIfError:
    return usage_error("RL730", f"--vary {path}: {message}", hint)


def _replace_at(items: tuple, index: int, new: Any) -> tuple:
    return items[:index] + (new,) + items[index + 1:]


# The settings `--vary rule.NAME.WORD` can change, per action type of the AST (the first word
# works on every action of its type); tests/test_nodes.py checks every action type has its own.
ACTION_SETTINGS: dict[type, tuple[str, ...]] = {
    ast.Award: ("award", "rate", "per"), ast.Cashback: ("cashback", "rate"), ast.Multiply: ("multiply",),
    ast.Discount: ("discount",), ast.Perk: ("perk",),
}
RULE_SETTINGS = ("cap", "limit", "budget", "every", "priority")  # the rule's own, besides its actions'


def _rule_parameter(p: ast.Program, path: str, name: str, what: str, k: int) -> Parameter:
    names = [r.name for r in p.rules]
    if name not in names:
        raise _err(path, f"the program has no rule `{name}`", did_you_mean(name, names) or "rules: " + ", ".join(names))
    ri = names.index(name)
    rule = p.rules[ri]
    unit = p.points_unit

    def with_rule(prog: ast.Program, r: ast.EarnRule) -> ast.Program:
        return replace(prog, rules=_replace_at(prog.rules, ri, r))

    def action_param(kinds: tuple[type, ...], label: str, get: Callable[[Any], Any], put: Callable[[Any, Decimal], Any],
                     integer: bool = False, unit_: str = "", want: Callable[[Any], bool] = lambda a: True) -> Parameter:
        idx = [i for i, a in enumerate(rule.actions) if isinstance(a, kinds) and want(a)]
        if len(idx) < k:
            raise _err(path, f"rule `{name}` has no {'' if k == 1 else f'{k}th '}{label}",
                       "its actions: " + "; ".join(type(a).__name__.lower() for a in rule.actions))
        ai = idx[k - 1]
        act = rule.actions[ai]
        return Parameter(path, float(get(act)), integer, unit_,
                         lambda prog, v: with_rule(prog, replace(rule, actions=_replace_at(rule.actions, ai, put(act, v)))))

    if what in ("award", "points"):
        return action_param((ast.Award,), "award", lambda a: a.points, lambda a, v: replace(a, points=v), unit_=unit)
    if what == "rate":
        idx = [a for a in rule.actions if isinstance(a, (ast.Award, ast.Cashback)) and (not isinstance(a, ast.Award) or a.per is not None)]
        if idx and isinstance(idx[0], ast.Cashback):
            return action_param((ast.Cashback,), "cashback", lambda a: a.percent, lambda a, v: replace(a, percent=v), unit_="%")
        return action_param((ast.Award,), "rate award (`award N per M ...`)", lambda a: a.points,
                            lambda a, v: replace(a, points=v), unit_=f"{unit} per {idx[0].per.amount if idx else 1} {p.currency}",
                            want=lambda a: a.per is not None)
    if what == "per":
        return action_param((ast.Award,), "rate award", lambda a: a.per.amount,
                            lambda a, v: replace(a, per=replace(a.per, amount=v)), unit_=p.currency,
                            want=lambda a: a.per is not None)
    if what == "cashback":
        return action_param((ast.Cashback,), "cashback", lambda a: a.percent, lambda a, v: replace(a, percent=v), unit_="%")
    if what == "multiply":
        return action_param((ast.Multiply,), "multiply", lambda a: a.factor, lambda a, v: replace(a, factor=v), unit_="x")
    if what == "discount":
        def get_d(a: ast.Discount) -> Decimal:
            return a.percent if a.percent is not None else a.amount.amount  # type: ignore[union-attr]

        def put_d(a: ast.Discount, v: Decimal) -> ast.Discount:
            return replace(a, percent=v) if a.percent is not None else replace(a, amount=replace(a.amount, amount=v))  # type: ignore[arg-type]
        return action_param((ast.Discount,), "discount", get_d, put_d, unit_="% or " + p.currency)
    if what == "perk":
        return action_param((ast.Perk,), "perk", lambda a: a.cost.amount,
                            lambda a, v: replace(a, cost=replace(a.cost, amount=v)), unit_=p.currency)
    if what in ("cap", "limit"):
        kind = "points" if what == "cap" else "times"
        idx = [i for i, c in enumerate(rule.caps) if c.unit == kind]
        if len(idx) < k:
            raise _err(path, f"rule `{name}` has no `{what}`")
        ci = idx[k - 1]
        cap = rule.caps[ci]
        return Parameter(path, float(cap.limit), True, unit if kind == "points" else "times",
                         lambda prog, v: with_rule(prog, replace(rule, caps=_replace_at(rule.caps, ci, replace(cap, limit=int(v))))))
    if what == "budget":
        b = rule.budget
        if b is None:
            raise _err(path, f"rule `{name}` has no budget")
        if b.money is not None:
            return Parameter(path, float(b.money.amount), False, p.currency,
                             lambda prog, v: with_rule(prog, replace(rule, budget=replace(b, money=replace(b.money, amount=v)))))  # type: ignore[arg-type]
        return Parameter(path, float(b.points or 0), True, unit,
                         lambda prog, v: with_rule(prog, replace(rule, budget=replace(b, points=int(v)))))
    if what == "every":
        return Parameter(path, float(rule.every_nth) if rule.every_nth else None, True, "purchases",
                         lambda prog, v: with_rule(prog, replace(rule, every_nth=int(v))))
    if what == "priority":
        return Parameter(path, float(rule.priority), True, "",
                         lambda prog, v: with_rule(prog, replace(rule, priority=int(v))))
    words = dict.fromkeys(w for ws in ACTION_SETTINGS.values() for w in ws)
    raise _err(path, f"`{what}` is not a setting of a rule", "rule settings: " + ", ".join([*words, *RULE_SETTINGS]))


def _tier_parameter(p: ast.Program, path: str, parts: list[str]) -> Parameter:
    ts = p.tiers
    if ts is None:
        raise _err(path, "the program has no tiers")
    names = [t.name for t in ts.tiers]
    name = parts[0] if parts else ""
    if name not in names:
        raise _err(path, f"the program has no tier `{name}`", did_you_mean(name, names) or "tiers: " + ", ".join(names))
    ti = names.index(name)
    tier = ts.tiers[ti]
    what = parts[1] if len(parts) > 1 else ""

    def with_tier(prog: ast.Program, t: ast.Tier) -> ast.Program:
        return replace(prog, tiers=replace(prog.tiers, tiers=_replace_at(prog.tiers.tiers, ti, t)))  # type: ignore[arg-type]

    if what == "threshold":
        def put(prog: ast.Program, v: Decimal) -> ast.Program:
            money = replace(tier.threshold_money, amount=v) if tier.threshold_money is not None else None
            return with_tier(prog, replace(tier, threshold=v, threshold_money=money))
        unit = {"spend": p.currency, "points": p.points_unit}.get(ts.metric, ts.metric)
        return Parameter(path, float(tier.threshold), False, unit, put)
    if what == "multiply":
        return Parameter(path, float(tier.multiplier) if tier.multiplier is not None else None, False, "x",
                         lambda prog, v: with_tier(prog, replace(tier, multiplier=v)))
    if what == "rate":  # `award R POINTS per M CUR` in the tier: R is swept, per M (1 CUR when none)
        per = tier.rate_per if tier.rate_per is not None else ast.Money(Decimal(1), p.currency)
        return Parameter(path, float(tier.rate) if tier.rate is not None else None, False,
                         f"{p.points_unit} per {per.amount} {per.currency}",
                         lambda prog, v: with_tier(prog, replace(tier, rate=v, rate_per=per)))
    if what == "discount":
        return Parameter(path, float(tier.discount) if tier.discount is not None else None, False, "%",
                         lambda prog, v: with_tier(prog, replace(tier, discount=v)))
    if what == "perk":
        perks = [x.name for x in tier.perks]
        perk = parts[2] if len(parts) > 2 else (perks[0] if len(perks) == 1 else "")
        if perk not in perks:
            raise _err(path, f"tier `{name}` has no perk `{perk}`", "perks: " + (", ".join(perks) or "none"))
        pi = perks.index(perk)
        pk = tier.perks[pi]
        return Parameter(path, float(pk.cost.amount), False, p.currency,
                         lambda prog, v: with_tier(prog, replace(tier, perks=_replace_at(tier.perks, pi, replace(pk, cost=replace(pk.cost, amount=v))))))
    raise _err(path, f"`{what}` is not a setting of a tier", "tier settings: threshold, multiply, rate, discount, perk[.NAME]")


POPULATION_SEGMENT_FIELDS = {"redeem": "redeem", "birthday_known": "birthday_known", "items": "items_mean",
                             "quantity": "quantity_mean",
                             "purchase.r": "r", "dropout.a": "a", "dropout.b": "b", "spend.p": "spend_p",
                             "spend.q": "spend_q", "spend.gamma": "spend_gamma", "enrollment.share": "enroll_share"}
ECONOMICS_MONEY = {"fixed_cost_per_member_per_month": "fixed_cost_per_member_month_cents",
                   "fixed_cost_per_month": "fixed_cost_per_month_cents", "acquisition_cost": "acquisition_cost_cents"}


def _population_parameter(pop: Population, path: str, parts: list[str]) -> Parameter:
    group = parts[0] if parts else ""
    if group == "response" and len(parts) == 2:
        fields = [f.name for f in dataclasses.fields(Response) if f.type in ("float", "int")]
        if parts[1] not in fields:
            raise _err(path, f"`{parts[1]}` is not a response parameter", did_you_mean(parts[1], fields) or ", ".join(fields))
        name = parts[1]
        integer = isinstance(getattr(pop.response, name), int) and not isinstance(getattr(pop.response, name), bool)
        return Parameter(path, float(getattr(pop.response, name)), integer, "",
                         set_population=lambda q, v: replace(q, response=replace(q.response, **{name: int(v) if integer else v})))
    if group == "economics" and len(parts) == 2:
        name = parts[1]
        if name == "gross_margin":
            return Parameter(path, pop.economics.gross_margin, False, "",
                             set_population=lambda q, v: replace(q, economics=replace(q.economics, gross_margin=v)))
        if name in ECONOMICS_MONEY:
            attr = ECONOMICS_MONEY[name]
            return Parameter(path, getattr(pop.economics, attr) / 100, False, "currency",
                             set_population=lambda q, v: replace(q, economics=replace(q.economics, **{attr: int(round(v * 100))})))
        options = ["gross_margin", *ECONOMICS_MONEY]
        raise _err(path, f"`{name}` is not an economics parameter", did_you_mean(name, options) or ", ".join(options))
    if group in ("segment", "segments"):
        names = pop.segment_names()
        if group == "segment":
            seg = parts[1] if len(parts) > 1 else ""
            if seg not in names:
                raise _err(path, f"the population has no segment `{seg}`", did_you_mean(seg, names) or ", ".join(names))
            field_path = ".".join(parts[2:])
            chosen = [names.index(seg)]
        else:
            field_path = ".".join(parts[1:])
            chosen = list(range(len(names)))
        if field_path not in POPULATION_SEGMENT_FIELDS:
            raise _err(path, f"`{field_path}` is not a segment parameter the sweep can set",
                       "segment parameters: " + ", ".join(POPULATION_SEGMENT_FIELDS))
        attr = POPULATION_SEGMENT_FIELDS[field_path]

        def set_seg(q: Population, v: float) -> Population:
            segs = tuple(replace(s, **{attr: v}) if i in chosen else s for i, s in enumerate(q.segments))
            return replace(q, segments=segs)
        return Parameter(path, float(getattr(pop.segments[chosen[0]], attr)), False, "", set_population=set_seg)
    if group == "referral_pool":
        return Parameter(path, pop.referral_pool, False, "", set_population=lambda q, v: replace(q, referral_pool=v))
    raise _err(path, "population parameters are population.response.NAME, population.economics.NAME, "
                     "population.segment.SEGMENT.NAME or population.segments.NAME")


def resolve_parameter(path: str, program: ast.Program, population: Population) -> Parameter:
    """The parameter a path names (WhatIfError with a did-you-mean hint otherwise)."""
    parts = [x for x in path.strip().split(".") if x]
    if not parts:
        raise _err(path, "empty parameter path")
    head = parts[0]
    p = program
    if head == "population":
        return _population_parameter(population, path, parts[1:])
    if head in ("point_cost", "point_value") and len(parts) == 1:
        money = getattr(p, head)

        def put(prog: ast.Program, v: Decimal) -> ast.Program:
            cur = getattr(prog, head)
            return replace(prog, **{head: replace(cur, amount=v) if cur is not None else ast.Money(v, prog.currency)})
        return Parameter(path, float(money.amount) if money is not None else None, False, p.currency, put)
    if head == "pending_days" and len(parts) == 1:
        return Parameter(path, float(p.pending_days), True, "days", lambda prog, v: replace(prog, pending_days=int(v)))
    if head == "tier":
        return _tier_parameter(p, path, parts[1:])
    if head == "tiers" and len(parts) == 2 and parts[1] in ("grace", "valid", "window"):
        ts = p.tiers
        if ts is None:
            raise _err(path, "the program has no tiers")
        if parts[1] == "window":
            if ts.window.kind != "rolling":
                raise _err(path, "only a rolling tier window has a length in months")
            return Parameter(path, float(ts.window.months or 0), True, "months",
                             lambda prog, v: replace(prog, tiers=replace(prog.tiers, window=replace(prog.tiers.window, months=int(v)))))  # type: ignore[arg-type]
        attr = "grace_months" if parts[1] == "grace" else "validity_months"
        return Parameter(path, float(getattr(ts, attr)), True, "months",
                         lambda prog, v: replace(prog, tiers=replace(prog.tiers, **{attr: int(v)})))  # type: ignore[arg-type]
    if head == "reward" and len(parts) == 3:
        names = [r.name for r in p.rewards]
        if parts[1] not in names:
            raise _err(path, f"the program has no reward `{parts[1]}`", did_you_mean(parts[1], names) or ", ".join(names))
        wi = names.index(parts[1])
        w = p.rewards[wi]
        what = parts[2]

        def with_reward(prog: ast.Program, new: ast.Reward) -> ast.Program:
            return replace(prog, rewards=_replace_at(prog.rewards, wi, new))
        if what == "price":
            return Parameter(path, float(w.price), True, p.points_unit, lambda prog, v: with_reward(prog, replace(w, price=int(v))))
        if what in ("worth", "cost"):
            money = getattr(w, what)
            return Parameter(path, float(money.amount) if money else None, False, p.currency,
                             lambda prog, v: with_reward(prog, replace(w, **{what: replace(money, amount=v) if money else ast.Money(v, prog.currency)})))
        raise _err(path, f"`{what}` is not a setting of a reward", "reward settings: price, worth, cost")
    if head in ("expiry", "expire") and len(parts) == 2 and parts[1] == "months":
        idx = [i for i, x in enumerate(p.expiry) if x.months is not None]
        if not idx:
            raise _err(path, "the program has no expiry counted in months")
        xi = idx[0]
        return Parameter(path, float(p.expiry[xi].months or 0), True, "months",
                         lambda prog, v: replace(prog, expiry=_replace_at(prog.expiry, xi, replace(prog.expiry[xi], months=int(v)))))
    if head == "pay_with_points" and len(parts) == 2:
        y = p.pay_with_points
        if y is None:
            raise _err(path, "the program has no `pay with points`")
        if parts[1] in ("points", "minimum_balance"):
            return Parameter(path, float(getattr(y, parts[1])), True, p.points_unit,
                             lambda prog, v: replace(prog, pay_with_points=replace(y, **{parts[1]: int(v)})))
        if parts[1] == "max_share":
            return Parameter(path, float(y.max_share), False, "%", lambda prog, v: replace(prog, pay_with_points=replace(y, max_share=v)))
        raise _err(path, "pay_with_points settings: points, minimum_balance, max_share")
    if head == "conversion" and len(parts) == 2:
        c = p.conversion
        if c is None:
            raise _err(path, "the program has no `convert` statement")
        if parts[1] == "points":
            return Parameter(path, float(c.points), True, p.points_unit, lambda prog, v: replace(prog, conversion=replace(c, points=int(v))))
        if parts[1] == "voucher":
            return Parameter(path, float(c.voucher.amount), False, p.currency,
                             lambda prog, v: replace(prog, conversion=replace(c, voucher=replace(c.voucher, amount=v))))
        raise _err(path, "conversion settings: points, voucher")
    if head == "rule" and len(parts) >= 3:
        return _rule_parameter(p, path, parts[1], parts[2], _index(path, parts[3:]))
    if len(parts) >= 2 and head in [r.name for r in p.rules]:
        return _rule_parameter(p, path, head, parts[1], _index(path, parts[2:]))
    rules = [r.name for r in p.rules]
    hint = did_you_mean(head, rules + ["point_cost", "point_value", "pending_days", "tier", "tiers", "reward",
                                       "expiry", "pay_with_points", "conversion", "population"])
    raise _err(path, "unknown parameter", hint or "see docs/whatif.md for the parameter paths")


def _index(path: str, rest: list[str]) -> int:
    if not rest:
        return 1
    if len(rest) == 1 and rest[0].isdigit() and int(rest[0]) >= 1:
        return int(rest[0])
    raise _err(path, f"`{'.'.join(rest)}` after the setting must be a position such as 2 (the second one)")


# ---------------------------------------------------------------- grids


def parse_vary(text: str) -> tuple[str, list[Decimal]]:
    """`PATH=FROM:TO:STEP` (both ends included when on the grid) or `PATH=v1,v2,...`."""
    path, sep, spec = text.partition("=")
    if not sep or not path.strip() or not spec.strip():
        raise usage_error("RL731", f"--vary {text}: write NAME=FROM:TO:STEP or NAME=v1,v2,...",
                          "e.g. --vary base.rate=1:3:0.5")
    try:
        if ":" in spec:
            parts = [Decimal(x.strip()) for x in spec.split(":")]
            if len(parts) != 3:
                raise InvalidOperation
            lo, hi, step = parts
            if step <= 0 or hi < lo:
                raise usage_error("RL731", f"--vary {text}: need FROM <= TO and a positive STEP")
            count = int((hi - lo) / step) + 1
            if count > MAX_POINTS:
                raise usage_error("RL731", f"--vary {text}: {count} values is too many (at most {MAX_POINTS})")
            values = [lo + step * i for i in range(count)]
        else:
            values = [Decimal(x.strip()) for x in spec.split(",") if x.strip()]
    except (InvalidOperation, ValueError):
        raise usage_error("RL731", f"--vary {text}: `{spec}` is not FROM:TO:STEP or a list of numbers") from None
    if not values:
        raise usage_error("RL731", f"--vary {text}: no values")
    return path.strip(), values


def parse_constraint(text: str, kind: str) -> tuple[MetricExpr, float]:
    """`METRIC=LIMIT` (`program_cost/revenue=0.02`, `retention=60%`) for --max / --min."""
    metric, sep, limit = text.rpartition("=")
    expr = MetricExpr.parse(metric) if sep else None
    if expr is None:
        raise usage_error("RL732", f"--{kind} {text}: write METRIC=LIMIT, e.g. --{kind} \"program_cost / revenue=0.02\"")
    unknown = expr.unknown_names()
    if unknown:
        names = [short_name(k) for k in KNOWN_METRICS]
        raise usage_error("RL732", f"--{kind} {text}: unknown metric `{short_name(unknown[0])}`",
                          did_you_mean(short_name(unknown[0]), names) or ", ".join(names))
    try:
        value = float(limit.strip().rstrip("%").replace("_", "")) / (100 if limit.strip().endswith("%") else 1)
    except ValueError:
        raise usage_error("RL732", f"--{kind} {text}: `{limit}` is not a number") from None
    return expr, value


@dataclass(frozen=True)
class Constraint:
    metric: MetricExpr
    limit: float
    kind: str  # "max" | "min"

    def text(self) -> str:
        return f"{self.metric.text} {'<=' if self.kind == 'max' else '>='} {self.limit:g}"


@dataclass
class SweepPoint:
    values: tuple[Decimal, ...]
    run: WhatIfRun
    objective: dict[str, Any]
    shown: dict[str, dict[str, Any]]
    constraints: list[tuple[Constraint, float | None, bool]]

    @property
    def feasible(self) -> bool:
        return all(ok for _, _, ok in self.constraints)


@dataclass(frozen=True)
class Verdict:
    """Whether the leading grid point (the feasible point with the best mean objective) is resolved
    from the current setting: see `resolve_leader`."""

    leader: SweepPoint | None  # None: no feasible point
    is_current: bool  # the leader is the current setting itself
    difference: dict[str, Any] | None  # paired objective difference leader − current, trial by trial
    resolved: bool
    reason: str  # why not resolved (empty when resolved)


def resolve_leader(leader: SweepPoint | None, leader_values: np.ndarray | None, current_values: np.ndarray,
                   is_current: bool, minimize: bool) -> Verdict:
    """The leader is "best" only when the difference to the current setting is resolved, that is both:
    - its range of outcomes (5th..95th percentile of its per-trial objective) does not overlap the
      current setting's: it lies wholly above it (below it with `--minimize`), so the two settings'
      outcomes are told apart whatever the uncertain assumptions drawn per trial; and
    - the Monte Carlo precision of the mean paired difference (same trials, common random numbers)
      excludes 0: more trials would not plausibly reverse the ranking of the means.
    When the ranges overlap the sweep says the difference is not resolved and calls no value best,
    even when the paired difference favours the leader in most trials (it is shown, with the share
    of trials the leader wins, so a consistent win on the same trials stays visible)."""
    if leader is None:
        return Verdict(None, False, None, False, "no grid point meets the constraints")
    if is_current or leader_values is None:
        return Verdict(leader, True, None, True, "")
    d = paired_summary(current_values, leader_values)
    lead_lo, lead_hi = outcome_range(leader_values)
    cur_lo, cur_hi = outcome_range(current_values)
    if d["mean"] is None or d["low"] is None or lead_lo is None or cur_lo is None:
        return Verdict(leader, False, d, False, "the objective is undefined in some trials")
    diff = np.asarray(leader_values, dtype=np.float64) - np.asarray(current_values, dtype=np.float64)
    diff = diff[~np.isnan(diff)]
    wins = int(np.sum(diff < 0) if minimize else np.sum(diff > 0))
    d = {**d, "trials_leader_better": wins, "trials": int(diff.size)}
    if minimize:
        range_ok = lead_hi < cur_lo  # type: ignore[operator]
        mc_ok = d["high"] < 0  # type: ignore[operator]
    else:
        range_ok = lead_lo > cur_hi  # type: ignore[operator]
        mc_ok = d["low"] > 0  # type: ignore[operator]
    reasons = []
    if not range_ok:
        reasons.append("the two settings' ranges of outcomes overlap")
    if not mc_ok:
        reasons.append(f"the {PRECISION} of the mean paired difference includes 0 (more trials may settle it)")
    return Verdict(leader, False, d, range_ok and mc_ok, "; ".join(reasons))


@dataclass
class SweepResult:
    parameters: list[Parameter]
    grids: list[list[Decimal]]
    points: list[SweepPoint]
    objective: MetricExpr
    minimize: bool
    constraints: list[Constraint]
    best: SweepPoint | None  # the leader, when it is resolved from the current setting (else None)
    meta: dict[str, Any]
    verdict: Verdict | None = None
    current: dict[str, Any] | None = None  # the objective at the current setting

    def to_json(self) -> dict[str, Any]:
        def num(d: Decimal) -> float | int:
            return int(d) if d == d.to_integral_value() else float(d)
        v = self.verdict
        return {
            "schema": SCHEMA, "meta": self.meta, "uncertainty": legend_json(self.meta),
            "parameters": [{"path": p.path, "current": p.current, "unit": p.unit, "values": [num(v) for v in g]}
                           for p, g in zip(self.parameters, self.grids)],
            "objective": {"metric": self.objective.text, "goal": "minimize" if self.minimize else "maximize"},
            "constraints": [c.text() for c in self.constraints],
            "points": [{"values": [num(v) for v in pt.values], "objective": pt.objective, "feasible": pt.feasible,
                        "metrics": pt.shown,
                        "constraints": [{"rule": c.text(), "value": v, "holds": ok} for c, v, ok in pt.constraints]}
                       for pt in self.points],
            "best": None if self.best is None else {"values": [num(v) for v in self.best.values],
                                                    "objective": self.best.objective},
            "current": {"objective": self.current},
            "leader": None if v is None or v.leader is None else {
                "values": [num(x) for x in v.leader.values], "objective": v.leader.objective,
                "is_current": v.is_current, "difference_to_current": v.difference,
                "resolved": v.resolved, "not_resolved_because": v.reason or None},
        }


def _mean(values: np.ndarray) -> float | None:
    return summary(values)["mean"]


def run_sweep(loaded: LoadedProgram, varies: Sequence[str], population: PopulationSource, settings: Settings, *,
              objective: str = "incremental_profit", minimize: bool = False, maxes: Sequence[str] = (),
              mins: Sequence[str] = (), progress: Callable[[int, int], None] | None = None) -> SweepResult:
    if not 1 <= len(varies) <= 2:
        raise usage_error("RL731", "give one or two --vary")
    parsed = [parse_vary(v) for v in varies]
    params = [resolve_parameter(path, loaded.ast_program, population.base) for path, _ in parsed]
    if len(params) == 2 and params[0].path == params[1].path:
        raise usage_error("RL731", "the two --vary name the same parameter")
    grids = [vals for _, vals in parsed]
    for prm, grid in zip(params, grids):
        if prm.integer and any(v != v.to_integral_value() for v in grid):
            raise _err(prm.path, "takes whole numbers", "use a whole-number STEP, e.g. 100:500:100")
    obj = MetricExpr.parse(objective)
    if obj is None or obj.unknown_names():
        raise usage_error("RL732", f"--objective {objective}: unknown metric",
                          did_you_mean(objective, [short_name(k) for k in KNOWN_METRICS]))
    constraints = [Constraint(*parse_constraint(t, "max"), "max") for t in maxes] + \
                  [Constraint(*parse_constraint(t, "min"), "min") for t in mins]
    combos = list(itertools.product(*grids))
    if len(combos) > MAX_POINTS:
        raise usage_error("RL731", f"{len(combos)} grid points is too many (at most {MAX_POINTS})")
    arms = []
    for combo in combos:
        prog = loaded.ast_program
        pop_setters = []
        for prm, v in zip(params, combo):
            if prm.set_program is not None:
                prog = prm.set_program(prog, v)
            else:
                pop_setters.append((prm.set_population, float(v)))
        label = ", ".join(f"{prm.path}={v}" for prm, v in zip(params, combo))
        try:
            compiled = compile_ast_program(prog, label) if prog is not loaded.ast_program else loaded.program
        except WhatIfError as exc:
            raise WhatIfError([replace(d, message=f"with {label}: {d.message}") for d in exc.diagnostics]) from None
        modifier = None
        if pop_setters:
            def modifier(q: Population, setters=tuple(pop_setters)) -> Population:
                for setter, val in setters:
                    q = setter(q, val)  # type: ignore[misc]
                return q
        arms.append(Arm(label, compiled, modifier))
    current_index = next((i for i, combo in enumerate(combos)
                          if all(p.current is not None and float(x) == p.current for p, x in zip(params, combo))), None)
    if current_index is None:  # the setting as loaded is not on the grid: run it too, on the same trials
        arms.append(Arm("current", loaded.program))
    runs = run_programs(arms, population, settings, progress)
    current_run = runs[current_index] if current_index is not None else runs[-1]
    runs = runs[:len(combos)]
    points = []
    for combo, run in zip(combos, runs):
        try:
            obj_summary = summary(metric_values(run, obj))
            checks = []
            for c in constraints:
                value = _mean(metric_values(run, c.metric))
                ok = value is not None and (value <= c.limit if c.kind == "max" else value >= c.limit)
                checks.append((c, value, ok))
        except ValueError as exc:
            raise usage_error("RL732", str(exc)) from None
        shown = {short_name(k): summary(run.trial_totals[k]) for k in SHOWN if k in run.trial_totals}
        points.append(SweepPoint(tuple(combo), run, obj_summary, shown, checks))
    feasible = [pt for pt in points if pt.feasible and pt.objective["mean"] is not None]
    leader = None
    if feasible:
        key = (lambda pt: pt.objective["mean"]) if not minimize else (lambda pt: -pt.objective["mean"])
        leader = max(feasible, key=key)  # the first of equal values: the smallest setting
        here = points[current_index] if current_index is not None else None
        if here is not None and here in feasible and key(here) == key(leader):
            leader = here  # a tie with the current setting is no improvement on it
    try:
        current_values = metric_values(current_run, obj)
    except ValueError as exc:
        raise usage_error("RL732", str(exc)) from None
    verdict = resolve_leader(leader, metric_values(leader.run, obj) if leader else None, current_values,
                             leader is not None and leader.run is current_run, minimize)
    meta = {k: v for k, v in runs[0].result.meta.items() if k != "variant"}
    return SweepResult(params, grids, points, obj, minimize, constraints, leader if verdict.resolved else None,
                       meta, verdict, summary(current_values))


def verdict_lines(res: SweepResult, kind: str, code: str = "") -> list[str]:
    """The closing sentences of a sweep: the best setting, or why no setting is called best."""
    v = res.verdict
    q = code  # "`" in Markdown
    now = ", ".join(f"{q}{p.path}{q} = {p.current:g}" if p.current is not None else f"{q}{p.path}{q} unset"
                    for p in res.parameters)
    cur = fmt_interval(res.current, kind) if res.current else "-"
    if v is None or v.leader is None:
        return ["no grid point meets the constraints"]
    lead = ", ".join(f"{q}{p.path}{q} = {x}" for p, x in zip(res.parameters, v.leader.values))
    obj = fmt_interval(v.leader.objective, kind)
    if v.is_current:
        return [f"best: {lead} ({res.objective.text} {obj}): the current setting; no grid point does better on the mean"]
    d = v.difference or {}
    diff = fmt_interval(d, kind, True)
    wins = (f", {lead} better in {d['trials_leader_better']} of {d['trials']} trials"
            if d.get("trials") else "")
    if v.resolved:
        return [f"best: {lead} ({res.objective.text} {obj}); now: {now} ({cur}); resolved: their ranges of "
                f"outcomes do not overlap and the paired difference is {diff}{wins}"]
    advice = []
    if "overlap" in v.reason:
        advice.append(f"more trials do not narrow a {RANGE}: narrow the uncertain assumptions, or simulate more "
                      "customers when they are fixed")
    if PRECISION in v.reason or not advice:
        advice.append("run more trials")
    return [f"not resolved: {lead} has the best mean {res.objective.text} ({obj}), but the difference to the "
            f"current setting ({now}: {cur}) is not resolved: {v.reason}; paired difference {diff}{wins}. "
            f"No value is called best; {'; '.join(advice)}."]


def text_table(res: SweepResult) -> str:
    from simulator.whatif.compare import fmt, header_lines, legend_lines, metric_kind, render_table

    lines = header_lines(res.meta)
    goal = "minimise" if res.minimize else "maximise"
    lines.append(f"program {res.meta['program']}; {goal} {res.objective.text}"
                 + (f" subject to {', '.join(c.text() for c in res.constraints)} (on the mean)" if res.constraints else "")
                 + f"; money in {res.meta['currency']}")
    lines += legend_lines(res.meta)
    lines.append("")
    from simulator.whatif.runner import resolve_metric

    okind = metric_kind(res.objective.numerator) if res.objective.denominator is None else "ratio4"
    extra = [k for k in res.points[0].shown if k != res.objective.text]
    headers = [p.path for p in res.parameters] + [res.objective.text] + extra + [c.text() for c in res.constraints]
    rows = []
    leader = res.verdict.leader if res.verdict else None
    for pt in res.points:
        row = [str(v) for v in pt.values] + [fmt_interval(pt.objective, okind)]
        row += [fmt_interval(pt.shown[k], metric_kind(resolve_metric(k))) for k in extra]
        for c, value, ok in pt.constraints:
            kind = metric_kind(c.metric.numerator) if c.metric.denominator is None else "ratio4"
            row.append(f"{fmt(value, kind)} {'ok' if ok else 'NO'}")
        if pt is res.best:
            row[-1] += "  <- best"
        elif pt is leader:
            row[-1] += "  <- best mean, not resolved"
        rows.append(row)
    lines.append(render_table(headers, rows, left=0))
    lines.append("")
    lines += verdict_lines(res, okind)
    return "\n".join(lines) + "\n"
