"""Human-readable simulation reports: Markdown for a pull request, one HTML file with charts.

Takes: the `report.json` document of a run (`RunResult.to_json()`, schema
`loyalty-simulation/1`). Gives: `render_markdown(report)` (run facts, key metrics
for the program arm, the baseline and their paired difference, each as its mean, range of
outcomes and Monte Carlo precision — the words of `simulator.trials.stats` — the tier mix, the ledger identity line,
the contract liability roll-forward of `simulator.accounting`, the points by issue-month cohort
(`simulator.report.cohort_table`), the scale the figures assume, warnings), `render_html(report)`
(the same tables plus the charts of `simulator.report.charts`, embedded as base64 PNG, with
inline CSS and no external asset), `render_human_reports(report)` (both, by file name) and
`write_human_reports(report, out_dir)`, which writes `report.md` and `report.html` as one set;
`page_head(title)` and `charts_html(charts)`, the page start and the chart figures, which the fit
report (`simulator.fit.report`) shares.

Differences: revenue and net profit use the report's own paired series
(`incremental.revenue`, `incremental.profit`); for every other metric measured in
both arms the difference is computed here trial by trial (program − baseline on the
same random draws) and summarised like every other metric (mean, range of outcomes,
Monte Carlo precision over trials).
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.report import cohort_table
from simulator.report.charts import all_charts
from simulator.report.outputs import write_set
from simulator.trials.stats import PRECISION, RANGE, last_month, summarize
from simulator.trials.stats import legend as stats_legend

if TYPE_CHECKING:
    from simulator.trials.result import RunResult

Report = dict[str, Any]
Summary = dict[str, Any]

NA = "n/a"


@dataclass(frozen=True)
class Row:
    """One metric line: keys into `totals` (None: no such column) and how to format it."""

    label: str
    program: str | None
    baseline: str | None
    kind: str  # money | money2 | count | pct | ratio | score
    difference: str | None = None  # a paired series in `totals`; else computed from per_trial
    indent: bool = False


SECTIONS: list[tuple[str, list[Row]]] = [
    ("Money", [
        Row("Revenue", "program.revenue", "baseline.revenue", "money", "incremental.revenue"),
        Row("Gross profit", "program.gross_profit", "baseline.gross_profit", "money"),
        Row("Program cost", "program.program_cost", None, "money"),
        Row("rewards (cost of redeemed rewards)", "program.cost_rewards", None, "money", indent=True),
        Row("points payments", "program.cost_points_payments", None, "money", indent=True),
        Row("discounts", "program.cost_discounts", None, "money", indent=True),
        Row("perks", "program.cost_perks", None, "money", indent=True),
        Row("vouchers", "program.cost_vouchers", None, "money", indent=True),
        Row("fixed costs", "program.cost_fixed", None, "money", indent=True),
        Row("acquisition of referred customers", "program.cost_acquisition", None, "money", indent=True),
        Row("Net profit (gross profit − program cost)", "program.net_profit", "baseline.net_profit", "money",
            "incremental.profit"),
        Row("ROI (incremental profit / program cost)", "program.roi", None, "ratio"),
    ]),
    ("Points", [
        Row("Issued", "program.points_issued", None, "count"),
        Row("Redeemed", "program.points_redeemed", None, "count"),
        Row("Expired", "program.points_expired", None, "count"),
        Row("Reversed (returns)", "program.points_reversed", None, "count"),
        Row("Outstanding at the end", "program.points_outstanding", None, "count"),
        Row("Liability at the end (money, at the cost per redeemed point of the run)", "program.liability", None,
            "money"),
        Row("at the declared point cost", "program.liability_at_declared_cost", None, "money", indent=True),
        Row("Cost per redeemed point (rewards + points payments + vouchers) / redeemed",
            "program.cost_per_redeemed_point", None, "cost"),
        Row("Breakage rate (expired / (redeemed + expired))", "program.breakage_rate", None, "pct"),
    ]),
    ("Vouchers (with a life: their cost is booked when used)", [
        Row("Issued", "program.vouchers_issued", None, "count"),
        Row("money", "program.voucher_value_issued", None, "money", indent=True),
        Row("Used", "program.vouchers_used", None, "count"),
        Row("money (the voucher cost)", "program.voucher_value_used", None, "money", indent=True),
        Row("Expired unused (breakage)", "program.vouchers_expired", None, "count"),
        Row("money", "program.voucher_value_expired", None, "money", indent=True),
        Row("Outstanding at the end", "program.vouchers_outstanding", None, "count"),
        Row("money (face value)", "program.voucher_value_outstanding", None, "money", indent=True),
        Row("Voucher breakage rate (expired / (used + expired))", "program.voucher_breakage_rate", None, "pct"),
        Row("Voucher liability at the end (face value × (1 − breakage rate))", "program.voucher_liability", None,
            "money"),
    ]),
    ("Customers", [
        Row("Members at the end", "program.members", None, "count"),
        Row("Active customers in the last month", "program.active_customers_last_month",
            "baseline.active_customers_last_month", "count"),
        Row("New customers from referrals", "program.new_customers", None, "count"),
        Row("Retention at the end", "program.retention", "baseline.retention", "pct"),
        Row("Churn rate over the run", "program.churn_rate", "baseline.churn_rate", "pct"),
        Row("Repeat-purchase rate", "program.repeat_purchase_rate", "baseline.repeat_purchase_rate", "pct"),
        Row("Purchases", "program.purchases", "baseline.purchases", "count"),
        Row("Returns (purchases brought back)", "program.returns", "baseline.returns", "count"),
        Row("Refunds (money, off revenue)", "program.refunds", "baseline.refunds", "money"),
        Row("Average check (money)", "program.average_check", "baseline.average_check", "money2"),
        Row("Purchase frequency (purchases per buyer)", "program.purchase_frequency",
            "baseline.purchase_frequency", "ratio"),
        Row("NPS (−100..100)", "program.nps", "baseline.nps", "score"),
    ]),
]


# ---------------------------------------------------------------- numbers


def format_value(value: float | None, kind: str, signed: bool = False) -> str:
    """One number as the reports print it (`n/a` when it is not defined)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NA
    sign = "+" if signed else ""
    if kind == "money" or kind == "count":
        text = f"{value:{sign},.0f}"
    elif kind == "money2":
        text = f"{value:{sign},.2f}"
    elif kind == "pct":
        text = f"{100.0 * value:{sign}.1f}" + (" pp" if signed else "%")
    elif kind == "ratio":
        text = f"{value:{sign},.2f}"
    elif kind == "cost":  # a small unit cost: four significant digits
        text = f"{value:{sign}.4g}"
    elif kind == "score":
        text = f"{value:{sign}.1f}"
    else:
        text = f"{value:{sign},g}"
    if text.lstrip("+-").strip("0.,% p") == "" and text.startswith("-"):
        text = text[1:]  # no "-0"
    return text


