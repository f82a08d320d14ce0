"""Returns: the population's return model, revenue net of returns, exact reversal of points,
and referrals that find no spare slot being counted, never dropped silently.

The engine's reversals are also compared with the reference interpreter, customer by
customer, in test_differential.py (every example program, with returns in the population).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rulelang import ir
from sim_helpers import program_with, population_text, rate_rule
from simulator.engine.lots import LotStore
from simulator.trials.montecarlo import simulate
from simulator.model.population import load_population
from simulator.engine.returns import OrderBook, ReturnSchedule

POP = """
name: returns
segments:
  - name: all
    share: 1
    purchase: {r: 4, alpha: 4}
    dropout: {a: 1, b: 40}
    spend: {p: 6, q: 4, gamma: 15}
    returns: RETURNS
response: off
economics: {gross_margin: 0.4}
"""


def _pop(returns: str):
    return population_text(POP.replace("RETURNS", returns))


# ---------------------------------------------------------------- population file


def test_return_model_forms_and_defaults():
    pop = _pop("{rate: 0.25, fraction: {0.5: 0.3, 1: 0.7}, delay_days: {min: 3, max: 20}}")
    r = pop.segments[0].returns
    assert (r.rate, r.delay_min, r.delay_max) == (0.25, 3, 20)
    assert r.fraction.values == (0.5, 1.0) and r.fraction.weights == (0.3, 0.7)
    short = _pop("0.1").segments[0].returns
    assert (short.rate, short.fraction.values, short.delay_min, short.delay_max) == (0.1, (1.0,), 1, 30)
    fixed = _pop("{rate: 0.1, delay_days: 7, fraction: 0.5}").segments[0].returns
    assert (fixed.delay_min, fixed.delay_max, fixed.fraction.values) == (7, 7, (0.5,))
    none = population_text(POP.replace("    returns: RETURNS\n", ""))
    assert none.segments[0].returns.rate == 0 and not none.has_returns


@pytest.mark.parametrize("bad, line, words", [
    ("{rate: 1.5}", 9, "returns.rate"),
    ("{rate: 0.1, fraction: {2: 1}}", 9, "(0, 1]"),
    ("{rate: 0.1, delay_days: {min: 9, max: 3}}", 9, "below `min`"),
    ("{rate: 0.1, dealy_days: 3}", 9, "unknown key"),
])
def test_bad_return_models_are_located_errors(bad, line, words):
    pop, diags = load_population(POP.replace("RETURNS", bad), "pop.yaml")
    assert pop is None
    errors = [d for d in diags if d.is_error]
    assert any(words in d.message and d.span.line == line for d in errors), [(d.message, d.span.line) for d in errors]


# ---------------------------------------------------------------- revenue net of returns


def test_returns_happen_at_the_stated_rate_and_share():
    # 20 % of purchases come back one day later, half of them in half: the refunds are
    # 0.2 × (0.5 × 0.5 + 0.5 × 1) = 15 % of the list amount of all purchases, minus the
    # purchases of the last day (their returns fall after the run).
    pop = _pop("{rate: 0.2, fraction: {0.5: 0.5, 1: 0.5}, delay_days: 1}")
    res = simulate(None, pop, customers=4000, months=3, trials=6, seed=4, workers=1)
    rate = res.totals["baseline.return_rate"]
    days = res.meta["days"]
    assert rate["low"] <= 0.2 * (1 - 1 / days) <= rate["high"], rate
    refunds = np.array(res.per_trial["baseline.refunds"])
    gross = np.array(res.per_trial["baseline.revenue"]) + refunds  # revenue is net of refunds
    share = refunds / gross
    assert abs(share.mean() - 0.15) < 0.01, share
    # without a program both arms are the same customers with the same draws
    assert res.per_trial["program.refunds"] == res.per_trial["baseline.refunds"]
    assert res.per_trial["incremental.revenue"] == [0.0] * 6


def test_a_returned_discounted_purchase_leaves_no_revenue_and_no_discount_cost():
    # Every purchase comes back the next day, whole. The program gives 10 % off everything and
    # changes no behaviour, so both arms make the same purchases and get the same list amounts
    # back: incremental revenue is exactly 0. What is left is the last day's purchases, whose
    # returns fall after the run: their revenue, and their discount of 10 % (rounded down to the
    # cent) as the only discount cost.
    pop = _pop("{rate: 1.0, delay_days: 1}")
    ten_off = ir.Rule("ten_off", 0, "purchase", None, (ir.DiscountAction(percent=Fraction(10), fixed_cents=None),), "down", 0,
                      None, None, None, (), None, None, None)
    res = simulate(program_with([ten_off]), pop, customers=3000, months=1, trials=2, seed=9, workers=1)
    assert res.per_trial["incremental.revenue"] == [0.0, 0.0]
    for t in range(2):
        left = res.per_trial["program.revenue"][t]
        cost = res.per_trial["program.cost_discounts"][t]
        purchases = res.per_trial["program.purchases"][t]
        returns = res.per_trial["program.returns"][t]
        assert 0 < left < 0.1 * res.per_trial["program.refunds"][t]
        assert 0.1 * left - 0.01 * (purchases - returns) <= cost + 1e-9 <= 0.1 * left + 1e-9


# ---------------------------------------------------------------- reversal, by hand (§6, §10)


def _store(negative: bool) -> LotStore:
    lots = LotStore(1, 0, "day", 10, negative_allowed=negative)
    lots.book = OrderBook(1)
    return lots


def _earn(lots: LotStore, day: int, points: int, order: bool = False):
    who = np.array([0])
    lots.start_slot(day, False)
    lots.add(who, day, day, np.array([points]))
    if order:
        return lots.book.open(who, day, day, lots.held(who), np.array([points]))
    return None


def _return(lots: LotStore, order_id, order_day: int, target: int, day: int) -> int:
    lots.start_slot(day, False)
    done = lots.reverse(np.array([0]), np.array([target]), np.array([order_day]), np.array([order_day]),
                        np.asarray(order_id), day)
    return int(done[0])


@pytest.mark.parametrize("negative", [False, True])
def test_a_return_takes_its_own_lot_first_and_the_rest_becomes_debt_or_is_forgiven(negative):
    lots = _store(negative)
    _earn(lots, 0, 100)                      # lot a: 100
    b = _earn(lots, 1, 50, order=True)       # lot b: 50, the order that comes back
    lots.start_slot(2, False)
    lots.burn(np.array([0]), np.array([120]))  # oldest first: a 100, b 20 -> b holds 30
    done = _return(lots, b, 1, 50, 3)        # own lot 30, nothing newer left: 20 short
    if negative:
        assert done == 50 and lots.outstanding[0] == -20 and lots.debt[0] == 20
        _earn(lots, 4, 15)                   # repays 15 of the debt
        assert lots.outstanding[0] == -5 and lots.debt[0] == 5 and lots.available(np.array([0]))[0] == -5
        _earn(lots, 5, 10)                   # repays the last 5, keeps 5
        assert lots.outstanding[0] == 5 and lots.debt[0] == 0 and lots.ring[5, 0] == 5
    else:
        assert done == 30 and lots.outstanding[0] == 0
    assert lots.ring[:, 0].sum() == max(int(lots.outstanding[0]), 0)


def test_a_return_then_takes_the_newest_lots_and_other_orders_follow():
    lots = _store(False)
    _earn(lots, 0, 100)                      # x: 100
    p = _earn(lots, 1, 40, order=True)       # p: 40
    q = _earn(lots, 2, 60, order=True)       # q: 60
    lots.start_slot(3, False)
    lots.burn(np.array([0]), np.array([110]))  # x 100, p 10 -> p 30, q 60
    assert _return(lots, p, 1, 40, 4) == 40  # p's own 30, then 10 from the newest lot (q's)
    assert lots.ring[1, 0] == 0 and lots.ring[2, 0] == 50
    row = lots.book.rows_of(np.asarray(q))[0]
    assert (lots.book.A[row], lots.book.R[row]) == (0, 50)
    assert _return(lots, q, 2, 25, 5) == 25  # q's own lot still holds 50
    assert lots.outstanding[0] == 25 and lots.ring[2, 0] == 25
    assert lots.book.live_count == 0


def test_an_expired_order_lot_is_not_taken_again():
    lots = _store(False)
    _earn(lots, 0, 30)
    o = _earn(lots, 1, 20, order=True)
    _earn(lots, 2, 10)
    lots.start_slot(3, False)
    lots.expire_slot(1, None, 3)             # the order's own bucket expires
    row = lots.book.rows_of(np.asarray(o))[0]
    assert (lots.book.A[row], lots.book.R[row]) == (0, 0)
    assert _return(lots, o, 1, 20, 4) == 20  # all 20 from the newest other lots: 10, then 10 of 30
    assert list(lots.ring[:3, 0]) == [20, 0, 0]


def test_the_schedule_returns_rows_on_their_day():
    s = ReturnSchedule()
    s.add(np.array([5, 3, 5]), {"cust": np.array([1, 2, 3])})
    s.add(np.array([5]), {"cust": np.array([4])})
    assert s.pop(4) is None
    assert list(s.pop(3)["cust"]) == [2]
    assert list(s.pop(5)["cust"]) == [1, 3, 4]


# ---------------------------------------------------------------- referrals


REFERRING = """
name: referring
segments:
  - name: all
    share: 1
    purchase: {r: 2, alpha: 4}
    dropout: {a: 1, b: 20}
    refer: REFER
