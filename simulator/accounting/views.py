"""The accounting section of `report.json`, from a run's per-trial ledger flows.

Takes: the per-trial monthly flows a `RunResult` keeps (`ledger_flows`: int64 arrays trials × months),
the program, and optional overrides of the two assumptions (`--point-value`, `--expected-redemption`).
Gives: `accounting_json(...)`, the
document under `accounting` in report.json: per month the mean, range of outcomes and Monte Carlo
precision of the contract liability's opening, deferred, recognized, breakage and closing (currency
units, rounded to the cent), the run's totals, the assumptions, and whether the roll-forward identity
holds in every trial (it is checked in integer cents).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from rulelang import ir

from simulator.accounting.contract_liability import COLUMNS, point_value, rollforward
from simulator.trials.result import round_money
from simulator.trials.stats import summarize

METHOD = ("IFRS 15 / ASC 606, points as a material right: each month's transaction price (revenue less "
          "discounts) split by relative standalone selling price (points issued x point value x expected "
          "redemption rate); deferred, then recognized as points are redeemed, with the expected breakage "
          "recognized in proportion to redemptions and a true-up when expiries leave fewer points than "
          "redemptions expected; one pool for all points (portfolio approach); see docs/accounting.md")


def _rate_of(flows: dict[str, np.ndarray], t: int) -> Fraction:
    """The trial's own redemption rate: redeemed / (redeemed + expired); 1 when nothing settled."""
    red = int(flows["program.points_redeemed"][t].sum())
    exp = int(flows["program.points_expired"][t].sum())
    return Fraction(red, red + exp) if red + exp else Fraction(1)


def attach_accounting(result, program: ir.Program, *, point_value_cents: Fraction | None = None,
                      expected_redemption: Fraction | None = None) -> None:
    """Set `result.accounting` (a `RunResult` with its `ledger_flows`) to the document below."""
    if result.ledger_flows:
        result.accounting = accounting_json(result.ledger_flows, program, point_value_cents=point_value_cents,
                                            expected_redemption=expected_redemption)


def accounting_json(flows: dict[str, np.ndarray], program: ir.Program, *, point_value_cents: Fraction | None = None,
                    expected_redemption: Fraction | None = None) -> dict[str, Any]:
    """The `accounting` document of report.json (see the module docstring)."""
    value, source = point_value(program) if point_value_cents is None else (Fraction(point_value_cents), "--point-value")
    trials = flows["program.points_issued"].shape[0]
    cols: dict[str, list[list[int]]] = {c: [] for c in COLUMNS}
    rates, identity_ok = [], True
    for t in range(trials):
        rate = _rate_of(flows, t) if expected_redemption is None else Fraction(expected_redemption)
        rates.append(float(rate))
        paid = flows["program.revenue_cents"][t] - flows["program.discount_cents"][t]
        if "program.discount_returned_cents" in flows:
            paid = paid + flows["program.discount_returned_cents"][t]
        rf = rollforward(paid_cents=[int(x) for x in paid], issued=flows["program.points_issued"][t],
                         reversed_=flows["program.points_reversed"][t], redeemed=flows["program.points_redeemed"][t],
                         outstanding=flows["program.points_outstanding"][t], point_value_cents=value,
                         redemption_rate=rate, opening_points=int(flows["program.points_opening"][t]))
        for c in COLUMNS:
            cols[c].append(rf.column(c))
        identity_ok &= all(o + d - r - b == c for o, d, r, b, c in
                           zip(rf.opening, rf.deferred, rf.recognized, rf.breakage, rf.closing))
    arrays = {c: np.array(v, dtype=np.float64) / 100.0 for c, v in cols.items()}
    totals = {c: summarize(arrays[c].sum(axis=1)) for c in ("deferred", "recognized", "breakage")}
    totals["opening"] = summarize(arrays["opening"][:, 0])
    totals["closing"] = summarize(arrays["closing"][:, -1])
    return {"contract_liability": {
        "method": METHOD,
        "point_value": float(value) / 100.0, "point_value_source": source,
        "expected_redemption_rate": summarize(rates),
        "expected_redemption_source": ("--expected-redemption" if expected_redemption is not None
                                       else "each trial's redeemed / (redeemed + expired)"),
        "identity": "opening + deferred - recognized - breakage = closing",
        "identity_ok": bool(identity_ok),
        "monthly": {c: round_money(summarize(arrays[c])) for c in COLUMNS},
        "totals": round_money(totals),
    }}