def format_cell(summary: Summary | None, kind: str, trials: int, signed: bool = False) -> str:
    """`mean [p5 to p95] ±h`: the mean, its range of outcomes (5th to 95th percentile over trials) and
    its Monte Carlo precision (± half the 95 % confidence interval of the mean). The mean alone for one
    trial or no spread at all; a part narrower than the printed digits is left out."""
    if summary is None:
        return ""
    mean = format_value(summary.get("mean"), kind, signed)
    if trials <= 1 or mean == NA:
        return mean
    text = mean
    p5, p95 = summary.get("range") or [None, None]
    if p5 is not None and p95 is not None:
        lo, hi = format_value(p5, kind, signed), format_value(p95, kind, signed)
        if lo != hi:
            text += f" [{lo} to {hi}]"
    low, high = summary.get("low"), summary.get("high")
    if low is not None and high is not None and format_value(low, kind, signed) != format_value(high, kind, signed):
        half = format_value((high - low) / 2, "ratio" if kind == "money2" else kind)
        text += f" ±{half.replace('%', ' pp') if signed and kind == 'pct' else half}"
    return text


def paired_difference(report: Report, program_key: str, baseline_key: str) -> Summary | None:
    """program − baseline trial by trial, summarised over trials (None when a trial lacks a value)."""
    per = report.get("per_trial", {})
    a, b = per.get(program_key), per.get(baseline_key)
    if not a or not b or len(a) != len(b) or any(v is None for v in list(a) + list(b)):
        return None
    return summarize([x - y for x, y in zip(a, b)])


