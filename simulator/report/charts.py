"""Charts of a simulation report, as PNG images.

Takes: the `report.json` document of a run (`RunResult.to_json()`, schema
`loyalty-simulation/1`). Gives: one function per chart, each returning PNG bytes
(or None when the run has nothing to draw, with the reason in `missing_reason`),
plus `all_charts` (every chart with its title and caption, for the HTML report)
and `write_charts` (the PNG files into a directory).

Matplotlib is used through its object API (`Figure` + the Agg renderer), so no
window, no display and no global pyplot state are involved. Interval bands are
the range of outcomes stored in the report (5th to 95th percentile over trials, see
`simulator.trials.stats`); a report written before it existed falls back to the Monte Carlo
precision of the mean and says so. With one trial there is no band. Series values that are not defined (a ratio with nothing to divide by) are
stored as null and drawn as gaps.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator, PercentFormatter

from simulator.trials.stats import PRECISION, RANGE
from rulelang.vocabulary import counted

Report = dict[str, Any]

PROGRAM_COLOR = "#1f77b4"
BASELINE_COLOR = "#7f7f7f"
COST_COLOR = "#d62728"
MARGIN_COLOR = "#2ca02c"
FIGSIZE = (8.0, 4.2)
DPI = 100


@dataclass(frozen=True)
class Chart:
    """One chart of the report: `png` is None when it could not be drawn (`note` says why)."""

    key: str
    title: str
    caption: str
    png: bytes | None
    note: str = ""


# ---------------------------------------------------------------- helpers


def _nan(values: list[float | None] | None) -> list[float]:
    return [math.nan if v is None else float(v) for v in (values or [])]


def _series(report: Report, key: str) -> dict[str, list[float]] | None:
    s = report.get("monthly", {}).get(key)
    if not s or not s.get("mean"):
        return None
    rng = s.get("range") or [None, None]
    low, high = (rng[0], rng[1]) if rng[0] else (s.get("low"), s.get("high"))
    return {"mean": _nan(s["mean"]), "low": _nan(low), "high": _nan(high)}


def _band_kind(report: Report) -> str:
    """What the shaded bands of this report are: the range of outcomes, or (older reports) the precision."""
    for s in (report.get("monthly") or {}).values():
        return RANGE_BAND if (s.get("range") or [None])[0] else PRECISION_BAND
    return RANGE_BAND


RANGE_BAND = f"{RANGE} (5th–95th percentile over trials)"
PRECISION_BAND = f"{PRECISION} of the mean (95 % interval; this report.json has no {RANGE})"


def _trials(report: Report) -> int:
    return int(report.get("meta", {}).get("trials", 1) or 1)


def _currency(report: Report) -> str:
    return str(report.get("meta", {}).get("currency", "") or "")


def _points_unit(report: Report) -> str:
    return str(report.get("meta", {}).get("points_unit", "points") or "points")


def _subtitle(report: Report, band_note: str | None = None) -> str:
    m = report.get("meta", {})
    trials = _trials(report)
    if band_note is None:
        band_note = f"shaded: {_band_kind(report)}" if trials > 1 else "one trial: no band"
    return (f"{m.get('program', '?')} · {int(m.get('customers', 0)):,} customers · "
            f"{counted(trials, 'trial')} · {band_note}")


class _ShortNumbers(Formatter):
    """Axis ticks such as 950, 12k, 3.4M, 1.2B, in one unit for the whole axis (chosen by its
    largest tick), so 7,500 and 10k never stand side by side."""

    def __init__(self) -> None:
        self.scale, self.suffix, self.digits = 1.0, "", 0

    def set_locs(self, locs) -> None:
        super().set_locs(locs)
        top = max((abs(v) for v in locs), default=0.0)
        for above, scale, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k"), (0.0, 1.0, "")):
            if top >= above:
                self.scale, self.suffix = scale, suffix
                break
        # as many decimals as the ticks need to be printed exactly (at most 2)
        scaled = [v / self.scale for v in locs]
        self.digits = next((d for d in (0, 1) if all(abs(x * 10**d - round(x * 10**d)) < 1e-6 for x in scaled)), 2)

    def __call__(self, v: float, pos: int | None = None) -> str:
        if v == 0:
            return "0"
        return f"{v / self.scale:,.{self.digits}f}{self.suffix}"


def _short_number_formatter() -> Formatter:
    """The axis formatter of every money or count axis (see `_ShortNumbers`)."""
    return _ShortNumbers()


def _new_figure(report: Report, title: str, band_note: str | None = None,
                subtitle: str | None = None) -> tuple[Figure, Any]:
    """A figure in the reports' style; the subtitle names the run (or is `subtitle` when given)."""
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    fig.suptitle(title, fontsize=12, fontweight="bold", x=0.02, ha="left")
    ax.set_title(subtitle if subtitle is not None else _subtitle(report, band_note), fontsize=8.5,
                 color="#555555", loc="left")
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _month_axis(ax: Any, months: list[str]) -> None:
    ax.set_xlabel("month")
    ax.set_xlim(-0.3, max(len(months) - 1, 0) + 0.3)
    step = max(1, math.ceil(len(months) / 12))
    ticks = list(range(0, len(months), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([months[i] for i in ticks], rotation=45 if len(months) > 6 else 0,
                       ha="right" if len(months) > 6 else "center", fontsize=8)


def _band(ax: Any, x: list[int], s: dict[str, list[float]], color: str, trials: int,
          label: str | None = None) -> None:
    if trials > 1 and s["low"] and s["high"]:
        ax.fill_between(x, s["low"], s["high"], color=color, alpha=0.18, linewidth=0, label=label)


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _running_total(report: Report, key: str, flow: str, scale: float | None = 1.0) -> dict[str, list[float]] | None:
    """A cumulative series: `monthly[key]` (a `cumulative.*` series: each trial's running total, then the
    mean and range of outcomes over trials). A report written before those series existed has only the
    monthly intervals of `flow`, which do not give the interval of a sum: the running total of its
    monthly means (× `scale`) is returned then, with no band."""
    s = _series(report, key)
    if s is not None:
        return s
    f = _series(report, flow)
    if f is None or scale is None:
        return None
    mean, total = [], 0.0
    for v in f["mean"]:
        total += 0.0 if math.isnan(v) else v * scale
        mean.append(total)
    return {"mean": mean, "low": [], "high": []}


def gross_margin_rate(report: Report) -> float | None:
    """The population's gross margin, recovered from the report (gross profit / revenue)."""
    t = report.get("totals", {})
    rev = (t.get("program.revenue") or {}).get("mean")
    gp = (t.get("program.gross_profit") or {}).get("mean")
    if not rev or gp is None:
        rev = (t.get("baseline.revenue") or {}).get("mean")
        gp = (t.get("baseline.gross_profit") or {}).get("mean")
    if not rev or gp is None:
        return None
    return gp / rev


def liability_per_point(report: Report) -> float | None:
    """End-of-run value of one outstanding point: (1 − breakage) × point cost, from the totals."""
    per = report.get("per_trial", {})
    liab, out = per.get("program.liability") or [], per.get("program.points_outstanding") or []
    factors = [lv / ov for lv, ov in zip(liab, out) if lv is not None and ov]
    if not factors:
        return None
    return sum(factors) / len(factors)


# ---------------------------------------------------------------- the charts


def cost_vs_margin_chart(report: Report) -> bytes | None:
    """Cumulative program cost against the cumulative incremental gross margin it brings in."""
    months = list(report.get("months", []))
    margin = gross_margin_rate(report)
    c_cost = _running_total(report, "cumulative.program_cost", "program.program_cost")
    c_margin = _running_total(report, "cumulative.incremental_gross_margin", "incremental.revenue", margin)
    if not months or c_cost is None or c_margin is None:
        return None
    c_profit = _running_total(report, "cumulative.incremental_profit", "incremental.profit")
    if c_profit is None:
        c_profit = {"mean": [a - b for a, b in zip(c_margin["mean"], c_cost["mean"])], "low": [], "high": []}
    trials = _trials(report)
    cur = _currency(report)
    band_note = None
    if trials > 1:
        if c_cost["low"] and c_margin["low"]:
            band_note = f"shaded: {_band_kind(report)} of each trial's running total"
        else:
            band_note = "no bands: this report.json predates the per-trial running totals"
    x = list(range(len(months)))
    fig, ax = _new_figure(report, "Program cost vs the incremental margin it brings in (cumulative)", band_note)
    _band(ax, x, c_cost, COST_COLOR, trials)
    _band(ax, x, c_margin, MARGIN_COLOR, trials)
    _band(ax, x, c_profit, "#999999", trials)
    ax.plot(x, c_cost["mean"], color=COST_COLOR, linewidth=2, marker="o", markersize=3,
            label="cumulative program cost")
    margin_text = f"incremental revenue × {margin:.0%}" if margin is not None else "incremental revenue × margin"
    ax.plot(x, c_margin["mean"], color=MARGIN_COLOR, linewidth=2, marker="o", markersize=3,
            label=f"cumulative incremental gross margin ({margin_text})")
    ax.plot(x, c_profit["mean"], color="#333333", linewidth=1.2, linestyle="--",
            label="cumulative incremental profit (margin − cost)")
    ax.axhline(0, color="#999999", linewidth=0.8)
    _month_axis(ax, months)
    ax.set_ylabel(f"{cur} (cumulative)" if cur else "money (cumulative)")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return _png(fig)


def liability_chart(report: Report) -> bytes | None:
    """Points outstanding at each month end, and what they are worth as a liability."""
    months = list(report.get("months", []))
    out = _series(report, "program.points_outstanding")
    if not months or out is None:
        return None
    trials = _trials(report)
    unit = _points_unit(report)
    cur = _currency(report)
    x = list(range(len(months)))
    fig, ax = _new_figure(report, f"Outstanding {unit} at month end (the points liability)")
    _band(ax, x, out, PROGRAM_COLOR, trials, label=RANGE if trials > 1 else None)
    ax.plot(x, out["mean"], color=PROGRAM_COLOR, linewidth=2, marker="o", markersize=3,
            label=f"{unit} outstanding (mean over trials)")
    _month_axis(ax, months)
    ax.set_ylabel(f"{unit} outstanding")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.set_ylim(bottom=0)
    factor = liability_per_point(report)
    if factor:
        sec = ax.secondary_yaxis("right", functions=(lambda v: v * factor, lambda v: v / factor))
        one = unit[:-1] if unit.endswith("s") else unit
        sec.set_ylabel(f"liability, {cur} ({factor * 100:.3g} cents per {one} at the end)")
        sec.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return _png(fig)


def contract_liability_chart(report: Report) -> bytes | None:
    """The IFRS 15 contract liability month by month: deferred up, recognized and breakage down, closing."""
    cl = (report.get("accounting") or {}).get("contract_liability")
    months = list(report.get("months", []))
    if not cl or not months:
        return None
    mon = cl["monthly"]
    cur = _currency(report)
    x = list(range(len(months)))
    dep = _nan(mon["deferred"]["mean"])
    rec = [-v for v in _nan(mon["recognized"]["mean"])]
    brk = [-v for v in _nan(mon["breakage"]["mean"])]
    fig, ax = _new_figure(report, "Contract liability for points (IFRS 15 / ASC 606)")
    ax.bar(x, dep, color=MARGIN_COLOR, alpha=0.75, label="deferred (revenue allocated to the points issued)")
    ax.bar(x, rec, color=PROGRAM_COLOR, alpha=0.75, label="recognized on redemption")
    ax.bar(x, brk, bottom=rec, color="#9e9ac8", alpha=0.9, label="recognized as breakage")
    close = {"mean": _nan(mon["closing"]["mean"]), "low": _nan(mon["closing"]["range"][0]),
             "high": _nan(mon["closing"]["range"][1])}
    _band(ax, x, close, "#333333", _trials(report))
    ax.plot(x, close["mean"], color="#333333", linewidth=2, marker="o", markersize=3, label="closing liability")
    ax.axhline(0, color="#999999", linewidth=0.8)
    _month_axis(ax, months)
    ax.set_ylabel(cur)
    ax.yaxis.set_major_formatter(_short_number_formatter())
    top = max([v for v in dep + close["high"] + close["mean"] if not math.isnan(v)] or [1.0])
    low = min([r + b for r, b in zip(rec, brk) if not math.isnan(r + b)] or [0.0])
    ax.set_ylim(low * 1.1, top * 1.1 + (top - low) * 0.35)  # room for the legend above the bars
    ax.legend(fontsize=8, loc="upper left", frameon=False, ncol=2)
    return _png(fig)


def cohort_age_chart(report: Report) -> bytes | None:
    """The points of the month cohorts by age: stacked shares redeemed, expired, reversed and still
    outstanding at the end of each month after the issue month, pooled over the cohorts that reach it."""
    c = (report.get("accounting") or {}).get("cohorts")
    if not c or not c.get("rows") or not c.get("by_age") or not c["by_age"]["age"]:
        return None
    ba = c["by_age"]
    ages = ba["age"]
    parts = [("redeemed", "redeemed_share", PROGRAM_COLOR), ("expired", "expired_share", "#9e9ac8"),
             ("reversed by returns", "reversed_share", "#fdae6b"), ("still outstanding", "outstanding_share", "#c7c7c7")]
    fig, ax = _new_figure(report, f"What becomes of each month's {_points_unit(report)}, by age",
                          band_note="means over trials")
    bottom = [0.0] * len(ages)
    for label, key, color in parts:
        vals = [0.0 if v is None else 100.0 * v for v in ba[key]["mean"]]
        if key == "reversed_share" and not any(vals):
            continue
        ax.bar(ages, vals, bottom=bottom, color=color, width=0.8, label=label)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xlabel("months after the issue month (pooled over the cohorts that reach that age; fewer at higher ages)")
    ax.set_ylabel("share of the cohorts' issued points (%)")
    ax.yaxis.set_major_formatter(PercentFormatter(100, decimals=0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 118)  # room for the legend above the bars
    ax.set_xlim(-0.6, len(ages) - 0.4)
    ax.legend(fontsize=8, loc="upper left", frameon=False, ncol=4)
    return _png(fig)


def tier_economics_chart(report: Report) -> bytes | None:
    """Per tier over the run: the incremental gross margin against the costs of its perks, discounts and
    points, and the incremental margin left (means; error bars: range of outcomes)."""
    te = (report.get("accounting") or {}).get("tier_economics")
    if not te or not te.get("tiers"):
        return None
    names = te["tiers"]
    by = te["by_tier"]
    cur = _currency(report)
    fig, ax = _new_figure(report, "Tier economics over the run",
                          band_note="whiskers: range of outcomes of the incremental margin" if _trials(report) > 1 else None)
    x = list(range(len(names)))
    w = 0.2
    parts = [("incremental gross margin", "incremental_gross_margin", MARGIN_COLOR),
             ("perks + discounts", None, COST_COLOR), ("points cost", "points_cost", "#fdae6b"),
             ("incremental margin", "incremental_margin", "#333333")]
    for i, (label, key, color) in enumerate(parts):
        if key is None:
            vals = [(by[n]["perks"]["mean"] or 0.0) + (by[n]["discounts"]["mean"] or 0.0) for n in names]
        else:
            vals = [by[n][key]["mean"] or 0.0 for n in names]
        pos = [v + (i - 1.5) * w for v in x]
        ax.bar(pos, vals, width=w, color=color, alpha=0.85, label=label)
        if key == "incremental_margin" and _trials(report) > 1:
            lo = [by[n][key]["range"][0] for n in names]
            hi = [by[n][key]["range"][1] for n in names]
            if all(v is not None for v in lo + hi):
                ax.errorbar(pos, vals, yerr=[[v - a for v, a in zip(vals, lo)], [b - v for v, b in zip(vals, hi)]],
                            fmt="none", ecolor="#777777", capsize=3, lw=1)
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=9)
    ax.set_xlabel("tier (members at the month's end)")
    ax.set_ylabel(cur)
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper right", frameon=False)
    return _png(fig)


def tier_mix_chart(report: Report) -> bytes | None:
    """Share of members in each tier at each month end (stacked)."""
    months = list(report.get("months", []))
    names = list(report.get("tier_names") or [])
    share = (report.get("tier_mix") or {}).get("share") or {}
    if not months or not names or not all(n in share for n in names):
        return None
    layers = [[0.0 if math.isnan(v) else v for v in _nan(share[n].get("mean"))] for n in names]
    x = list(range(len(months)))
    fig, ax = _new_figure(report, "Tier mix: share of members in each tier at month end",
                          "mean over trials")
    cmap = ["#c7dcef", "#f2c14e", "#6a3d9a", "#e07b39", "#2ca02c", "#17becf", "#8c564b", "#e377c2"]
    colors = [cmap[i % len(cmap)] for i in range(len(names))]
    ax.stackplot(x, layers, labels=names, colors=colors, alpha=0.9)
    _month_axis(ax, months)
    ax.set_ylabel("share of members (churned members excluded)")
    ax.set_ylim(0, 1)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5),
              frameon=False, title="tier (top = highest)", title_fontsize=8)
    return _png(fig)


