"""The simulated population against the analytic BG/NBD and gamma-gamma expectations."""

from __future__ import annotations

from sim_helpers import population_text
from simulator.montecarlo import simulate

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


def test_hyp2f1_series_matches_a_closed_form():
    # 2F1(1, 1; 2; z) = -ln(1 - z) / z
    import math
    assert abs(hyp2f1(1, 1, 2, 0.5) - (-math.log(0.5) / 0.5)) < 1e-12


def test_purchases_match_bgnbd_and_spend_matches_gamma_gamma():
    pop = population_text(POPULATION)
    customers = 20_000
    res = simulate(None, pop, customers=customers, months=6, trials=8, seed=3, workers=2)
    t_weeks = res.meta["days"] / 7.0
    expected = bgnbd_expected_purchases(1.0, 10.0, 2.0, 6.0, t_weeks)
    per_customer = {k: v / customers for k, v in res.totals["baseline.purchases"].items()}
    assert per_customer["low"] <= expected <= per_customer["high"], (per_customer, expected)
    assert abs(per_customer["mean"] / expected - 1) < 0.03
    # gamma-gamma: mean spend per purchase = p·gamma/(q − 1) = 6 × 15 / 3 = 30.00
    check = res.totals["baseline.average_check"]
    assert check["low"] <= 30.0 <= check["high"], check
    # no program and no response: both arms are the same customers with the same draws
    assert res.totals["program.purchases"] == res.totals["baseline.purchases"]