response: {referral_action_rate: 1.0, referral_conversion: 0.5}
"""


def _referral_program():
    rule = ir.Rule("friends", 0, "referral", None, (ir.FixedAward(100, "referrer"), ir.FixedAward(50, "referee")),
                   "down", 0, None, None, None, (), None, None, None)
    return program_with([rule])


def test_referrals_beyond_the_spare_slots_are_counted_and_reported():
    pop = population_text(REFERRING.replace("REFER", "2.0") + "referral_pool: 0.05\n")
    res = simulate(_referral_program(), pop, customers=1000, months=3, trials=2, seed=3, workers=1)
    dropped = res.per_trial["program.referrals_dropped"]
    new = res.per_trial["program.new_customers"]
    # 1000 customers × 2 intents a week × 0.5 for 13 weeks: far more than the 50 spare slots
    assert new == [50.0, 50.0] and all(d > 0 for d in dropped)
    warning = next(w for w in res.warnings if "referrals" in w)
    assert f"{int(sum(dropped)):,} referrals" in warning and "referral_pool" in warning


def test_by_default_every_referral_finds_a_slot():
    # 0.1 intents a week × 0.5 over 13 weeks: 0.65 newcomers per customer on average, far more
    # than a fixed pool of 10 % of the customers would hold; the slots follow the drawn referrals
    pop = population_text(REFERRING.replace("REFER", "0.1"))
    res = simulate(_referral_program(), pop, customers=1000, months=3, trials=2, seed=3, workers=1)
    assert res.per_trial["program.referrals_dropped"] == [0.0, 0.0]
    assert all(n > 300 for n in res.per_trial["program.new_customers"])
    assert not any("referrals" in w for w in res.warnings)