def retention_chart(report: Report) -> bytes | None:
    """Share of the starting customers still active, with and without the program."""
    months = list(report.get("months", []))
    prog = _series(report, "program.retention")
    base = _series(report, "baseline.retention")
    if not months or prog is None or base is None:
        return None
    trials = _trials(report)
    x = list(range(len(months)))
    fig, ax = _new_figure(report, "Retention with and without the program (same customers)")
    _band(ax, x, base, BASELINE_COLOR, trials)
    _band(ax, x, prog, PROGRAM_COLOR, trials)
    ax.plot(x, base["mean"], color=BASELINE_COLOR, linewidth=2, linestyle="--", marker="o", markersize=3,
            label="without the program (baseline)")
    ax.plot(x, prog["mean"], color=PROGRAM_COLOR, linewidth=2, marker="o", markersize=3,
            label="with the program")
    _month_axis(ax, months)
    ax.set_ylabel("customers still active at month end\n(share of starting customers)")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    lows = [v for v in prog["low"] + base["low"] + prog["mean"] + base["mean"] if not math.isnan(v)]
    if lows:
        ax.set_ylim(max(0.0, min(lows) - 0.05), min(1.3, max(1.0, max(prog["mean"] + base["mean"])) + 0.02))
    ax.legend(fontsize=8, loc="lower left", frameon=False)
    return _png(fig)


