"""`loyalty compare`: program variants on common random numbers, with paired differences.

Takes: two or more compiled programs (`LoadedProgram`), a population source and run
settings. Gives: `Comparison` — for every variant each metric's mean, range of outcomes
and Monte Carlo precision over trials (`simulator.trials.stats`), and for every variant after the
first the paired difference to the first (per-trial differences, so the noise the variants
share cancels), the cumulative
incremental profit month by month, the tier mix at the end; `to_json()`
(`schema: loyalty-comparison/1`) and `text_table()` for the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from rulelang.diagnostics import Diagnostic

from simulator.trials.stats import PRECISION, RANGE
from simulator.trials.stats import legend as stats_legend
from simulator.whatif.runner import Arm, LoadedProgram, PopulationSource, Settings, WhatIfRun, paired_summary, run_programs, short_name, summary

SCHEMA = "loyalty-comparison/1"

# (label, report key, kind) in the order people read them; the JSON holds every metric.
KEY_METRICS: list[tuple[str, str, str]] = [
    ("revenue", "program.revenue", "money"),
    ("incremental revenue", "incremental.revenue", "money"),
    ("program cost", "program.program_cost", "money"),
    ("  discounts", "program.cost_discounts", "money"),
    ("  rewards", "program.cost_rewards", "money"),
    ("  points payments", "program.cost_points_payments", "money"),
    ("  perks", "program.cost_perks", "money"),
    ("  vouchers", "program.cost_vouchers", "money"),
    ("  fixed", "program.cost_fixed", "money"),
    ("  acquisition", "program.cost_acquisition", "money"),
    ("net profit", "program.net_profit", "money"),
    ("incremental profit", "incremental.profit", "money"),
    ("ROI", "program.roi", "ratio"),
    ("points issued", "program.points_issued", "count"),
    ("points redeemed", "program.points_redeemed", "count"),
    ("points expired", "program.points_expired", "count"),
    ("points reversed", "program.points_reversed", "count"),
    ("points outstanding", "program.points_outstanding", "count"),
    ("breakage rate", "program.breakage_rate", "pct"),
    ("liability", "program.liability", "money"),
    ("  at declared point cost", "program.liability_at_declared_cost", "money"),
    ("cost per redeemed point", "program.cost_per_redeemed_point", "ratio4"),
    ("members", "program.members", "count"),
    ("purchases", "program.purchases", "count"),
    ("returns", "program.returns", "count"),
    ("average check", "program.average_check", "money2"),
    ("purchase frequency", "program.purchase_frequency", "ratio"),
    ("repeat-purchase rate", "program.repeat_purchase_rate", "pct"),
    ("retention at end", "program.retention", "pct"),
    ("churn rate", "program.churn_rate", "pct"),
    ("NPS", "program.nps", "ratio"),
]
def key_metrics(keys: set[str]) -> list[tuple[str, str, str]]:
    """`KEY_METRICS`, then each balance beside the points that every run has (`program.balance.NAME.*`)."""
    names = sorted(k[len("program.balance."):-len(".issued")] for k in keys
                   if k.startswith("program.balance.") and k.endswith(".issued"))
    return KEY_METRICS + [(f"{name} {what}", f"program.balance.{name}.{what}", "count")
                          for name in names for what in ("issued", "expired", "reversed", "outstanding")]


CHART_METRICS = ["incremental.profit", "program.program_cost", "incremental.revenue", "program.liability",
                 "program.retention", "program.points_issued"]


def fmt(v: float | None, kind: str, signed: bool = False) -> str:
    """A number for tables: money without cents, counts with separators, rates as %."""
    if v is None:
        return "-"
    sign = "+" if signed and v > 0 else ""
    if kind == "money":
        return f"{sign}{v:,.0f}"
    if kind == "money2":
        return f"{sign}{v:,.2f}"
    if kind == "pct":
        return f"{sign}{100 * v:.1f}%"
    if kind == "pp":
        return f"{sign}{100 * v:.2f} pp"
    if kind == "ratio":
        return f"{sign}{v:.2f}"
    if kind == "ratio4":
        if abs(v) < 1e-12:  # float noise of a difference of equal ratios, not a figure
            return "0"
        return f"{sign}{v:.4g}"
    return f"{sign}{v:,.0f}"


def fmt_interval(s: dict[str, Any], kind: str, signed: bool = False, precision: bool = True) -> str:
    """`mean [p5..p95] ±h`: the mean, its range of outcomes (5th..95th percentile over trials) and its
    Monte Carlo precision (± half the 95 % confidence interval of the mean; `precision=False` leaves it
    out). A range or a precision narrower than the printed digits (e.g. float noise) is not shown."""
    text = fmt(s.get("mean"), kind, signed)
    if s.get("mean") is None:
        return text
    p5, p95 = (s.get("range") or [None, None])
    if p5 is not None and p95 is not None:
        low, high = fmt(p5, kind, signed), fmt(p95, kind, signed)
        if low != high:
            text += f" [{low}..{high}]"
    if precision and s.get("low") is not None and s.get("high") is not None:
        half = (s["high"] - s["low"]) / 2
        shown = fmt(half, kind)
        if fmt(s["low"], kind, signed) != fmt(s["high"], kind, signed) and shown.strip("0.,%p -") != "":
            text += f" ±{shown}"
    return text


CELL_LEGEND = f"each cell: mean [{RANGE}: 5th..95th percentile] ±{PRECISION} of the mean"


def is_uncertain(meta: dict[str, Any]) -> bool:
    """Whether the run drew uncertain assumptions per trial (the population file had distributions)."""
    return bool(meta.get("uncertain_parameters"))


def legend_lines(meta: dict[str, Any]) -> list[str]:
    """The lines under a table's title that name its two kinds of uncertainty."""
    trials = int(meta.get("trials", 1) or 1)
    return ([CELL_LEGEND] if trials > 1 else []) + stats_legend(is_uncertain(meta), trials)


