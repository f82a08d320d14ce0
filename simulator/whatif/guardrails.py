"""Guardrails: limits the business sets on simulated results, checked by `plan` (and `simulate`).

Takes: a guardrails YAML file (shape below, documented in docs/whatif.md) and a run
result (`WhatIfRun` from the what-if commands, or a plain `RunResult`). Gives:
`load_guardrails(text, path)` -> (`Guardrail`s, located diagnostics), and
`evaluate_guardrails(result, guardrails)` -> one `Finding` per guardrail (passed or not,
the measured value, a sentence saying why).

    version: 1
    guardrails:
      - name: program cost stays under 2% of revenue
        rule: program_cost / revenue <= 0.02 at p95
      - rule: liability at month 12 <= 50000
      - rule: incremental_profit > 0 with probability >= 0.9
        severity: warning          # reported, but does not fail the plan (default: error)
      - retention >= 0.6           # a bare string is a rule too

Rule: `METRIC [/ METRIC] [at month N] OP LIMIT [at STATISTIC] [with probability >= P]`
- OP is `<=`, `<`, `>=` or `>`; LIMIT a number (`0.02`, `2%`, `50_000`).
- STATISTIC is over the Monte Carlo trials (the words of `simulator.trials.stats`): `mean`
  (default), `pNN` (the NN-th percentile of the per-trial values: `p5` and `p95` are the ends
  of the range of outcomes), `low` / `high` (the ends of the Monte Carlo precision,
  the 95 % confidence interval of the mean). Every finding says what its limit was checked
  against (`Guardrail.checked_against`: the mean, an end of the Monte Carlo precision, a
  percentile of the range of outcomes, or the share of trials) and states the mean with its
  range of outcomes and Monte Carlo precision, so a pass on the mean with a range reaching past
  the limit is visible.
- `with probability >= P`: the share of trials whose value satisfies OP LIMIT must be >= P.
Codes: RL720 file cannot be read, RL601 invalid YAML, RL722 wrong shape, RL723 a rule that
cannot be read, RL724 an unknown metric.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import yaml

from rulelang import ir
from rulelang.diagnostics import Diagnostic, DiagnosticBag, NO_SPAN, Span, did_you_mean

from simulator.trials.result import RunResult
from simulator.trials.stats import PRECISION, RANGE, outcome_range, precision_half_width
from simulator.whatif.runner import KNOWN_METRICS, MetricExpr, WhatIfError, WhatIfRun, metric_values, percentile, short_name
from simulator.model.yaml_reading import Reader, compose, scalar_value

__all__ = ["Finding", "Guardrail", "evaluate_guardrails", "load_guardrails", "load_guardrails_file"]

_RULE = re.compile(
    r"^(?P<metric>.+?)\s*(?P<op><=|>=|<|>)\s*(?P<limit>[-+]?[\d_]*\.?\d+(?:[eE][-+]?\d+)?)\s*(?P<pct>%)?"
    r"(?:\s+at\s+(?P<stat>mean|low|high|p\d{1,2}(?:\.\d+)?))?"
    r"(?:\s+with\s+probability\s*>=\s*(?P<prob>\d*\.?\d+)\s*(?P<probpct>%)?)?\s*$")

_OPS = {"<=": np.less_equal, "<": np.less, ">=": np.greater_equal, ">": np.greater}
_NEGATE = {"<=": ">", "<": ">=", ">=": "<", ">": "<="}


@dataclass(frozen=True)
class Guardrail:
    """One limit: `metric OP limit` on a statistic over trials (or a probability)."""

    rule: str
    metric: MetricExpr
    op: str
    limit: float
    statistic: str = "mean"  # mean | low | high | pNN
    probability: float | None = None
    name: str = ""
    severity: str = "error"
    span: Span = NO_SPAN

    @property
    def title(self) -> str:
        return self.name or self.rule

    @property
    def checked_against(self) -> str:
        """What the limit is checked against, in the words of `simulator.trials.stats`."""
        return checked_against(self.statistic, self.probability)


def checked_against(statistic: str, probability: float | None = None) -> str:
    """`the mean`, `the low end of the Monte Carlo precision`, `the 95th percentile (the high end of the
    range of outcomes)`, `the share of trials`: what a guardrail compares with its limit."""
    if probability is not None:
        return "the share of trials that keep the limit"
    if statistic == "mean":
        return "the mean"
    if statistic in ("low", "high"):
        return f"the {statistic} end of the {PRECISION} of the mean"
    q = float(statistic[1:])
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(int(q) % 10, "th") if q == int(q) and int(q) % 100 not in (11, 12, 13) else "th"
    name = f"the {q:g}{suffix} percentile of the trials"
    if q == 5:
        return f"{name} (the low end of the {RANGE})"
    if q == 95:
        return f"{name} (the high end of the {RANGE})"
    return name


@dataclass(frozen=True)
class Finding:
    """The outcome of one guardrail on one result."""

    guardrail: Guardrail
    passed: bool
    value: float | None
    message: str

    @property
    def failed(self) -> bool:
        """A failure that should fail the command (severity error)."""
        return not self.passed and self.guardrail.severity == "error"

    def to_json(self) -> dict[str, Any]:
        g = self.guardrail
        return {"name": g.name or None, "rule": g.rule, "severity": g.severity, "passed": self.passed,
                "value": self.value, "limit": g.limit, "statistic": g.statistic, "probability": g.probability,
                "checked_against": g.checked_against,
                "message": self.message,
                "location": f"{g.span.file}:{g.span.line}:{g.span.column}" if g.span.line else None}


def parse_rule(text: str) -> tuple[Guardrail | None, str | None]:
    """A rule string -> (Guardrail, None) or (None, what is wrong)."""
    m = _RULE.match(text.strip())
    if not m:
        return None, ("cannot read this rule; write `METRIC OP LIMIT [at mean|pNN|low|high] "
                      "[with probability >= P]`, e.g. `program_cost / revenue <= 0.02 at p95`")
    metric = MetricExpr.parse(m.group("metric"))
    if metric is None:
        return None, (f"cannot read the metric `{m.group('metric').strip()}`; write a metric name, "
                      "a ratio `a / b`, optionally followed by `at month N`")
    limit = float(m.group("limit").replace("_", ""))
    if m.group("pct"):
        limit /= 100
    stat = m.group("stat") or "mean"
    if stat.startswith("p") and not 0 <= float(stat[1:]) <= 100:
        return None, f"`{stat}`: percentiles run from p0 to p100"
    prob = None
    if m.group("prob") is not None:
        prob = float(m.group("prob")) / (100 if m.group("probpct") else 1)
        if not 0 <= prob <= 1:
            return None, "a probability lies between 0 and 1"
        if m.group("stat"):
            return None, "write either `at STATISTIC` or `with probability >= P`, not both"
    return Guardrail(" ".join(text.split()), metric, m.group("op"), limit, stat, prob), None


def load_guardrails(source: str, path: str) -> tuple[list[Guardrail], list[Diagnostic]]:
    """Read a guardrails file; every problem is a located diagnostic."""
    bag = DiagnosticBag()
    root = compose(source, path, bag)
    if root is None:
        if not bag.items:
            bag.error("RL722", "the guardrails file is empty", Span.point(path, 1, 1),
                      "start with `guardrails:` and a list of rules (see docs/whatif.md)")
        return [], bag.items
    rd = Reader(path, bag)
    top = rd.mapping(root, "the guardrails file", ["version", "guardrails"])
    if root is not None and isinstance(root, yaml.MappingNode) and "guardrails" not in top and not bag.has_errors:
        bag.error("RL722", "a guardrails file needs `guardrails:` (a list of rules)", rd.span(root))
    if "version" in top:
        v = scalar_value(top["version"])
        if v != 1:
            rd.error(top["version"], "RL722", f"unknown guardrails file version `{top['version'].value}`",
                     "this version reads `version: 1`")
    out: list[Guardrail] = []
    for node in rd.sequence(top.get("guardrails"), "guardrails"):
        fields: dict[str, Any] = {}
        if isinstance(node, yaml.ScalarNode):
            rule_node = node
        else:
            m = rd.mapping(node, "a guardrail", ["name", "rule", "severity"])
            if not m:
                continue
            if "rule" not in m:
                rd.error(node, "RL722", "a guardrail needs `rule:`", "e.g. `rule: program_cost / revenue <= 0.02 at p95`")
                continue
            rule_node = m["rule"]
            fields["name"] = rd.string(m.get("name"), "guardrail name", "") or ""
            fields["severity"] = rd.string(m.get("severity"), "severity", "error", ["error", "warning"]) or "error"
        if not isinstance(rule_node, yaml.ScalarNode):
            rd.error(rule_node, "RL723", "a guardrail rule is one line of text",
                     "e.g. `liability at month 12 <= 50000`")
            continue
        text = str(rule_node.value)
        g, problem = parse_rule(text)
        span = rd.span(rule_node)
        if g is None:
            bag.error("RL723", problem or "cannot read this rule", span)
            continue
        unknown = g.metric.unknown_names()
        if unknown:
            names = [short_name(k) for k in KNOWN_METRICS]
            bad = short_name(unknown[0])
            bag.error("RL724", f"unknown metric `{bad}`", span,
                      did_you_mean(bad, names) or "metrics: " + ", ".join(names))
            continue
        out.append(Guardrail(g.rule, g.metric, g.op, g.limit, g.statistic, g.probability,
                             fields.get("name", ""), fields.get("severity", "error"), span))
    return out, bag.items


def load_guardrails_file(path: str) -> list[Guardrail]:
    """Read and validate a guardrails file; WhatIfError with located diagnostics."""
    from rulelang import read_text

    text, problems = read_text(path)
    if text is None:
        raise WhatIfError([Diagnostic("RL720", "error", d.message, d.span, "check the path given to --guardrails")
                           for d in problems])
    rails, diags = load_guardrails(text, path)
    errors = [d for d in diags if d.is_error]
    if errors:
        raise WhatIfError(errors, {path: text})
    return rails


# ---------------------------------------------------------------- evaluation


class _Adapter:
    """A plain RunResult seen as a WhatIfRun: per-trial totals; monthly means stand in for one 'trial'."""

    def __init__(self, result: RunResult, program: Any = None):
        self.result = result
        self.trial_totals = {k: np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
                             for k, vals in result.per_trial.items()}
        self.trial_monthly = {k: np.array([[np.nan if v is None else v for v in s["mean"]]], dtype=np.float64)
                              for k, s in result.monthly.items() if isinstance(s.get("mean"), list)}
        self.program = program


class _PointCost:
    def __init__(self, cents: float):
        self.point_cost_cents = cents


def _value_text(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "undefined"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def evaluate_guardrails(result: WhatIfRun | RunResult, guardrails: Sequence[Guardrail],
                        program: ir.Program | None = None) -> list[Finding]:
    """Check every guardrail on one result; a guardrail that cannot be evaluated fails with the reason.

    A plain `RunResult` (from `simulate`) has per-trial totals but only monthly means, so
    `at month N` rules on it work with the mean statistic only; pass the compiled `program`
    for `liability at month N` (the point cost is read from it).
    """
    run: Any = result
    per_trial_monthly = True
    if isinstance(result, RunResult):
        run = _Adapter(result, program if program is not None else _PointCost(_point_cost_cents(result)))
        per_trial_monthly = False
    return [_evaluate(run, g, per_trial_monthly) for g in guardrails]


def _point_cost_cents(result: RunResult) -> float:
    """The point cost behind a result's liability (liability = outstanding × (1 − breakage) × point cost)."""
    t = result.totals
    liability = (t.get("program.liability") or {}).get("mean")
    outstanding = (t.get("program.points_outstanding") or {}).get("mean")
    breakage = (t.get("program.breakage_rate") or {}).get("mean") or 0.0
    if not liability or not outstanding or breakage >= 1:
        return 0.0
    return 100.0 * liability / (outstanding * (1.0 - breakage))


