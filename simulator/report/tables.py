"""The run's tables for spreadsheets and notebooks: CSV, an Excel workbook, Parquet and pandas.

Takes: a `report.json` document (`RunResult.to_json()`; money already rounded to the cent).
Gives: `tables(report)`, {name: (columns, rows)} for `summary` (one row per metric: mean, range of
outcomes, Monte Carlo precision), `monthly` (one row per month and metric, same columns),
`per_trial` (one row per trial, one column per metric), `contract_liability` (the monthly
roll-forward's means, when the report has it), `cohorts` and `cohort_ages` (the points by issue-month
cohort: one row per cohort and month, and the shares by cohort age; `cohort_tables`), `tier_economics`
(one row per tier, means over the run, for a program with tiers) and `assumptions` (setting, value);
`csv_text(columns, rows)`; `export_files(report)`, the file set `--out` writes beside the reports
(`summary.csv`, `monthly.csv`, `per_trial.csv`, `contract_liability.csv`, `cohorts.csv`, `cohort_ages.csv`,
`tier_economics.csv`,
`report.xlsx`, `*.parquet`);
and `dataframes(report_or_path)`, the same tables as pandas DataFrames (the `notebook` extra).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

Table = tuple[list[str], list[list[Any]]]
STAT_COLUMNS = ["mean", "range_p5", "range_p95", "mc_precision_low", "mc_precision_high"]


def _stats(s: dict[str, Any] | None, i: int | None = None) -> list[Any]:
    """mean, p5, p95, precision low, high of a summary (element i of a monthly one)."""
    if not s:
        return [None] * 5
    rng = s.get("range") or [None, None]
    vals = [s.get("mean"), rng[0], rng[1], s.get("low"), s.get("high")]
    if i is None:
        return vals
    return [v[i] if isinstance(v, list) and i < len(v) else None for v in vals]


def _unit(key: str, report: dict[str, Any]) -> str:
    from simulator.trials.result import is_money

    m = report.get("meta", {})
    if is_money(key):
        return str(m.get("currency", ""))
    if "points_" in key and not key.endswith("_rate"):
        return str(m.get("points_unit", "points"))
    if key.endswith(("_rate", "retention", "share")):
        return "share (0..1)"
    return ""


def tables(report: dict[str, Any]) -> dict[str, Table]:
    """The report's tables (see the module docstring), in a fixed order."""
    out: dict[str, Table] = {}
    totals = report.get("totals", {})
    out["summary"] = (["metric", "unit", *STAT_COLUMNS],
                      [[k, _unit(k, report), *_stats(v)] for k, v in totals.items()])
    months = report.get("months", [])
    monthly = report.get("monthly", {})
    out["monthly"] = (["month", "metric", "unit", *STAT_COLUMNS],
                      [[mo, k, _unit(k, report), *_stats(v, i)] for i, mo in enumerate(months) for k, v in monthly.items()])
    per = report.get("per_trial", {})
    keys = list(per)
    n = max((len(v) for v in per.values()), default=0)
    out["per_trial"] = (["trial", *keys], [[t, *[per[k][t] if t < len(per[k]) else None for k in keys]]
                                           for t in range(n)])
    cl = (report.get("accounting") or {}).get("contract_liability")
    if cl:
        cols = ["opening", "deferred", "recognized", "breakage", "closing"]
        out["contract_liability"] = (["month", *cols], [[mo, *[cl["monthly"][c]["mean"][i] for c in cols]]
                                                        for i, mo in enumerate(months)])
    co = (report.get("accounting") or {}).get("cohorts")
    if co:
        out["cohorts"], out["cohort_ages"] = cohort_tables(co)
    te = (report.get("accounting") or {}).get("tier_economics")
    if te:
        from simulator.accounting.views import TIER_METRICS

        out["tier_economics"] = (["tier", *TIER_METRICS], [[n, *[te["by_tier"][n][k]["mean"] for k in TIER_METRICS]]
                                                          for n in te["tiers"]])
    out["assumptions"] = (["setting", "value"], assumption_rows(report))
    return out


COHORT_COLUMNS = ["issued", "redeemed", "expired", "reversed", "outstanding"]


