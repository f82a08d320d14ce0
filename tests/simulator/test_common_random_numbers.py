"""Common random numbers across programs, and dropout only on purchases at the customer's own rate."""

from __future__ import annotations

from fractions import Fraction

from sim_helpers import program_with, population_text, rate_rule
from simulator.trials.montecarlo import simulate

POP = """
name: crn
segments:
  - name: all
    share: 1
    purchase: {r: 2, alpha: 4}
    dropout: {a: 1, b: 4}
    spend: {p: 6, q: 4, gamma: 15}
    categories: {a: 0.5, b: 0.5}
    redeem: 0.6
economics: {gross_margin: 0.3}
response:
  goal_gradient: 0.5
  post_reward_lift: 0.2
  post_reward_days: 14
  heavy_buyer_damping: 0
  tier_dropout_reduction: 0
  downgrade_dropout_increase: 0
"""


def _program(rate: Fraction):
    from rulelang import ir

    return program_with([rate_rule("base", rate)], rewards=(ir.Reward("treat", 300, 500, 200),))


def _baseline_series(result) -> dict[str, list]:
    return {k: v for k, v in result.per_trial.items() if k.startswith("baseline.")}


def test_the_baseline_is_the_same_whatever_the_program():
    # The baseline arm draws only from stream 0, in an order that does not depend on the
    # program, so two programs that change behaviour differently see the same baseline.
    pop = population_text(POP)
    one = simulate(_program(Fraction(1, 100)), pop, customers=3000, months=4, trials=2, seed=5, workers=1)
    two = simulate(_program(Fraction(3, 100)), pop, customers=3000, months=4, trials=2, seed=5, workers=1)
    assert one.per_trial["program.points_issued"] != two.per_trial["program.points_issued"]
    assert one.per_trial["program.revenue"] != two.per_trial["program.revenue"]  # behaviour did change
    assert _baseline_series(one) and _baseline_series(one) == _baseline_series(two)
    assert one.monthly["baseline.revenue"] == two.monthly["baseline.revenue"]


def test_a_program_that_only_raises_purchase_rates_does_not_lose_customers():
    # With tier and demotion effects off, the program arm buys whenever the baseline does (same
    # uniform, higher or equal rate), and its extra visits carry no chance to drop out. Dropout
    # uniforms of shared purchases are shared, so every customer who survives in the baseline
    # survives in the program arm: retention can only be higher or equal, in every trial.
    pop = population_text(POP)
    res = simulate(_program(Fraction(1, 100)), pop, customers=3000, months=6, trials=3, seed=2, workers=1)
    prog = res.per_trial["program.retention"]
    base = res.per_trial["baseline.retention"]
    assert all(p >= b for p, b in zip(prog, base)), (prog, base)
    assert res.per_trial["program.purchases"][0] > res.per_trial["baseline.purchases"][0]


def test_the_baseline_is_the_same_whatever_the_referral_settings():
    # Referrals, the referred newcomers' slots and custom events draw from the side stream, and
    # the newcomers' daily uniforms too: changing how many customers refer, or how many of them
    # convert, changes the program arm only (sensitivity and sweeps over referral settings stay paired).
    from rulelang import ir

    friends = ir.Rule("friends", 0, "referral", None, (ir.FixedAward(100, "referrer"), ir.FixedAward(50, "referee")),
                      "down", 0, None, None, None, (), None, None, None)
    program = program_with([rate_rule("base", Fraction(1, 100)), friends])
    text = POP.replace("    redeem: 0.6\n", "    redeem: 0.6\n    refer: REFER\n") \
              .replace("response:\n", "response:\n  referral_action_rate: 1.0\n  referral_conversion: CONV\n")
    runs = [simulate(program, population_text(text.replace("REFER", r).replace("CONV", c)), customers=3000, months=4,
                     trials=2, seed=5, workers=1) for r, c in (("0.05", "0.3"), ("0.2", "0.6"))]
    assert runs[0].per_trial["program.new_customers"] != runs[1].per_trial["program.new_customers"]
    assert _baseline_series(runs[0]) and _baseline_series(runs[0]) == _baseline_series(runs[1])