def incremental_profit_histogram(report: Report) -> bytes | None:
    """Distribution of the incremental profit over trials: its mean, the range of outcomes (5th to 95th
    percentile) and the Monte Carlo precision of the mean."""
    values = [v for v in (report.get("per_trial", {}).get("incremental.profit") or []) if v is not None]
    summary = report.get("totals", {}).get("incremental.profit") or {}
    if not values:
        return None
    cur = _currency(report)
    trials = len(values)
    fig, ax = _new_figure(report, "Incremental profit of the program, trial by trial",
                          "one bar per range of trial results")
    bins = max(1, min(30, int(math.ceil(math.sqrt(trials))) + 2))
    lo_v, hi_v = min(values), max(values)
    if hi_v == lo_v:
        width = max(abs(lo_v) * 0.05, 1.0)
        edges = [lo_v - width, lo_v + width]
    else:
        edges = [lo_v + (hi_v - lo_v) * i / bins for i in range(bins + 1)]
    counts, _, _ = ax.hist(values, bins=edges, color="#9ecae1", edgecolor="#3182bd", label=f"trials ({trials})",
                           zorder=2)
    ax.set_ylim(0, max(counts) * 1.7 + 0.5)  # room for the legend above the bars
    mean = summary.get("mean")
    if mean is not None:
        ax.axvline(mean, color="#08306b", linewidth=2, label=f"mean {_money_text(mean)} {cur}".rstrip())
    low, high = summary.get("low"), summary.get("high")
    if trials > 1 and low is not None and high is not None:
        ax.axvspan(low, high, color="#fdae6b", alpha=0.3, zorder=0,
                   label=f"{PRECISION} of the mean [{_money_text(low)}, {_money_text(high)}]")
    p5, p95 = (summary.get("range") or [None, None])
    if trials > 1 and p5 is not None and p95 is not None:
        for v in (p5, p95):
            ax.axvline(v, color="#6a3d9a", linewidth=1.2, linestyle="--",
                       label=f"{RANGE}: 5th–95th percentile [{_money_text(p5)}, {_money_text(p95)}]" if v == p5 else None)
    span = max(hi_v - lo_v, abs(mean or lo_v) * 0.1, 1.0)
    if lo_v - span <= 0 <= hi_v + span:
        ax.axvline(0, color="#d62728", linewidth=1, linestyle=":", label="break-even (0)")
    else:
        side = "above" if lo_v > 0 else "below"
        ax.plot([], [], " ", label=f"every trial is {side} break-even (0, off the chart)")
    ax.set_xlabel(f"incremental profit over the run, {cur} (program − baseline, same customers)")
    ax.set_ylabel("trials")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return _png(fig)


