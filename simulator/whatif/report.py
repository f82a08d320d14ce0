"""Reports of the what-if commands: Markdown, self-contained HTML with charts, JSON.

Takes: a `Comparison` (compare), `SweepResult` (sweep), `SensitivityResult` (sensitivity)
or `Plan` (plan). Gives: `markdown(x)`, `html(x)` (one file, charts embedded as base64 PNG,
inline CSS), `charts(x)` -> {title: PNG bytes} (matplotlib, Agg), and `write_reports(x,
out_dir, stem)` writing `<stem>.json`, `<stem>.md` and `<stem>.html`.

Every table and chart names its uncertainty with the words of `simulator.trials.stats`: the range
of outcomes (5th..95th percentile over trials) and the Monte Carlo precision of the mean.
Charts: compare / plan — paired differences to the reference (thin bars: range of outcomes;
caps: Monte Carlo precision), and cumulative incremental profit over time per variant (bands:
range of outcomes); sweep — the objective, program cost and retention against the swept value
with range bands (a heat map of the objective for two parameters); sensitivity — a tornado chart.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from simulator.whatif.compare import CHART_METRICS, KEY_METRICS, Comparison, key_metrics, diff_kind, fmt, fmt_interval, header_lines, legend_lines, metric_kind, metric_label, scale_note
from simulator.whatif.plan_command import Plan
from simulator.whatif.plan_command import markdown as plan_markdown
from simulator.whatif.sensitivity import SEGMENT_FACTORS, SensitivityResult
from simulator.trials.stats import PRECISION, RANGE
from simulator.whatif.sweep import SweepResult, verdict_lines
from simulator.whatif.runner import resolve_metric

Report = Comparison | SweepResult | SensitivityResult | Plan


# ---------------------------------------------------------------- charts


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _plt().close(fig)
    return buf.getvalue()


def _arr(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def chart_differences(cmp: Comparison, keys: list[str] | None = None, title: str | None = None,
                      names: list[str] | None = None) -> bytes:
    """One panel per metric: each variant's paired difference to the reference: the bar is the mean, the
    grey line its range of outcomes, the black caps its Monte Carlo precision."""
    plt = _plt()
    keys = [k for k in (keys or CHART_METRICS) if k in cmp.metric_keys()]
    cols = 3 if len(keys) > 4 else max(1, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.6 + (0.45 * len(cmp.runs) + 1.1) * rows), squeeze=False)
    labels = names or cmp.labels[1:]
    ypos = np.arange(len(labels))
    currency = cmp.meta.get("currency", "")
    for ax, key in zip(axes.flat, keys):
        d = [cmp.difference(i, key) for i in range(1, len(cmp.runs))]
        scale = 100.0 if metric_kind(key) == "pct" else 1.0
        mean = _arr([x["mean"] for x in d]) * scale
        lo = _arr([x["low"] for x in d]) * scale
        hi = _arr([x["high"] for x in d]) * scale
        colors = [change_color(key, float(m)) for m in np.nan_to_num(mean)]
        ax.barh(ypos, np.nan_to_num(mean), color=colors, alpha=0.8)
        p5 = _arr([x["range"][0] for x in d]) * scale
        p95 = _arr([x["range"][1] for x in d]) * scale
        ax.hlines(ypos, np.nan_to_num(p5), np.nan_to_num(p95), color="#888888", lw=5, alpha=0.6)
        ax.errorbar(np.nan_to_num(mean), ypos, xerr=[np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)], fmt="none",
                    ecolor="black", capsize=4, lw=1)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(ypos)
        ax.set_yticklabels([_short(x) for x in labels], fontsize=8)
        ax.invert_yaxis()
        unit = "pp" if metric_kind(key) == "pct" else (currency if metric_kind(key).startswith("money") else "")
        ax.set_title(metric_label(key), fontsize=10)
        ax.set_xlabel(("change" if names else f"change vs {_short(cmp.labels[0])}") + (f" ({unit})" if unit else ""),
                      fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        _compact_axis(ax.xaxis)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle((title or "Paired differences to the reference") +
                 f"\ngreen: better for the business, orange: worse (a lower cost is better); grey: {RANGE} "
                 f"(5th–95th percentile over trials); black caps: {PRECISION} of the mean", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def _compact_axis(axis) -> None:
    """At most 5 ticks in ONE unit for the whole axis (950, 12k, 3.4M: never `5000` beside `10k`), the
    report charts' formatter."""
    from matplotlib.ticker import MaxNLocator

    from simulator.report.charts import _short_number_formatter

    axis.set_major_locator(MaxNLocator(5))
    axis.set_major_formatter(_short_number_formatter())