def _evaluate(run: Any, g: Guardrail, per_trial_monthly: bool) -> Finding:
    if g.metric.month is not None and not per_trial_monthly and (g.statistic != "mean" or g.probability is not None):
        return Finding(g, False, None, f"{g.title}: `at month` with a percentile or a probability needs the "
                                       "per-trial monthly values that `loyalty plan` keeps")
    try:
        values = metric_values(run, g.metric)
    except ValueError as exc:
        return Finding(g, False, None, f"{g.title}: {exc}")
    values = np.asarray(values, dtype=np.float64)
    ok_values = values[~np.isnan(values)]
    op = _OPS[g.op]
    if ok_values.size == 0:
        return Finding(g, False, None, f"{g.title}: {g.metric.text} is undefined in every trial")
    if g.probability is not None:
        share = float(np.mean(op(ok_values, g.limit)))
        passed = share >= g.probability
        verdict = "holds" if passed else "fails"
        return Finding(g, passed, share,
                       f"{g.title}: {verdict} — {g.metric.text} {g.op} {_value_text(g.limit)} in "
                       f"{100 * share:.0f}% of {ok_values.size} trials (needs >= {100 * g.probability:.0f}%; "
                       f"checked against {g.checked_against}); {_spread_text(ok_values)}")
    if g.statistic == "mean":
        value = float(ok_values.mean())
    elif g.statistic in ("low", "high"):
        from simulator.whatif.runner import summary
        value = summary(ok_values)[g.statistic]  # type: ignore[assignment]
    else:
        value = percentile(ok_values, float(g.statistic[1:]))  # type: ignore[assignment]
    passed = bool(op(value, g.limit))
    stat = "" if g.statistic == "mean" else f" at {g.statistic}"
    where = "mean " if g.statistic == "mean" else ""
    relation = g.op if passed else _NEGATE[g.op]
    what = f" (checked against {g.checked_against})"
    return Finding(g, passed, value,
                   f"{g.title}: {'holds' if passed else 'fails'} — {where}{g.metric.text}{stat} = "
                   f"{_value_text(value)} {relation} {_value_text(g.limit)}{what}; {_spread_text(ok_values)}")


def _spread_text(values: np.ndarray) -> str:
    """`mean 20 (range of outcomes -7 to 47; Monte Carlo precision ±17, 5 trials)`."""
    mean = float(values.mean())
    if values.size < 2:
        return f"mean {_value_text(mean)} (one trial)"
    p5, p95 = outcome_range(values)
    return (f"mean {_value_text(mean)} ({RANGE} {_value_text(p5)} to {_value_text(p95)}; "
            f"{PRECISION} ±{_value_text(precision_half_width(values))}, {values.size} trials)")


def findings_failed(findings: Sequence[Finding]) -> bool:
    return any(f.failed for f in findings)
