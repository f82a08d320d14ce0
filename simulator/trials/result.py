"""Run results: per-trial integer metrics turned into means and 95 % intervals.

Takes: run metadata, the program, the population and one merged `ChunkResult`
per trial. Gives: `RunResult` — totals and monthly series per arm (`program`,
`baseline`) and paired differences, each as {mean, low, high}; the per-trial
totals (for distributions); the tier mix over time; the ledger identity check —
and `to_json()`, the documented `report.json` schema (`schema: loyalty-simulation/1`).

Definitions (money in currency units; cents / 100):
- revenue: list price of all purchases (amount incl. shipping), net of returns: a return takes the
  returned part of the list amount off revenue in the month it happens (`refunds`, the same in both
  arms for a purchase made in both), and the returned part's share of the purchase's instant
  discount (round down) off the program's discount cost: the customer gets back what they paid,
  and a fully returned purchase leaves no revenue and no discount cost. (Points ledgers, like the
  interpreter, keep discounts given: §6.) Returns due after the last simulated day are not
  simulated. `returns` counts returns; `return_rate` = returns / purchases.
  gross profit = revenue × gross margin.
- program cost = discounts + rewards (`costs us`) + points payments (points × point cost)
  + perks + vouchers + fixed (per member-month and per month) + acquisition of referred customers.
- net profit: program arm = gross profit − program cost; baseline = gross profit.
- incremental revenue / profit: program − baseline, paired within each trial (common random numbers).
- ROI = incremental profit / program cost.
- opening balances (customers file of a program already running): `points_opening`, and the
  ledger identity reads opening + issued = redeemed + expired + reversed + outstanding.
- breakage rate = expired / (redeemed + expired); redemption cost = rewards + points payments +
  vouchers; cost per redeemed point = redemption cost / points redeemed (in the trial);
  liability = outstanding points at the end × (1 − breakage rate) × cost per redeemed point (the
  declared `point cost` when the trial redeemed nothing); `liability_at_declared_cost` values the
  same points at the declared `point cost` (`simulator.model.fit_warnings` warns when the two costs
  differ by more than a quarter).
- vouchers with a life (a conversion with a validity; only then): `vouchers_issued`, `_used`,
  `_expired` (counts over the run), `vouchers_outstanding` (held at the end), each also as money
  (`voucher_value_*`: their face values); voucher breakage rate = expired / (used + expired);
  voucher liability = outstanding face value × (1 − voucher breakage rate) (the face value when none
  settled in the trial). Their cost (in `cost_vouchers`) is booked when a voucher is used; the
  redemption cost (and so the cost per redeemed point) adds the voucher liability, since the points
  of the outstanding vouchers are redeemed already.
- retention (month m) = customers still alive / customers at the start; churn rate = churned in
  the month / alive at its start; repeat-purchase rate = customers with ≥ 2 purchases / buyers;
  average check = revenue / purchases; purchase frequency = purchases / buyers.
- NPS = 100 × (promoters − detractors) / respondents (satisfaction model on).
- cumulative series (`monthly`, `cumulative.*`): each trial's running total from the first month,
  then mean and 95 % interval over trials like every other series, so the interval of a running
  total is the interval of the trials' totals to that month (the last month is the run's total).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from rulelang import ir

from simulator.trials.stats import ratio, summarize

SCHEMA = "loyalty-simulation/1"


def _voucher_totals(pt: dict[str, np.ndarray], series: dict[str, np.ndarray], mon: dict[str, np.ndarray]) -> None:
    """The voucher counts, their money, breakage rate and liability (vouchers with a life only)."""
    if "program.vouchers_issued" not in mon:
        return
    for k in ("issued", "used", "expired", "outstanding"):
        series[f"program.vouchers_{k}"] = mon[f"program.vouchers_{k}"].astype(np.float64)
        series[f"program.voucher_value_{k}"] = mon[f"program.voucher_{k}_cents"] / 100.0
    for k in ("issued", "used", "expired"):
        pt[f"program.vouchers_{k}"] = series[f"program.vouchers_{k}"].sum(axis=1)
        pt[f"program.voucher_value_{k}"] = series[f"program.voucher_value_{k}"].sum(axis=1)
    pt["program.vouchers_outstanding"] = series["program.vouchers_outstanding"][:, -1]
    pt["program.voucher_value_outstanding"] = series["program.voucher_value_outstanding"][:, -1]
    breakage = ratio(pt["program.vouchers_expired"], pt["program.vouchers_used"] + pt["program.vouchers_expired"])
    pt["program.voucher_breakage_rate"] = breakage
    pt["program.voucher_liability"] = pt["program.voucher_value_outstanding"] * np.where(
        np.isnan(breakage), 1.0, 1.0 - np.nan_to_num(breakage))


@dataclass
class RunResult:
    meta: dict[str, Any]
    totals: dict[str, dict[str, Any]]
    per_trial: dict[str, list[float | None]]
    monthly: dict[str, dict[str, Any]]
    months: list[str]
    tier_names: list[str]
    tier_mix: dict[str, Any]
    ledger_identity_ok: bool
    ledger_identity_max_abs_error: int
    warnings: list[str] = field(default_factory=list)
    records: dict[int, dict] = field(default_factory=dict, repr=False)
    fit_warnings: list[dict[str, Any]] = field(default_factory=list)  # `simulator.model.fit_warnings`, as JSON
    # per-trial monthly ledger flows (int64, trials x months) the accounting views start from
    ledger_flows: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    # every `monthly` series per trial (float, trials x months), before the summaries are taken
    trial_series: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    accounting: dict[str, Any] = field(default_factory=dict)  # `simulator.accounting.views`, as JSON

    def to_json(self) -> dict[str, Any]:
        """The report.json document; money amounts rounded to the cent (`round_money`)."""
        return {
            "schema": SCHEMA,
            "meta": self.meta,
            "ledger_identity_ok": self.ledger_identity_ok,
            "ledger_identity_max_abs_error": self.ledger_identity_max_abs_error,
            "totals": {k: round_money(v) if is_money(k) else v for k, v in self.totals.items()},
            "per_trial": {k: round_money(v) if is_money(k) else v for k, v in self.per_trial.items()},
            "months": self.months,
            "monthly": {k: round_money(v) if is_money(k) else v for k, v in self.monthly.items()},
            "tier_names": self.tier_names,
            "tier_mix": self.tier_mix,
            "warnings": self.warnings,
            "fit_warnings": self.fit_warnings,
            **({"accounting": self.accounting} if self.accounting else {}),
        }

    @property
    def program_balances(self) -> list[str]:
        """The balances beside the points this run counted (`program.balance.NAME.issued` totals)."""
        return [k[len("program.balance."):-len(".issued")] for k in self.totals
                if k.startswith("program.balance.") and k.endswith(".issued")]

    def total(self, name: str) -> float | None:
        return self.totals[name]["mean"]


MONEY_SUFFIXES = ("revenue", "gross_profit", "net_profit", "program_cost", "refunds", "liability",
                  "liability_at_declared_cost", "average_check", "redemption_cost", "incremental.profit")


def is_money(key: str) -> bool:
    """A metric key whose values are amounts of money (a unit cost such as `cost_per_redeemed_point` is not)."""
    if key.endswith("cost_per_redeemed_point"):
        return False
    return key.endswith(MONEY_SUFFIXES) or ".cost_" in key or key.startswith("cumulative.")


def round_money(value: Any) -> Any:
    """Every float in `value` (a number, a summary dict, nested lists) rounded to the cent, so a
    document shows `1657927.07`, never `1657927.0700000003`."""
    if isinstance(value, float):
        return round(value, 2) + 0.0  # + 0.0: no "-0.0"
    if isinstance(value, dict):
        return {k: round_money(v) for k, v in value.items()}
    if isinstance(value, list):
        return [round_money(v) for v in value]
    return value


LEDGER_FLOW_KEYS = ("program.revenue_cents", "program.discount_cents", "program.discount_returned_cents",
                    "program.points_issued", "program.points_reversed", "program.points_redeemed",
                    "program.points_expired", "program.points_outstanding")


def ledger_flows(mon: dict[str, np.ndarray], tot: dict[str, np.ndarray],
                 tier_flows: dict[str, np.ndarray] | None = None,
                 cohorts: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The monthly ledger flows the accounting views start from, (trials, months) int64, the opening
    balances (trials,), the tier economics flows `tier.*` (trials, months, tiers), the members by tier
    `tier.members` (trials, months, tiers) and the issue-month cohort matrices `cohort.*` (trials,
    cohorts, months; `simulator.engine.cohorts`): exact integers, merged from the chunks like every other sum."""
    out = {k: mon[k] for k in LEDGER_FLOW_KEYS if k in mon}
    trials = mon["program.points_issued"].shape[0]
    for k, v in (tier_flows or {}).items():  # (trials, months, tiers)
        out[f"tier.{k}"] = v
    for k, v in (cohorts or {}).items():  # (trials, cohorts, months)
        out[f"cohort.{k}"] = v
    out["program.points_opening"] = tot["program.points_opening"] if "program.points_opening" in tot \
        else np.zeros(trials, np.int64)
    return out


