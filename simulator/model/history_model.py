"""Population keys for customers with a past: `age:` and `uncertainty:` of a segment.

Takes: the YAML nodes of a segment's `age:` and `uncertainty:` keys (read with the
population file's `Reader`, so every problem is a located RL650/RL651 diagnostic). Gives:
- `AgeModel`: how long ago (in the population's time unit) a segment's customers made their
  first purchase when the simulation starts: `age: 52` (everyone), `age: {uniform: [0, 104]}`
  or a choice `age: {0: 0.3, 52: 0.7}` (30 % new, 70 % a year old). Without `age:` every
  customer is new (age 0), as before. The engine then starts each customer part-way through
  their life: alive or not, drawn from the model (see `simulator.model.history_traits`).
- `ParameterUncertainty`: the fitted parameters' joint uncertainty (TRANSACTIONS_API.md):
  `parameters` (names such as `purchase.r`), `log_mean` and `log_covariance` of their natural
  logarithms. `draw_parameters(pop, seed, trial)` draws all of them jointly once per trial,
  log-parameters ~ N(log_mean, log_covariance), from a stream keyed by (seed, trial, segment):
  every arm and every variant of trial t sees the same values (common random numbers).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from rulelang.diagnostics import did_you_mean

from simulator.model.yaml_reading import Reader, scalar_value

if TYPE_CHECKING:
    from simulator.model.population import Population, Segment

UNCERTAINTY_STREAM = 0x7FFF_FFFE  # spawn-key word of the per-trial parameter draws (distributions: 0x7FFF_FFFF)

# name in a population file -> (Segment field, True when the field is a rate per day)
PARAMETERS = {
    "purchase.r": ("r", False), "purchase.alpha": ("alpha_days", True),
    "dropout.a": ("a", False), "dropout.b": ("b", False),
    "dropout.s": ("s", False), "dropout.beta": ("beta_days", True),
    "lifetime.s": ("s", False), "lifetime.beta": ("beta_days", True),
    "spend.p": ("spend_p", False), "spend.q": ("spend_q", False), "spend.gamma": ("spend_gamma", False),
}
MODEL_PARAMETERS = {
    "bgnbd": ("purchase.r", "purchase.alpha", "dropout.a", "dropout.b", "spend.p", "spend.q", "spend.gamma"),
    "pareto_nbd": ("purchase.r", "purchase.alpha", "dropout.s", "dropout.beta", "lifetime.s", "lifetime.beta",
                   "spend.p", "spend.q", "spend.gamma"),
}


@dataclass(frozen=True)
class AgeModel:
    """Age at the start of the simulation (time units since the first purchase)."""

    values: tuple[float, ...] = (0.0,)  # a choice (or one constant) ...
    weights: tuple[float, ...] = (1.0,)
    uniform: tuple[float, float] | None = None  # ... or uniform between two ages

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.uniform is not None:
            return rng.uniform(self.uniform[0], self.uniform[1], n)
        if len(self.values) == 1:
            return np.full(n, self.values[0])
        cdf = np.cumsum(self.weights)
        cdf[-1] = 1.0
        i = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(self.values) - 1)
        return np.array(self.values)[i]

    @property
    def all_new(self) -> bool:
        return self.uniform is None and all(v == 0 for v in self.values)


@dataclass(frozen=True)
class ParameterUncertainty:
    """Joint normal uncertainty of log-parameters, drawn once per trial."""

    parameters: tuple[str, ...]
    log_mean: tuple[float, ...]
    log_covariance: tuple[tuple[float, ...], ...]

    def factor(self) -> np.ndarray:
        """A matrix F with F Fᵀ = log_covariance (from the eigen-decomposition, so a covariance
        that is only positive semi-definite, e.g. a fixed parameter, works too)."""
        w, v = np.linalg.eigh(np.array(self.log_covariance, dtype=np.float64))
        return v * np.sqrt(np.clip(w, 0.0, None))

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One joint draw of the parameters (natural scale, in the file's time unit)."""
        z = rng.standard_normal(len(self.parameters))
        return np.exp(np.array(self.log_mean) + self.factor() @ z)


def parse_age(rd: Reader, node: yaml.Node | None, where: str) -> AgeModel | None:
    """`age: 52`, `age: {uniform: [0, 104]}` or `age: {0: 0.3, 52: 0.7}`; None when absent."""
    if node is None:
        return None
    what = f"{where} age"
    hint = "write `age: 52`, `age: {uniform: [0, 104]}` or `age: {0: 0.3, 52: 0.7}` (time units since the first purchase)"
    if isinstance(node, yaml.ScalarNode):
        v = scalar_value(node)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
            rd.error(node, "RL651", f"{what} must be a number of 0 or more, got `{node.value}`", hint)
            return None
        return AgeModel((float(v),), (1.0,))
    if not isinstance(node, yaml.MappingNode) or not node.value:
        rd.error(node, "RL651", f"{what} must be a number, a uniform range or a choice of ages", hint)
        return None
    keys = [scalar_value(k) for k, _ in node.value]
    if keys == ["uniform"]:
        arg = node.value[0][1]
        args = [scalar_value(n) for n in arg.value] if isinstance(arg, yaml.SequenceNode) else []
        if (len(args) != 2 or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
                or not 0 <= args[0] <= args[1] or not np.isfinite(args[1])):
            rd.error(arg, "RL651", f"{what}: `uniform` needs [low, high] with 0 <= low <= high", hint)
            return None
        return AgeModel(uniform=(float(args[0]), float(args[1])))
    values, weights = [], []
    for k, v in node.value:
        age, w = scalar_value(k), scalar_value(v)
        try:
            age = float(age)
        except (TypeError, ValueError):
            age = float("nan")
        if not np.isfinite(age) or age < 0:
            rd.error(k, "RL651", f"{what}: `{k.value}` is not an age (a number of 0 or more)", hint)
            return None
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            rd.error(v, "RL651", f"{what}: the share of age {age:g} must be a number of 0 or more", hint)
            return None
        values.append(age)
        weights.append(float(w))
    total = sum(weights)
    if abs(total - 1.0) > 1e-6:
        rd.error(node, "RL651", f"{what}: the shares add up to {total:g}, not 1", "make the shares add up to 1")
        return None
    return AgeModel(tuple(values), tuple(w / total for w in weights))


