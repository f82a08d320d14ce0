"""sweep: parameter paths, grids, and an optimum known by construction."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from simulator.whatif.sweep import SweepPoint, parse_constraint, parse_vary, resolve_leader, resolve_parameter, run_sweep, text_table
from simulator.whatif.runner import summary
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


# ---------------------------------------------------------------- "best" only when resolved

def _point(values: np.ndarray) -> SweepPoint:
    return SweepPoint((Decimal(1),), None, summary(values), {}, [])  # type: ignore[arg-type]


def test_overlapping_ranges_are_not_resolved_even_when_the_leader_wins_every_trial():
    """Current objective 100, 110, ..., 300 over 21 trials (p5 = 110, p95 = 290 by the type-7 rule:
    ranks 1 and 19 of 0..20); the leader is 5 more in every trial: its range 115..295 overlaps."""
    current = np.arange(100.0, 301.0, 10.0)
    leader = current + 5
    v = resolve_leader(_point(leader), leader, current, False, minimize=False)
    assert not v.resolved
    assert "ranges of outcomes overlap" in v.reason
    assert "Monte Carlo precision" not in v.reason  # the paired difference is 5 in every trial: no spread
    assert v.difference["mean"] == pytest.approx(5.0)
    assert (v.difference["trials_leader_better"], v.difference["trials"]) == (21, 21)


def test_separate_ranges_with_a_resolved_mean_are_best():
    current = np.arange(100.0, 301.0, 10.0)  # range 110..290
    leader = current[::-1] + 200.0  # 300..500 in reverse order: range 310..490 lies above 290
    v = resolve_leader(_point(leader), leader, current, False, minimize=False)
    assert v.resolved and v.reason == ""
    # minimising, the same numbers make the *current* setting the better one: a leader above is never best
    w = resolve_leader(_point(leader), leader, current, False, minimize=True)
    assert not w.resolved and "overlap" in w.reason and "Monte Carlo precision" in w.reason
    # minimising with the leader wholly below
    low = current - 200.0  # range -90..90, below 110
    assert resolve_leader(_point(low), low, current, False, minimize=True).resolved


def test_separate_ranges_but_an_unresolved_mean_are_not_best():
    """Two trials: current 0 and 10 (range 0.5..9.5), leader 20 and 10.5 (range 10.975..19.525): the
    ranges do not overlap, but the paired differences 20 and 0.5 (mean 10.25, sd 19.5 / √2) give a
    Monte Carlo precision half-width of t(0.975, 1 df) × sd / √2 = 12.706 × 19.5 / 2 = 123.9: it
    includes 0."""
    current = np.array([0.0, 10.0])
    leader = np.array([20.0, 10.5])
    v = resolve_leader(_point(leader), leader, current, False, minimize=False)
    lo, hi = v.difference["mc_precision"]
    assert v.difference["mean"] == pytest.approx(10.25)
    assert (hi - lo) / 2 == pytest.approx(12.7062047 * 19.5 / math.sqrt(2) / math.sqrt(2), rel=1e-6)
    assert not v.resolved and v.reason.startswith("the Monte Carlo precision")


def test_sweep_says_not_resolved_when_the_ranges_overlap(gift, calm):
    """Points issued = P + N × B (see above). Moving the gift from 50 (the current setting) to 51 adds
    B points, far less than the trial-to-trial spread of P: the ranges overlap, and although 51 gives
    more points in every trial the sweep calls nothing best. 50 -> 100 adds 50 × B: the ranges separate."""
    near = run_sweep(gift, ["birthday_gift.award=50,51"], calm, SMALL, objective="points_issued")
    issued = {int(pt.values[0]): pt.run.trial_totals["program.points_issued"] for pt in near.points}
    assert (issued[51] > issued[50]).all()
    assert np.percentile(issued[51], 5) <= np.percentile(issued[50], 95)  # the ranges overlap
    assert near.best is None and not near.verdict.resolved
    assert near.verdict.leader.values == (Decimal(51),)
    table = text_table(near)
    assert "not resolved: birthday_gift.award = 51 has the best mean points_issued" in table
    assert "No value is called best" in table and "<- best mean, not resolved" in table
    assert "<- best\n" not in table
    doc = near.to_json()
    assert doc["best"] is None and doc["leader"]["resolved"] is False
    assert "overlap" in doc["leader"]["not_resolved_because"]
    md = whatif_report.sweep_markdown(near)
    assert "**Not resolved:**" in md and "| ◀ |" not in md

    far = run_sweep(gift, ["birthday_gift.award=50,100"], calm, SMALL, objective="points_issued")
    issued = {int(pt.values[0]): pt.run.trial_totals["program.points_issued"] for pt in far.points}
    assert np.percentile(issued[100], 5) > np.percentile(issued[50], 95)  # the ranges do not overlap
    assert far.best is not None and far.best.values == (Decimal(100),)
    assert "best: birthday_gift.award = 100" in text_table(far)
    assert "resolved: their ranges of outcomes do not overlap" in text_table(far)


def test_a_tie_with_the_current_setting_is_not_an_improvement(gift, calm):
    """The gift does not change the fixed program cost: every grid point has the same objective, and the
    current setting (50) leads rather than the first grid point."""
    res = run_sweep(gift, ["birthday_gift.award=10,50"], calm, SMALL, objective="program_cost")
    assert res.verdict.is_current and res.best.values == (Decimal(50),)


def test_a_tier_rate_is_a_parameter(calm):
    from pathlib import Path

    from rulelang.syntax.loader import load_file

    sf, _, _ = load_file(str(Path(__file__).resolve().parents[2] / "rules" / "coffee.loyalty"))
    param = resolve_parameter("tier.Gold.rate", sf.program, calm.base)
    assert param.current == 1.2 and param.unit == "stars per 1 USD"
    gold = param.set_program(sf.program, Decimal("1.4")).tiers.tiers[1]
    assert (gold.name, gold.rate, gold.rate_per.amount) == ("Gold", Decimal("1.4"), Decimal(1))
