"""The fit report of `loyalty fit`: report.json, report.md and report.html (charts embedded).

Takes: a `FitOutcome` (simulator.fit.fitting) and how the file was read. Gives:
`build_report(...)` (the JSON document, schema `loyalty-fit/1`: the data and how it was
read, the rows not used and why, per segment the parameters with standard errors and
log-likelihoods of every model fitted, on the whole history and on the calibration period,
the mixes, and the checks of `simulator.fit.checks` each with its verdict),
`render_markdown`, `render_html` (tables plus the charts of `simulator.fit.charts`, in the
house style of the simulation report: its page head, CSS, escaping and chart figures) and `write_fit_report(report, dir)`,
which writes the three files as one set with `simulator.report.outputs.write_set` (RL620 on failure).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from simulator.fit.checks import all_checks
from simulator.fit.population_file import MODEL_NAMES
from simulator.fit.fitting import FitOutcome
from simulator.report.pages import _h, _md, charts_html, page_head

Report = dict[str, Any]
SCHEMA = "loyalty-fit/1"


def _model_json(fit: Any) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {"model": fit.model, "names": list(fit.names), "params": [float(v) for v in fit.params],
            "se": [float(v) for v in fit.se], "loglik": float(fit.loglik), "customers": int(fit.n),
            "converged": bool(fit.converged), "iterations": int(fit.iterations), "bic": float(fit.bic),
            "log_covariance": [[float(v) for v in row] for row in fit.log_covariance]}


def build_report(o: FitOutcome, columns: dict[str, str], warnings: list[str]) -> Report:
    s, tx = o.summaries, o.transactions
    skipped = [{"reason": r, "rows": c} for r, c in tx.skipped]
    segments = []
    for seg in o.segments:
        mx = seg.mixes
        segments.append({
            "name": seg.name, "customers": seg.n_customers, "share": seg.share, "model": seg.model,
            "purchase": _model_json(seg.purchase),
            "alternatives": [_model_json(a) for a in seg.alternatives],
            "calibration": _model_json(seg.calibration),
            "calibration_alternatives": [_model_json(a) for a in seg.calibration_alternatives],
            "spend": _model_json(seg.spend), "spend_customers": seg.spend_customers,
            "spend_excluded": seg.spend_excluded, "spend_correlation": seg.spend_correlation,
            "mixes": {
                "purchases": mx.purchases,
                "categories": dict(mx.categories.shares) if mx.categories else None,
                "channels": dict(mx.channels.shares) if mx.channels else None,
                "items_mean": mx.items_mean, "items_source": mx.items_source,
                "returns": None if mx.returns is None else {
                    "rate": mx.returns.rate, "returns": mx.returns.returns, "purchases": mx.returns.purchases,
                    "fraction": {str(k): v for k, v in mx.returns.fraction}, "delay_min": mx.returns.delay_min,
                    "delay_max": mx.returns.delay_max, "delay_median": mx.returns.delay_median},
                "birthday_known": mx.birthday_known, "enroll_share": mx.enroll_share,
                "attributes": {n: dict(m.shares) for n, m in mx.attributes}}})
    holdout_from = str(s.cal_end.fromordinal(s.cal_end.toordinal() + 1)) if s.holdout else None
    meta = {
        "file": tx.path, "rows_read": tx.rows_read, "rows_used": tx.n_rows,
        "rows_skipped": sum(c for _, c in tx.skipped), "customers": tx.n_customers,
        "calibration_customers": s.calibration_customers, "new_in_holdout": s.new_in_holdout,
        "first_day": str(s.first_day), "last_day": str(s.last_day), "calibration_end": str(s.cal_end),
        "holdout_from": holdout_from, "holdout_units": s.holdout_units if s.holdout else 0.0,
        "time_unit": s.unit, "date_format": tx.date_format, "date_note": tx.date_note, "columns": columns,
        "currency": tx.currency, "model": o.model, "model_name": MODEL_NAMES[o.model],
        "model_choice": None if o.choice is None else {
            "model": o.choice.model, "asked": o.choice.asked, "compared_on": o.choice.basis,
            "loglik": {m: ll for m, ll in o.choice.loglik}, "why": o.choice.sentence()},
        "segment_by": o.segment_by, "failed_models": [{"model": m, "why": w} for m, w in o.failed_models],
        "transactions_rule": "a transaction is a day with a purchase: same-day purchases of one customer count once",
    }
    return {"schema": SCHEMA, "meta": meta, "skipped": skipped, "segments": segments, "checks": all_checks(o),
            "warnings": warnings}


def _param_rows(fit: dict[str, Any] | None) -> list[tuple[str, str, str]]:
    if not fit:
        return []
    return [(n, f"{v:.4g}", f"{se:.3g}") for n, v, se in zip(fit["names"], fit["params"], fit["se"])]


def _fits_of(seg: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for label, key in (("whole history", "purchase"), ("calibration period", "calibration")):
        if seg.get(key):
            out.append((f"{MODEL_NAMES[seg[key]['model']]}, {label} (used)" if key == "purchase" else
                        f"{MODEL_NAMES[seg[key]['model']]}, {label} (checked against the holdout)", seg[key]))
    for label, key in (("whole history", "alternatives"), ("calibration period", "calibration_alternatives")):
        for a in seg.get(key) or []:
            out.append((f"{MODEL_NAMES[a['model']]}, {label} (not used)", a))
    if seg.get("spend"):
        out.append((f"gamma-gamma spend, {seg['spend_customers']:,} repeat buyers", seg["spend"]))
    return out


def facts(report: Report) -> list[tuple[str, str]]:
    m = report["meta"]
    rows = [("file", m["file"]), ("rows", f"{m['rows_read']:,} read, {m['rows_used']:,} used"),
            ("customers", f"{m['customers']:,}"), ("history", f"{m['first_day']} .. {m['last_day']}"),
            ("dates", m["date_note"] or m["date_format"]), ("time unit", m["time_unit"]),
            ("model", (m.get("model_choice") or {}).get("why") or m["model_name"])]
    if m["holdout_from"]:
        rows.append(("calibration", f"{m['first_day']} .. {m['calibration_end']} "
                                    f"({m['calibration_customers']:,} customers)"))
        rows.append(("holdout", f"{m['holdout_from']} .. {m['last_day']}"
                     + (f" ({m['new_in_holdout']:,} customers first bought in it: not in the checks)"
                        if m["new_in_holdout"] else "")))
    if m["currency"]:
        rows.append(("currency", m["currency"]))
    if m["segment_by"]:
        rows.append(("segments by", m["segment_by"]))
    rows.append(("columns", ", ".join(f"{k}={v}" for k, v in m["columns"].items())))
    rows.append(("transactions", m["transactions_rule"]))
    return rows


VERDICT_ORDER = ("tracking", "conditional", "frequency", "p_alive", "spend")
VERDICT_TITLES = {"tracking": "holdout tracking", "conditional": "conditional expectations",
                  "frequency": "frequency histogram", "p_alive": "P(alive)", "spend": "frequency and spend"}


def render_markdown(report: Report) -> str:
    m = report["meta"]
    out = [f"# Fit: {_md(m['file'])}", "", "| | |", "|---|---|"]
    out += [f"| {_md(k)} | {_md(str(v))} |" for k, v in facts(report)]
    out += ["", "## Does the model fit?", ""]
    out += [f"- **{VERDICT_TITLES[k]}**: {_md(report['checks'][k]['verdict'])}" for k in VERDICT_ORDER]
    if report["warnings"]:
        out += ["", "## Warnings", ""] + [f"- {_md(w)}" for w in report["warnings"]]
    out += ["", "## Rows not used", ""]
    if report["skipped"]:
        out += ["| reason | rows |", "|---|---:|"] + [f"| {_md(s['reason'])} | {s['rows']:,} |"
                                                       for s in report["skipped"]]
    else:
        out.append("Every row was used.")
    for seg in report["segments"]:
        out += ["", f"## Segment `{seg['name']}`: {seg['customers']:,} customers ({seg['share']:.1%})"]
        for label, fit in _fits_of(seg):
            out += ["", f"**{_md(label)}**: log-likelihood {fit['loglik']:,.2f} on {fit['customers']:,} customers"
                    + ("" if fit["converged"] else " (NOT converged)"), "",
                    "| parameter | estimate | standard error |", "|---|---:|---:|"]
            out += [f"| {n} | {v} | {se} |" for n, v, se in _param_rows(fit)]
        mx = seg["mixes"]
        if mx["returns"]:
            r = mx["returns"]
            out += ["", f"Returns: {r['returns']:,} of {r['purchases']:,} purchase rows ({r['rate']:.2%}); delay "
                        f"{r['delay_min']}..{r['delay_max']} days (median {r['delay_median']:g})."]
    out += ["", "## Checks", ""]
    for key in VERDICT_ORDER:
        c = report["checks"][key]
        out.append(f"### {VERDICT_TITLES[key]}")
        out.append("")
        out.append(_md(c["verdict"]))
        out.append("")
        if key == "frequency":
            out += ["| repeat transactions | actual customers | model |", "|---|---:|---:|"]
            out += [f"| {x} | {a:,.0f} | {b:,.1f} |" for x, a, b in zip(c["x"], c["actual"], c["model"])]
        elif key == "conditional" and "actual" in c:
            out += ["| calibration repeats | customers | actual per customer | model per customer |",
                    "|---|---:|---:|---:|"]
            out += [f"| {x} | {n:,.0f} | {_f(a)} | {_f(b)} |"
                    for x, n, a, b in zip(c["x"], c["customers"], c["actual"], c["model"])]
        out.append("")
    return "\n".join(out) + "\n"


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.2f}"


def render_html(report: Report) -> str:
    from simulator.fit.charts import all_charts

    m = report["meta"]
    title = f"Fit: {m['file']}"
    out = page_head(title) + ['<table class="facts"><tbody>']
    out += [f"<tr><td>{_h(k)}</td><td>{_h(v)}</td></tr>" for k, v in facts(report)]
    out += ["</tbody></table>", "<h2>Does the model fit?</h2>", "<ul>"]
    out += [f"<li><strong>{_h(VERDICT_TITLES[k])}</strong>: {_h(report['checks'][k]['verdict'])}</li>"
            for k in VERDICT_ORDER]
    out.append("</ul>")
    if report["warnings"]:
        out += ["<h2>Warnings</h2>", '<ul class="warnings">'] + [f"<li>{_h(w)}</li>" for w in report["warnings"]]
        out.append("</ul>")
    out.append("<h2>Rows not used</h2>")
    if report["skipped"]:
        out.append("<table><thead><tr><th>Reason</th><th>Rows</th></tr></thead><tbody>")
        out += [f"<tr><td>{_h(s['reason'])}</td><td>{s['rows']:,}</td></tr>" for s in report["skipped"]]
        out.append("</tbody></table>")
    else:
        out.append('<p class="note">Every row was used.</p>')
    for seg in report["segments"]:
        out.append(f"<h2>Segment {_h(seg['name'])}: {seg['customers']:,} customers ({seg['share']:.1%})</h2>")
        for label, fit in _fits_of(seg):
            out.append(f"<p><strong>{_h(label)}</strong>: log-likelihood {fit['loglik']:,.2f} on "
                       f"{fit['customers']:,} customers{'' if fit['converged'] else ' (NOT converged)'}</p>")
            out.append("<table><thead><tr><th>Parameter</th><th>Estimate</th><th>Standard error</th></tr></thead><tbody>")
            out += [f"<tr><td>{_h(n)}</td><td>{v}</td><td>{se}</td></tr>" for n, v, se in _param_rows(fit)]
            out.append("</tbody></table>")
    out += charts_html(all_charts(report))
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def render_reports(report: Report) -> dict[str, str]:
    """{file name: text} of the report set, rendered in full before anything is written."""
    return {"report.json": json_text(report), "report.md": render_markdown(report), "report.html": render_html(report)}


def json_text(report: Report) -> str:
    """The report as strict JSON (NaN and infinity as null), as written and as `--format json` prints it."""
    return json.dumps(clean(report), indent=2, allow_nan=False) + "\n"


def write_fit_report(report: Report, out_dir: str | Path) -> list[Path]:
    """Write report.json, report.md and report.html into `out_dir` as one set (`simulator.report.outputs.write_set`,
    as `simulate` does: a failed write leaves the previous set whole); OutputError (RL620) when it cannot."""
    from simulator.report.outputs import write_set

    return write_set(out_dir, render_reports(report))


def clean(v: Any) -> Any:
    """The report with numpy scalars as Python numbers and NaN / infinity as null (strict JSON)."""
    import math

    import numpy as np

    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
