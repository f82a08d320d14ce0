"""The simulated population against the analytic BG/NBD and gamma-gamma expectations.

The engine simulates days: a customer buys at most once a day, with probability
q = min(λ, 1). Its expected purchase count is worked out exactly by quadrature (and checked
to stay within 0.5 % of BG/NBD's continuous-time eq. 9, which the same quadrature reproduces);
the simulated mean must cover it within the Monte Carlo interval."""

from __future__ import annotations

import numpy as np
import pytest

from sim_helpers import population_text
from simulator.trials.montecarlo import simulate

POPULATION = """
name: analytic check
time_unit: week
segments:
  - name: all
    share: 1
    purchase: {r: 1.0, alpha: 10.0}
    dropout: {a: 2.0, b: 6.0}
    spend: {p: 6.0, q: 4.0, gamma: 15.0}
    birthday_known: 0
response: off
economics: {gross_margin: 0.3}
referral_pool: 0
"""


def hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss hypergeometric series, |z| < 1."""
    term, total, k = 1.0, 1.0, 0
    while abs(term) > 1e-15 * abs(total):
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        total += term
        k += 1
    return total


def bgnbd_expected_purchases(r: float, alpha: float, a: float, b: float, t: float) -> float:
    """E[X(t)], Fader, Hardie & Lee (2005), eq. 9."""
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def expected_purchases(r: float, alpha: float, a: float, b: float, days: int, discrete: bool) -> float:
    """E[X(days)] by quadrature over λ ~ Gamma(r, rate α/week) and p ~ Beta(a, b).

    Given λ (per day) and p, a customer who drops out after each purchase with chance p buys
    E[X | λ, p] = (1 − E[(1 − p)^N]) / p, N the purchases a customer who never left would make:
    Poisson(λ·days) in BG/NBD, giving (1 − e^(−λ p days)) / p; in the engine's days, at most one
    purchase a day with probability q = min(λ, 1), N ~ Binomial(days, q), giving
    (1 − (1 − q p)^days) / p."""
    from math import exp, lgamma

    x, wx = np.polynomial.laguerre.laggauss(80)  # ∫ e^(−x) f(x) dx, x = α_day·λ
    alpha_day = alpha * 7.0
    lam = x / alpha_day
    w_lam = wx * x ** (r - 1) / exp(lgamma(r))
    t, wt = np.polynomial.legendre.leggauss(80)  # p on [0, 1]
    p = (t + 1) / 2
    w_p = wt / 2 * p ** (a - 1) * (1 - p) ** (b - 1) / exp(lgamma(a) + lgamma(b) - lgamma(a + b))
    L, P = np.meshgrid(lam, p, indexing="ij")
    if discrete:
        f = (1 - (1 - np.minimum(L, 1.0) * P) ** days) / P
    else:
        f = (1 - np.exp(-L * P * days)) / P
    return float((w_lam[:, None] * w_p[None, :] * f).sum())


def test_quadrature_reproduces_equation_9_and_days_stay_close_to_it():
    days = 181
    eq9 = bgnbd_expected_purchases(1.0, 10.0, 2.0, 6.0, days / 7.0)
    assert abs(expected_purchases(1.0, 10.0, 2.0, 6.0, days, discrete=False) / eq9 - 1) < 1e-9
    # at most one purchase a day: a Binomial count is less spread than a Poisson one, and the
    # expected count is concave in it, so the days model buys a little more (0.1 % here)
    ratio = expected_purchases(1.0, 10.0, 2.0, 6.0, days, discrete=True) / eq9
    assert 1.0 < ratio < 1.005


def test_hyp2f1_series_matches_a_closed_form():
    # 2F1(1, 1; 2; z) = -ln(1 - z) / z
    import math
    assert abs(hyp2f1(1, 1, 2, 0.5) - (-math.log(0.5) / 0.5)) < 1e-12


def _interval_999(values) -> tuple[float, float]:
    """The 99.9 % Student-t interval of the mean of per-trial values. A fixed-seed test against the
    report's 95 % interval would fail for one seed in twenty although nothing is wrong; at 99.9 %
    a seed fails one time in a thousand, while a bias of a few standard errors still fails."""
    v = np.asarray(values, dtype=float)
    assert v.size == 8  # t(0.9995, 7 degrees of freedom) = 5.408 (statistical tables)
    half = 5.408 * v.std(ddof=1) / np.sqrt(v.size)
    return v.mean() - half, v.mean() + half


def test_purchases_match_bgnbd_and_spend_matches_gamma_gamma():
    pop = population_text(POPULATION)
    customers = 20_000
    res = simulate(None, pop, customers=customers, months=6, trials=8, seed=3, workers=2)
    t_weeks = res.meta["days"] / 7.0
    # the exact expectation of the simulated model (days), and BG/NBD's own eq. 9 close to it
    expected = expected_purchases(1.0, 10.0, 2.0, 6.0, res.meta["days"], discrete=True)
    low, high = _interval_999(np.array(res.per_trial["baseline.purchases"]) / customers)
    assert low <= expected <= high, (low, high, expected)
    mean = np.mean(res.per_trial["baseline.purchases"]) / customers
    assert abs(mean / bgnbd_expected_purchases(1.0, 10.0, 2.0, 6.0, t_weeks) - 1) < 0.03
    # the report's interval is the 95 % one of the same per-trial values: narrower, same centre
    report = res.totals["baseline.purchases"]
    assert low * customers < report["low"] < report["high"] < high * customers
    # gamma-gamma: mean spend per purchase = p·gamma/(q − 1) = 6 × 15 / 3 = 30.00
    low, high = _interval_999(res.per_trial["baseline.average_check"])
    assert low <= 30.0 <= high, (low, high)
    # no program and no response: both arms are the same customers with the same draws
    assert res.totals["program.purchases"] == res.totals["baseline.purchases"]


def test_the_post_reward_lift_lasts_exactly_post_reward_days():
    # a reward on day 10 with post_reward_days 7 lifts the purchase rate on days 10..16 and not
    # on day 17, whether or not the customer's balance changes again (F: it used to last until
    # the next balance change, about two days longer)
    from rulelang import ir
    from sim_helpers import program_with
    from simulator.model.strings import StringTable
    from simulator.model.draws import segment_tables
    from simulator.engine.day_loop import ChunkSim
    from simulator.trials.montecarlo import RunSettings, calendar_for
    from simulator.engine.program_plan import build_plan

    pop = population_text("""