# metrics where less is better for the business: a decrease is drawn as good
LOWER_IS_BETTER = ("program_cost", ".cost_", "liability", "churn_rate", "returns", "refunds", "redemption_cost",
                   "cost_per_redeemed_point")
GOOD_COLOR, BAD_COLOR = "#2a9d8f", "#e76f51"


def lower_is_better(key: str) -> bool:
    """Whether a decrease of metric `key` is good for the business (costs, liability, churn, returns)."""
    return any(part in key for part in LOWER_IS_BETTER)


def change_color(key: str, change: float) -> str:
    """Green for a change that is good for the business, orange for one that is bad."""
    good = change <= 0 if lower_is_better(key) else change >= 0
    return GOOD_COLOR if good else BAD_COLOR


def chart_cumulative(cmp: Comparison, title: str | None = None) -> bytes:
    """Cumulative incremental profit month by month, one line per variant; bands: range of outcomes."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    months = cmp.months()
    x = np.arange(1, len(months) + 1)
    for i, label in enumerate(cmp.labels):
        s = cmp.cumulative(i)
        mean, lo, hi = _arr(s["mean"]), _arr(s["range"][0]), _arr(s["range"][1])
        line, = ax.plot(x, mean, marker="o", ms=3, label=_short(label))
        if cmp.meta.get("trials", 1) > 1:
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(months, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("month")
    ax.set_ylabel(f"cumulative incremental profit ({cmp.meta.get('currency', '')})")
    _compact_axis(ax.yaxis)
    ax.set_title(title or f"Cumulative incremental profit (program − no program); band: {RANGE} (5th–95th percentile)",
                 fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def chart_sweep(res: SweepResult) -> bytes:
    plt = _plt()
    currency = res.meta.get("currency", "")
    if len(res.parameters) == 1:
        keys = [res.objective.text] + [k for k in res.points[0].shown if k != res.objective.text]
        fig, axes = plt.subplots(1, len(keys), figsize=(4.4 * len(keys), 3.8), squeeze=False)
        x = np.array([float(pt.values[0]) for pt in res.points])
        feasible = np.array([pt.feasible for pt in res.points])
        for ax, key in zip(axes.flat, keys):
            stats = [pt.objective if key == res.objective.text else pt.shown[key] for pt in res.points]
            kind = metric_kind(resolve_metric(key)) if res.objective.denominator is None or key != res.objective.text else "ratio"
            scale = 100.0 if kind == "pct" else 1.0
            mean = _arr([s["mean"] for s in stats]) * scale
            lo, hi = (_arr([s["range"][j] for s in stats]) * scale for j in (0, 1))
            mlo, mhi = (_arr([s[k] for s in stats]) * scale for k in ("low", "high"))
            ax.plot(x, mean, color="#264653", lw=1.5)
            ax.fill_between(x, lo, hi, color="#264653", alpha=0.15, label=RANGE)
            ax.errorbar(x, mean, yerr=[np.nan_to_num(mean - mlo), np.nan_to_num(mhi - mean)], fmt="none",
                        ecolor="black", capsize=3, lw=0.8, label=f"{PRECISION} of the mean")
            ax.scatter(x[feasible], mean[feasible], color="#2a9d8f", zorder=3, s=18, label="meets constraints")
            if (~feasible).any():
                ax.scatter(x[~feasible], mean[~feasible], facecolors="none", edgecolors="#e76f51", zorder=3, s=22,
                           label="breaks a constraint")
            if res.best is not None:
                ax.axvline(float(res.best.values[0]), color="#e9c46a", ls="--", lw=1.5, label="best")
            elif res.verdict is not None and res.verdict.leader is not None:
                ax.axvline(float(res.verdict.leader.values[0]), color="#bbbbbb", ls=":", lw=1.5,
                           label="best mean (not resolved)")
            unit = "%" if kind == "pct" else (currency if kind.startswith("money") else "")
            ax.set_title(key.replace("_", " "), fontsize=10)
            ax.set_xlabel(f"{res.parameters[0].path} ({res.parameters[0].unit})" if res.parameters[0].unit else res.parameters[0].path, fontsize=8)
            ax.set_ylabel(unit, fontsize=8)
            ax.grid(alpha=0.3)
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"Sweep of {res.parameters[0].path}: mean over trials, band: {RANGE}, caps: {PRECISION}",
                     fontsize=11)
    else:
        gx, gy = res.grids
        z = np.full((len(gy), len(gx)), np.nan)
        infeasible = np.zeros_like(z, dtype=bool)
        for pt in res.points:
            i, j = gy.index(pt.values[1]), gx.index(pt.values[0])
            z[i, j] = pt.objective["mean"] if pt.objective["mean"] is not None else np.nan
            infeasible[i, j] = not pt.feasible
        fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(gx), 1.0 + 0.6 * len(gy)))
        im = ax.imshow(z, origin="lower", cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(gx)))
        ax.set_xticklabels([str(v) for v in gx], fontsize=8)
        ax.set_yticks(range(len(gy)))
        ax.set_yticklabels([str(v) for v in gy], fontsize=8)
        ax.set_xlabel(res.parameters[0].path)
        ax.set_ylabel(res.parameters[1].path)
        for i in range(len(gy)):
            for j in range(len(gx)):
                if infeasible[i, j]:
                    ax.text(j, i, "×", ha="center", va="center", color="white", fontsize=12)
        if res.best is not None:
            ax.scatter([gx.index(res.best.values[0])], [gy.index(res.best.values[1])], marker="*", s=250,
                       color="#e9c46a", edgecolors="black", label="best")
            ax.legend(fontsize=8, loc="upper left")
        fig.colorbar(im, ax=ax, label=f"{res.objective.text} (mean)")
        ax.set_title(f"{res.objective.text} over the grid (× breaks a constraint)", fontsize=10)
    fig.tight_layout()
    return _png(fig)


def chart_tornado(res: SensitivityResult) -> bytes:
    plt = _plt()
    bars = res.bars
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.42 * max(1, len(bars))))
    y = np.arange(len(bars))
    lo = np.array([b.low["mean"] or 0.0 for b in bars])
    hi = np.array([b.high["mean"] or 0.0 for b in bars])
    ax.barh(y, lo, color="#e76f51", alpha=0.85, label="assumption at its low value")
    ax.barh(y, hi, color="#2a9d8f", alpha=0.85, label="assumption at its high value")
    for yy, b in zip(y, bars):
        for d, v in ((b.low, lo[yy]), (b.high, hi[yy])):
            p5, p95 = d["range"]
            if p5 is not None and p95 is not None:
                ax.plot([p5, p95], [yy, yy], color="black", lw=1)
    ax.axvline(0, color="black", lw=1)
    labels = []
    for b in bars:
        s = b.setting
        rng = f"×{s.low:g}..×{s.high:g}" if s.assumption.path in SEGMENT_FACTORS else f"{s.low:.3g}..{s.high:.3g}"
        labels.append(f"{s.assumption.path}\n({rng})")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.invert_yaxis()
    base = res.base.get("mean")
    unit = res.meta.get("currency", "") if res.metric.denominator is None and metric_kind(res.metric.numerator).startswith("money") else ""
    ax.set_xlabel(f"change in {res.metric.text}" + (f" ({unit})" if unit else "") +
                  (f" from the base {fmt(base, 'money')}" if base is not None else ""))
    ax.set_title(f"Sensitivity of {res.metric.text} (black lines: {RANGE} of the paired change)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def charts(x: Report) -> dict[str, bytes]:
    """Every chart of a report, by title."""
    if isinstance(x, Plan):
        if x.comparison is None:
            return {}
        keys = ["program.program_cost", "program.liability", "incremental.profit", "incremental.revenue",
                "program.retention", "program.points_issued"]
        return {"Change from the old to the new program": chart_differences(
                    x.comparison, keys, "New minus old program, paired", ["new − old"]),
                "Cumulative incremental profit, old and new": chart_cumulative(x.comparison)}
    if isinstance(x, Comparison):
        return {"Paired differences": chart_differences(x), "Cumulative incremental profit": chart_cumulative(x)}
    if isinstance(x, SweepResult):
        return {"Sweep": chart_sweep(x)}
    return {"Tornado": chart_tornado(x)}


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else "…" + label[-(width - 1):]


# ---------------------------------------------------------------- markdown


def compare_markdown(cmp: Comparison) -> str:
    lines = ["### Comparison of program variants", ""]
    lines += [f"{line}  " for line in header_lines(cmp.meta)]
    lines += [f"Money in {cmp.meta['currency']}; differences are paired trial by trial against **{cmp.labels[0]}**.  "]
    lines += [f"{scale_note(cmp.meta)[0].upper()}{scale_note(cmp.meta)[1:]}.  "]
    lines += [f"{line}.  " for line in legend_lines(cmp.meta)] + [""]
    for i, r in enumerate(cmp.runs):
        lines.append(f"- ({chr(65 + i)}) `{r.label}` — {r.program.name}, program hash `{r.result.meta['program_hash'][:12]}`")
    lines.append("")
    head = "| metric | " + " | ".join(f"({chr(65 + i)}) [{RANGE}]" for i in range(len(cmp.runs)))
    head += "".join(f" | ({chr(65 + i)}) − (A) [{RANGE}] ±{PRECISION}" for i in range(1, len(cmp.runs))) + " |"
    lines.append(head)
    lines.append("|---|" + "---:|" * (2 * len(cmp.runs) - 1))
    keys = set(cmp.metric_keys())
    for label, key, kind in key_metrics(keys):
        if key not in keys:
            continue
        cells = [fmt_interval(cmp.total(i, key), kind, precision=False) for i in range(len(cmp.runs))]
        cells += [fmt_interval(cmp.difference(i, key), diff_kind(kind), True) for i in range(1, len(cmp.runs))]
        lines.append(f"| {label.strip()} | " + " | ".join(cells) + " |")
    for i in range(len(cmp.runs)):
        mix = cmp.tier_mix_end(i)
        if mix:
            lines.append("")
            lines.append(f"Tier mix at end ({chr(65 + i)}, share of members, mean [{RANGE}]): "
                         + ", ".join(f"{n} {fmt_interval(s, 'pct', precision=False)}" for n, s in mix.items()))
    lines.append("")
    for r in cmp.runs:
        ok = "holds" if r.result.ledger_identity_ok else f"BROKEN (max error {r.result.ledger_identity_max_abs_error})"
        lines.append(f"- ledger identity in `{r.label}`: {ok}")
        for w in r.result.warnings:
            lines.append(f"- warning (`{r.label}`): {w}")
        for w in r.result.fit_warnings:
            lines.append(f"- population does not fit (`{r.label}`): **{w['code']}** `{w['location']}`: {w['message']}")
    return "\n".join(lines) + "\n"


def sweep_markdown(res: SweepResult) -> str:
    okind = metric_kind(res.objective.numerator) if res.objective.denominator is None else "ratio4"
    lines = ["### Parameter sweep", ""]
    lines += [f"{line}  " for line in header_lines(res.meta)]
    goal = "minimise" if res.minimize else "maximise"
    lines.append(f"Program {res.meta['program']}; {goal} **{res.objective.text}**"
                 + (f" subject to {', '.join(f'`{c.text()}`' for c in res.constraints)} (on the mean)" if res.constraints else "")
                 + f"; money in {res.meta['currency']}.  ")
    lines += [f"{line}.  " for line in legend_lines(res.meta)]
    lines.append("")
    extra = [k for k in res.points[0].shown if k != res.objective.text]
    head = [p.path for p in res.parameters] + [res.objective.text] + extra + [c.text() for c in res.constraints] + ["best"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---:|" * len(head))
    for pt in res.points:
        cells = [str(v) for v in pt.values] + [fmt_interval(pt.objective, okind)]
        cells += [fmt_interval(pt.shown[k], metric_kind(resolve_metric(k))) for k in extra]
        cells += [f"{fmt(v, 'ratio4')} {'✓' if ok else '✗'}" for _, v, ok in pt.constraints]
        cells.append("◀" if pt is res.best else ("best mean, not resolved" if res.verdict is not None
                                                  and pt is res.verdict.leader else ""))
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    verdict = verdict_lines(res, okind, "`")
    if res.verdict is None or res.verdict.leader is None:
        lines.append("**No grid point meets the constraints.**")
    else:
        head, _, rest = verdict[0].partition(": ")
        lines.append(f"**{head[0].upper()}{head[1:]}:** {rest}")
    return "\n".join(lines) + "\n"


def sensitivity_markdown(res: SensitivityResult) -> str:
    kind = metric_kind(res.metric.numerator) if res.metric.denominator is None else "ratio4"
    lines = ["### Sensitivity to the population's assumptions", ""]
    lines += [f"{line}  " for line in header_lines(res.meta)]
    lines.append(f"Program {res.meta['program']}; **{res.metric.text}** = {fmt_interval(res.base, kind)} in the base run. "
                 "Each assumption is moved to its low and its high value alone; the changes are paired differences "
                 f"to the base run; money in {res.meta['currency']}.  ")
    lines += [f"{line}.  " for line in legend_lines(res.meta)]
    lines.append("")
    lines.append(f"| assumption | values | change at low [{RANGE}] ±{PRECISION} | change at high [{RANGE}] ±{PRECISION} | swing |")
    lines.append("|---|---|---:|---:|---:|")
    for b in res.bars:
        s = b.setting
        rng = f"×{s.low:g} .. ×{s.high:g}" if s.assumption.path in SEGMENT_FACTORS else f"{s.low:.4g} .. {s.high:.4g} (now {s.base:.4g})"
        lines.append(f"| `{s.assumption.path}` — {s.assumption.label} | {rng} | {fmt_interval(b.low, kind, True)} | "
                     f"{fmt_interval(b.high, kind, True)} | {fmt(b.swing, kind)} |")
    for note in res.skipped:
        lines.append(f"\n- skipped: {note}")
    return "\n".join(lines) + "\n"


def markdown(x: Report) -> str:
    if isinstance(x, Plan):
        return plan_markdown(x)
    if isinstance(x, Comparison):
        return compare_markdown(x)
    if isinstance(x, SweepResult):
        return sweep_markdown(x)
    return sensitivity_markdown(x)


# ---------------------------------------------------------------- html

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}td.r,th.r{text-align:right}code{background:#f5f5f5;padding:1px 4px;border-radius:3px}
pre{background:#f5f5f5;padding:8px;overflow-x:auto}img{max-width:100%;margin:1em 0;border:1px solid #eee}
blockquote{color:#8a6d3b;margin:0.5em 0}"""


