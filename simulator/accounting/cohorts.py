"""The points liability by issue-month cohort, from a run's per-trial cohort matrices.

Takes: the per-trial cohort flows a `RunResult` keeps (`ledger_flows["cohort.<kind>"]`: int64 arrays
trials × cohorts × months; cohorts = opening, one per simulated month, below zero; kinds issued,
redeemed, expired, reversed — points that moved in the month — and outstanding at the month end),
the ledger's monthly totals beside them, and the month labels.
Gives: `cohorts_json(flows, months)`, the document under `accounting.cohorts` in report.json:
- `rows` (the cohorts with any points) and `matrix`: per kind, per cohort, per month, the mean over
  trials (points);
- `table`: per cohort, the points issued and, after 3, 6 and 12 months (at the end of the 3rd, 6th,
  12th month after the issue month) and at the run's end, the points redeemed, expired and reversed
  so far and still outstanding (summaries over trials; null where the run does not reach the age);
- `by_age`: per cohort age (months after the issue month), pooled over the month cohorts that reach
  it, the shares of their issued points redeemed, expired, reversed and outstanding (summaries of
  each trial's pooled share);
- `identity_ok` (issued = redeemed + expired + reversed + outstanding per cohort at every month end,
  in every trial) and `matches_ledger` (each month's sums over cohorts are the ledger's monthly
  issued, redeemed, expired, reversed and outstanding, and the opening cohort is the opening balance),
  both checked in Python integers. docs/accounting.md §3 states the definitions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.trials.stats import summarize

KINDS = ("issued", "redeemed", "expired", "reversed")
MATRIX = KINDS + ("outstanding",)
AGES = (3, 6, 12)
OPENING, BELOW_ZERO = "opening", "below zero"
DEFINITION = ("points by the month their lots were earned (the cohort): each redemption, expiry and return "
              "takes the lots the ledger takes (redemptions and expiries by inactivity or of the oldest lots: "
              "oldest first; a return: its order's own lots, then the newest), so every point that leaves is "
              "attributed to the month it was issued in; 'opening' is a customers file's opening balances, "
              "'below zero' points a return reversed beyond the balance (negative balance allowed) not yet "
              "repaid; 'after N months' is at the end of the Nth month after the issue month")


def _ints(a: np.ndarray) -> list:
    return a.astype(object).tolist()


def checks(flows: dict[str, np.ndarray]) -> tuple[bool, bool]:
    """(identity_ok, matches_ledger) over every trial, in Python integers."""
    mat = {k: flows[f"cohort.{k}"].astype(object) for k in MATRIX}  # (T, R, M)
    flow = mat["issued"] - mat["redeemed"] - mat["expired"] - mat["reversed"]
    identity = bool((np.cumsum(flow, axis=2) == mat["outstanding"]).all())
    ledger = {"issued": "program.points_issued", "redeemed": "program.points_redeemed",
              "expired": "program.points_expired", "reversed": "program.points_reversed",
              "outstanding": "program.points_outstanding"}
    match = True
    for k, key in ledger.items():
        rows = mat[k][:, 1:, :] if k == "issued" else mat[k]  # the opening balance is not issued in a month
        match &= bool((rows.sum(axis=1) == flows[key].astype(object)).all())
    opening = mat["issued"][:, 0, :].sum(axis=1)
    match &= bool((opening == flows["program.points_opening"].astype(object)).all())
    return identity, match


def cohorts_json(flows: dict[str, np.ndarray], months: list[str]) -> dict[str, Any]:
    """The `accounting.cohorts` document (see the module docstring)."""
    M = len(months)
    labels = [OPENING, *months, BELOW_ZERO]
    mat = {k: flows[f"cohort.{k}"].astype(np.float64) for k in MATRIX}  # (T, R, M)
    T = mat["issued"].shape[0]
    used = [r for r in range(len(labels)) if any(np.any(flows[f"cohort.{k}"][:, r]) for k in MATRIX)]
    cum = {k: np.cumsum(mat[k], axis=2) for k in KINDS}
    identity_ok, matches_ledger = checks(flows)

    def at(r: int, m: int) -> dict[str, Any]:
        return {**{k: summarize(cum[k][:, r, m]) for k in ("redeemed", "expired", "reversed")},
                "outstanding": summarize(mat["outstanding"][:, r, m])}

    table = []
    for r in used:
        issue = 0 if r == 0 or r == M + 1 else r - 1  # month of issue (the opening: the first month)
        row: dict[str, Any] = {"cohort": labels[r], "issued": summarize(cum["issued"][:, r, M - 1])}
        row["after"] = {str(a): (at(r, issue + a) if issue + a < M and r != M + 1 else None) for a in AGES}
        row["end"] = at(r, M - 1)
        table.append(row)
    return {
        "definition": DEFINITION,
        "rows": [labels[r] for r in used],
        "months": list(months),
        "ages": list(AGES),
        "identity": "issued = redeemed + expired + reversed + outstanding, per cohort at every month end",
        "identity_ok": identity_ok,
        "matches_ledger": matches_ledger,
        "matrix": {k: {labels[r]: (mat[k][:, r].sum(axis=0) / T).tolist() for r in used} for k in MATRIX},
        "table": table,
        "by_age": by_age(flows, M),
    }


def by_age(flows: dict[str, np.ndarray], M: int) -> dict[str, Any]:
    """Per age a = 0 .. M - 1, pooled over the month cohorts m with m + a < M: the shares of their issued
    points redeemed / expired / reversed by the end of month m + a and outstanding then (per trial, then
    summarised)."""
    iss = flows["cohort.issued"][:, 1:M + 1].astype(np.float64).sum(axis=2)  # (T, M): issued per month cohort
    cum = {k: np.cumsum(flows[f"cohort.{k}"][:, 1:M + 1].astype(np.float64), axis=2) for k in ("redeemed", "expired", "reversed")}
    cum["outstanding"] = flows["cohort.outstanding"][:, 1:M + 1].astype(np.float64)
    T = iss.shape[0]
    shares: dict[str, np.ndarray] = {k: np.full((T, M), np.nan) for k in cum}
    pooled = np.zeros((T, M))
    for a in range(M):
        m = np.arange(M - a)  # cohorts that reach age a
        base = iss[:, m].sum(axis=1)
        pooled[:, a] = base
        for k, c in cum.items():
            part = c[:, m, m + a].sum(axis=1)
            shares[k][:, a] = np.divide(part, base, out=np.full(T, np.nan), where=base > 0)
    return {"age": list(range(M)), "cohorts": [M - a for a in range(M)],
            "issued": summarize(pooled), **{f"{k}_share": summarize(v) for k, v in shares.items()}}


__all__ = ["AGES", "cohorts_json", "checks", "by_age"]
