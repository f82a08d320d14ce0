"""The replay's report: one JSON document, a terminal table, Markdown and one HTML page.

Takes: one or two `HistoryResult`s (the program, and the `--compare` program on the same
history) and facts about the history (file, rows, customers, skipped rows). Gives:
`build_document(...)` (schema `loyalty-replay/1`, documented in docs/cli.md), `summary_text`,
`render_markdown`, `render_html` (tables plus charts drawn with the `simulator.report.charts`
helpers, embedded as base64 PNG) and `write_reports(document, out_dir)` writing
`report.json`, `report.md` and `report.html`.

A replay is one exact run over recorded behaviour, not a forecast: there are no trials, no
baseline and no intervals, and every output says so (`STATEMENT`). Definitions (money in
currency units, exact cents / 100):
- revenue: purchase amounts minus returned amounts (a return takes at most its order's amount);
- program cost = discounts (less the returned share of a returned purchase's discount)
  + rewards (`costs us`) + points payments (points × point cost) + perks + vouchers;
  fixed costs and margins belong to a population file and are not part of a replay;
- liability at the end: outstanding points × the declared point cost, and × the cost per
  point of the redemptions the replay made (rewards, points payments and vouchers ÷ points
  redeemed), shown side by side.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from simulator.report.charts import COST_COLOR, PROGRAM_COLOR, _month_axis, _new_figure, _png, _short_number_formatter
from simulator.whatif.compare import render_table
from simulator.history.replay_engine import HistoryResult
from simulator.report.pages import CSS, _h, _md, format_value

SCHEMA = "loyalty-replay/1"
STATEMENT = ("What the program would have cost had customers behaved exactly as they did: the recorded "
             "purchases and returns replayed through the program's rules, with no behaviour model (customers "
             "do not buy more, or less, because of the program).")
COSTS = ("discounts", "rewards", "points_payments", "perks", "vouchers")
ROWS = [  # (section, label, key in totals, kind)
    ("Money", "Revenue (purchases − returns)", "revenue", "money"),
    ("Money", "Program cost", "program_cost", "money"),
    ("Money", "  discounts (net of returned share)", "cost_discounts", "money"),
    ("Money", "  rewards (cost of redeemed rewards)", "cost_rewards", "money"),
    ("Money", "  points payments", "cost_points_payments", "money"),
    ("Money", "  perks", "cost_perks", "money"),
    ("Money", "  vouchers", "cost_vouchers", "money"),
    ("Money", "Program cost / revenue", "cost_share", "pct"),
    ("Points", "Issued", "points_issued", "count"),
    ("Points", "Redeemed", "points_redeemed", "count"),
    ("Points", "Expired", "points_expired", "count"),
    ("Points", "Reversed (returns)", "points_reversed", "count"),
    ("Points", "Outstanding at the end", "points_outstanding", "count"),
    ("Points", "Liability at the declared point cost", "liability_declared", "money"),
    ("Points", "Liability at the cost of the replay's redemptions", "liability_redeemed", "money"),
    ("Activity", "Purchases", "purchases", "count"),
    ("Activity", "Returns", "returns", "count"),
    ("Activity", "Members at the end", "members", "count"),
    ("Activity", "Rewards redeemed", "rewards_redeemed", "count"),
    ("Activity", "Points payments", "points_payments", "count"),
]


# ---------------------------------------------------------------- the document


def _run_part(r: HistoryResult, program_file: str, program_hash: str) -> dict[str, Any]:
    mon = r.monthly
    unit = 100.0
    monthly: dict[str, list] = {k: [int(x) for x in v] for k, v in mon.items()}
    money = lambda k: mon[k].astype(np.float64) / unit  # noqa: E731
    cost_parts = {
        "discounts": money("discount_cents") - money("discount_returned_cents"),
        "rewards": money("reward_cents"), "points_payments": money("points_payment_cents"),
        "perks": money("perk_cents"), "vouchers": money("voucher_cents"),
    }
    cost = sum(cost_parts.values())
    monthly["revenue"] = [round(float(x), 2) for x in money("revenue_cents")]
    for k, v in cost_parts.items():
        monthly[f"cost_{k}"] = [round(float(x), 2) for x in v]
    monthly["program_cost"] = [round(float(x), 2) for x in cost]
    outstanding = int(mon["points_outstanding"][-1]) if mon["points_outstanding"].size else 0
    redeemed = int(mon["points_redeemed"].sum())
    redemption_cents = int(mon["reward_cents"].sum() + mon["points_payment_cents"].sum() + mon["voucher_cents"].sum())
    per_point = redemption_cents / redeemed / unit if redeemed else None
    revenue = float(money("revenue_cents").sum())
    total_cost = float(cost.sum())
    led = r.ledgers
    ident = led["issued"] - led["redeemed"] - led["expired"] - led["reversed"] - led["outstanding"]
    err = int(np.abs(ident).max()) if ident.size else 0
    totals: dict[str, Any] = {
        "revenue": round(revenue, 2), "program_cost": round(total_cost, 2),
        **{f"cost_{k}": round(float(v.sum()), 2) for k, v in cost_parts.items()},
        "cost_share": (total_cost / revenue) if revenue else None,
        "points_issued": int(mon["points_issued"].sum()), "points_redeemed": redeemed,
        "points_expired": int(mon["points_expired"].sum()), "points_reversed": int(mon["points_reversed"].sum()),
        "points_outstanding": outstanding,
        "points_available": int(mon["points_available"][-1]) if mon["points_available"].size else 0,
        "liability_declared": round(outstanding * r.point_cost_cents / unit, 2),
        "cost_per_redeemed_point": per_point,
        "liability_redeemed": round(outstanding * per_point, 2) if per_point is not None else None,
        "purchases": int(mon["purchases"].sum()), "returns": int(mon["returns"].sum()),
        "refunds": round(float(money("refund_cents").sum()), 2),
        "members": int(mon["members"][-1]) if mon["members"].size else 0,
        "rewards_redeemed": int(mon["rewards_redeemed"].sum()), "points_payments": int(mon["points_payments"].sum()),
    }
    for name, cols in r.balances.items():  # balances beside the points: totals over customers, no liability
        for k, v in cols.items():
            totals[f"balance.{name}.{k}"] = int(v.sum())
        ident_b = cols["issued"] - cols["expired"] - cols["reversed"] - cols["outstanding"]
        err = max(err, int(np.abs(ident_b).max()) if ident_b.size else 0, int(-min(0, cols["outstanding"].min(initial=0))))
    counts = r.tier_counts
    tier_mix: dict[str, Any] = {}
    if r.tier_names:
        members = counts.sum(axis=1)
        tier_mix = {"counts": {n: [int(x) for x in counts[:, i]] for i, n in enumerate(r.tier_names)},
                    "share": {n: [float(x) / m if m else None for x, m in zip(counts[:, i], members)]
                              for i, n in enumerate(r.tier_names)}}
    return {
        "program": r.program, "program_file": program_file, "program_hash": program_hash,
        "currency": r.currency, "points_unit": r.points_unit, "point_cost": r.point_cost_cents / unit,
        "redeem": r.redeem_policy, "reward": r.reward,
        "ledger_identity_ok": err == 0, "ledger_identity_max_abs_error": err,
        "totals": totals, "monthly": monthly, "tier_names": list(r.tier_names), "tier_mix": tier_mix,
        "warnings": [f"{d.code}: {d.message}" for d in r.warnings],
    }


def build_document(runs: list[tuple[HistoryResult, str, str]], history: dict[str, Any]) -> dict[str, Any]:
    """The report document: `runs` are (result, program file, program hash); the second, when
    given, is the `--compare` program, and `difference` is second − first."""
    parts = [_run_part(r, f, h) for r, f, h in runs]
    first = runs[0][0]
    doc: dict[str, Any] = {
        "schema": SCHEMA, "statement": STATEMENT,
        "history": {**history, "start": first.start.isoformat(), "end": first.end.isoformat(),
                    "days": (first.end - first.start).days + 1, "months": len(first.months)},
        "redeem_policy": {"policy": first.redeem_policy, "reward": first.reward, "rule": redeem_rule(first)},
        "months": list(first.months),
        "runs": parts,
        "difference": None,
    }
    if len(parts) == 2:
        a, b = parts[0]["totals"], parts[1]["totals"]
        doc["difference"] = {
            "totals": {k: (None if a[k] is None or b[k] is None else round(b[k] - a[k], 10))
                       for k in a if isinstance(a[k], (int, float)) or a[k] is None},
            "monthly": {k: [round(y - x, 2) for x, y in zip(parts[0]["monthly"][k], parts[1]["monthly"][k])]
                        for k in ("program_cost", "revenue", "points_issued", "points_redeemed", "points_expired")},
        }
    return doc


def redeem_rule(r: HistoryResult) -> str:
    if r.redeem_policy == "never":
        return "nobody redeems: points are only earned, reversed and expired"
    if r.reward is not None:
        return (f"a member redeems `{r.reward}` at a purchase, right after it, whenever their available "
                f"points cover its price (once per purchase)")
    return ("a member pays with points at each purchase as much of the basket as the program allows, "
            "from its minimum balance up (the program has no reward)")


# ---------------------------------------------------------------- text and Markdown


def _cell(value: Any, kind: str, signed: bool = False) -> str:
    return format_value(None if value is None else float(value), kind, signed)


def table_rows(doc: dict[str, Any]) -> list[tuple[str, list[str]]]:
    runs = doc["runs"]
    diff = (doc.get("difference") or {}).get("totals", {})
    out = []
    for section, label, key, kind in ROWS:
        cells = [_cell(p["totals"].get(key), kind) for p in runs]
        if len(runs) == 2:
            d = diff.get(key)
            cells.append("" if kind == "pct" and d is None else _cell(d, kind if kind != "pct" else "pct", signed=True))
        out.append((section, [label, *cells]))
    return out


def _headers(doc: dict[str, Any]) -> list[str]:
    names = [p["program"] for p in doc["runs"]]
    if len(names) == 2 and names[0] == names[1]:
        names = [p["program_file"] for p in doc["runs"]]
    return ["metric", *names] + (["difference"] if len(names) == 2 else [])


def _facts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    h = doc["history"]
    first = doc["runs"][0]
    skipped = "; ".join(f"{reason}: {n:,} rows" for reason, n in h.get("skipped", [])) or "none"
    return [
        ("Transactions", f"{h.get('file', '?')}: {h.get('rows', 0):,} rows, {h.get('customers', 0):,} customers"),
        ("Period", f"{h['start']} to {h['end']} ({h['days']:,} days, {h['months']} months)"),
        ("Rows not used", skipped),
        ("Redemptions", f"--redeem {doc['redeem_policy']['policy']}: {doc['redeem_policy']['rule']}"),
        ("Money", f"{first['currency']}" + ("" if h.get("currency") else
                  f" (the file names no currency: its amounts are read as {first['currency']})")
                  + f"; points in {first['points_unit']}, declared point cost {first['point_cost']:g} {first['currency']}"),
    ]


def _ledger_line(part: dict[str, Any]) -> str:
    state = "holds" if part["ledger_identity_ok"] else "BROKEN"
    return (f"{part['program']}: ledger identity issued = redeemed + expired + reversed + outstanding {state} for every "
            f"customer (largest error {part['ledger_identity_max_abs_error']} {part['points_unit']})")


def summary_text(doc: dict[str, Any]) -> str:
    lines = [f"Replay of {doc['history'].get('file', '?')}", doc["statement"], ""]
    lines += [f"{k}: {v}" for k, v in _facts(doc)]
    lines.append("")
    lines.append(render_table(_headers(doc), [cells for _, cells in table_rows(doc)]))
    for p in doc["runs"]:
        lines.append(_ledger_line(p))
    for p in doc["runs"]:
        if p["tier_names"]:
            last = {n: p["tier_mix"]["counts"][n][-1] for n in p["tier_names"]}
            lines.append(f"{p['program']}: tier mix at the end: " + ", ".join(f"{n} {c:,}" for n, c in last.items()))
    return "\n".join(lines) + "\n"


def render_markdown(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    title = " vs ".join(p["program"] for p in runs)
    out = [f"# Replay: {_md(title)}", "", f"> {_md(doc['statement'])}", "", "| | |", "|---|---|"]
    out += [f"| {_md(k)} | {_md(v)} |" for k, v in _facts(doc)]
    out.append("")
    heads = _headers(doc)
    section = None
    for sec, cells in table_rows(doc):
        if sec != section:
            section = sec
            out += ["", f"## {sec}", "", "| " + " | ".join(_md(h) for h in heads) + " |",
                    "|" + "---|" * len(heads)]
        out.append("| " + " | ".join(_md(c.strip()) if i else _md(c) for i, c in enumerate(cells)) + " |")
    out.append("")
    for p in runs:
        out.append(f"- {_md(_ledger_line(p))}")
    out += ["", "## Month by month", ""]
    for p in runs:
        out += [f"### {_md(p['program'])}", "", "| month | purchases | revenue | program cost | issued | redeemed | "
                "expired | reversed | outstanding | members |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        m = p["monthly"]
        for i, month in enumerate(doc["months"]):
            out.append(f"| {month} | {m['purchases'][i]:,} | {m['revenue'][i]:,.2f} | {m['program_cost'][i]:,.2f} | "
                       f"{m['points_issued'][i]:,} | {m['points_redeemed'][i]:,} | {m['points_expired'][i]:,} | "
                       f"{m['points_reversed'][i]:,} | {m['points_outstanding'][i]:,} | {m['members'][i]:,} |")
        out.append("")
        if p["tier_names"]:
            out += ["| tier | members at the end | share |", "|---|---:|---:|"]
            for n in p["tier_names"]:
                share = p["tier_mix"]["share"][n][-1]
                out.append(f"| {_md(n)} | {p['tier_mix']['counts'][n][-1]:,} | {_cell(share, 'pct')} |")
            out.append("")
    warnings = sorted({w for p in runs for w in p["warnings"]})
    if warnings:
        out += ["## Warnings", ""] + [f"- {_md(w)}" for w in warnings] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------- charts and HTML


def _subtitle(doc: dict[str, Any]) -> str:
    h = doc["history"]
    return f"replayed history: {h.get('customers', 0):,} customers, {h['start']} to {h['end']} · exact, no trials"


def _meta_for_charts(doc: dict[str, Any]) -> dict[str, Any]:
    return {"meta": {"program": doc["runs"][0]["program"]}}


def points_chart(doc: dict[str, Any], part: dict[str, Any]) -> bytes:
    fig, ax = _new_figure(_meta_for_charts(doc), f"Points month by month: {part['program']}", subtitle=_subtitle(doc))
    x = list(range(len(doc["months"])))
    m = part["monthly"]
    for key, label, color in (("points_issued", "issued", PROGRAM_COLOR), ("points_redeemed", "redeemed", "#2ca02c"),
                              ("points_expired", "expired", COST_COLOR), ("points_reversed", "reversed", "#7f7f7f")):
        ax.plot(x, m[key], marker="o", markersize=3, label=label, color=color)
    ax.plot(x, m["points_outstanding"], linestyle="--", color="#9467bd", label="outstanding at month end")
    _month_axis(ax, doc["months"])
    ax.set_ylabel(part["points_unit"])
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return _png(fig)


def cost_chart(doc: dict[str, Any]) -> bytes:
    fig, ax = _new_figure(_meta_for_charts(doc), "Program cost month by month", subtitle=_subtitle(doc))
    x = list(range(len(doc["months"])))
    colors = [PROGRAM_COLOR, COST_COLOR]
    for i, part in enumerate(doc["runs"]):
        ax.plot(x, part["monthly"]["program_cost"], marker="o", markersize=3, color=colors[i % 2],
                label=f"{part['program']} ({part['program_file']})")
    _month_axis(ax, doc["months"])
    ax.set_ylabel(f"program cost ({doc['runs'][0]['currency']})")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return _png(fig)


def tier_chart(doc: dict[str, Any], part: dict[str, Any]) -> bytes | None:
    if not part["tier_names"]:
        return None
    fig, ax = _new_figure(_meta_for_charts(doc), f"Tier mix at month end: {part['program']}", subtitle=_subtitle(doc))
    x = list(range(len(doc["months"])))
    layers = [part["tier_mix"]["counts"][n] for n in part["tier_names"]]
    ax.stackplot(x, layers, labels=part["tier_names"], alpha=0.9)
    _month_axis(ax, doc["months"])
    ax.set_ylabel("members")
    ax.yaxis.set_major_formatter(_short_number_formatter())
    ax.legend(fontsize=8, loc="upper left", frameon=False)
    return _png(fig)


def charts(doc: dict[str, Any]) -> list[tuple[str, bytes]]:
    out = [("Program cost month by month", cost_chart(doc))]
    for part in doc["runs"]:
        out.append((f"Points: {part['program']}", points_chart(doc, part)))
        tc = tier_chart(doc, part)
        if tc is not None:
            out.append((f"Tier mix: {part['program']}", tc))
    return out


def render_html(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    title = "Replay: " + " vs ".join(p["program"] for p in runs)
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', f"<title>{_h(title)}</title>",
           f"<style>{CSS}</style>", "</head>", "<body>", f"<h1>{_h(title)}</h1>",
           f'<p class="note"><strong>{_h(doc["statement"])}</strong></p>', '<table class="facts"><tbody>']
    out += [f"<tr><td>{_h(k)}</td><td>{_h(v)}</td></tr>" for k, v in _facts(doc)]
    out.append("</tbody></table>")
    for p in runs:
        out.append(f'<p class="{"ok" if p["ledger_identity_ok"] else "broken"}">{_h(_ledger_line(p))}</p>')
    warnings = sorted({w for p in runs for w in p["warnings"]})
    if warnings:
        out.append("<h2>Warnings</h2>")
        out.append('<ul class="warnings">' + "".join(f"<li>{_h(w)}</li>" for w in warnings) + "</ul>")
    heads = _headers(doc)
    section = None
    for sec, cells in table_rows(doc):
        if sec != section:
            if section is not None:
                out.append("</tbody></table>")
            section = sec
            out += [f"<h2>{_h(sec)}</h2>", "<table><thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in heads)
                    + "</tr></thead><tbody>"]
        label = cells[0]
        cls = ' class="indent"' if label.startswith("  ") else ""
        out.append(f"<tr><td{cls}>{_h(label.strip())}</td>" + "".join(f"<td>{_h(c)}</td>" for c in cells[1:]) + "</tr>")
    out.append("</tbody></table>")
    out.append("<h2>Charts</h2>")
    for name, png in charts(doc):
        data = base64.b64encode(png).decode("ascii")
        out.append(f'<figure><img src="data:image/png;base64,{data}" alt="{_h(name)}">'
                   f"<figcaption><strong>{_h(name)}.</strong> One exact replay of the recorded history: "
                   f"no trials, so no bands.</figcaption></figure>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def write_reports(doc: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """Write report.json, report.md and report.html into `out_dir` together (`simulator.report.outputs`);
    returns the paths."""
    from simulator.report.outputs import write_set

    return write_set(out_dir, {"report.json": json.dumps(doc, indent=2) + "\n", "report.md": render_markdown(doc),
                               "report.html": render_html(doc)})


__all__ = ["SCHEMA", "STATEMENT", "build_document", "render_html", "render_markdown", "summary_text",
           "write_reports"]