def legend_json(meta: dict[str, Any]) -> dict[str, str]:
    """The `uncertainty` entry of a JSON document: what its `range` and `mc_precision` keys mean."""
    from simulator.trials.stats import json_legend

    return json_legend(is_uncertain(meta), int(meta.get("trials", 1) or 1))


def scale_note(meta: dict[str, Any]) -> str:
    """The number of customers the figures are for, and where to set the real one (fixed costs do
    not grow with the customers, so ROI and incremental profit depend on the count)."""
    return (f"scale: the figures are for {int(meta.get('customers', 0)):,} customers; fixed costs do not grow with "
            "them, so ROI and incremental profit depend on the count: set the real number with --customers N "
            "(or the population's customers file)")


def diff_kind(kind: str) -> str:
    """Differences of rates read as percentage points."""
    return "pp" if kind == "pct" else kind


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first `left` columns aligned left, the others right."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(str(c).ljust(w) if i < left else str(c).rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def unique_labels(labels: Sequence[str]) -> list[str]:
    out: list[str] = []
    for label in labels:
        name, n = label, 2
        while name in out:
            name = f"{label} ({n})"
            n += 1
        out.append(name)
    return out


@dataclass
class Comparison:
    """Variants on the same trials; `runs[0]` is the reference the differences are taken to.
    `fit` holds each variant's population-fit warnings (`simulator.model.fit_warnings`), `sources` the
    programs' texts to render them."""

    runs: list[WhatIfRun]
    fit: list[list[Diagnostic]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def fit_diagnostics(self) -> list[Diagnostic]:
        return [d for per in self.fit for d in per]

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.runs]

    @property
    def meta(self) -> dict[str, Any]:
        return self.runs[0].result.meta

    def metric_keys(self) -> list[str]:
        keys = set(self.runs[0].trial_totals)
        for r in self.runs[1:]:
            keys &= set(r.trial_totals)
        return sorted(keys)

    def total(self, i: int, key: str) -> dict[str, Any]:
        return summary(self.runs[i].trial_totals[key])

    def difference(self, i: int, key: str) -> dict[str, Any]:
        return paired_summary(self.runs[0].trial_totals[key], self.runs[i].trial_totals[key])

    def cumulative(self, i: int, key: str = "incremental.profit") -> dict[str, list[float | None]]:
        """Mean, Monte Carlo precision and range of outcomes of the running total of a monthly metric, month by month."""
        series = np.nancumsum(self.runs[i].trial_monthly[key], axis=1)
        return _summary_lists(series)

    def cumulative_difference(self, i: int, key: str = "incremental.profit") -> dict[str, list[float | None]]:
        a = np.nancumsum(self.runs[0].trial_monthly[key], axis=1)
        b = np.nancumsum(self.runs[i].trial_monthly[key], axis=1)
        return _summary_lists(b - a)

    def tier_mix_end(self, i: int) -> dict[str, dict[str, Any]]:
        r = self.runs[i]
        if r.tier_share is None:
            return {}
        return {name: summary(r.tier_share[:, -1, j]) for j, name in enumerate(r.result.tier_names)}

    def tier_mix_difference(self, i: int) -> dict[str, dict[str, Any]]:
        """Paired difference of each tier's share of members at the end (tiers matched by name)."""
        a, b = self.runs[0], self.runs[i]
        if a.tier_share is None or b.tier_share is None:
            return {}
        names_a = a.result.tier_names
        out = {}
        for j, name in enumerate(b.result.tier_names):
            if name in names_a:
                out[name] = paired_summary(a.tier_share[:, -1, names_a.index(name)], b.tier_share[:, -1, j])
        return out

    def months(self) -> list[str]:
        return self.runs[0].result.months

    def to_json(self) -> dict[str, Any]:
        keys = self.metric_keys()
        meta = {k: v for k, v in self.meta.items() if k not in ("program", "program_hash", "variant", "currency",
                                                                   "points_unit")}
        variants = []
        for i, r in enumerate(self.runs):
            v: dict[str, Any] = {
                "label": r.label, "program": r.program.name, "program_hash": r.result.meta["program_hash"],
                "currency": r.program.currency, "points_unit": r.program.points_unit,
                "totals": {k: self.total(i, k) for k in keys},
                "per_trial": {k: [None if np.isnan(x) else float(x) for x in r.trial_totals[k]] for k in keys},
                "cumulative_incremental_profit": self.cumulative(i),
                "tier_mix_end": self.tier_mix_end(i),
                "ledger_identity_ok": r.result.ledger_identity_ok,
                "warnings": r.result.warnings,
                "fit_warnings": r.result.fit_warnings,
            }
            if i:
                v["difference"] = {k: self.difference(i, k) for k in keys}
                v["cumulative_incremental_profit_difference"] = self.cumulative_difference(i)
                v["tier_mix_end_difference"] = self.tier_mix_difference(i)
            variants.append(v)
        return {"schema": SCHEMA, "meta": meta, "uncertainty": legend_json(self.meta), "reference": self.labels[0],
                "months": self.months(),
                "variants": variants}