def balance_names(totals: Report) -> list[str]:
    """The balances beside the points a report holds (`program.balance.NAME.issued`), in order."""
    return [k[len("program.balance."):-len(".issued")] for k in totals
            if k.startswith("program.balance.") and k.endswith(".issued")]


def with_balances(sections: list[tuple[str, list[Row]]], totals: Report) -> list[tuple[str, list[Row]]]:
    """The sections, with one per balance beside the points after "Points": issued, expired,
    reversed, outstanding; no liability (such a balance is never redeemed)."""
    extra = [(f"Balance {name} (not redeemable: no liability)", [
        Row("Issued", f"program.balance.{name}.issued", None, "count"),
        Row("Expired", f"program.balance.{name}.expired", None, "count"),
        Row("Reversed (returns)", f"program.balance.{name}.reversed", None, "count"),
        Row("Outstanding at the end", f"program.balance.{name}.outstanding", None, "count"),
    ]) for name in balance_names(totals)]
    if not extra:
        return sections
    at = next((i + 1 for i, (title, _) in enumerate(sections) if title == "Points"), len(sections))
    return sections[:at] + extra + sections[at:]


def _trials(report: Report) -> int:
    return int(report.get("meta", {}).get("trials", 1) or 1)


def metric_rows(report: Report) -> list[tuple[str, list[tuple[str, str, str, str, bool]]]]:
    """The metric tables as text: per section, (label, program, baseline, difference, indent) rows."""
    totals = report.get("totals", {})
    trials = _trials(report)
    out = []
    for title, rows in with_balances(SECTIONS, totals):
        lines = []
        for row in rows:
            if row.program not in totals and (row.baseline is None or row.baseline not in totals):
                continue
            prog = format_cell(totals.get(row.program), row.kind, trials) if row.program else ""
            base = format_cell(totals.get(row.baseline), row.kind, trials) if row.baseline else ""
            diff_summary = None
            if row.difference and row.difference in totals:
                diff_summary = totals[row.difference]
            elif row.program and row.baseline:
                diff_summary = paired_difference(report, row.program, row.baseline)
            diff = format_cell(diff_summary, row.kind, trials, signed=True) if diff_summary else ""
            lines.append((row.label, prog, base, diff, row.indent))
        if lines:
            out.append((title, lines))
    return out


def tier_rows(report: Report) -> list[tuple[str, str, str]]:
    """(tier, share of enrolled members at the end, their number) per tier, lowest first.

    The engine counts every enrolled customer by tier, churned ones included."""
    names = report.get("tier_names") or []
    mix = report.get("tier_mix") or {}
    trials = _trials(report)
    out = []
    for name in names:
        share = (mix.get("share") or {}).get(name)
        count = (mix.get("counts") or {}).get(name)
        out.append((name, format_cell(_last(share), "pct", trials), format_cell(_last(count), "count", trials)))
    return out


_last = last_month  # the summary of a monthly series' last month


