"""The liability by issue-month cohort as the Markdown and HTML reports print it.

Takes: a report.json document with `accounting.cohorts` (`simulator.accounting.cohorts`).
Gives: `cohort_header()`, `cohort_rows(report)` — per cohort (issue month, the opening balances, points
reversed below zero): the points issued, then after 3, 6 and 12 months the shares of them redeemed /
expired / outstanding (means over trials; "—" where the run does not reach that age), then at the
run's end the points redeemed, expired, reversed and outstanding — and `cohort_notes(report)`, what the
table shows and whether its two identities hold, as sentences.
"""

from __future__ import annotations

from typing import Any

Report = dict[str, Any]
NOT_REACHED = "—"


def _cohorts(report: Report) -> dict[str, Any] | None:
    return (report.get("accounting") or {}).get("cohorts")


def _mean(s: dict[str, Any] | None) -> float:
    return float((s or {}).get("mean") or 0.0)


def cohort_header(report: Report) -> list[str]:
    c = _cohorts(report) or {}
    ages = [f"After {a} months: redeemed / expired / outstanding" for a in c.get("ages", [])]
    return ["Issued in", "Issued", *ages, "Redeemed by the end", "Expired by the end", "Reversed by the end",
            "Outstanding at the end"]


def _share(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "n/a"


def cohort_rows(report: Report) -> list[list[str]]:
    """One row per cohort (see the module docstring); points as whole numbers."""
    from simulator.report.pages import format_value

    c = _cohorts(report)
    if not c:
        return []
    rows = []
    for row in c["table"]:
        issued = _mean(row["issued"])
        cells = [row["cohort"], format_value(issued, "count")]
        for a in c["ages"]:
            at = row["after"].get(str(a))
            cells.append(NOT_REACHED if at is None or not issued else " / ".join(
                _share(_mean(at[k]), issued) for k in ("redeemed", "expired", "outstanding")))
        end = row["end"]
        cells += [format_value(_mean(end[k]), "count") for k in ("redeemed", "expired", "reversed", "outstanding")]
        rows.append(cells)
    return rows


def cohort_notes(report: Report) -> list[str]:
    c = _cohorts(report)
    if not c:
        return []
    unit = report.get("meta", {}).get("points_unit", "points")
    ok = c["identity_ok"] and c["matches_ledger"]
    return [
        f"The {unit} of each month, followed until the end of the run (means over trials). After N months: "
        "at the end of the Nth month after the issue month, the shares of the cohort's issued points redeemed / "
        "expired / still outstanding (the rest was reversed by returns); "
        f"{NOT_REACHED}: the run ends before the cohort is that old.",
        f"Definition: {c['definition']}.",
        (f"Identity: {c['identity']}; and each month the cohorts add up to the ledger's totals: "
         + ("both hold in every trial (integer points)." if ok else "BROKEN: please report it.")),
    ]


def markdown(report: Report, md) -> list[str]:
    """The report.md section (`md` escapes a cell)."""
    rows = cohort_rows(report)
    if not rows:
        return []
    head = cohort_header(report)
    out = ["### Points by issue month (cohorts)", ""] + [md(n) + "  " for n in cohort_notes(report)]
    out += ["", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    out += ["| " + " | ".join(md(x) for x in r) + " |" for r in rows] + [""]
    return out


def html(report: Report, h) -> list[str]:
    """The report.html section (`h` escapes text)."""
    rows = cohort_rows(report)
    if not rows:
        return []
    out = ["<h2>Points by issue month (cohorts)</h2>"]
    out += [f'<p class="note">{h(n)}</p>' for n in cohort_notes(report)]
    out.append("<table><thead><tr>" + "".join(f"<th>{h(c)}</th>" for c in cohort_header(report)) + "</tr></thead><tbody>")
    out += ["<tr>" + "".join(f"<td>{h(v)}</td>" for v in r) + "</tr>" for r in rows]
    out.append("</tbody></table>")
    return out


__all__ = ["cohort_header", "cohort_notes", "cohort_rows", "html", "markdown"]
