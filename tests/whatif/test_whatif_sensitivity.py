"""sensitivity: each assumption moved alone; effects checked by hand where the model makes them exact."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.whatif.sensitivity import parse_param, run_sensitivity, text_table
from simulator.whatif.runner import Arm, MetricExpr, WhatIfError, load_population_spec, metric_values, run_programs
from simulator.whatif import report as whatif_report
from whatif_helpers import FIXTURES, SMALL


def test_economic_assumptions_move_profit_by_hand_computed_amounts(birthday, tmp_path):
    pop = load_population_spec(str(FIXTURES / "lively.yaml"))
    res = run_sensitivity(birthday, pop, SMALL, relative=0.5,
                          only=["economics.gross_margin", "economics.fixed_cost_per_month"])
    bars = {b.setting.assumption.path: b for b in res.bars}
    # fixed cost 100 a month over 2 months, moved to 50 and 150: profit +100 and -100 exactly
    fixed = bars["economics.fixed_cost_per_month"]
    assert (fixed.setting.low, fixed.setting.high) == (50.0, 150.0)
    assert fixed.low["mean"] == pytest.approx(100.0) and fixed.high["mean"] == pytest.approx(-100.0)
    assert fixed.swing == pytest.approx(200.0)
    # gross margin 0.30 moved to 0.15 / 0.45: profit changes by ∓0.15 × incremental revenue
    margin = bars["economics.gross_margin"]
    assert margin.setting.low == pytest.approx(0.15) and margin.setting.high == pytest.approx(0.45)
    # the base run's incremental revenue: recompute it from a plain run on the same trials
    base = run_programs([Arm("b", birthday.program)], pop, SMALL)[0]
    inc_rev = metric_values(base, MetricExpr.parse("incremental_revenue"))
    assert margin.low["mean"] == pytest.approx(float(np.mean(-0.15 * inc_rev)))
    assert margin.high["mean"] == pytest.approx(float(np.mean(0.15 * inc_rev)))
    assert res.base["mean"] == pytest.approx(float(np.mean(base.trial_totals["incremental.profit"])))
    text = text_table(res)
    assert "economics.fixed_cost_per_month" in text and "50 .. 150 (now 100)" in text
    paths = whatif_report.write_reports(res, tmp_path, "sensitivity")
    assert paths[2].read_text(encoding="utf-8").count("data:image/png;base64,") == 1


def test_assumptions_that_are_zero_are_skipped(birthday, calm):
    res = run_sensitivity(birthday, calm, SMALL, only=["response.goal_gradient", "economics.fixed_cost_per_month"])
    assert [b.setting.assumption.path for b in res.bars] == ["economics.fixed_cost_per_month"]
    assert res.skipped and res.skipped[0].startswith("response.goal_gradient is 0")


def test_param_parsing():
    assert parse_param("response.goal_gradient=0.1:0.3") == ("response.goal_gradient", 0.1, 0.3)
    with pytest.raises(WhatIfError) as exc:
        parse_param("response.goal_gradiant=0.1:0.3")
    assert exc.value.diagnostics[0].hint == "did you mean `response.goal_gradient`?"
    with pytest.raises(WhatIfError):
        parse_param("response.goal_gradient=0.3:0.1")