def ledger_line(report: Report) -> str:
    unit = report.get("meta", {}).get("points_unit", "points")
    err = report.get("ledger_identity_max_abs_error", 0)
    opening = "opening + " if "program.points_opening" in report.get("totals", {}) else ""
    if report.get("ledger_identity_ok"):
        return (f"Ledger identity {opening}issued = redeemed + expired + reversed + outstanding: "
                f"holds for every customer in every trial (largest error {err} {unit}).")
    return (f"Ledger identity {opening}issued = redeemed + expired + reversed + outstanding: "
            f"BROKEN (largest error {err} {unit}). The figures of this run cannot be trusted.")


def facts(report: Report) -> list[tuple[str, str]]:
    """The run's identity: what was simulated, on whom, how, and the hashes that pin it."""
    m = report.get("meta", {})
    trials = _trials(report)
    customers = m.get("customers")
    return [
        ("Program", str(m.get("program", "?"))),
        ("Population", f"{m.get('population', '?')} ({m.get('population_file', '?')})"),
        ("Seed", str(m.get("seed", "?"))),
        ("Customers", (f"{customers:,}" if isinstance(customers, int) else str(customers))
         + (f" ({m['customers_source']})" if m.get("customers_source") else "")),
        ("Scale", SCALE_NOTE),
        ("Months", f"{m.get('months', '?')} ({m.get('start', '?')} to {m.get('end', '?')}, {m.get('days', '?')} days)"),
        ("Trials", str(trials)),
        ("Program hash", f"`{m.get('program_hash', '?')}`"),
        ("Population hash", f"`{m.get('population_hash', '?')}`"),
        ("Version", f"loyalty-rules {m.get('package_version', '?')}, engine {m.get('engine_version', '?')}"),
        ("Model", f"{m.get('model', '?')}, behavioural response {m.get('response', '?')}"),
    ]


SCALE_NOTE = ("the figures are for the customers above: fixed costs do not grow with them, so ROI and incremental "
              "profit depend on the count; set the real number with --customers N (or the population's customers file)")


def accounting_rows(report: Report) -> list[tuple[str, str, str, str, str, str]]:
    """(month, opening, deferred, recognized, breakage, closing) of the contract liability, means in money,
    then a `total` row (the run's opening, sums of the flows, the closing)."""
    cl = (report.get("accounting") or {}).get("contract_liability")
    if not cl:
        return []
    cols = ("opening", "deferred", "recognized", "breakage", "closing")
    out = []
    for i, month in enumerate(report.get("months", [])):
        out.append((month, *[format_value(cl["monthly"][c]["mean"][i], "money2") for c in cols]))
    t = cl["totals"]
    out.append(("whole run", *[format_value(t[c]["mean"], "money2") for c in cols]))
    return out


TIER_COLUMNS = [("Members at the end", "members", "count"), ("Revenue", "revenue", "money"),
                ("Incremental revenue", "incremental_revenue", "money"),
                ("Incremental gross margin", "incremental_gross_margin", "money"), ("Perks", "perks", "money"),
                ("Discounts", "discounts", "money"), ("Points cost", "points_cost", "money"),
                ("of which the multiplier", "multiplier_points_cost", "money"),
                ("Incremental margin", "incremental_margin", "money")]


def tier_economics_rows(report: Report) -> list[list[str]]:
    """Per tier: its name, then each of TIER_COLUMNS as a mean [range] ±precision cell."""
    te = (report.get("accounting") or {}).get("tier_economics")
    if not te:
        return []
    trials = _trials(report)
    rows = []
    for name in te["tiers"]:
        t = te["by_tier"][name]
        rows.append([name] + [format_cell(t[key], kind, trials, signed=key.startswith("incremental"))
                              for _, key, kind in TIER_COLUMNS])
    return rows