def _cohort_flows(trials: list) -> dict[str, np.ndarray]:
    """The trials' issue-month cohort matrices stacked (trials, cohorts, months)."""
    first = getattr(trials[0], "cohorts", None)
    if not first:
        return {}
    return {k: np.stack([t.cohorts[k] for t in trials]).astype(np.int64) for k in first}


def _tier_flows(trials: list) -> dict[str, np.ndarray]:
    """The trials' tier economics flows stacked (trials, months, tiers), with the members by tier."""
    first = getattr(trials[0], "tier_flows", None)
    if not first:
        return {}
    out = {k: np.stack([t.tier_flows[k] for t in trials]).astype(np.int64) for k in first}
    out["members"] = np.stack([t.tier_counts for t in trials]).astype(np.int64)
    return out


def cumulative_flows(series: dict[str, np.ndarray], margin: float) -> dict[str, np.ndarray]:
    """The `cumulative.*` series of `monthly` -> the monthly flow (trials, months) each one sums up."""
    return {
        "cumulative.program_cost": series["program.program_cost"],
        "cumulative.incremental_revenue": series["incremental.revenue"],
        "cumulative.incremental_gross_margin": series["incremental.revenue"] * margin,
        "cumulative.incremental_profit": series["incremental.profit"],
    }


def ledger_identity_error(mon: dict[str, np.ndarray], tot: dict[str, np.ndarray] | None = None) -> int:
    """The largest error over trials of opening + issued = redeemed + expired + reversed + outstanding,
    from the trials' int64 monthly flows summed in Python ints (never floats: a float64 total
    loses points above 2**53, and an int64 one could wrap along with the data)."""
    worst = 0
    for t in range(mon["program.points_issued"].shape[0]):
        flow = {k: sum(int(x) for x in mon[f"program.points_{k}"][t]) for k in ("issued", "redeemed", "expired", "reversed")}
        outstanding = int(mon["program.points_outstanding"][t, -1])
        opening = int(tot["program.points_opening"][t]) if tot is not None and "program.points_opening" in tot else 0
        worst = max(worst, abs(opening + flow["issued"] - flow["redeemed"] - flow["expired"] - flow["reversed"] - outstanding))
    return worst


