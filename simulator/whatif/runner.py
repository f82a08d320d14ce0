"""What-if runs: several programs on the same customers, with per-trial numbers kept.

Takes: program specs (a file, or `REV:path` read with `git show`), a population file
(whose numeric parameters may be distributions such as `{uniform: [0.1, 0.3]}`, drawn
once per trial), and run settings. Gives:
- `load_program_spec(spec)` -> `LoadedProgram` (AST and IR), `load_population_spec(path)`
  -> `PopulationSource`; bad input raises `WhatIfError` carrying located diagnostics;
- `run_programs(arms, population, settings)` -> one `WhatIfRun` per arm: the usual
  `RunResult` plus per-trial totals and per-trial monthly series. Every arm runs trial t on
  the same seed, blocks and population draw (common random numbers), all tasks of all
  arms in one worker pool;
- metric names (`incremental_profit`, `program_cost / revenue`, `liability at month 12`)
  -> per-trial values (`metric_values`), and paired differences (`paired_summary`).

Tasks are the ones `simulator.trials.montecarlo.simulate` runs, (trial, chunk) keyed by
(seed, trial, block), so for a fixed population a run's totals equal simulate()'s.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np
import yaml

from rulelang import ast
from rulelang import ir
from rulelang.diagnostics import Diagnostic, DiagnosticBag, RulelangError, Span
from rulelang import mark_span

from simulator.trials import montecarlo as mc
from simulator.model.customers_file import for_task
from simulator.model.population import DEFAULT_POPULATION, Population, load_population
from simulator.trials.result import RunResult, build_result, tier_counts_and_shares, trial_mean
from simulator.trials.stats import summarize, t975
from simulator.model.yaml_reading import compose, scalar_value

PopulationModifier = Callable[[Population], Population]


class WhatIfError(RulelangError):
    """Input to compare / sweep / sensitivity / plan that cannot be used; carries diagnostics and sources."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None):
        super().__init__(diagnostics)
        self.sources = dict(sources or {})


def usage_error(code: str, message: str, hint: str | None = None, where: str = "<command line>") -> WhatIfError:
    return WhatIfError([Diagnostic(code, "error", message, Span(where, 0, 0, 0, 0), hint)])


# ---------------------------------------------------------------- programs


@dataclass(frozen=True)
class LoadedProgram:
    """One program variant: where it came from, its AST and its IR."""

    label: str  # as given: a path or REV:path
    source: ast.SourceFile
    program: ir.Program
    text: str

    @property
    def ast_program(self) -> ast.Program:
        return self.source.program  # type: ignore[return-value]


def read_spec(spec: str) -> tuple[str, str]:
    """(path used in messages, text) of a file or of `REV:path` (`git show REV:path`)."""
    from rulelang import read_text

    if os.path.exists(spec) or ":" not in spec:
        text, diags = read_text(spec)
        if text is None:
            raise WhatIfError(diags)
        return spec, text
    rev, _, path = spec.partition(":")
    try:
        proc = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        raise usage_error("RL701", f"cannot run `git show {rev}:{path}`: {exc}", "is git installed?", spec) from None
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise usage_error("RL701", f"cannot read {spec} from git: {reason}",
                          "write REV:path with the path from the repository root, e.g. origin/main:rules/coffee.loyalty",
                          spec)
    return spec, proc.stdout.replace("\r\n", "\n")


def parse_program_text(text: str, path: str) -> LoadedProgram:
    """Parse (text or YAML form, by extension), check and compile; WhatIfError on any error."""
    from rulelang import compile_source

    bare = path.split(":", 1)[1] if ":" in path and not os.path.exists(path) else path
    if bare.endswith((".yaml", ".yml")):
        from rulelang import load_yaml
        sf, diags = load_yaml(text, path)
    elif bare.endswith(".loyalty"):
        from rulelang import parse_text
        sf, diags = parse_text(text, path)
    else:
        raise usage_error("RL003", f"{path} is not a rule file", "rule files end in .loyalty or .yaml", path)
    errors = [d for d in diags if d.is_error]
    if sf is None or errors:
        raise WhatIfError(errors or [Diagnostic("RL004", "error", "no program in this file", Span(path, 0, 0, 0, 0))],
                          {path: text})
    if sf.program is None:
        raise WhatIfError([Diagnostic("RL004", "error", f"{path} holds no program", Span(path, 0, 0, 0, 0),
                                      "compare, sweep and plan need a file with a `program`")], {path: text})
    program, more = compile_source(sf)
    if program is None:
        raise WhatIfError([d for d in more if d.is_error], {path: text})
    return LoadedProgram(path, sf, program, text)


