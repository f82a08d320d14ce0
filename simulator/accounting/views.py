"""The accounting section of `report.json`, from a run's per-trial ledger flows.

Takes: the per-trial monthly flows a `RunResult` keeps (`ledger_flows`: int64 arrays trials × months),
the program, and optional overrides of the two assumptions (`--point-value`, `--expected-redemption`).
Gives: `attach_accounting(result, program)`, which sets `result.accounting` (with the liability by issue-month
cohort, `simulator.accounting.cohorts`, under `cohorts`); `tier_economics_json`, per
tier its members, revenue against the same customers' baseline, perks, discounts, points and incremental
margin; and `accounting_json(...)`, the
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

from simulator.accounting.cohorts import cohorts_json
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
    """Set `result.accounting` (a `RunResult` with its `ledger_flows`) to the document below, with the
    tier economics when the program has tiers."""
    if not result.ledger_flows:
        return
    result.accounting = accounting_json(result.ledger_flows, program, point_value_cents=point_value_cents,
                                        expected_redemption=expected_redemption)
    if "cohort.issued" in result.ledger_flows:
        result.accounting["cohorts"] = cohorts_json(result.ledger_flows, list(result.months))
    if "tier.revenue_cents" in result.ledger_flows and program.tiers is not None:
        rev = np.array([np.nan if v is None else v for v in result.per_trial["program.revenue"]], dtype=np.float64)
        gp = np.array([np.nan if v is None else v for v in result.per_trial["program.gross_profit"]], dtype=np.float64)
        margin = np.divide(gp, rev, out=np.zeros_like(rev), where=(rev != 0) & ~np.isnan(rev))
        result.accounting["tier_economics"] = tier_economics_json(result.ledger_flows, program, margin)


TIER_ATTRIBUTION = ("each enrolled customer's month (revenue net of refunds in the program arm and the same "
                    "customer's in the baseline, discounts given, perk costs, points issued) counts for the tier "
                    "the customer holds at the month's end; members: enrolled customers who have not churned, "
                    "at the last month's end")
TIER_METRICS = ("members", "revenue", "baseline_revenue", "incremental_revenue", "incremental_gross_margin",
                "perks", "discounts", "points_issued", "points_cost", "multiplier_points_cost", "incremental_margin")


def tier_economics_json(flows: dict[str, np.ndarray], program: ir.Program, margin: np.ndarray) -> dict[str, Any]:
    """Per tier, over the run, per trial summarised: members at the end, revenue and the same customers'
    baseline revenue, incremental revenue and gross margin (× the run's gross margin), perks, discounts,
    points issued and their cost at the declared `point cost`, the tier multiplier's share of that cost
    (points × (m − 1) / m: an estimate, exact when the tier's multiplier is the only one and nothing is
    capped or rounded) and the incremental margin (incremental gross margin − perks − discounts − points cost)."""
    tiers = program.tiers.tiers if program.tiers is not None else ()
    cost = float(program.point_cost_cents) / 100.0
    by_tier: dict[str, Any] = {}
    for j, tier in enumerate(tiers):
        def run_total(key: str) -> np.ndarray:
            return flows[f"tier.{key}"][:, :, j].sum(axis=1).astype(np.float64)

        rev = run_total("revenue_cents") / 100.0
        base = run_total("baseline_revenue_cents") / 100.0
        inc_gm = (rev - base) * margin
        perks = run_total("perk_cents") / 100.0
        disc = run_total("discount_cents") / 100.0
        points = run_total("points_issued")
        points_cost = points * cost
        m = float(tier.multiplier) if tier.multiplier is not None else 1.0
        mult = points_cost * (m - 1.0) / m if m > 1.0 else np.zeros_like(points_cost)
        values = {"members": flows["tier.members"][:, -1, j].astype(np.float64), "revenue": rev,
                  "baseline_revenue": base, "incremental_revenue": rev - base, "incremental_gross_margin": inc_gm,
                  "perks": perks, "discounts": disc, "points_issued": points, "points_cost": points_cost,
                  "multiplier_points_cost": mult, "incremental_margin": inc_gm - perks - disc - points_cost}
        by_tier[tier.name] = {k: (summarize(v) if k in ("members", "points_issued") else round_money(summarize(v)))
                              for k, v in values.items()}
        by_tier[tier.name]["multiplier"] = m
        by_tier[tier.name]["discount_percent"] = float(tier.discount_percent) if tier.discount_percent else 0.0
    return {"tiers": [t.name for t in tiers], "attribution": TIER_ATTRIBUTION,
            "point_cost": cost, "by_tier": by_tier}


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