def _inline(text: str) -> str:
    t = html_lib.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", t)


def markdown_to_html(md: str) -> str:
    """The small Markdown these reports use (headings, tables, lists, code, paragraphs) as HTML."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            j = i + 1
            block = []
            while j < len(lines) and not lines[j].startswith("```"):
                block.append(lines[j])
                j += 1
            out.append("<pre>" + html_lib.escape("\n".join(block)) + "</pre>")
            i = j + 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            align = ["r" if c.endswith(":") else "" for c in rows[1]] if len(rows) > 1 else []
            out.append("<table>")
            out.append("<tr>" + "".join(f'<th class="{a}">{_inline(c)}</th>' for c, a in zip(rows[0], align or [""] * 99)) + "</tr>")
            for r in rows[2:]:
                out.append("<tr>" + "".join(f'<td class="{a}">{_inline(c)}</td>' for c, a in zip(r, align or [""] * 99)) + "</tr>")
            out.append("</table>")
            continue
        if line.startswith("- "):
            out.append("<ul>")
            while i < len(lines) and lines[i].startswith("- "):
                out.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("</ul>")
            continue
        m = re.match(r"^(#{1,6}) (.*)$", line)
        if m:
            n = len(m.group(1))
            out.append(f"<h{n}>{_inline(m.group(2))}</h{n}>")
        elif line.startswith("> "):
            out.append(f"<blockquote>{_inline(line[2:])}</blockquote>")
        elif line.strip():
            out.append(f"<p>{_inline(line.rstrip())}</p>")
        i += 1
    return "\n".join(out)


def html(x: Report) -> str:
    """One self-contained HTML page: the Markdown report's content and its charts as data URIs."""
    body = markdown_to_html(markdown(x))
    imgs = []
    for title, png in charts(x).items():
        data = base64.b64encode(png).decode("ascii")
        imgs.append(f"<h3>{html_lib.escape(title)}</h3>\n<img alt=\"{html_lib.escape(title)}\" "
                    f"src=\"data:image/png;base64,{data}\">")
    title = {Plan: "Plan", Comparison: "Comparison", SweepResult: "Sweep", SensitivityResult: "Sensitivity"}[type(x)]
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{_CSS}</style></head><body>\n{body}\n" + "\n".join(imgs) + "\n</body></html>\n")


def to_json(x: Report) -> dict[str, Any]:
    return x.to_json()


def write_reports(x: Report, out_dir: str | Path, stem: str) -> list[Path]:
    """`<stem>.json`, `<stem>.md` and `<stem>.html` in `out_dir`, rendered in full, then written as one
    set (`simulator.report.outputs.write_set`: the previous set stays whole when writing fails); returns
    the paths written. OutputError (RL620) when they cannot be written."""
    from simulator.report.outputs import write_set

    files = {f"{stem}.json": json.dumps(x.to_json(), indent=2) + "\n", f"{stem}.md": markdown(x),
             f"{stem}.html": html(x)}
    return write_set(out_dir, files)