def parse_uncertainty(rd: Reader, node: yaml.Node | None, where: str, model: str) -> ParameterUncertainty | None:
    """The `uncertainty:` block of a segment (see the module docstring); None when absent or wrong."""
    if node is None:
        return None
    what = f"{where} uncertainty"
    m = rd.mapping(node, what, ["parameters", "log_mean", "log_covariance"])
    if not m:
        return None
    missing = [k for k in ("parameters", "log_mean", "log_covariance") if k not in m]
    if missing:
        rd.error(node, "RL650", f"{what} needs {', '.join(f'`{k}`' for k in missing)}",
                 "write `parameters: [...]`, `log_mean: [...]` and `log_covariance: [[...], ...]` (as `loyalty fit` does)")
        return None
    allowed = MODEL_PARAMETERS[model]
    names: list[str] = []
    for n in rd.sequence(m["parameters"], f"{what}.parameters"):
        name = str(scalar_value(n))
        if name not in allowed:
            rd.error(n, "RL650", f"{what}: `{name}` is not a parameter of the {model} population",
                     did_you_mean(name, allowed) or "parameters: " + ", ".join(allowed))
            return None
        field = PARAMETERS[name][0]
        if any(PARAMETERS[o][0] == field for o in names):
            rd.error(n, "RL650", f"{what}: `{name}` is listed twice")
            return None
        names.append(name)
    k = len(names)
    if k == 0:
        rd.error(m["parameters"], "RL650", f"{what}: `parameters` lists no parameter")
        return None

    def numbers(seq: yaml.Node, label: str) -> list[float] | None:
        out = []
        for n in rd.sequence(seq, label):
            v = scalar_value(n)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                rd.error(n, "RL650", f"{label} must hold numbers, got `{getattr(n, 'value', '...')}`")
                return None
            out.append(float(v))
        return out

    mean = numbers(m["log_mean"], f"{what}.log_mean")
    if mean is None:
        return None
    if len(mean) != k:
        rd.error(m["log_mean"], "RL650", f"{what}.log_mean has {len(mean)} values for {k} parameters",
                 "give one natural logarithm per parameter, in the order of `parameters`")
        return None
    rows_nodes = rd.sequence(m["log_covariance"], f"{what}.log_covariance")
    rows = []
    for i, rn in enumerate(rows_nodes):
        row = numbers(rn, f"{what}.log_covariance row {i + 1}")
        if row is None:
            return None
        rows.append(row)
    if len(rows) != k or any(len(r) != k for r in rows):
        rd.error(m["log_covariance"], "RL650", f"{what}.log_covariance must be a {k} × {k} matrix (one row per parameter)")
        return None
    cov = np.array(rows)
    scale = max(float(np.abs(cov).max()), 1e-300)
    if not np.allclose(cov, cov.T, rtol=1e-6, atol=1e-9 * scale):
        rd.error(m["log_covariance"], "RL650", f"{what}.log_covariance is not symmetric",
                 "a covariance matrix has cov[i][j] == cov[j][i]")
        return None
    if float(np.linalg.eigvalsh(cov).min()) < -1e-9 * scale:
        rd.error(m["log_covariance"], "RL650", f"{what}.log_covariance is not positive semi-definite",
                 "it must be a covariance (for example the inverse of the observed information) ")
        return None
    return ParameterUncertainty(tuple(names), tuple(mean), tuple(tuple(r) for r in rows))


def draw_parameters(pop: "Population", seed: int, trial: int) -> "Population":
    """Trial `trial`'s population: every segment's `uncertainty` parameters drawn jointly
    (see the module docstring); the population itself when no segment has such a block."""
    if not any(s.uncertainty is not None for s in pop.segments):
        return pop
    segments = []
    for i, seg in enumerate(pop.segments):
        if seg.uncertainty is None:
            segments.append(seg)
            continue
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(trial, UNCERTAINTY_STREAM, i))))
        values = seg.uncertainty.draw(rng)
        segments.append(dataclasses.replace(seg, **segment_values(seg.uncertainty.parameters, values, pop.days_per_unit)))
    return dataclasses.replace(pop, segments=tuple(segments))


def segment_values(names: tuple[str, ...], values: Any, days_per_unit: float) -> dict[str, float]:
    """Segment fields for parameter values in the file's time unit (rates become per day)."""
    out = {}
    for name, v in zip(names, values):
        field, per_day = PARAMETERS[name]
        out[field] = float(v) * days_per_unit if per_day else float(v)
    return out


def describe(pop: "Population") -> list[str]:
    """One line per segment with an uncertainty block (for reports)."""
    return [f"segment {s.name}: {', '.join(s.uncertainty.parameters)} ~ joint log-normal (fitted standard errors)"
            for s in pop.segments if s.uncertainty is not None]


__all__ = ["AgeModel", "ParameterUncertainty", "draw_parameters", "parse_age", "parse_uncertainty"]