def _money_text(v: float) -> str:
    return f"{v:,.0f}"


# ---------------------------------------------------------------- all of them


CHARTS: list[tuple[str, str, Callable[[Report], bytes | None], str]] = [
    ("cost_vs_margin", "Cost vs incremental margin", cost_vs_margin_chart,
     "Running totals month by month. Green: the extra gross margin the program brings in (incremental revenue "
     "× gross margin, paired with the baseline on the same customers); red: what the program costs "
     "(rewards, discounts, perks, vouchers, fixed and acquisition costs). The dashed line (grey band) is their "
     "difference, the incremental profit; where it crosses zero the program pays for itself. Bands: the range "
     "of outcomes (5th to 95th percentile over trials) of each trial's own running total, so at the last month "
     "they are the ranges of the totals in the tables."),
    ("liability", "Points liability", liability_chart,
     "Points earned but neither redeemed, expired nor reversed, at each month end. The right axis values them "
     "as the end-of-run liability does: outstanding × (1 − breakage rate) × point cost."),
    ("contract_liability", "Contract liability (IFRS 15 / ASC 606)", contract_liability_chart,
     "Month by month, means over trials: revenue deferred into the liability for the points issued (up), "
     "recognized when points are redeemed and as breakage (down), and the closing liability (line; band: range "
     "of outcomes). Opening + deferred − recognized − breakage = closing; docs/accounting.md gives the method."),
    ("cohort_ages", "Points by issue month (cohorts)", cohort_age_chart,
     "Each month's points followed as they age, means over trials: at the end of the issue month (age 0) and of "
     "each month after it, the shares of the issued points redeemed, expired, reversed by returns and still "
     "outstanding (they add up to 100 %). Each age pools the month cohorts old enough to have reached it, so "
     "the higher ages rest on the first months only. The opening balances are not in it; the table gives each "
     "cohort on its own."),
    ("tier_economics", "Tier economics", tier_economics_chart,
     "Per tier over the whole run (means; whiskers: range of outcomes of the incremental margin): the extra gross "
     "margin its members bring against the same customers without the program, what their perks and discounts "
     "cost, the cost of the points they earned at the declared point cost, and the incremental margin left."),
    ("tier_mix", "Tier mix", tier_mix_chart,
     "How the members (enrolled customers who have not churned) are spread over the tiers at "
     "each month end, mean over trials, lowest tier at the bottom."),
    ("retention", "Retention", retention_chart,
     "Share of the starting customers who have not churned by each month end, for the same customers with the "
     "program (blue) and without it (grey, dashed)."),
    ("incremental_profit", "Incremental profit distribution", incremental_profit_histogram,
     "Each trial's incremental profit over the whole run (program net profit − baseline profit on the same "
     "random draws). Dark line: mean; purple dashed lines: the range of outcomes (5th and 95th percentile over "
     "trials); orange band: the Monte Carlo precision of the mean (its 95 % confidence interval, which narrows "
     "with more trials); red dotted line: break-even."),
]


