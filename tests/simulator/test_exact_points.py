"""Points stay exact: bounds in the checker (RL410), int64 lot buckets, a ledger identity that
cannot wrap with the data, and a run whose identity fails exits 1.

Regression tests of the reproducers F14, F15 (tests/fixtures/repro/) and of the engine's
behaviour at and beyond the bounds of rulelang.limits.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rulelang import ir
from rulelang.tools.cli import main
from rulelang.limits import MAX_EVENT_POINTS, MAX_POINTS, MAX_RATE_POINTS_PER_UNIT
from sim_helpers import ROOT, program_with, population_text, rate_rule
from simulator.engine.lots import LotStore
from simulator.trials.montecarlo import simulate
from simulator.engine.program_plan import SimulationError
from simulator.trials.result import ledger_identity_error

REPRO = ROOT / "tests" / "fixtures" / "repro"

BIG_SPENDERS = """
name: big spenders
segments:
  - name: all
    share: 1
    purchase: {r: 6, alpha: 4}
    dropout: {a: 1, b: 20}
    spend: {p: 30, q: 30, gamma: 290000}
    categories: {a: 1}
economics: {gross_margin: 0.3}
response: off
"""  # spend per purchase: mean p·gamma/(q − 1) = 300,000 USD (gamma-gamma)


def test_f14_rate_beyond_the_bound_is_a_located_error(capsys):
    assert main(["check", str(REPRO / "F14_int32_bucket_wrap.loyalty")]) == 1
    err = capsys.readouterr().out + capsys.readouterr().err
    assert "F14_int32_bucket_wrap.loyalty:5:5: error[RL410]" in err
    assert f"{MAX_RATE_POINTS_PER_UNIT:,} points per unit of money" in err  # the bound is in the message


def test_f15_points_beyond_the_bound_are_a_located_error_and_simulate_refuses(capsys):
    path = str(REPRO / "F15_points_1e17_identity_broken.loyalty")
    assert main(["check", path]) == 1
    out = capsys.readouterr()
    assert "F15_points_1e17_identity_broken.loyalty:24:5: error[RL410]" in out.out + out.err
    assert f"{MAX_POINTS:,}" in out.out + out.err
    assert main(["simulate", path, "--customers", "50", "--trials", "1", "--workers", "1"]) == 1


def test_int64_buckets_hold_what_int32_wrapped():
    lots = LotStore(3, 0, "day", 4)
    pts = np.array([3_000_000_000, 5, 2**40], dtype=np.int64)  # 3e9 > 2**31 - 1
    lots.add(np.arange(3), 0, 0, pts)
    lots.add(np.arange(3), 0, 0, pts)
    assert lots.ring[0].tolist() == [6_000_000_000, 10, 2**41]
    nz, expired = lots.expire_slot(0, None, 0)
    assert expired.tolist() == [6_000_000_000, 10, 2**41]
    assert lots.outstanding.tolist() == [0, 0, 0] and lots.audit().tolist() == [0, 0, 0]


def test_the_bucket_recount_finds_a_broken_ledger_the_running_totals_hide():
    lots = LotStore(2, 2, "day", 3)
    lots.add(np.array([0, 1]), 0, 0, np.array([100, 7], dtype=np.int64))
    assert lots.audit().tolist() == [0, 0]
    lots.pend[0, 0] = -(2**31) + 100  # what a wrapped int32 bucket held: the totals still add up
    assert lots.audit()[0] > 0 and lots.audit()[1] == 0
    lots2 = LotStore(1, 0, "month", 2)
    lots2.add(np.array([0]), 0, 0, np.array([50], dtype=np.int64))
    lots2.ring[0, 0] = 40  # ten points lost from a bucket
    assert lots2.audit().tolist() == [10]


def test_the_report_identity_is_computed_in_python_ints():
    # 2**53 + 1 issued, 1 redeemed, 2**53 outstanding: float64 would see no error in either case
    ok = {"program.points_issued": np.array([[2**53, 1]]), "program.points_redeemed": np.array([[0, 1]]),
          "program.points_expired": np.array([[0, 0]]), "program.points_reversed": np.array([[0, 0]]),
          "program.points_outstanding": np.array([[2**53, 2**53]])}
    assert ledger_identity_error(ok) == 0
    broken = dict(ok, **{"program.points_outstanding": np.array([[2**53, 2**53 + 1]])})
    assert float(2**53 + 1) == float(2**53)  # why floats could not tell
    assert ledger_identity_error(broken) == 1


def test_a_legal_high_rate_with_huge_purchases_keeps_the_ledger_exact():
    # 10,000 points per USD (the bound) on purchases of about 300,000 USD: 3e9 points a day,
    # more than an int32 bucket holds; one-month expiry moves them all through the buckets
    pop = population_text(BIG_SPENDERS)
    program = program_with([rate_rule("base", Fraction(MAX_RATE_POINTS_PER_UNIT, 100))],
                           expiry=(ir.Expiry("after_earning", months=1, end_of_month=False),))
    res = simulate(program, pop, customers=300, months=4, trials=1, workers=1, seed=3)
    t = res.per_trial
    revenue_cents = round(100 * t["program.revenue"][0])
    # each purchase earns 100 points per cent: the mean purchase alone is more than an int32 holds
    assert 100 * revenue_cents / t["program.purchases"][0] > 2**31
    # points = 100 per cent of every purchase, exactly (round down of a whole number)
    assert t["program.points_issued"][0] == 100 * revenue_cents
    assert t["program.points_expired"][0] > 0 and t["program.points_outstanding"][0] >= 0
    assert res.ledger_identity_ok and res.ledger_identity_max_abs_error == 0


def test_an_event_beyond_the_bound_stops_the_run_with_rl410():
    # the Python API bypasses the checker: the engine refuses instead of wrapping
    pop = population_text(BIG_SPENDERS)
    huge = program_with([ir.Rule("huge", 0, "purchase", None, (ir.FixedAward(MAX_EVENT_POINTS + 1),), "down", 0,
                                 None, None, None, (), None, None, None)])
    with pytest.raises(SimulationError) as exc:
        simulate(huge, pop, customers=50, months=1, trials=1, workers=1)
    d = exc.value.diagnostics[0]
    assert d.code == "RL410" and f"{MAX_EVENT_POINTS:,}" in d.message


def test_a_broken_ledger_identity_exits_1(monkeypatch, capsys):
    import simulator.trials.montecarlo as mc

    real = mc.simulate

    def broken(*args, **kw):
        res = real(*args, **kw)
        res.ledger_identity_ok, res.ledger_identity_max_abs_error = False, 256
        return res

    monkeypatch.setattr(mc, "simulate", broken)
    code = main(["simulate", "rules/coffee.loyalty", "--population", "simulator/model/populations/default.yaml",
                 "--customers", "50", "--trials", "1", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "ledger identity" in err and "256" in err