def _summary_lists(series: np.ndarray) -> dict[str, list[float | None]]:
    cols = [summary(series[:, m]) for m in range(series.shape[1])]
    out: dict[str, Any] = {k: [c[k] for c in cols] for k in ("mean", "low", "high")}
    out["mc_precision"] = [out["low"], out["high"]]
    out["range"] = [[c["range"][0] for c in cols], [c["range"][1] for c in cols]]
    return out


def compare_programs(programs: Sequence[LoadedProgram], population: PopulationSource, settings: Settings,
                     progress: Callable[[int, int], None] | None = None) -> Comparison:
    from simulator.model.fit_warnings import diagnostics_json, fit_warnings, observed_from_run

    labels = unique_labels([p.label for p in programs])
    runs = run_programs([Arm(label, p.program) for label, p in zip(labels, programs)], population, settings, progress)
    fit = []
    for p, r in zip(programs, runs):
        pop = r.populations[0] if r.populations else population.base
        diags = fit_warnings(p.program, observed_from_run(r.result, pop), p.source, p.text, p.label)
        r.result.fit_warnings = diagnostics_json(diags)
        fit.append(diags)
    return Comparison(runs, fit, {p.label: p.text for p in programs})


def header_lines(meta: dict[str, Any]) -> list[str]:
    lines = [f"{meta['population']}: {meta['customers']:,} customers, {meta['months']} months "
             f"({meta['start']} .. {meta['end']}), {meta['trials']} trials, seed {meta['seed']}"]
    if meta.get("uncertain_parameters"):
        lines.append("drawn per trial: " + "; ".join(meta["uncertain_parameters"]))
    return lines


def text_table(cmp: Comparison) -> str:
    """Every key metric for each variant with its range of outcomes, and the paired difference to the first
    with its range of outcomes and Monte Carlo precision."""
    labels = cmp.labels
    meta = cmp.meta
    lines = header_lines(meta)
    lines.append(f"money in {meta['currency']}; differences are paired, trial by trial, against {labels[0]}")
    lines.append(scale_note(meta))
    lines += legend_lines(meta)
    lines.append("")
    for i, label in enumerate(labels):
        lines.append(f"  ({_letter(i)}) {label}")
    lines.append("")
    headers = ["metric"] + [f"({_letter(i)}) [{RANGE}]" for i in range(len(labels))]
    headers += [f"({_letter(i)}) - (A) [{RANGE}] ±{PRECISION}" for i in range(1, len(labels))]
    keys = set(cmp.metric_keys())
    rows = []
    for label, key, kind in key_metrics(keys):
        if key not in keys:
            continue
        row = [label] + [fmt_interval(cmp.total(i, key), kind, precision=False) for i in range(len(labels))]
        row += [fmt_interval(cmp.difference(i, key), diff_kind(kind), True) for i in range(1, len(labels))]
        rows.append(row)
    lines.append(render_table(headers, rows))
    for i in range(len(labels)):
        mix = cmp.tier_mix_end(i)
        if mix:
            lines.append(f"tier mix at end ({_letter(i)}, share of members, mean [{RANGE}]): "
                         + ", ".join(f"{n} {fmt_interval(s, 'pct', precision=False)}" for n, s in mix.items()))
    for r in cmp.runs:
        if not r.result.ledger_identity_ok:
            lines.append(f"ledger identity BROKEN in {r.label} (max error {r.result.ledger_identity_max_abs_error})")
        for w in r.result.warnings:
            lines.append(f"warning ({r.label}): {w}")
        for w in r.result.fit_warnings:
            lines.append(f"population does not fit ({r.label}): warning[{w['code']}] {w['location']}: {w['message']}")
    return "\n".join(lines) + "\n"


def _letter(i: int) -> str:
    return chr(65 + i) if i < 26 else str(i + 1)


def metric_label(key: str) -> str:
    for label, k, _ in KEY_METRICS:
        if k == key:
            return label.strip()
    return short_name(key).replace("_", " ")


def metric_kind(key: str) -> str:
    for _, k, kind in KEY_METRICS:
        if k == key:
            return kind
    return "pct" if key.endswith(("_rate", "retention")) else "money"