name: lift
segments:
  - name: all
    share: 1
    purchase: {r: 2, alpha: 10}
    dropout: {a: 1, b: 8}
    spend: {p: 6, q: 4, gamma: 15}
    categories: {a: 1}
economics: {gross_margin: 0.3}
response:
  goal_gradient: 0
  post_reward_lift: 0.5
  post_reward_days: 7
  heavy_buyer_damping: 0
""")
    program = program_with([], rewards=(ir.Reward("r", 10, None, 0),))
    settings = RunSettings(customers=20, months=2)
    strings = StringTable()
    plan = build_plan(program, calendar_for(settings, pop), strings)
    sim = ChunkSim(plan, pop, segment_tables(pop, strings), strings, 0, 0, [(0, 20)])
    sim._setup()
    c = np.array([3])
    q0 = float(sim.q0[3])
    sim._post_reward(c, 10)
    sim._refresh_q(c, 10)
    lifted = float(sim.q_prog[3])
    assert lifted == pytest.approx(min(1.0, q0 * 1.5), rel=1e-6)  # weight 1 (no damping)
    for day in range(11, 17):  # still inside the window: nothing ends, and a refresh keeps the lift
        sim._end_post_windows(day)
        assert float(sim.q_prog[3]) == lifted, day
        sim._refresh_q(c, day)
        assert float(sim.q_prog[3]) == lifted, day
    sim._end_post_windows(17)  # day 10 + 7: the first day after the window
    assert float(sim.q_prog[3]) == pytest.approx(q0, rel=1e-6)
