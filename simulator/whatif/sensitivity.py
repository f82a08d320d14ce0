"""`loyalty sensitivity`: how much each population assumption moves the result (a tornado).

Takes: a loaded program, a population source, run settings, a relative range (default
±50 %), optional absolute ranges (`--param response.goal_gradient=0.1:0.3`) and the metric
to watch (default incremental profit). Gives: `SensitivityResult` — for every behavioural
and economic assumption the metric at its low and at its high value, as paired
differences to the base run (mean, range of outcomes, Monte Carlo precision) (all runs share the trials: common random numbers), sorted by
swing; `to_json()` (`schema: loyalty-sensitivity/1`).

The assumptions and what "scaled by f" means for each are listed in `ASSUMPTIONS`
(and in docs/whatif.md). Rates and shares are kept inside [0, 1]. An assumption whose
value is 0 in the population cannot be scaled: it is listed as skipped unless an
absolute range is given.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

from simulator.model.population import Population
from simulator.whatif.runner import Arm, LoadedProgram, MetricExpr, PopulationSource, Settings, metric_values, paired_summary, run_programs, summary, usage_error

SCHEMA = "loyalty-sensitivity/1"


@dataclass(frozen=True)
class Assumption:
    """A population assumption: how to read it and how to set it (value in the file's terms)."""

    path: str
    label: str
    get: Callable[[Population], float]
    set: Callable[[Population, float], Population]
    upper: float | None = None  # values are clipped to [0, upper]


def _resp(name: str, label: str, upper: float | None = None) -> Assumption:
    return Assumption(f"response.{name}", label, lambda p: float(getattr(p.response, name)),
                      lambda p, v: replace(p, response=replace(p.response, **{name: v})), upper)


def _econ(name: str, attr: str, label: str, cents: bool = False, upper: float | None = None) -> Assumption:
    scale = 100.0 if cents else 1.0
    return Assumption(f"economics.{name}", label, lambda p: getattr(p.economics, attr) / scale,
                      lambda p, v: replace(p, economics=replace(p.economics, **{attr: int(round(v * scale)) if cents else v})),
                      upper)


def _seg_scale(path: str, label: str, attr: str, inverse: bool = False, upper: float | None = None) -> Assumption:
    """A segment trait scaled by the same factor in every segment (reported as the factor, 1 = as given)."""
    def set_(p: Population, factor: float) -> Population:
        segs = []
        for s in p.segments:
            v = getattr(s, attr)
            new = v / factor if inverse else v * factor
            if upper is not None:
                new = min(new, upper)
            segs.append(replace(s, **{attr: new}))
        return replace(p, segments=tuple(segs))
    return Assumption(path, label, lambda p: 1.0, set_)


ASSUMPTIONS: list[Assumption] = [
    _resp("goal_gradient", "goal gradient: purchase-rate lift as a reward comes near", 5.0),
    _resp("post_reward_lift", "lift after a redemption (rewarded behaviour)", 5.0),
    _resp("tier_dropout_reduction", "top tier lowers dropout by", 1.0),
    _resp("downgrade_dropout_increase", "a downgrade raises dropout by"),
    _resp("perk_use_rate", "share of purchases using a per-use perk", 1.0),
    _resp("referral_action_rate", "referral intents acted on", 1.0),
    _resp("referral_conversion", "referrals that become customers", 1.0),
    _resp("heavy_buyer_damping", "weaker response of heavy buyers"),
    _econ("gross_margin", "gross_margin", "gross margin", upper=1.0),
    _econ("fixed_cost_per_member_per_month", "fixed_cost_per_member_month_cents", "fixed cost per member-month", True),
    _econ("fixed_cost_per_month", "fixed_cost_per_month_cents", "fixed cost per month", True),
    _econ("acquisition_cost", "acquisition_cost_cents", "cost per referred customer", True),
    _seg_scale("segments.purchase_rate", "purchase rate of every segment (x factor)", "alpha_days", inverse=True),
    _seg_scale("segments.dropout", "dropout of every segment (Beta a, x factor)", "a"),
    _seg_scale("segments.spend", "spend per purchase (x factor)", "spend_gamma"),
    _seg_scale("segments.redeem", "propensity to redeem (x factor)", "redeem", upper=1.0),
    _seg_scale("segments.refer", "referral intents per customer (x factor)", "refer_per_day"),
]
SEGMENT_FACTORS = {a.path for a in ASSUMPTIONS if a.path.startswith("segments.")}


@dataclass(frozen=True)
class Setting:
    assumption: Assumption
    base: float
    low: float
    high: float

    def arms(self) -> tuple[Callable[[Population], Population], Callable[[Population], Population]]:
        a = self.assumption
        factor = self.assumption.path in SEGMENT_FACTORS

        def at(v: float) -> Callable[[Population], Population]:
            def modify(p: Population) -> Population:
                if factor:
                    return a.set(p, v)
                base = a.get(p)  # the drawn value when the population file gives a distribution
                value = v if self.base == 0 else base * (v / self.base)
                value = max(0.0, value if a.upper is None else min(value, a.upper))
                return a.set(p, value)
            return modify
        return at(self.low), at(self.high)


@dataclass
class Bar:
    setting: Setting
    low: dict[str, Any]  # paired difference of the metric at the low value to the base run
    high: dict[str, Any]
    low_value: dict[str, Any]  # the metric itself
    high_value: dict[str, Any]

    @property
    def swing(self) -> float:
        lo, hi = self.low["mean"] or 0.0, self.high["mean"] or 0.0
        return abs(hi - lo)


@dataclass
class SensitivityResult:
    metric: MetricExpr
    base: dict[str, Any]
    bars: list[Bar]
    skipped: list[str]
    relative: float
    meta: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        from simulator.whatif.compare import legend_json

        return {
            "schema": SCHEMA, "meta": self.meta, "uncertainty": legend_json(self.meta), "metric": self.metric.text,
            "relative_range": self.relative,
            "base": self.base, "skipped": self.skipped,
            "assumptions": [{
                "path": b.setting.assumption.path, "label": b.setting.assumption.label, "base_value": b.setting.base,
                "low_value": b.setting.low, "high_value": b.setting.high,
                "at_low": b.low_value, "at_high": b.high_value,
                "difference_at_low": b.low, "difference_at_high": b.high, "swing": b.swing,
            } for b in self.bars],
        }


def parse_param(text: str) -> tuple[str, float, float]:
    path, sep, spec = text.partition("=")
    lo, sep2, hi = spec.partition(":")
    try:
        if not sep or not sep2:
            raise ValueError
        low, high = float(lo), float(hi)
    except ValueError:
        raise usage_error("RL733", f"--param {text}: write NAME=LOW:HIGH, e.g. response.goal_gradient=0.1:0.3") from None
    known = [a.path for a in ASSUMPTIONS]
    if path.strip() not in known:
        from rulelang.diagnostics import did_you_mean
        raise usage_error("RL733", f"--param {text}: unknown assumption `{path.strip()}`",
                          did_you_mean(path.strip(), known) or "assumptions: " + ", ".join(known))
    if low > high or low < 0:
        raise usage_error("RL733", f"--param {text}: need 0 <= LOW <= HIGH")
    return path.strip(), low, high


def run_sensitivity(loaded: LoadedProgram, population: PopulationSource, settings: Settings, *,
                    relative: float = 0.5, params: Sequence[str] = (), metric: str = "incremental_profit",
                    only: Sequence[str] = (), progress: Callable[[int, int], None] | None = None) -> SensitivityResult:
    if not 0 < relative < 1:
        raise usage_error("RL733", f"--range {relative}: give a fraction between 0 and 1 (0.5 = ±50%)")
    expr = MetricExpr.parse(metric)
    if expr is None or expr.unknown_names():
        raise usage_error("RL733", f"--metric {metric}: unknown metric")
    absolute = {path: (lo, hi) for path, lo, hi in (parse_param(p) for p in params)}
    pop = population.base
    settings_list: list[Setting] = []
    skipped: list[str] = []
    for a in ASSUMPTIONS:
        if only and a.path not in only:
            continue
        base = a.get(pop)
        if a.path in absolute:
            lo, hi = absolute[a.path]
        elif base == 0:
            skipped.append(f"{a.path} is 0 in this population (give --param {a.path}=LOW:HIGH to vary it)")
            continue
        else:
            lo, hi = base * (1 - relative), base * (1 + relative)
            if a.upper is not None:
                hi = min(hi, a.upper)
        settings_list.append(Setting(a, base, lo, hi))
    arms = [Arm("base", loaded.program)]
    for s in settings_list:
        low, high = s.arms()
        arms.append(Arm(f"{s.assumption.path} low", loaded.program, low))
        arms.append(Arm(f"{s.assumption.path} high", loaded.program, high))
    runs = run_programs(arms, population, settings, progress)
    try:
        base_vals = metric_values(runs[0], expr)
        bars = []
        for i, s in enumerate(settings_list):
            lo_vals = metric_values(runs[1 + 2 * i], expr)
            hi_vals = metric_values(runs[2 + 2 * i], expr)
            bars.append(Bar(s, paired_summary(base_vals, lo_vals), paired_summary(base_vals, hi_vals),
                            summary(lo_vals), summary(hi_vals)))
    except ValueError as exc:
        raise usage_error("RL733", str(exc)) from None
    bars.sort(key=lambda b: -b.swing)
    meta = {k: v for k, v in runs[0].result.meta.items() if k != "variant"}
    return SensitivityResult(expr, summary(base_vals), bars, skipped, relative, meta)


def text_table(res: SensitivityResult) -> str:
    from simulator.whatif.compare import fmt, fmt_interval, header_lines, legend_lines, metric_kind, render_table
    from simulator.trials.stats import PRECISION, RANGE

    kind = metric_kind(res.metric.numerator) if res.metric.denominator is None else "ratio"
    lines = header_lines(res.meta)
    lines.append(f"program {res.meta['program']}; {res.metric.text} at each assumption's low and high value, "
                 f"as paired differences to the base run; money in {res.meta['currency']}")
    lines += legend_lines(res.meta)
    lines.append(f"base: {res.metric.text} = {fmt_interval(res.base, kind)}")
    lines.append("")
    rows = []
    for b in res.bars:
        s = b.setting
        factor = s.assumption.path in SEGMENT_FACTORS
        rng = f"x{s.low:g} .. x{s.high:g}" if factor else f"{s.low:.4g} .. {s.high:.4g} (now {s.base:.4g})"
        rows.append([s.assumption.path, rng, fmt_interval(b.low, kind, True), fmt_interval(b.high, kind, True),
                     fmt(b.swing, kind)])
    lines.append(render_table(["assumption", "values", f"change at low [{RANGE}] ±{PRECISION}",
                               f"change at high [{RANGE}] ±{PRECISION}", "swing (of the means)"], rows))
    for note in res.skipped:
        lines.append(f"skipped: {note}")
    return "\n".join(lines) + "\n"