def load_program_spec(spec: str) -> LoadedProgram:
    path, text = read_spec(spec)
    return parse_program_text(text, path)


def compile_ast_program(program: ast.Program, label: str) -> ir.Program:
    """Check and compile a program built in memory (sweeps); WhatIfError with the checker's messages."""
    from rulelang import compile_source

    compiled, diags = compile_source(ast.SourceFile(path=label, program=program))
    if compiled is None:
        raise WhatIfError([d for d in diags if d.is_error])
    return compiled


# ---------------------------------------------------------------- populations

DISTRIBUTIONS = {"uniform": 2, "triangular": 3, "normal": 2}
PER_CUSTOMER_KEYS = ("age", "uncertainty")  # segment keys whose `{uniform: ...}` is not drawn per trial


@dataclass(frozen=True)
class Uncertain:
    """A population parameter given as a distribution, drawn once per trial."""

    path: str  # e.g. response.goal_gradient
    kind: str
    args: tuple[float, ...]
    start: int  # character range of the node in the source
    end: int
    newlines: int

    @property
    def mean(self) -> float:
        a = self.args
        return {"uniform": (a[0] + a[1]) / 2, "triangular": sum(a) / 3, "normal": a[0]}[self.kind]

    def draw(self, rng: np.random.Generator) -> float:
        a = self.args
        if self.kind == "uniform":
            return float(rng.uniform(a[0], a[1]))
        if self.kind == "triangular":
            return float(rng.triangular(a[0], a[1], a[2]))
        return float(rng.normal(a[0], a[1]))

    def describe(self) -> str:
        return f"{self.path} ~ {self.kind}({', '.join(f'{x:g}' for x in self.args)})"


@dataclass(frozen=True)
class PopulationSource:
    """A population file; `for_trial(seed, t)` gives trial t's population (its own draw of
    every uncertain parameter, or the fixed population when there are none)."""

    base: Population
    text: str
    path: str
    uncertain: tuple[Uncertain, ...] = ()
    source_hash: str = ""

    @property
    def per_trial(self) -> bool:
        """Trials draw their own parameters (distributions, or a segment's `uncertainty` block)."""
        return bool(self.uncertain) or any(s.uncertainty is not None for s in self.base.segments)

    def for_trial(self, seed: int, trial: int) -> Population:
        """Trial t's population: the distributions drawn (stream keyed (seed, t)), then every
        segment's `uncertainty` parameters drawn jointly (`simulator.model.history_model`)."""
        from simulator.model.history_model import draw_parameters

        if not self.uncertain:
            return draw_parameters(self.base, seed, trial)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(trial, 0x7FFF_FFFF))))
        values = [u.draw(rng) for u in self.uncertain]
        text = _splice(self.text, self.uncertain, [f"{v:.12g}" for v in values])
        pop, diags = load_population(text, self.path)
        if pop is None:
            drawn = ", ".join(f"{u.path} = {v:.6g}" for u, v in zip(self.uncertain, values))
            raise WhatIfError([replace(d, message=f"{d.message} (trial {trial} drew {drawn})",
                                       hint=d.hint or "use bounds the parameter allows, e.g. a uniform range")
                               for d in diags if d.is_error], {self.path: self.text})
        return draw_parameters(replace(pop, source_hash=self.source_hash), seed, trial)

    def describe(self) -> list[str]:
        from simulator.model.history_model import describe

        return [u.describe() for u in self.uncertain] + describe(self.base)


