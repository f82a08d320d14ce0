"""`loyalty plan OLD NEW`: what a rule change changes, and what it costs.

Takes: two program specs (files, or `REV:path` read with `git show`), a population source,
run settings and optional guardrails. Gives: `Plan` — the semantic diff
(`rulelang.tools.diff`), and, when something changed, both programs simulated on the same
seed and population with the paired change in program cost, liability, incremental
profit, retention and tier mix (each change with its range of outcomes and Monte Carlo
precision, the words of `simulator.trials.stats`), the guardrail findings on the new program,
and the closing line `Plan: 1 rule added, 2 changed, 0 removed; program cost +4.1%
(range of outcomes +2.0%..+6.3%; Monte Carlo precision ±0.9%)`.
`to_json()` is `schema: loyalty-plan/1`; `exit_code(detailed)` follows terraform:
0 no change (or success), 1 error or a failed guardrail, 2 changes (`--detailed-exitcode`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from rulelang import ProgramDiff, diff_programs

from simulator.whatif.compare import Comparison, compare_programs, fmt, fmt_interval, legend_json, legend_lines, metric_kind, scale_note
from simulator.trials.stats import PRECISION, RANGE
from simulator.whatif.guardrails import Finding, Guardrail, evaluate_guardrails
from simulator.whatif.runner import LoadedProgram, PopulationSource, Settings
from rulelang.vocabulary import counted

SCHEMA = "loyalty-plan/1"
EXIT_NO_CHANGES, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

# (label, key) of the numbers a plan shows
PLAN_METRICS = [
    ("program cost", "program.program_cost"),
    ("liability", "program.liability"),
    ("incremental profit", "incremental.profit"),
    ("incremental revenue", "incremental.revenue"),
    ("retention at end", "program.retention"),
    ("points issued", "program.points_issued"),
    ("points redeemed", "program.points_redeemed"),
    ("breakage rate", "program.breakage_rate"),
    ("ROI", "program.roi"),
]


@dataclass
class Plan:
    old: LoadedProgram
    new: LoadedProgram
    diff: ProgramDiff
    comparison: Comparison | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return not self.diff.is_empty

    @property
    def guardrails_failed(self) -> bool:
        return any(f.failed for f in self.findings)

    def exit_code(self, detailed: bool) -> int:
        if self.guardrails_failed:
            return EXIT_ERROR
        if detailed and self.changed:
            return EXIT_CHANGES
        return EXIT_NO_CHANGES

    def metric(self, key: str) -> dict[str, Any] | None:
        """old, new, and the paired difference of one metric (None without a simulation)."""
        c = self.comparison
        if c is None or key not in c.runs[0].trial_totals or key not in c.runs[1].trial_totals:
            return None
        return {"old": c.total(0, key), "new": c.total(1, key), "difference": c.difference(1, key)}

    def cost_phrase(self) -> str:
        m = self.metric("program.program_cost")
        if m is None:
            return ""
        d = m["difference"]
        if d.get("rel_mean") is not None:
            lo, hi = d["rel_range"]
            half = None if d["rel_low"] is None else (d["rel_high"] - d["rel_low"]) / 2
            return (f"program cost {_pct(d['rel_mean'])} ({RANGE} {_pct(lo)}..{_pct(hi)}; "
                    f"{PRECISION} ±{_pct(half)[1:]})")
        lo, hi = d["range"]
        half = None if d["low"] is None else (d["high"] - d["low"]) / 2
        return (f"program cost {fmt(d['mean'], 'money', True)} ({RANGE} {fmt(lo, 'money', True)}.."
                f"{fmt(hi, 'money', True)}; {PRECISION} ±{fmt(half, 'money')})")

    def summary_line(self) -> str:
        if not self.changed:
            return "No changes. The two programs are the same."
        line = f"Plan: {self.diff.summary()}"
        cost = self.cost_phrase()
        if cost:
            line += f"; {cost}"
        failed = [f for f in self.findings if f.failed]
        if failed:
            line += f"; {counted(len(failed), 'guardrail')} failed"
        return line

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": SCHEMA, "old": self.old.label, "new": self.new.label,
            "old_program_hash": self.comparison.runs[0].result.meta["program_hash"] if self.comparison else None,
            "new_program_hash": self.comparison.runs[1].result.meta["program_hash"] if self.comparison else None,
            "changed": self.changed, "diff": self.diff.to_json(),
            "summary": self.summary_line(),
            "guardrails": [f.to_json() for f in self.findings],
            "guardrails_failed": self.guardrails_failed,
        }
        if self.comparison is not None:
            c = self.comparison
            doc["meta"] = {k: v for k, v in c.meta.items() if k not in ("program", "program_hash", "variant")}
            doc["uncertainty"] = legend_json(c.meta)
            doc["metrics"] = {key: self.metric(key) for _, key in PLAN_METRICS if self.metric(key) is not None}
            doc["tier_mix_end"] = {"old": c.tier_mix_end(0), "new": c.tier_mix_end(1),
                                   "difference": c.tier_mix_difference(1)}
            doc["comparison"] = c.to_json()
            doc["fit_warnings"] = {"old": c.runs[0].result.fit_warnings, "new": c.runs[1].result.fit_warnings}
        return doc


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:+.1f}%"


def make_plan(old: LoadedProgram, new: LoadedProgram, population: PopulationSource, settings: Settings,
              guardrails: Sequence[Guardrail] = (),
              progress: Callable[[int, int], None] | None = None) -> Plan:
    """Diff the programs; when they differ, simulate both on the same trials and check the guardrails."""
    diff = diff_programs(old.ast_program, new.ast_program)
    plan = Plan(old, new, diff)
    if diff.is_empty:
        return plan
    plan.comparison = compare_programs([old, new], population, settings, progress)
    plan.findings = evaluate_guardrails(plan.comparison.runs[1], guardrails) if guardrails else []
    return plan


def markdown(plan: Plan) -> str:
    """The plan as Markdown, suited to a pull-request comment."""
    lines = [f"### Plan: `{plan.old.label}` → `{plan.new.label}`", ""]
    if not plan.changed:
        lines += ["No changes: the two files hold the same program (comments and layout aside).", "",
                  plan.summary_line()]
        return "\n".join(lines) + "\n"
    lines.append("**What changes**")
    lines.append("")
    for change in plan.diff.changes:
        if change.kind == "changed":
            for f in change.fields:
                lines.append(f"- `~` {f.text()}")  # the marks in code: a bare `- -` would nest a list
        else:
            lines.append(f"- `{'+' if change.kind == 'added' else '-'}` {change.summary}")
    c = plan.comparison
    if c is not None:
        m = c.meta
        lines += ["", f"**What it costs** — simulated on {m['population']}: {m['customers']:,} customers, "
                      f"{m['months']} months from {m['start']}, {m['trials']} trials, seed {m['seed']}; both programs "
                      f"on the same customers and draws; money in {c.runs[1].program.currency}; "
                      "differences are paired trial by trial.", ""]
        lines += [f"{line}.  " for line in legend_lines(m)] + [f"{scale_note(m)[0].upper()}{scale_note(m)[1:]}.", ""]
        if m.get("uncertain_parameters"):
            lines += ["Drawn per trial: " + "; ".join(m["uncertain_parameters"]), ""]
        lines.append(f"| metric | old [{RANGE}] | new [{RANGE}] | change [{RANGE}] ±{PRECISION} | change % [{RANGE}] |")
        lines.append("|---|---:|---:|---:|---:|")
        for label, key in PLAN_METRICS:
            mm = plan.metric(key)
            if mm is None:
                continue
            kind = metric_kind(key)
            dkind = "pp" if kind == "pct" else kind
            d = mm["difference"]
            rel = "" if d.get("rel_mean") is None or kind in ("pct", "ratio") else \
                f"{_pct(d['rel_mean'])} [{_pct(d['rel_range'][0])}..{_pct(d['rel_range'][1])}]"
            lines.append(f"| {label} | {fmt_interval(mm['old'], kind, precision=False)} | "
                         f"{fmt_interval(mm['new'], kind, precision=False)} | "
                         f"{fmt_interval(d, dkind, True)} | {rel} |")
        old_mix, new_mix, dmix = c.tier_mix_end(0), c.tier_mix_end(1), c.tier_mix_difference(1)
        if old_mix or new_mix:
            lines += ["", f"| tier mix at end (share of members) | old [{RANGE}] | new [{RANGE}] | "
                          f"change [{RANGE}] ±{PRECISION} |", "|---|---:|---:|---:|"]
            for name in list(old_mix) + [n for n in new_mix if n not in old_mix]:
                o, n = old_mix.get(name), new_mix.get(name)
                lines.append(f"| {name} | {fmt_interval(o, 'pct', precision=False) if o else '-'} | "
                             f"{fmt_interval(n, 'pct', precision=False) if n else '-'} | "
                             f"{fmt_interval(dmix[name], 'pp', True) if name in dmix else '-'} |")
        for r in c.runs:
            for w in r.result.warnings:
                lines.append(f"\n> warning ({r.label}): {w}")
            for w in r.result.fit_warnings:
                lines.append(f"\n> population does not fit ({r.label}): **{w['code']}** `{w['location']}`: {w['message']}")
    if plan.findings:
        lines += ["", "**Guardrails** (on the new program)", ""]
        for f in plan.findings:
            mark = "pass" if f.passed else ("**FAIL**" if f.failed else "*warn*")  # words: no emoji font needed
            lines.append(f"- {mark}: {f.message}")
    lines += ["", "```", plan.summary_line(), "```"]
    return "\n".join(lines) + "\n"
