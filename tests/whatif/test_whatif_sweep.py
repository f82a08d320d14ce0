"""sweep: parameter paths, grids, and an optimum known by construction."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from simulator.whatif.sweep import parse_constraint, parse_vary, resolve_parameter, run_sweep, text_table
from simulator.whatif.runner import WhatIfError
from simulator.whatif import report as whatif_report
from whatif_helpers import SMALL


def test_grid_parsing():
    assert parse_vary("base.rate=1:2:0.5") == ("base.rate", [Decimal("1"), Decimal("1.5"), Decimal("2.0")])
    assert parse_vary("tier.Gold.threshold=300,400") == ("tier.Gold.threshold", [Decimal(300), Decimal(400)])
    for bad in ("base.rate", "base.rate=3:1:1", "base.rate=1:2:0", "base.rate=a:b:c", "x=1:2"):
        with pytest.raises(WhatIfError):
            parse_vary(bad)


def test_constraint_parsing():
    expr, limit = parse_constraint("program_cost / revenue=0.02", "max")
    assert (expr.numerator, expr.denominator, limit) == ("program.program_cost", "program.revenue", 0.02)
    assert parse_constraint("retention=60%", "min")[1] == pytest.approx(0.6)
    with pytest.raises(WhatIfError) as exc:
        parse_constraint("incremental_proft=0", "min")
    assert exc.value.diagnostics[0].hint == "did you mean `incremental_profit`?"


def test_parameter_paths(birthday, calm):
    p, pop = birthday.ast_program, calm.base
    assert resolve_parameter("base.rate", p, pop).current == 1.0
    assert resolve_parameter("rule.birthday_gift.award", p, pop).current == 50.0
    assert resolve_parameter("tier.Gold.threshold", p, pop).current == 300.0
    assert resolve_parameter("tier.Gold.multiply", p, pop).current == 1.5
    assert resolve_parameter("reward.gift_card.price", p, pop).integer
    assert resolve_parameter("point_cost", p, pop).current == 0.01
    assert resolve_parameter("population.response.goal_gradient", p, pop).on_population
    assert resolve_parameter("population.economics.fixed_cost_per_month", p, pop).current == 100.0
    assert resolve_parameter("population.segment.everyone.redeem", p, pop).current == 0.5
    # the change is made on the AST
    prm = resolve_parameter("tier.Gold.threshold", p, pop)
    assert prm.set_program(p, Decimal(250)).tiers.tiers[1].threshold == Decimal(250)
    assert p.tiers.tiers[1].threshold == Decimal(300)
    with pytest.raises(WhatIfError) as exc:
        resolve_parameter("bse.rate", p, pop)
    assert exc.value.diagnostics[0].hint == "did you mean `base`?"
    with pytest.raises(WhatIfError) as exc:
        resolve_parameter("tier.Gld.threshold", p, pop)
    assert "did you mean `Gold`" in exc.value.diagnostics[0].hint


def test_whole_number_parameters_refuse_fractions(birthday, calm):
    with pytest.raises(WhatIfError) as exc:
        run_sweep(birthday, ["reward.gift_card.price=100:150:12.5"], calm, SMALL)
    assert "whole numbers" in exc.value.diagnostics[0].message


def test_sweep_finds_the_optimum_known_by_construction(gift, calm):
    """The population does not respond to the program and nothing feeds back on the points,
    so points issued = P + N × B in every trial (P purchase points, B birthdays, N the gift):
    linear in the swept gift. With the cap L = P + 55·B on the mean, the largest feasible
    gift on the grid 10, 20, ..., 100 is 50."""
    res = run_sweep(gift, ["birthday_gift.award=10:100:10"], calm, SMALL, objective="points_issued",
                    maxes=["points_issued=1e12"])
    issued = {int(pt.values[0]): pt.run.trial_totals["program.points_issued"] for pt in res.points}
    birthdays = (issued[20] - issued[10]) / 10
    purchase_points = issued[10] - 10 * birthdays
    assert (birthdays > 0).all()
    for n, values in issued.items():  # exactly linear, trial by trial
        np.testing.assert_array_equal(values, purchase_points + n * birthdays)
    limit = float(np.mean(purchase_points + 55 * birthdays))
    res = run_sweep(gift, ["birthday_gift.award=10:100:10"], calm, SMALL, objective="points_issued",
                    maxes=[f"points_issued={limit}"])
    assert res.best is not None and res.best.values == (Decimal(50),)
    assert [pt.feasible for pt in res.points] == [True] * 5 + [False] * 5
    # without the cap, more points is always better: the top of the grid
    free = run_sweep(gift, ["birthday_gift.award=10:100:10"], calm, SMALL, objective="points_issued")
    assert free.best.values == (Decimal(100),)
    table = text_table(res)
    assert "best: birthday_gift.award = 50" in table
    assert res.to_json()["best"]["values"] == [50]


def test_two_parameters_and_an_infeasible_grid(gift, calm, tmp_path):
    res = run_sweep(gift, ["birthday_gift.award=10,20", "point_cost=0.01,0.02"], calm, SMALL,
                    mins=["incremental_profit=1e9"])
    assert len(res.points) == 4 and res.best is None
    assert "no grid point meets the constraints" in text_table(res)
    paths = whatif_report.write_reports(res, tmp_path, "sweep")
    assert "data:image/png;base64," in paths[2].read_text(encoding="utf-8")