def _splice(text: str, items: Sequence[Uncertain], values: Sequence[str]) -> str:
    """Replace each distribution node by a number, keeping line numbers (errors stay located)."""
    out, pos = [], 0
    for u, v in sorted(zip(items, values), key=lambda p: p[0].start):
        out.append(text[pos:u.start])
        out.append(v + "\n" * u.newlines)
        pos = u.end
    out.append(text[pos:])
    return "".join(out)


def _find_uncertain(node: Any, path: str, file: str, bag: DiagnosticBag, found: list[Uncertain]) -> None:
    if isinstance(node, yaml.MappingNode):
        keys = [scalar_value(k) for k, _ in node.value]
        if len(keys) == 1 and keys[0] in DISTRIBUTIONS:
            kind = keys[0]
            arg_node = node.value[0][1]
            args = [scalar_value(n) for n in arg_node.value] if isinstance(arg_node, yaml.SequenceNode) else []
            if len(args) != DISTRIBUTIONS[kind] or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
                shape = {"uniform": "[low, high]", "triangular": "[low, mode, high]", "normal": "[mean, sd]"}[kind]
                bag.error("RL606", f"{path}: `{kind}` needs {shape} (numbers)", mark_span(node, file),
                          f"for example {{{kind}: {shape}}}")
                return
            fargs = tuple(float(a) for a in args)
            bad = (kind == "uniform" and fargs[0] > fargs[1]) or (kind == "triangular" and not fargs[0] <= fargs[1] <= fargs[2]) \
                or (kind == "normal" and fargs[1] < 0)
            if bad:
                bag.error("RL606", f"{path}: the bounds of `{kind}` are out of order: {list(fargs)}", mark_span(node, file))
                return
            start, end = node.start_mark.index, node.end_mark.index
            end = start + len(node.end_mark.buffer[start:end].rstrip()) if node.end_mark.buffer else end
            found.append(Uncertain(path, kind, fargs, start, end, 0))
            return
        for k, v in node.value:
            if path.startswith("segments[") and scalar_value(k) in PER_CUSTOMER_KEYS:
                continue  # a distribution over customers, not a per-trial draw
            _find_uncertain(v, f"{path}.{scalar_value(k)}" if path else str(scalar_value(k)), file, bag, found)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            name = None
            if isinstance(v, yaml.MappingNode):
                name = next((scalar_value(val) for k, val in v.value if scalar_value(k) == "name"), None)
            _find_uncertain(v, f"{path}[{name if name is not None else i}]", file, bag, found)


def load_population_spec(path: str | None) -> PopulationSource:
    """Read a population file (the built-in default when None); distributions become per-trial draws."""
    from rulelang import read_text

    p = str(path) if path is not None else str(DEFAULT_POPULATION)
    text, problems = read_text(p)
    if text is None:
        raise WhatIfError([replace(d, code="RL600", hint="check the path given to --population") for d in problems])
    bag = DiagnosticBag()
    root = compose(text, p, bag)
    found: list[Uncertain] = []
    if root is not None:
        _find_uncertain(root, "", p, bag, found)
    if bag.has_errors:
        raise WhatIfError(bag.items, {p: text})
    found = [replace(u, newlines=text.count("\n", u.start, u.end)) for u in found]
    base_text = _splice(text, found, [f"{u.mean:.12g}" for u in found])
    pop, diags = load_population(base_text, p)
    if pop is None:
        raise WhatIfError([d for d in diags if d.is_error], {p: text})
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return PopulationSource(replace(pop, source_hash=digest), text, p, tuple(found), digest)


def fixed_population(pop: Population) -> PopulationSource:
    return PopulationSource(pop, "", pop.path, (), pop.source_hash)


# ---------------------------------------------------------------- runs


Settings = mc.RunSettings  # what-if runs take simulate()'s settings


@dataclass(frozen=True)
class Arm:
    """One thing to simulate: a label, a compiled program and an optional change to the population."""

    label: str
    program: ir.Program
    population: PopulationModifier | None = None