BALANCE_FLOWS = ("issued", "expired", "reversed")  # a balance beside the points is never redeemed


def balance_identity_error(mon: dict[str, np.ndarray], names: tuple[str, ...]) -> int:
    """The largest error over trials and balances beside the points of issued = expired + reversed +
    outstanding (monthly flows summed in Python ints)."""
    worst = 0
    for name in names:
        for t in range(mon[f"program.balance.{name}.issued"].shape[0]):
            flow = {k: sum(int(x) for x in mon[f"program.balance.{name}.{k}"][t]) for k in BALANCE_FLOWS}
            outstanding = int(mon[f"program.balance.{name}.outstanding"][t, -1])
            worst = max(worst, abs(flow["issued"] - flow["expired"] - flow["reversed"] - outstanding))
    return worst


def _f(x: np.ndarray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in np.asarray(x, dtype=np.float64)]


def trial_mean(values: np.ndarray) -> np.ndarray:
    """The `mean` `summarize` gives over axis 0 (the trials), computed the same way (bit for bit)."""
    arr = np.asarray(values, dtype=np.float64)
    return arr.sum(axis=0) / arr.shape[0]


def tier_counts_and_shares(trials: list) -> tuple[np.ndarray, np.ndarray]:
    """The trials' members by tier at each month's end (trials, months, tiers) and each tier's share of them."""
    counts = np.stack([t.tier_counts for t in trials]).astype(np.float64)  # (T, months, tiers)
    members = counts.sum(axis=2, keepdims=True)
    share = np.divide(counts, members, out=np.zeros_like(counts), where=members != 0)
    return counts, share