def cohort_tables(co: dict[str, Any]) -> tuple[Table, Table]:
    """`cohorts`: one row per cohort and month from its issue month on (cohort, month, age in months after
    the issue month — empty for points reversed below zero —, then the points issued, redeemed, expired and
    reversed in the month and outstanding at its end: means over trials); `cohort_ages`: per age, the
    month cohorts pooled and their shares redeemed / expired / reversed / outstanding (means)."""
    months = co["months"]
    rows = []
    for name in co["rows"]:
        first = 0 if name in ("opening", "below zero") else months.index(name)
        for i in range(first, len(months)):
            age = None if name == "below zero" else i - first
            rows.append([name, months[i], age, *[co["matrix"][k][name][i] for k in COHORT_COLUMNS]])
    ba = co["by_age"]
    shares = ["redeemed_share", "expired_share", "reversed_share", "outstanding_share"]
    ages = [[a, ba["cohorts"][j], ba["issued"]["mean"][j], *[ba[k]["mean"][j] for k in shares]]
            for j, a in enumerate(ba["age"])]
    return ((["cohort", "month", "age_months", *COHORT_COLUMNS], rows),
            (["age_months", "cohorts_pooled", "issued", *shares], ages))


def assumption_rows(report: dict[str, Any]) -> list[list[Any]]:
    """(setting, value) rows: the run's settings, hashes and the accounting assumptions."""
    m = report.get("meta", {})
    rows: list[list[Any]] = []
    for k, v in m.items():
        if isinstance(v, dict):
            rows += [[f"{k}.{kk}", vv if isinstance(vv, (int, float, str)) or vv is None else json.dumps(vv)]
                     for kk, vv in v.items()]
        elif isinstance(v, list):
            rows.append([k, ", ".join(str(x) for x in v)])
        else:
            rows.append([k, v])
    cl = (report.get("accounting") or {}).get("contract_liability")
    if cl:
        rows += [["point_value", cl["point_value"]], ["point_value_source", cl["point_value_source"]],
                 ["expected_redemption_rate", cl["expected_redemption_rate"]["mean"]],
                 ["expected_redemption_source", cl["expected_redemption_source"]],
                 ["contract_liability_method", cl["method"]]]
    return rows


def csv_text(columns: list[str], rows: list[list[Any]]) -> str:
    """A table as CSV text (header row, `\\n` line ends; None is an empty cell)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    w.writerows([["" if v is None else v for v in r] for r in rows])
    return buf.getvalue()


def xlsx_bytes(tabs: dict[str, Table]) -> bytes:
    """An Excel workbook, one sheet per table, header row bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    for name, (cols, rows) in tabs.items():
        ws = wb.create_sheet(name[:31])
        ws.append(cols)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in rows:
            ws.append(r)
        ws.freeze_panes = "A2"
        for i, c in enumerate(cols, start=1):
            ws.column_dimensions[ws.cell(1, i).column_letter].width = max(10, min(40, len(str(c)) + 2))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def parquet_bytes(columns: list[str], rows: list[list[Any]]) -> bytes:
    """A table as a Parquet file (pyarrow infers each column's type; mixed columns become text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {}
    for j, c in enumerate(columns):
        col = [r[j] for r in rows]
        kinds = {type(v) for v in col if v is not None}
        if kinds - {int, float, bool} and kinds != {str}:
            col = [None if v is None else str(v) for v in col]
        elif kinds == {int, float}:
            col = [None if v is None else float(v) for v in col]
        data[c] = col
    buf = io.BytesIO()
    pq.write_table(pa.table(data), buf)
    return buf.getvalue()


EXPORTED = ("summary", "monthly", "per_trial", "contract_liability", "cohorts", "cohort_ages", "tier_economics")


def export_files(report: dict[str, Any]) -> dict[str, str | bytes]:
    """{file name: content} of the exports written with `--out` beside the reports."""
    tabs = tables(report)
    files: dict[str, str | bytes] = {}
    for name in EXPORTED:
        if name in tabs:
            files[f"{name}.csv"] = csv_text(*tabs[name])
    files["report.xlsx"] = xlsx_bytes(tabs)
    for name in EXPORTED:
        if name in tabs:
            files[f"{name}.parquet"] = parquet_bytes(*tabs[name])
    return files


NOTEBOOK_HINT = "pandas is not installed: pip install 'loyalty-rules[notebook]' (the `notebook` extra) for DataFrames"


def dataframes(report: dict[str, Any] | str | os.PathLike) -> dict[str, Any]:
    """The tables of a run as pandas DataFrames, keyed `summary`, `monthly`, `per_trial`,
    `contract_liability`, `cohorts`, `cohort_ages` and `tier_economics` (when present) and `assumptions`. `report` is a report.json document, or
    the path of report.json or of the `--out` folder holding it. Needs the `notebook` extra."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(NOTEBOOK_HINT) from None
    if not isinstance(report, dict):
        path = Path(report)
        if path.is_dir():
            path = path / "report.json"
        report = json.loads(path.read_text(encoding="utf-8"))
    return {name: pd.DataFrame(rows, columns=cols) for name, (cols, rows) in tables(report).items()}