def tier_economics_note(report: Report) -> str:
    te = (report.get("accounting") or {}).get("tier_economics") or {}
    cur = report.get("meta", {}).get("currency", "")
    return (f"Money in {cur}, over the whole run; each cell: mean [{RANGE}] ±{PRECISION}. Attribution: "
            f"{te.get('attribution', '')}. Points cost: points issued × the declared point cost "
            f"({te.get('point_cost', 0):.4g}); the multiplier's share is points cost × (m − 1) / m, an estimate "
            "(exact when the tier's multiplier is the only one and nothing is capped). Incremental margin = "
            "incremental gross margin − perks − discounts − points cost.")


def accounting_notes(report: Report) -> list[str]:
    """The contract liability's assumptions and its identity check, as sentences."""
    cl = (report.get("accounting") or {}).get("contract_liability")
    if not cl:
        return []
    m = report.get("meta", {})
    rate = cl["expected_redemption_rate"]
    trials = _trials(report)
    return [
        f"Points as a material right (IFRS 15 / ASC 606), money in {m.get('currency', '')}, means over trials. "
        f"Standalone selling price of one point: {cl['point_value']:.4g} ({cl['point_value_source']}); expected "
        f"redemption rate: {format_cell(rate, 'pct', trials)} ({cl['expected_redemption_source']}).",
        f"Method: {cl['method']}.",
        f"Roll-forward identity {cl['identity']}: " + ("holds in every trial and month (integer cents)."
                                                      if cl["identity_ok"] else "BROKEN: please report it."),
    ]


def _interval_note(report: Report) -> str:
    m = report.get("meta", {})
    cur = m.get("currency", "")
    trials = _trials(report)
    head = f"Money in {cur}; points in {m.get('points_unit', 'points')}. "
    tail = (" Difference = program − baseline on the same customers and random draws, paired trial by trial; "
            "pp = percentage points.")
    if trials > 1:
        legend = " ".join(f"{line[0].upper()}{line[1:]}." for line in stats_legend(bool(m.get("uncertain_parameters")), trials))
        return (f"{head}Each cell: mean [{RANGE}: 5th to 95th percentile over trials] ±{PRECISION} of the mean. "
                f"{legend}{tail}")
    return f"{head}One trial: no {RANGE} and no {PRECISION}.{tail}"


FIT_INTRO = ("Where the simulated customers do not fit the program, the forecast says little about it "
             "(codes RL660–RL668, see docs/errors):")


# ---------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Report) -> str:
    """The report as Markdown, suited to a pull-request comment."""
    m = report.get("meta", {})
    out = [f"## Simulation: {_md(str(m.get('program', '?')))}", ""]
    out += ["| | |", "|---|---|"]
    out += [f"| {k} | {_md(v)} |" for k, v in facts(report)]
    out += ["", _interval_note(report), ""]
    for title, rows in metric_rows(report):
        out += [f"### {title}", "", "| Metric | Program | Baseline | Difference |", "|---|---:|---:|---:|"]
        for label, prog, base, diff, indent in rows:
            name = ("&nbsp;&nbsp;" + label) if indent else label
            out.append(f"| {_md(name)} | {prog} | {base} | {diff} |")
        out.append("")
    tiers = tier_rows(report)
    if tiers:
        out += ["### Tier mix at the end", "",
                "| Tier | Share of enrolled members | Enrolled members |", "|---|---:|---:|"]
        out += [f"| {_md(n)} | {s} | {c} |" for n, s, c in tiers]
        out.append("")
    out += [f"**{ledger_line(report)}**", ""]
    acc = accounting_rows(report)
    if acc:
        out += ["### Contract liability for points (IFRS 15 / ASC 606)", ""] + [_md(n) + "  " for n in accounting_notes(report)]
        out += ["", "| Month | Opening | Deferred | Recognized | Breakage | Closing |", "|---|---:|---:|---:|---:|---:|"]
        out += ["| " + " | ".join(r) + " |" for r in acc] + [""]
    out += cohort_table.markdown(report, _md)
    te_rows = tier_economics_rows(report)
    if te_rows:
        out += ["### Tier economics", "", _md(tier_economics_note(report)), "",
                "| Tier | " + " | ".join(c for c, _, _ in TIER_COLUMNS) + " |",
                "|---|" + "---:|" * len(TIER_COLUMNS)]
        out += ["| " + " | ".join(_md(x) for x in r) + " |" for r in te_rows] + [""]
    fit = report.get("fit_warnings") or []
    if fit:
        out += ["### Does the population fit the program?", "", FIT_INTRO, ""]
        out += [f"- **{w['code']}** `{_md(str(w.get('location') or ''))}`: {_md(w['message'])}"
                + (f" *Hint: {_md(w['hint'])}*" if w.get("hint") else "") for w in fit] + [""]
    warnings = report.get("warnings") or []
    if warnings:
        out += ["### Warnings", ""] + [f"- {_md(w)}" for w in warnings] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------- HTML


CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 64rem;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e5e5e5; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
th { background: #f5f7fa; }
td.indent { padding-left: 1.8rem; color: #444; }
table.facts td { text-align: left; } table.facts td:first-child { font-weight: 600; color: #555; }
code { font-size: .85rem; word-break: break-all; }
p.note { color: #555; font-size: .9rem; }
p.ok { color: #1a7f37; font-weight: 600; } p.broken { color: #b42318; font-weight: 700; }
ul.warnings li { color: #9a6700; }
figure { margin: 1.2rem 0 2rem; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: .88rem; max-width: 48rem; }
"""


def _h(text: str) -> str:
    return html.escape(str(text), quote=True)


def _html_table(rows: list[tuple[str, str, str, str, bool]]) -> list[str]:
    out = ["<table>", "<thead><tr><th>Metric</th><th>Program</th><th>Baseline</th><th>Difference</th></tr></thead>",
           "<tbody>"]
    for label, prog, base, diff, indent in rows:
        cls = ' class="indent"' if indent else ""
        out.append(f"<tr><td{cls}>{_h(label)}</td><td>{_h(prog)}</td><td>{_h(base)}</td><td>{_h(diff)}</td></tr>")
    out += ["</tbody>", "</table>"]
    return out


def render_html(report: Report) -> str:
    """The report as ONE self-contained HTML page: tables, charts as base64 PNG, inline CSS."""
    m = report.get("meta", {})
    title = f"Simulation: {m.get('program', '?')}"
    out = page_head(title)
    out.append('<table class="facts"><tbody>')
    for k, v in facts(report):
        if v.startswith("`") and v.endswith("`"):
            cell = f"<code>{_h(v.strip('`'))}</code>"
        else:
            cell = _h(v)
        out.append(f"<tr><td>{_h(k)}</td><td>{cell}</td></tr>")
    out.append("</tbody></table>")
    out.append(f'<p class="note">{_h(_interval_note(report))}</p>')
    ok = bool(report.get("ledger_identity_ok"))
    out.append(f'<p class="{"ok" if ok else "broken"}">{_h(ledger_line(report))}</p>')
    fit = report.get("fit_warnings") or []
    if fit:
        out.append("<h2>Does the population fit the program?</h2>")
        out.append(f'<p class="note">{_h(FIT_INTRO)}</p>')
        out.append('<ul class="warnings">' + "".join(
            f"<li><strong>{_h(w['code'])}</strong> <code>{_h(w.get('location') or '')}</code>: {_h(w['message'])}"
            + (f" <em>Hint: {_h(w['hint'])}</em>" if w.get("hint") else "") + "</li>" for w in fit) + "</ul>")
    warnings = report.get("warnings") or []
    if warnings:
        out.append("<h2>Warnings</h2>")
        out.append('<ul class="warnings">' + "".join(f"<li>{_h(w)}</li>" for w in warnings) + "</ul>")
    for section, rows in metric_rows(report):
        out.append(f"<h2>{_h(section)}</h2>")
        out += _html_table(rows)
    tiers = tier_rows(report)
    if tiers:
        out.append("<h2>Tier mix at the end</h2>")
        out.append("<table><thead><tr><th>Tier</th><th>Share of enrolled members</th>"
                   "<th>Enrolled members</th></tr></thead><tbody>")
        out += [f"<tr><td>{_h(n)}</td><td>{_h(s)}</td><td>{_h(c)}</td></tr>" for n, s, c in tiers]
        out.append("</tbody></table>")
    acc = accounting_rows(report)
    if acc:
        out.append("<h2>Contract liability for points (IFRS 15 / ASC 606)</h2>")
        out += [f'<p class="note">{_h(n)}</p>' for n in accounting_notes(report)]
        out.append("<table><thead><tr><th>Month</th><th>Opening</th><th>Deferred</th><th>Recognized</th>"
                   "<th>Breakage</th><th>Closing</th></tr></thead><tbody>")
        out += ["<tr>" + "".join(f"<td>{_h(v)}</td>" for v in r) + "</tr>" for r in acc]
        out.append("</tbody></table>")
    out += cohort_table.html(report, _h)
    te_rows = tier_economics_rows(report)
    if te_rows:
        out.append("<h2>Tier economics</h2>")
        out.append(f'<p class="note">{_h(tier_economics_note(report))}</p>')
        out.append("<table><thead><tr><th>Tier</th>" + "".join(f"<th>{_h(c)}</th>" for c, _, _ in TIER_COLUMNS)
                   + "</tr></thead><tbody>")
        out += ["<tr>" + "".join(f"<td>{_h(v)}</td>" for v in r) + "</tr>" for r in te_rows]
        out.append("</tbody></table>")
    out += charts_html(all_charts(report))
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def page_head(title: str) -> list[str]:
    """The start of a self-contained report page (house CSS) up to its <h1>; the fit report uses it too."""
    return ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', f"<title>{_h(title)}</title>",
            f"<style>{CSS}</style>", "</head>", "<body>", f"<h1>{_h(title)}</h1>"]


def charts_html(charts: list[Any]) -> list[str]:
    """A "Charts" section: each `charts.Chart` as a figure with its PNG inline, or the reason it is not drawn."""
    out = ["<h2>Charts</h2>"]
    for chart in charts:
        out.append("<figure>")
        if chart.png is not None:
            data = base64.b64encode(chart.png).decode("ascii")
            out.append(f'<img src="data:image/png;base64,{data}" alt="{_h(chart.title)}">')
            out.append(f"<figcaption><strong>{_h(chart.title)}.</strong> {_h(chart.caption)}</figcaption>")
        else:
            out.append(f"<figcaption><strong>{_h(chart.title)}:</strong> not drawn. {_h(chart.note)}</figcaption>")
        out.append("</figure>")
    return out


# ---------------------------------------------------------------- files


def render_human_reports(report: Report) -> dict[str, str]:
    """{`report.md`: Markdown, `report.html`: the page}: rendered in full before anything is written."""
    return {"report.md": render_markdown(report), "report.html": render_html(report)}


def write_human_reports(report: Report, out_dir: Path) -> list[Path]:
    """Write `report.md` and `report.html` into `out_dir` as one set (`simulator.report.outputs.write_set`);
    returns the paths written."""

    return write_set(out_dir, render_human_reports(report))


def write_reports(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write `report.json` (the RunResult.to_json() document), `report.md`, `report.html` and the exports of
    `simulator.report.tables` (CSV, report.xlsx, Parquet) into `out_dir` as one set (`simulator.report.outputs.write_set`: the previous set stays whole when writing fails);
    returns the paths written. OutputError (RL620) when they cannot be written."""

    from simulator.report.tables import export_files

    document = result.to_json()
    files: dict[str, str | bytes] = {"report.json": json.dumps(document, indent=2, sort_keys=False) + "\n",
                                     **render_human_reports(document), **export_files(document)}
    return write_set(out_dir, files)