def build_result(meta: dict[str, Any], program: ir.Program, pop, trials: list, cal, *,
                 summaries: bool = True) -> RunResult:
    """The RunResult of `trials` (merged ChunkResults). `summaries=False` leaves out the means and
    intervals (`totals`, `monthly`, `tier_mix`: empty) and keeps everything else, for callers that
    only read the per-trial values (`per_trial`, `trial_series`), such as the what-if commands' single
    trials."""
    T = len(trials)
    mon = {k: np.stack([t.monthly[k] for t in trials]).astype(np.int64) for k in trials[0].monthly}
    tot = {k: np.array([t.totals[k] for t in trials], dtype=np.int64) for k in trials[0].totals}
    margin = pop.economics.gross_margin
    point_cost = float(Fraction(program.point_cost_cents)) / 100.0
    # customers alive at the start (all of them, unless a customers file or an `age:` starts some dead)
    customers = tot["alive_at_start" if "alive_at_start" in tot else "customers"].astype(np.float64)

    def money(key: str) -> np.ndarray:
        return mon[key].astype(np.float64) / 100.0

    series: dict[str, np.ndarray] = {}  # (T, months) float
    for arm in ("program", "baseline"):
        series[f"{arm}.revenue"] = money(f"{arm}.revenue_cents")
        series[f"{arm}.gross_profit"] = series[f"{arm}.revenue"] * margin
        series[f"{arm}.purchases"] = mon[f"{arm}.purchases"].astype(np.float64)
        if f"{arm}.returns" in mon:
            series[f"{arm}.returns"] = mon[f"{arm}.returns"].astype(np.float64)
            series[f"{arm}.refunds"] = money(f"{arm}.refund_cents")
        series[f"{arm}.active_customers"] = mon[f"{arm}.active_customers"].astype(np.float64)
        series[f"{arm}.alive_customers"] = mon[f"{arm}.alive_customers"].astype(np.float64)
        series[f"{arm}.retention"] = ratio(mon[f"{arm}.alive_customers"], customers[:, None])
        alive_start = np.concatenate([customers[:, None], mon[f"{arm}.alive_customers"][:, :-1]], axis=1)
        alive_start = alive_start + mon[f"{arm}.new_customers"]
        series[f"{arm}.churn_rate"] = ratio(mon[f"{arm}.churned"], alive_start)
        series[f"{arm}.average_check"] = ratio(mon[f"{arm}.revenue_cents"] / 100.0, mon[f"{arm}.purchases"])
        series[f"{arm}.purchase_frequency"] = ratio(mon[f"{arm}.purchases"], mon[f"{arm}.active_customers"])
        if pop.response.satisfaction:
            series[f"{arm}.nps"] = 100.0 * ratio(mon[f"{arm}.nps_promoters"] - mon[f"{arm}.nps_detractors"],
                                                 mon[f"{arm}.nps_respondents"])
    cost_parts = {
        "discounts": money("program.discount_cents") - (money("program.discount_returned_cents")
                                                         if "program.discount_returned_cents" in mon else 0.0),
        "rewards": money("program.reward_cents"),
        "points_payments": money("program.points_payment_cents"),
        "perks": money("program.perk_cents"),
        "vouchers": money("program.voucher_cents"),
        "fixed": money("program.fixed_cost_cents"),
        "acquisition": money("program.acquisition_cents"),
    }
    for k, v in cost_parts.items():
        series[f"program.cost_{k}"] = v
    cost = sum(cost_parts.values())
    series["program.program_cost"] = cost
    series["program.net_profit"] = series["program.gross_profit"] - cost
    series["baseline.net_profit"] = series["baseline.gross_profit"]
    series["incremental.revenue"] = series["program.revenue"] - series["baseline.revenue"]
    series["incremental.profit"] = series["program.net_profit"] - series["baseline.net_profit"]
    for k in ("points_issued", "points_redeemed", "points_expired", "points_reversed",
              "points_outstanding", "points_available", "members", "new_customers"):
        series[f"program.{k}"] = mon[f"program.{k}"].astype(np.float64)
    for name in program.balance_names():  # balances beside the points (docs/semantics.md §2.1)
        for k in BALANCE_FLOWS + ("outstanding",):
            series[f"program.balance.{name}.{k}"] = mon[f"program.balance.{name}.{k}"].astype(np.float64)
    # running totals, summed within each trial before the mean and interval are taken (summing the
    # monthly half-widths instead would overstate the interval: months of one trial are not perfectly correlated)
    for name, flow in cumulative_flows(series, margin).items():
        series[name] = np.cumsum(flow, axis=1)

    # totals per trial
    pt: dict[str, np.ndarray] = {}
    for arm in ("program", "baseline"):
        pt[f"{arm}.revenue"] = series[f"{arm}.revenue"].sum(axis=1)
        pt[f"{arm}.gross_profit"] = series[f"{arm}.gross_profit"].sum(axis=1)
        pt[f"{arm}.net_profit"] = series[f"{arm}.net_profit"].sum(axis=1)
        pt[f"{arm}.purchases"] = series[f"{arm}.purchases"].sum(axis=1)
        if f"{arm}.returns" in series:
            pt[f"{arm}.returns"] = series[f"{arm}.returns"].sum(axis=1)
            pt[f"{arm}.refunds"] = series[f"{arm}.refunds"].sum(axis=1)
            pt[f"{arm}.return_rate"] = ratio(pt[f"{arm}.returns"], pt[f"{arm}.purchases"])
        pt[f"{arm}.average_check"] = ratio(pt[f"{arm}.revenue"], pt[f"{arm}.purchases"])
        pt[f"{arm}.purchase_frequency"] = ratio(pt[f"{arm}.purchases"], tot[f"{arm}.buyers"])
        pt[f"{arm}.repeat_purchase_rate"] = ratio(tot[f"{arm}.repeat_buyers"], tot[f"{arm}.buyers"])
        pt[f"{arm}.retention"] = series[f"{arm}.retention"][:, -1]
        pt[f"{arm}.churn_rate"] = 1.0 - ratio(mon[f"{arm}.alive_customers"][:, -1],
                                              customers + mon[f"{arm}.new_customers"].sum(axis=1))
        pt[f"{arm}.active_customers_last_month"] = series[f"{arm}.active_customers"][:, -1]
        if pop.response.satisfaction:
            pt[f"{arm}.nps"] = series[f"{arm}.nps"][:, -1]
    for k in cost_parts:
        pt[f"program.cost_{k}"] = cost_parts[k].sum(axis=1)
    pt["program.program_cost"] = cost.sum(axis=1)
    pt["incremental.revenue"] = pt["program.revenue"] - pt["baseline.revenue"]
    pt["incremental.profit"] = pt["program.net_profit"] - pt["baseline.net_profit"]
    pt["program.roi"] = ratio(pt["incremental.profit"], pt["program.program_cost"])
    for k in ("points_issued", "points_redeemed", "points_expired", "points_reversed"):
        pt[f"program.{k}"] = series[f"program.{k}"].sum(axis=1)
    pt["program.points_outstanding"] = series["program.points_outstanding"][:, -1]
    for name in program.balance_names():  # not redeemable: no liability, no breakage
        for k in BALANCE_FLOWS:
            pt[f"program.balance.{name}.{k}"] = series[f"program.balance.{name}.{k}"].sum(axis=1)
        pt[f"program.balance.{name}.outstanding"] = series[f"program.balance.{name}.outstanding"][:, -1]
    pt["program.members"] = series["program.members"][:, -1]
    if "program.referrals_dropped" in tot:
        pt["program.referrals_dropped"] = tot["program.referrals_dropped"].astype(np.float64)
    pt["program.new_customers"] = series["program.new_customers"].sum(axis=1)
    _voucher_totals(pt, series, mon)
    settled = pt["program.points_redeemed"] + pt["program.points_expired"]
    pt["program.breakage_rate"] = ratio(pt["program.points_expired"], settled)
    redemption_rate = np.where(np.isnan(pt["program.breakage_rate"]), 1.0, 1.0 - np.nan_to_num(pt["program.breakage_rate"]))
    pt["program.redemption_cost"] = (pt["program.cost_rewards"] + pt["program.cost_points_payments"]
                                     + pt["program.cost_vouchers"])
    if "program.voucher_liability" in pt:  # vouchers with a life: the outstanding ones at their expected cost
        pt["program.redemption_cost"] = pt["program.redemption_cost"] + pt["program.voucher_liability"]
    pt["program.cost_per_redeemed_point"] = ratio(pt["program.redemption_cost"], pt["program.points_redeemed"])
    per_point = np.where(np.isnan(pt["program.cost_per_redeemed_point"]), point_cost,
                         pt["program.cost_per_redeemed_point"])
    pt["program.liability"] = pt["program.points_outstanding"] * redemption_rate * per_point
    pt["program.liability_at_declared_cost"] = pt["program.points_outstanding"] * redemption_rate * point_cost
    opening = tot["program.points_opening"].astype(np.float64) if "program.points_opening" in tot else 0.0
    if np.any(opening):  # a program already running: opening + issued = redeemed + expired + reversed + outstanding
        pt["program.points_opening"] = opening
    max_err = max(ledger_identity_error(mon, tot), int(tot["ledger_identity_max_abs_error"].max()),
                  balance_identity_error(mon, program.balance_names()))

    totals = {k: summarize(v) for k, v in pt.items()} if summaries else {}
    monthly = {k: summarize(v) for k, v in series.items()} if summaries else {}
    tier_names = [t.name for t in program.tiers.tiers] if program.tiers else []
    tier_mix: dict[str, Any] = {}
    if tier_names and summaries:
        counts, share = tier_counts_and_shares(trials)
        tier_mix = {
            "counts": {name: summarize(counts[:, :, i]) for i, name in enumerate(tier_names)},
            "share": {name: summarize(share[:, :, i]) for i, name in enumerate(tier_names)},
        }
    months = []
    d = cal.start
    for _ in range(cal.months):
        months.append(f"{d.year:04d}-{d.month:02d}")
        d = (d.replace(day=1) + __import__("datetime").timedelta(days=32)).replace(day=1)
    per_trial = {k: _f(v) for k, v in pt.items()}
    warnings = []  # custom events without a rate, tiers nobody reaches...: `simulator.model.fit_warnings`
    returns_happen = any(s.returns.rate > 0 for s in pop.segments)
    uses_returns = any(r.event == "return" for r in program.rules) or program.returns.reverse
    if uses_returns and not returns_happen:
        warnings.append("the population returns no purchases (no `returns:` rate in any segment): "
                        "no points are reversed and rules on `return` never fire")
    if "program.referrals_dropped" in tot:
        dropped = tot["program.referrals_dropped"]
        if dropped.any():
            warnings.append(f"{int(dropped.sum()):,} referrals over {T} trial(s) (mean {dropped.mean():,.1f} a trial) "
                            f"were not simulated: the spare slots for referred newcomers ran out "
                            f"(referral_pool {pop.referral_pool:g}); raise `referral_pool` in the population file")
    return RunResult(meta, totals, per_trial, monthly, months, tier_names, tier_mix, max_err == 0, max_err,
                     warnings, trials[0].records, ledger_flows=ledger_flows(mon, tot, _tier_flows(trials), _cohort_flows(trials)),
                     trial_series=series)
