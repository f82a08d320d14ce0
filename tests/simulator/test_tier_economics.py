"""Tier economics and the accounting section: the tier flows add up to the run's own totals, merge
exactly over workers and chunks, and the per-tier arithmetic follows its definition."""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest

from test_determinism_blocks import BLOCK_SIZE, CUSTOMERS, _population, _program
from simulator.accounting.views import attach_accounting, tier_economics_json
from simulator.trials.montecarlo import simulate


@pytest.fixture(scope="module")
def runs():
    program, pop = _program("rules/coffee.loyalty"), _population()
    kw = dict(customers=CUSTOMERS, months=3, trials=2, seed=7, block_size=BLOCK_SIZE)
    out = {}
    for w, c in [(1, 1), (1, 3), (2, 2)]:
        r = simulate(program, pop, workers=w, chunk_size=c * BLOCK_SIZE, **kw)
        attach_accounting(r, program)
        out[w, c] = r
    return program, out


def test_tier_flows_add_up_to_the_run_totals(runs):
    _, out = runs
    f = out[1, 1].ledger_flows
    # only members earn points: summed over the tiers, the points issued are the program arm's own
    # monthly totals, the same integers per trial and month
    assert np.array_equal(f["tier.points_issued"].sum(axis=2), f["program.points_issued"])
    # this population enrols 90 % of its customers over two months: the members' revenue is part of the arm's
    assert (f["tier.revenue_cents"].sum(axis=2) < f["program.revenue_cents"]).all()
    assert (f["tier.revenue_cents"].sum(axis=2) > 0).all()
    assert f["tier.points_issued"][:, :, 1:].sum() > 0  # some points were earned above the base tier


def test_tier_flows_and_accounting_merge_exactly(runs):
    _, out = runs
    ref = out[1, 1]
    for key, r in out.items():
        for k, v in ref.ledger_flows.items():
            assert np.array_equal(v, r.ledger_flows[k]), (key, k)
        assert r.accounting == ref.accounting, key


def test_tier_economics_by_definition():
    # one trial, one month, two tiers; margin 30 %, point cost 0.5 cents, Gold multiplies by 1.25
    program = SimpleNamespace(point_cost_cents=Fraction(1, 2), tiers=SimpleNamespace(tiers=[
        SimpleNamespace(name="Base", multiplier=None, discount_percent=None),
        SimpleNamespace(name="Gold", multiplier=Fraction(5, 4), discount_percent=Fraction(5))]))
    flows = {
        "tier.revenue_cents": np.array([[[10_000, 50_000]]]), "tier.baseline_revenue_cents": np.array([[[9_000, 40_000]]]),
        "tier.discount_cents": np.array([[[0, 1_500]]]), "tier.perk_cents": np.array([[[0, 300]]]),
        "tier.points_issued": np.array([[[100, 1_000]]]), "tier.members": np.array([[[7, 3]]]),
    }
    doc = tier_economics_json(flows, program, np.array([0.3]))
    gold = doc["by_tier"]["Gold"]
    # incremental revenue 500 - 400 = 100 USD; x 0.3 = 30 USD of gross margin
    assert gold["incremental_revenue"]["mean"] == 100.0 and gold["incremental_gross_margin"]["mean"] == 30.0
    # points 1000 x 0.005 USD = 5 USD; the multiplier's share 5 x 0.25 / 1.25 = 1 USD
    assert gold["points_cost"]["mean"] == 5.0 and gold["multiplier_points_cost"]["mean"] == 1.0
    # incremental margin 30 - perks 3 - discounts 15 - points 5 = 7 USD
    assert gold["incremental_margin"]["mean"] == 7.0
    assert gold["members"]["mean"] == 3
    base = doc["by_tier"]["Base"]
    # 100 - 90 = 10 USD x 0.3 = 3 USD - points 0.50 USD = 2.50 USD; no multiplier
    assert base["incremental_margin"]["mean"] == 2.5 and base["multiplier_points_cost"]["mean"] == 0.0