@dataclass
class WhatIfRun:
    """One arm's result: the RunResult and the per-trial numbers behind it."""

    label: str
    program: ir.Program
    result: RunResult
    trial_totals: dict[str, np.ndarray]  # (trials,) float, NaN where undefined
    trial_monthly: dict[str, np.ndarray]  # (trials, months)
    tier_share: np.ndarray | None = None  # (trials, months, tiers): share of members per tier
    populations: list[Population] = field(default_factory=list, repr=False)

    @property
    def trials(self) -> int:
        return len(next(iter(self.trial_totals.values())))


def _arr(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def run_programs(arms: Sequence[Arm], population: PopulationSource, settings: Settings,
                 progress: Callable[[int, int], None] | None = None) -> list[WhatIfRun]:
    """Simulate every arm on the same trials (seed, blocks, population draws); all tasks in one pool."""
    mc.check_settings(settings, population.base)
    pops = [population.for_trial(settings.seed, t) for t in range(settings.trials)]
    arm_pops = [[a.population(p) if a.population else p for p in pops] for a in arms]
    cal = mc.calendar_for(settings, pops[0])
    for a in arms:  # constructs the engine cannot simulate: fail before starting workers
        mc.plan_for(a.program, cal)
    chunks = [mc.plan_tasks(a.program, settings, population=population.base) for a in arms]
    same = engine_twins(arms, arm_pops)  # arms the engine sees identically run once (same_as[i] = j <= i)
    ran = [i for i in range(len(arms)) if same[i] == i]
    ntasks = sum(len(chunks[i]) for i in ran) * settings.trials
    every_pop = [p for ps in arm_pops for p in ps]
    estimate = mc.estimate_memory([a.program for a in arms], every_pop, settings, chunks, ntasks, whatif=True)
    for a in arms:
        mc.check_customers(a.program, pops[0])
    estimate = mc.check_memory(arms[0].program, settings, chunks[0], ntasks, estimate=estimate,
                               held_bytes=mc.customers_file_bytes(pops[0]))
    # trial by trial, arm by arm, chunks in block order: the variants of a trial follow one another, so
    # that a process draws their customers once (`mc.run_tasks`' shared_draws) and keeps few draws
    tasks = [(arms[i].program, for_task(arm_pops[i][t], settings.customers, settings.seed, blocks, settings.block_size),
              settings, t, blocks, 0)
             for t in range(settings.trials) for i in ran for blocks in chunks[i]]
    mc.preload_for_workers(pops[0])
    results = iter(mc.run_tasks(tasks, settings.workers, progress, scheduler=settings.scheduler,
                                estimate=estimate, shared_draws=len(ran) > 1))
    chunk_results: dict[int, list[list]] = {i: [] for i in ran}
    for _ in range(settings.trials):
        for i in ran:
            chunk_results[i].append([next(results) for _ in chunks[i]])
    out = []
    for i, a in enumerate(arms):
        parts = chunk_results[same[i]]  # merge_chunks copies, never changes its parts
        per_trial = [mc.merge_chunks(parts[t], arm_pops[i][t]) for t in range(settings.trials)]
        meta = mc.run_meta(a.program, arm_pops[i][0], settings, cal, population_hash=population.source_hash,
                           population_file=population.path, chunk_size=len(chunks[i][0]) * settings.block_size)
        meta.update(uncertain_parameters=population.describe(), variant=a.label)
        out.append(_collect(a, arm_pops[i], meta, per_trial, cal))
    return out


# Population settings whose effect is set after the simulation: `merge_chunks` computes the fixed costs
# and the acquisition cost from the merged counts of members and referred newcomers
# (`montecarlo.economics_costs`) and `build_result` applies the gross margin. No draw and no decision of
# the engine depends on them, so arms that differ only in these (sensitivity's four `economics.*`
# assumptions, a sweep over `population.economics.*`) share one simulation.
# tests/whatif/test_shared_runs.py checks that the merged results do not depend on the values the
# chunks ran with.
ENGINE_NEUTRAL_ECONOMICS = {"gross_margin": 0.0, "fixed_cost_per_month_cents": 0,
                            "fixed_cost_per_member_month_cents": 0, "acquisition_cost_cents": 0}


def engine_view(pop: Population) -> Population:
    """`pop` as the simulation engine sees it: the `ENGINE_NEUTRAL_ECONOMICS` set to fixed values."""
    return replace(pop, economics=replace(pop.economics, **ENGINE_NEUTRAL_ECONOMICS))


def _same(x: Any, y: Any) -> bool:
    if x is y:
        return True
    try:
        return bool(x == y)
    except Exception:  # fields whose == is not a truth value (arrays): treat as different
        return False


def engine_twins(arms: Sequence[Arm], arm_pops: Sequence[Sequence[Population]]) -> list[int]:
    """For each arm, the first arm whose tasks the engine would run identically (the same program and,
    trial by trial, the same population up to `ENGINE_NEUTRAL_ECONOMICS`); itself when there is none."""
    views = [[engine_view(p) for p in ps] for ps in arm_pops]
    out: list[int] = []
    for i, a in enumerate(arms):
        twin = next((j for j in range(i) if out[j] == j and _same(arms[j].program, a.program)
                     and all(_same(p, q) for p, q in zip(views[j], views[i]))), i)
        out.append(twin)
    return out


def _one_trial_mean(values: np.ndarray) -> np.ndarray:
    """A one-trial series as the `mean` of its summary (NaN where that is None)."""
    return _arr([None if math.isnan(x) else x for x in trial_mean(values).tolist()])


def _collect(arm: Arm, pops: list[Population], meta: dict[str, Any], per_trial: list, cal) -> WhatIfRun:
    # each trial on its own population (its economics), its per-trial values only: the summaries of a
    # single trial would be its values again
    singles = [build_result(meta, arm.program, pops[t], [per_trial[t]], cal, summaries=False)
               for t in range(len(per_trial))]
    trial_totals = {k: _arr([r.per_trial[k][0] for r in singles]) for k in singles[0].per_trial}
    trial_monthly = {k: np.stack([_one_trial_mean(r.trial_series[k]) for r in singles])
                     for k in singles[0].trial_series}
    tier_share = None
    if singles[0].tier_names:
        one = [tier_counts_and_shares([per_trial[t]]) for t in range(len(per_trial))]
        tier_share = np.stack([np.stack([_one_trial_mean(share[:, :, j]) for j in range(len(singles[0].tier_names))],
                                        axis=1) for _, share in one])
    if all(p is pops[0] for p in pops):
        result = build_result(meta, arm.program, pops[0], per_trial, cal)
    else:  # parameters drawn per trial: combine the single-trial results
        first = singles[0]
        tier_mix: dict[str, Any] = {}
        if first.tier_names:
            counts = np.stack([np.stack([_one_trial_mean(c[:, :, j]) for j in range(len(first.tier_names))], axis=1)
                               for c, _ in one])
            tier_mix = {"counts": {n: summarize(counts[:, :, j]) for j, n in enumerate(first.tier_names)},
                        "share": {n: summarize(tier_share[:, :, j]) for j, n in enumerate(first.tier_names)}}  # type: ignore[index]
        max_err = max(r.ledger_identity_max_abs_error for r in singles)
        result = RunResult(meta, {k: summarize(v) for k, v in trial_totals.items()},
                           {k: [None if math.isnan(x) else float(x) for x in v] for k, v in trial_totals.items()},
                           {k: summarize(v) for k, v in trial_monthly.items()}, first.months, first.tier_names,
                           tier_mix, max_err == 0, max_err, first.warnings,
                           ledger_flows={k: np.concatenate([r.ledger_flows[k] for r in singles])
                                         for k in first.ledger_flows})
    return WhatIfRun(arm.label, arm.program, result, trial_totals, trial_monthly, tier_share, pops)


# ---------------------------------------------------------------- metrics

# Short names accepted everywhere (guardrails, --max, --objective); `x.y` keys of report.json work too.
ALIASES = {
    "incremental_profit": "incremental.profit",
    "incremental_revenue": "incremental.revenue",
    "breakage": "program.breakage_rate",
    "cost": "program.program_cost",
}
FLOW_METRICS = {"revenue", "gross_profit", "net_profit", "program_cost", "purchases", "points_issued",
                "points_redeemed", "points_expired", "points_reversed", "new_customers", "profit"}
STOCK_METRICS = {"retention", "alive_customers", "active_customers", "points_outstanding", "points_available",
                 "members", "churn_rate", "average_check", "purchase_frequency", "nps"}


def resolve_metric(name: str, keys: Sequence[str] | None = None) -> str:
    """`incremental_profit` -> `incremental.profit`, `program_cost` -> `program.program_cost`,
    `baseline_revenue` -> `baseline.revenue`; dotted report keys pass through."""
    name = name.strip()
    if name in ALIASES:
        return ALIASES[name]
    if "." in name:
        return name
    if f"program.{name}" in KNOWN_METRICS:
        return f"program.{name}"
    for prefix in ("incremental", "baseline", "program"):
        if name.startswith(prefix + "_") and f"{prefix}.{name[len(prefix) + 1:]}" in KNOWN_METRICS:
            return f"{prefix}.{name[len(prefix) + 1:]}"
    return f"program.{name}"


KNOWN_METRICS = sorted({
    "program.revenue", "baseline.revenue", "program.gross_profit", "baseline.gross_profit", "program.net_profit",
    "baseline.net_profit", "program.program_cost", "incremental.revenue", "incremental.profit", "program.roi",
    "program.points_issued", "program.points_redeemed", "program.points_expired", "program.points_reversed",
    "program.points_outstanding", "program.liability", "program.breakage_rate", "program.members",
    "program.new_customers", "program.retention", "baseline.retention", "program.churn_rate", "baseline.churn_rate",
    "program.purchases", "baseline.purchases", "program.average_check", "baseline.average_check",
    "program.purchase_frequency", "baseline.purchase_frequency", "program.repeat_purchase_rate",
    "baseline.repeat_purchase_rate", "program.active_customers_last_month", "baseline.active_customers_last_month",
    "program.nps", "baseline.nps", "program.cost_discounts", "program.cost_rewards", "program.cost_points_payments",
    "program.cost_perks", "program.cost_vouchers", "program.cost_fixed", "program.cost_acquisition",
    "program.redemption_cost", "program.cost_per_redeemed_point", "program.liability_at_declared_cost",
})


def short_name(key: str) -> str:
    """The friendly name of a report key (inverse of resolve_metric)."""
    for alias, k in ALIASES.items():
        if k == key and alias.startswith("incremental"):
            return alias
    arm, _, rest = key.partition(".")
    return rest if arm == "program" else f"{arm}_{rest}"


_EXPR = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:/\s*([A-Za-z_][\w.]*)\s*)?(?:at\s+month\s+(\d+)\s*)?$")


