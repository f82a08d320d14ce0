"""Charts of a fit report, as PNG images: does the model fit?

Takes: the `report.json` document of `loyalty fit` (schema `loyalty-fit/1`). Gives: one
function per chart returning PNG bytes (None when there is nothing to draw) and
`all_charts`, every chart with its title and its one-line verdict as the caption (the
verdicts are computed from the data in `simulator.fit.checks`). The drawing helpers and
colours are those of the simulation report (`simulator.report.charts`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from simulator.report.charts import BASELINE_COLOR, DPI, FIGSIZE, PROGRAM_COLOR, Chart, _png, _short_number_formatter

Report = dict[str, Any]
ACTUAL_COLOR = BASELINE_COLOR  # what customers did
MODEL_COLOR = PROGRAM_COLOR  # what the fitted model says


def _figure(report: Report, title: str) -> tuple[Figure, Any]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    fig.suptitle(title, fontsize=12, fontweight="bold", x=0.02, ha="left")
    m = report.get("meta", {})
    ax.set_title(f"{m.get('file', '?')} · {int(m.get('customers', 0)):,} customers · {m.get('model_name', '')}",
                 fontsize=8.5, color="#555555", loc="left")
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _nan(values: list[float | None]) -> list[float]:
    return [np.nan if v is None else float(v) for v in values]


def frequency_chart(report: Report) -> bytes | None:
    c = report["checks"]["frequency"]
    fig, ax = _figure(report, "Customers by number of repeat transactions")
    x = np.arange(len(c["x"]))
    ax.bar(x - 0.2, c["actual"], width=0.4, color=ACTUAL_COLOR, label="actual")
    ax.bar(x + 0.2, c["model"], width=0.4, color=MODEL_COLOR, label="model")
    ax.set_xticks(x)
    ax.set_xticklabels(c["x"])
    ax.set_xlabel("repeat transactions in the calibration period")
    ax.set_ylabel("customers")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(frameon=False, fontsize=8)
    return _png(fig)


def tracking_chart(report: Report) -> bytes | None:
    c = report["checks"]["tracking"]
    if not c.get("week"):
        return None
    fig, ax = _figure(report, "Cumulative repeat transactions, week by week")
    ax.plot(c["week"], c["actual"], color=ACTUAL_COLOR, linewidth=2, label="actual")
    ax.plot(c["week"], c["model"], color=MODEL_COLOR, linewidth=2, linestyle="--", label="model")
    if report["meta"].get("holdout_from"):
        ax.axvline(c["calibration_weeks"], color="#999999", linewidth=1, linestyle=":")
        ax.text(c["calibration_weeks"], ax.get_ylim()[1] * 0.02, " holdout →", fontsize=8, color="#555555")
    ax.set_xlabel("week since the first day of the file")
    ax.set_ylabel("repeat transactions (cumulative)")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _png(fig)


def conditional_chart(report: Report) -> bytes | None:
    c = report["checks"]["conditional"]
    if "actual" not in c:
        return None
    fig, ax = _figure(report, "Holdout transactions per customer, by calibration frequency")
    x = np.arange(len(c["x"]))
    ax.plot(x, _nan(c["actual"]), color=ACTUAL_COLOR, marker="o", linewidth=2, label="actual")
    ax.plot(x, _nan(c["model"]), color=MODEL_COLOR, marker="o", linewidth=2, linestyle="--", label="model")
    ax.set_xticks(x)
    ax.set_xticklabels(c["x"])
    ax.set_xlabel("repeat transactions in the calibration period")
    ax.set_ylabel("mean transactions in the holdout")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return _png(fig)


def p_alive_chart(report: Report) -> bytes | None:
    c = report["checks"]["p_alive"]
    if not c.get("histogram"):
        return None
    fig, ax = _figure(report, "P(alive) at the end of the calibration period")
    edges = np.linspace(0, 1, len(c["histogram"]) + 1)
    ax.bar(edges[:-1], c["histogram"], width=np.diff(edges), align="edge", color=MODEL_COLOR, edgecolor="white")
    ax.set_xlabel("probability that the customer is still active")
    ax.set_ylabel("customers")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    return _png(fig)


def spend_chart(report: Report) -> bytes | None:
    c = report["checks"]["spend"]
    if not c.get("mean_spend") or not any(v is not None for v in c["mean_spend"]):
        return None
    fig, ax = _figure(report, "Mean spend per transaction, by number of transactions")
    x = np.arange(len(c["transactions"]))
    ax.bar(x, _nan(c["mean_spend"]), color=MODEL_COLOR)
    ax.set_xticks(x)
    ax.set_xticklabels(c["transactions"])
    ax.set_xlabel("transactions of the customer (repeat buyers)")
    ax.set_ylabel(f"mean spend ({report['meta'].get('currency') or 'currency units'})")
    return _png(fig)


CHARTS = (
    ("frequency", "Frequency histogram", frequency_chart),
    ("tracking", "Tracking: calibration and holdout", tracking_chart),
    ("conditional", "Conditional expectations in the holdout", conditional_chart),
    ("p_alive", "P(alive)", p_alive_chart),
    ("spend", "Frequency and spend", spend_chart),
)


def all_charts(report: Report) -> list[Chart]:
    out = []
    for key, title, draw in CHARTS:
        png = draw(report)
        verdict = report["checks"][key]["verdict"]
        out.append(Chart(key, title, verdict, png, "" if png is not None else verdict))
    return out