def missing_reason(report: Report, key: str) -> str:
    """Why a chart could not be drawn for this report."""
    if key == "cohort_ages" and not (report.get("accounting") or {}).get("cohorts"):
        return "The report has no issue-month cohorts (`loyalty simulate` writes them; older reports lack them)."
    if key == "cohort_ages" and not report["accounting"]["cohorts"].get("rows"):
        return "The program issued no points, so there are no cohorts to follow."
    if key == "contract_liability" and not (report.get("accounting") or {}).get("contract_liability"):
        return "The report has no contract liability (`loyalty simulate` writes it; older reports lack it)."
    if key in ("tier_mix", "tier_economics") and not report.get("tier_names"):
        return "The program has no tiers, so there is no tier mix to show."
    if not report.get("months"):
        return "The report has no monthly series."
    return "The report does not hold the series this chart needs."


def all_charts(report: Report) -> list[Chart]:
    """Every chart of the report, in reading order (charts that cannot be drawn carry a note)."""
    out = []
    for key, title, fn, caption in CHARTS:
        png = fn(report)
        out.append(Chart(key, title, caption, png, "" if png is not None else missing_reason(report, key)))
    return out


def write_charts(report: Report, out_dir: str | Path, prefix: str = "") -> list[Path]:
    """Write each chart as `<prefix><key>.png` into `out_dir`; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for chart in all_charts(report):
        if chart.png is None:
            continue
        path = out / f"{prefix}{chart.key}.png"
        path.write_bytes(chart.png)
        paths.append(path)
    return paths