@dataclass(frozen=True)
class MetricExpr:
    """`A`, `A / B`, optionally `at month N` (stocks: value at the end of month N; flows: total to month N)."""

    numerator: str
    denominator: str | None = None
    month: int | None = None
    text: str = ""

    @staticmethod
    def parse(text: str) -> "MetricExpr | None":
        m = _EXPR.match(text)
        if not m:
            return None
        num, den, month = m.group(1), m.group(2), m.group(3)
        return MetricExpr(resolve_metric(num), resolve_metric(den) if den else None,
                          int(month) if month else None, " ".join(text.split()))

    def unknown_names(self) -> list[str]:
        return [k for k in (self.numerator, self.denominator) if k is not None and k not in KNOWN_METRICS]


def _monthly_value(run: WhatIfRun, key: str, month: int) -> np.ndarray:
    """Per-trial value of `key` at month `month` (1-based), see MetricExpr."""
    m = run.trial_monthly
    months = next(iter(m.values())).shape[1]
    if not 1 <= month <= months:
        raise ValueError(f"month {month} is outside the simulated 1..{months}")
    i = month
    arm, _, name = key.partition(".")

    def cum(k: str) -> np.ndarray:
        return np.nansum(m[k][:, :i], axis=1)

    if key in ("program.liability", "program.liability_at_declared_cost"):
        redeemed, expired = cum("program.points_redeemed"), cum("program.points_expired")
        settled = redeemed + expired
        breakage = np.divide(expired, settled, out=np.zeros_like(expired), where=settled != 0)
        point_cost = np.full_like(redeemed, float(run.program.point_cost_cents) / 100.0)
        parts = ("program.cost_rewards", "program.cost_points_payments", "program.cost_vouchers")
        if key == "program.liability" and all(p in m for p in parts):  # valued at the run's redemption cost so far
            spent = sum(cum(p) for p in parts)
            point_cost = np.divide(spent, redeemed, out=point_cost, where=redeemed != 0)
        return m["program.points_outstanding"][:, i - 1] * (1.0 - breakage) * point_cost
    if key == "program.breakage_rate":
        redeemed, expired = cum("program.points_redeemed"), cum("program.points_expired")
        settled = redeemed + expired
        return np.divide(expired, settled, out=np.full_like(expired, np.nan), where=settled != 0)
    if key == "program.roi":
        cost = cum("program.program_cost")
        return np.divide(cum("incremental.profit"), cost, out=np.full_like(cost, np.nan), where=cost != 0)
    if key not in m:
        raise ValueError(f"`{short_name(key)}` has no monthly values; leave out `at month`")
    if name in STOCK_METRICS:
        return m[key][:, i - 1]
    return cum(key)


