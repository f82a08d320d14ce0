"""An existing customer base simulated forward (customers file), checked against the closed forms.

Expected values come from the papers' formulas (tests/simulator/fit_formulas.py: Fader, Hardie &
Lee 2005 for BG/NBD, Fader & Hardie 2005 for Pareto/NBD), never from the simulator. The
tolerances: the trials are independent, so the mean of K trial totals has standard error
sd / sqrt(K) (sd estimated from the trials, or the binomial sd where the count is a sum of
independent customers); a check fails beyond 4.5 standard errors (a false alarm has probability
below 1e-3 even with the t distribution of 11 degrees of freedom). Forward counts also allow 1 %
for the engine's documented discretization (one Bernoulli(λ) purchase chance a day instead of a
Poisson process: for these rates, λ ≈ 0.014 a day, it moves the expected count by about 0.1 %).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

import fit_formulas as ff
from base_helpers import histories, load, one_trial, population, write_customers

DAYS = 365  # 12 months from 2027-01-01
BG = "    purchase: {r: 0.5, alpha: 5}\n    dropout: {a: 2, b: 6}\n"
BG_PARAMS = (0.5, 5.0, 2.0, 6.0)
PARETO = "    purchase: {r: 0.5, alpha: 5}\n    lifetime: {s: 0.5, beta: 10}\n"
PARETO_PARAMS = (0.5, 5.0, 0.5, 10.0)


def _no_repeat(n: int, age: float) -> dict[str, list]:
    return {"id": [f"c{i}" for i in range(n)], "segment": ["main"] * n, "frequency": [0] * n,
            "recency": [0] * n, "age": [age] * n, "mean_spend": [20.0] * n, "spend_count": [1] * n}


def test_bgnbd_customers_without_repeat_are_alive_and_buy_as_the_posterior_says(tmp_path):
    """BG/NBD: x = 0 means alive by definition (P(alive) = 1). Of N such customers of age T,
    the share who buy at least once in D days is E[1 − (1 − λ)^D] with λ per day ~ Gamma(r, α + T)
    (the first purchase comes before any dropout), integrated numerically here."""
    n, age, trials = 3000, 104.0, 4
    write_customers(tmp_path / "customers.csv", _no_repeat(n, age))
    pop = load(population(tmp_path, BG))
    assert ff.bgnbd_p_alive(BG_PARAMS, 0, 0, age) == 1.0
    r, alpha = BG_PARAMS[0], BG_PARAMS[1] + age
    shape, scale = r, 1.0 / (alpha * 7)  # λ per day = λ per week / 7 ~ Gamma(r, rate 7(α + T))
    from scipy.stats import gamma as gamma_dist
    share = integrate.quad(lambda lam: (1 - (1 - min(lam, 1.0)) ** DAYS) * gamma_dist.pdf(lam, shape, scale=scale),
                           0, 1, limit=200, points=[1e-6, 1e-4, 1e-2])[0]
    buyers = []
    for t in range(trials):
        res = one_trial(pop, n, trial=t)
        assert res.totals["alive_at_start"] == n  # every one of them
        buyers.append(res.totals["baseline.buyers"])
    se = np.sqrt(n * share * (1 - share) / trials)
    assert abs(np.mean(buyers) - n * share) < 4.5 * se, (np.mean(buyers), n * share, se)


def test_pareto_customers_without_repeat_are_mostly_dead(tmp_path):
    """Pareto/NBD: a customer silent for two years is probably gone (closed-form P(alive) < 1/2);
    the simulated share alive at the start is a binomial count around N · P(alive)."""
    n, age, trials = 3000, 104.0, 4
    write_customers(tmp_path / "customers.csv", _no_repeat(n, age))
    pop = load(population(tmp_path, PARETO, model="pareto_nbd"))
    p = float(ff.pareto_p_alive(PARETO_PARAMS, 0, 0, age))
    assert p < 0.5
    alive = [one_trial(pop, n, trial=t).totals["alive_at_start"] for t in range(trials)]
    se = np.sqrt(n * p * (1 - p) / trials)
    assert abs(np.mean(alive) - n * p) < 4.5 * se, (np.mean(alive), n * p)


@pytest.mark.parametrize("model, segment, params, p_alive, expected", [
    ("bgnbd", BG, BG_PARAMS, ff.bgnbd_p_alive, ff.bgnbd_conditional_expected),
    ("pareto_nbd", PARETO, PARETO_PARAMS, ff.pareto_p_alive, ff.pareto_conditional_expected),
])
def test_forward_purchases_agree_with_the_conditional_expectation(tmp_path, model, segment, params, p_alive, expected):
    """Σ P(alive | x, t_x, T) customers start alive, and they make Σ E[X(t) | x, t_x, T] purchases
    in the year (t = 365/7 weeks), within the tolerance stated in the module docstring."""
    n, trials = 4000, 12
    h = histories(n, seed=1)
    write_customers(tmp_path / "customers.csv", h)
    pop = load(population(tmp_path, segment, model=model))
    x, t_x, T = (np.array(h[k], dtype=float) for k in ("frequency", "recency", "age"))
    pa = p_alive(params, x, t_x, T)
    want_alive, want_purchases = pa.sum(), expected(params, DAYS / 7, x, t_x, T).sum()
    alive, purchases = [], []
    for t in range(trials):
        res = one_trial(pop, n, trial=t)
        alive.append(res.totals["alive_at_start"])
        purchases.append(int(res.monthly["baseline.purchases"].sum()))
    se_alive = np.sqrt((pa * (1 - pa)).sum() / trials)
    assert abs(np.mean(alive) - want_alive) < 4.5 * se_alive, (np.mean(alive), want_alive)
    se = np.std(purchases, ddof=1) / np.sqrt(trials)
    assert abs(np.mean(purchases) - want_purchases) < 4.5 * se + 0.01 * want_purchases, \
        (np.mean(purchases), want_purchases, se)
    # the program arm of an empty program is the baseline, draw for draw
    assert (res.monthly["program.purchases"] == res.monthly["baseline.purchases"]).all()


def test_spend_follows_the_gamma_gamma_posterior(tmp_path):
    """Customers who spent 80 a transaction on 20 transactions keep spending near that: the
    posterior mean of a transaction is p (γ + x m̄) / (q + p x − 1) (gamma-gamma, JMR 2005)."""
    n, p, q, g = 2000, 6.0, 4.0, 15.0  # prior mean spend p γ / (q − 1) = 30
    cols = _no_repeat(n, 10.0)
    cols["mean_spend"] = [80.0] * n
    cols["spend_count"] = [20] * n
    write_customers(tmp_path / "customers.csv", cols)
    pop = load(population(tmp_path, "    purchase: {r: 4, alpha: 2}\n    dropout: {a: 1, b: 1000}\n"
                          f"    spend: {{p: {p}, q: {q}, gamma: {g}}}\n"))
    want = p * (g + 20 * 80.0) / (q + p * 20 - 1)  # 78.88
    res = one_trial(pop, n, months=2)
    purchases = int(res.monthly["baseline.purchases"].sum())
    mean = res.monthly["baseline.revenue_cents"].sum() / 100 / purchases
    # the mean over purchases varies by the purchases (Gamma(p, ν): relative variance 1/p each) and by
    # the customers' ν (relative variance of 1/ν ~ Gamma(q + p x) is 1/(q + p x − 2)), the latter
    # weighted by Σk²/(Σk)² ≤ 2/n for the customers' purchase counts k (Poisson-gamma, CV below 1)
    se = want * np.sqrt(1 / (p * purchases) + 2 / ((q + p * 20 - 2) * n))
    assert purchases > 5000
    assert abs(mean - want) < 4.5 * se, (mean, want, se)
