"""Cumulative series: each trial's running total first, then the mean and 95 % interval over trials.

Three trials, two months, numbers chosen so the months of a trial move against each other:
adding up the monthly half-widths (what the cost-vs-margin chart used to do) gives a band several
times wider than the interval of the trials' own running totals. Expected values are worked out
by hand from the definition: mean ± t(0.975, 2) · s / √3, t = 4.303, s the standard deviation
over the three trials (n − 1 in the denominator).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from sim_helpers import program_with, population_text
from simulator.report import charts
from simulator.engine.day_loop import ChunkResult
from simulator.trials.result import build_result

POP = """
name: two months
segments:
  - name: all
    share: 1
    purchase: {r: 2, alpha: 4}
    dropout: {a: 1, b: 8}
    spend: {p: 6, q: 4, gamma: 15}
    categories: {a: 1}
economics: {gross_margin: 0.5}
response: off
"""

# per trial, per month, in currency units
COST = [[1, 5], [2, 3], [3, 1]]          # running totals 1,6 / 2,5 / 3,4
INCREMENTAL_REVENUE = [[10, 30], [20, 10], [30, 20]]  # running totals 10,40 / 20,30 / 30,50
BASELINE_REVENUE = 100
T = 0.95 * math.sqrt(2 / 0.0975)  # t(0.975) with 2 degrees of freedom: (2p − 1)·√(2 / (4p(1 − p))), p = 0.975
ROOT3 = math.sqrt(3.0)

MONTHLY_KEYS = [f"{arm}.{k}" for arm in ("program", "baseline")
                for k in ("revenue_cents", "purchases", "active_customers", "alive_customers", "new_customers",
                          "churned")]
MONTHLY_KEYS += [f"program.{k}" for k in ("discount_cents", "reward_cents", "points_payment_cents", "perk_cents",
                                          "voucher_cents", "fixed_cost_cents", "acquisition_cents", "points_issued",
                                          "points_redeemed", "points_expired", "points_reversed",
                                          "points_outstanding", "points_available", "members")]
TOTAL_KEYS = ["customers", "ledger_identity_max_abs_error"] + [f"{arm}.{k}" for arm in ("program", "baseline")
                                                                 for k in ("buyers", "repeat_buyers")]


def _trial(t: int) -> ChunkResult:
    monthly = {k: np.zeros(2, dtype=np.int64) for k in MONTHLY_KEYS}
    monthly["baseline.revenue_cents"][:] = BASELINE_REVENUE * 100
    monthly["program.revenue_cents"][:] = [(BASELINE_REVENUE + v) * 100 for v in INCREMENTAL_REVENUE[t]]
    monthly["program.reward_cents"][:] = [v * 100 for v in COST[t]]
    monthly["program.alive_customers"][:] = monthly["baseline.alive_customers"][:] = 10
    totals = {k: 0 for k in TOTAL_KEYS}
    totals["customers"] = 10
    return ChunkResult(monthly, totals, np.zeros((2, 0), dtype=np.int64))


@pytest.fixture(scope="module")
def report() -> dict:
    cal = SimpleNamespace(start=dt.date(2027, 1, 1), months=2)
    meta = {"program": "test", "customers": 10, "trials": 3, "currency": "USD", "points_unit": "points"}
    result = build_result(meta, program_with(), population_text(POP), [_trial(t) for t in range(3)], cal)
    return json.loads(json.dumps(result.to_json()))  # exactly what report.json holds


def _interval(mean: float, sd: float) -> dict[str, float]:
    half = T * sd / ROOT3
    return {"mean": mean, "low": mean - half, "high": mean + half}


def _check(series: dict, months: list[dict[str, float]]) -> None:
    # report.json holds money rounded to the cent: each end is within half a cent of the exact value
    for k in ("mean", "low", "high"):
        assert series[k] == pytest.approx([m[k] for m in months], rel=0, abs=0.005 + 1e-9), k


def test_cumulative_series_are_running_totals_per_trial_then_summarised(report):
    monthly = report["monthly"]
    # program cost: month 1 values 1,2,3 (mean 2, s 1); running totals at month 2: 6,5,4 (mean 5, s 1)
    _check(monthly["cumulative.program_cost"], [_interval(2, 1), _interval(5, 1)])
    # incremental revenue: month 1 10,20,30 (mean 20, s 10); totals 40,30,50 (mean 40, s 10)
    _check(monthly["cumulative.incremental_revenue"], [_interval(20, 10), _interval(40, 10)])
    # × the 50 % gross margin: 5,10,15 then 20,15,25
    _check(monthly["cumulative.incremental_gross_margin"], [_interval(10, 5), _interval(20, 5)])
    # incremental profit = margin − cost: month 1 4,8,12 (mean 8, s 4); totals 14,10,21
    # (mean 15, deviations −1, −5, 6: s = √((1 + 25 + 36) / 2) = √31)
    _check(monthly["cumulative.incremental_profit"], [_interval(8, 4), _interval(15, math.sqrt(31))])
    # the last month is the run's total
    for key, total in (("cumulative.program_cost", "program.program_cost"),
                       ("cumulative.incremental_revenue", "incremental.revenue"),
                       ("cumulative.incremental_profit", "incremental.profit")):
        for k in ("mean", "low", "high"):
            assert monthly[key][k][-1] == pytest.approx(report["totals"][total][k], rel=0, abs=0.01 + 1e-9)


def test_the_summed_half_widths_would_have_been_far_wider(report):
    cost = report["monthly"]["program.program_cost"]
    # monthly cost: month 1 1,2,3 (s 1), month 2 5,3,1 (s 2): summed half-width 4.303 · 3 / √3
    summed = sum((h - lo) / 2 for lo, h in zip(cost["low"], cost["high"]))
    assert summed == pytest.approx(T * 3 / ROOT3, rel=0, abs=0.01 + 1e-9)  # two half-widths, each to the cent
    exact = report["monthly"]["cumulative.program_cost"]
    assert (exact["high"][1] - exact["low"][1]) / 2 == pytest.approx(T / ROOT3, rel=0, abs=0.005 + 1e-9)  # a third of it


def test_cost_vs_margin_chart_draws_the_per_trial_running_totals(report):
    drawn = charts._running_total(report, "cumulative.program_cost", "program.program_cost")
    stored = report["monthly"]["cumulative.program_cost"]
    # the band is the range of outcomes: running totals 1,2,3 then 6,5,4; p5/p95 interpolate at rank 0.1 and 1.9
    assert drawn == {"mean": stored["mean"], "low": [1.1, 4.1], "high": [2.9, 5.9]}
    assert stored["range"] == [[pytest.approx(1.1), pytest.approx(4.1)], [pytest.approx(2.9), pytest.approx(5.9)]]
    assert charts.cost_vs_margin_chart(report).startswith(b"\x89PNG\r\n\x1a\n")


def test_an_older_report_without_them_gets_running_means_and_no_band(report):
    old = json.loads(json.dumps(report))
    for key in [k for k in old["monthly"] if k.startswith("cumulative.")]:
        del old["monthly"][key]
    cost = charts._running_total(old, "cumulative.program_cost", "program.program_cost")
    assert cost["mean"] == pytest.approx([2, 5]) and cost["low"] == [] and cost["high"] == []
    margin = charts._running_total(old, "cumulative.incremental_gross_margin", "incremental.revenue", 0.5)
    assert margin["mean"] == pytest.approx([10, 20]) and margin["low"] == []
    assert charts.cost_vs_margin_chart(old).startswith(b"\x89PNG\r\n\x1a\n")