def metric_values(run: WhatIfRun, expr: MetricExpr) -> np.ndarray:
    """Per-trial values of a metric expression (ValueError naming the problem)."""
    def one(key: str) -> np.ndarray:
        if expr.month is not None:
            return _monthly_value(run, key, expr.month)
        if key not in run.trial_totals:
            hint = " (turn on `response: satisfaction` for NPS)" if key.endswith(".nps") else ""
            raise ValueError(f"unknown metric `{short_name(key)}`{hint}")
        return run.trial_totals[key]

    num = one(expr.numerator)
    if expr.denominator is None:
        return num
    den = one(expr.denominator)
    return np.divide(num, den, out=np.full_like(num, np.nan), where=den != 0)


# ---------------------------------------------------------------- paired statistics


def summary(values: np.ndarray) -> dict[str, float | None]:
    """Mean, Monte Carlo precision and range of outcomes (`simulator.trials.stats.summarize`) over the trials
    that have a value."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return summarize(v)  # type: ignore[return-value]


def paired_summary(base: np.ndarray, other: np.ndarray) -> dict[str, float | None]:
    """The paired difference other − base, trial by trial: mean, Monte Carlo precision (`low`, `high`),
    range of outcomes, and the same relative to the base mean (`rel_*`, None when the base mean is 0)."""
    d = np.asarray(other, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    out: dict[str, float | None] = dict(summary(d))
    b = np.asarray(base, dtype=np.float64)
    b = b[~np.isnan(b)]
    base_mean = float(b.mean()) if b.size else 0.0
    for k in ("mean", "low", "high"):
        v = out[k]
        out[f"rel_{k}"] = None if v is None or base_mean == 0 else v / abs(base_mean)
    out["rel_range"] = [None if v is None or base_mean == 0 else v / abs(base_mean)
                        for v in out["range"]]  # type: ignore[union-attr]
    return out


def half_width(values: np.ndarray) -> float:
    """Half the width of the 95 % interval of the mean (0 for fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size < 2:
        return 0.0
    return float(t975(v.size - 1) * np.std(v, ddof=1) / math.sqrt(v.size))


def percentile(values: np.ndarray, q: float) -> float | None:
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    return None if v.size == 0 else float(np.percentile(v, q))
