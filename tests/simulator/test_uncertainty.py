"""How sure we are: the range of outcomes and the Monte Carlo precision (`simulator.trials.stats`).

The coverage and 1/√trials checks run on synthetic per-trial values whose distribution is known,
through the same `summarize` every output uses; the full-simulation version of the coverage
check (many repeated runs) is `benchmarks/uncertainty_coverage.py`. One end-to-end test checks that
an assumption written as a distribution in the population file is drawn per trial and reaches the
engine's numbers.

Expected rates, worked out from the definitions:
- Range of outcomes of K exchangeable trials, numpy's type-7 percentiles: for K = 20m + 1 the 5th
  and 95th percentiles are exactly the order statistics of ranks i = 1 + 0.05 (K − 1) and
  j = 1 + 0.95 (K − 1), and a further value drawn the same way (the truth) falls between them with
  probability (j − i) / (K + 1) (the K + 1 values are exchangeable: each rank is equally likely).
  K = 101: i = 6, j = 96, rate 90 / 102 = 0.8824 (it tends to the nominal 0.90 as K grows).
- Monte Carlo precision: the Student t interval of the mean of normal values covers the true
  mean with probability 0.95 exactly. For a mix of normal and uniform values it is close to
  0.95 at 101 trials.
- Tolerances are 4 binomial standard deviations, √(p (1 − p) / R) over R repeated runs: a
  correct implementation fails with probability below 1e-4 (and the seeds are fixed).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import gammaln

from simulator.trials.stats import precision_half_width, summarize, t975
from simulator.whatif.runner import Arm, Settings, load_population_spec, load_program_spec, run_programs

FIXTURES = Path(__file__).resolve().parents[1] / "whatif" / "fixtures"

R = 4000  # repeated runs
K = 101  # trials per run


def _world(rng: np.random.Generator, shape, draw_assumption: bool = True) -> np.ndarray:
    """One outcome per trial: 1000 × θ + chance, θ ~ Uniform(0.1, 0.3) drawn per trial (the uncertain
    assumption) and chance ~ Normal(0, 20) (which customers, which purchases)."""
    theta = rng.uniform(0.1, 0.3, shape) if draw_assumption else np.full(shape, 0.2)
    return 1000.0 * theta + rng.normal(0.0, 20.0, shape)


def _range_coverage(draw_assumption: bool) -> float:
    rng = np.random.default_rng(20261202)
    trials = _world(rng, (K, R), draw_assumption)  # R runs side by side: trials on axis 0
    truth = _world(rng, (R,))  # the world as it turns out: its own θ and its own chance
    p5, p95 = (np.array(x) for x in summarize(trials)["range"])
    return float(np.mean((p5 <= truth) & (truth <= p95)))


def test_range_of_outcomes_contains_the_truth_at_its_nominal_rate():
    i, j = 1 + 0.05 * (K - 1), 1 + 0.95 * (K - 1)
    assert (i, j) == (6, 96)
    rate = (j - i) / (K + 1)
    tol = 4 * math.sqrt(rate * (1 - rate) / R)  # 0.0204
    assert _range_coverage(True) == pytest.approx(rate, abs=tol)


def test_a_range_that_ignores_the_uncertain_assumptions_misses_the_truth():
    """The same check with trials that keep θ at its mean (the chance spread only): the truth's θ
    still varies (sd 200 / √12 = 57.7 against the chance sd 20), so the range of ±1.645 × 20
    catches it far less often than 88 % (about 0.45: the check above can fail)."""
    assert _range_coverage(False) < 0.6


def test_monte_carlo_precision_covers_the_true_mean_at_95_percent():
    rng = np.random.default_rng(7)
    trials = _world(rng, (K, R))
    s = summarize(trials)
    lo, hi = np.array(s["low"]), np.array(s["high"])
    true_mean = 1000.0 * 0.2  # E[1000 θ + chance]
    tol = 4 * math.sqrt(0.95 * 0.05 / R)  # 0.0138
    assert float(np.mean((lo <= true_mean) & (true_mean <= hi))) == pytest.approx(0.95, abs=tol)
    # and the range of outcomes is no confidence interval of the mean: it covers the mean every time
    # here, being about 1.645 × 61 wide on each side against the precision's 1.984 × 61 / √101
    p5, p95 = (np.array(x) for x in s["range"])
    assert np.mean((p95 - p5) / (hi - lo)) > 4


def _c4(n: int) -> float:
    """E[s] / σ for n normal values: √(2 / (n − 1)) Γ(n / 2) / Γ((n − 1) / 2)."""
    return math.sqrt(2 / (n - 1)) * math.exp(gammaln(n / 2) - gammaln((n - 1) / 2))


def test_monte_carlo_precision_shrinks_as_one_over_root_trials():
    """Normal per-trial values with σ = 50: the half-width is t(0.975, n − 1) × s / √n, so its mean is
    t × c4(n) × σ / √n. From 25 to 100 trials it falls to t(99) c4(100) / (2 t(24) c4(25)) = 0.4845
    of its size: 0.5 from 1/√trials times the t quantiles' ratio 1.984 / 2.064 and the c4 ratio
    1.0079. Averaged over 2000 repeated runs, s / σ has a relative sd of 1 / √(2 (n − 1) 2000) (0.32 %
    at n = 25): 2 % is over 5 of those."""
    rng = np.random.default_rng(99)
    sigma, runs = 50.0, 2000
    half = {}
    for n in (25, 100):
        values = rng.normal(1000.0, sigma, (n, runs))
        s = summarize(values)
        half[n] = (np.array(s["high"]) - np.array(s["low"])) / 2
        want = t975(n - 1) * _c4(n) * sigma / math.sqrt(n)
        assert float(half[n].mean()) == pytest.approx(want, rel=0.02)
    assert t975(24) == pytest.approx(2.0639, abs=1e-4) and t975(99) == pytest.approx(1.9842, abs=1e-4)
    expected = 0.5 * (t975(99) * _c4(100)) / (t975(24) * _c4(25))
    assert expected == pytest.approx(0.4845, abs=1e-4)
    assert float(half[100].mean() / half[25].mean()) == pytest.approx(expected, rel=0.02)
    # precision_half_width (the guardrails' ±) is the same number
    assert precision_half_width(values[:, 0]) == pytest.approx(half[100][0], rel=1e-12)


def test_the_range_of_outcomes_does_not_shrink_with_more_trials():
    """p95 − p5 estimates 2 × 1.645 σ = 164.5 for σ = 50 however many trials are run (at 101 trials the
    type-7 ends sit at ranks 6 and 96, a little inside: Blom's approximation puts them at
    ±Φ⁻¹((96 − 0.375) / 101.25) = ±1.593 σ, 159.3 wide). Four times the trials leave it about the
    same (ratio near 1), while the Monte Carlo precision halves."""
    rng = np.random.default_rng(5)
    width, half = {}, {}
    for n in (101, 404):
        s = summarize(rng.normal(0.0, 50.0, (n, 500)))
        width[n] = float(np.mean(np.array(s["range"][1]) - np.array(s["range"][0])))
        half[n] = float(np.mean(np.array(s["high"]) - np.array(s["low"]))) / 2
        assert width[n] == pytest.approx(2 * 1.6449 * 50.0, rel=0.05)
    assert width[404] / width[101] == pytest.approx(1.0, abs=0.05)
    assert half[404] / half[101] == pytest.approx(0.5, abs=0.02)


def test_a_distribution_in_the_population_file_is_drawn_per_trial_and_reaches_the_engine(tmp_path):
    """The spend scale γ written as {uniform: [5, 15]}: every trial draws its own γ_t. Baseline spend
    per purchase is proportional to γ and nothing else depends on it (no behavioural response), and
    the draw has its own random stream, so trial t's baseline revenue is γ_t / 10 times the revenue
    of the same trial with γ fixed at 10 (to the cent rounding of each basket)."""
    text = (FIXTURES / "calm.yaml").read_text(encoding="utf-8")
    assert "gamma: 10.0" in text
    (tmp_path / "fixed.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "uncertain.yaml").write_text(text.replace("gamma: 10.0", "gamma: {uniform: [5, 15]}"), encoding="utf-8")
    program = load_program_spec(str(FIXTURES / "gift.loyalty")).program
    settings = Settings(customers=50, months=1, trials=20, seed=4, workers=1)
    fixed = run_programs([Arm("fixed", program)], load_population_spec(str(tmp_path / "fixed.yaml")), settings)[0]
    unc = run_programs([Arm("uncertain", program)], load_population_spec(str(tmp_path / "uncertain.yaml")), settings)[0]
    gammas = np.array([p.segments[0].spend_gamma for p in unc.populations])
    assert len(set(gammas.tolist())) == 20 and ((5 <= gammas) & (gammas <= 15)).all()
    np.testing.assert_allclose(unc.trial_totals["baseline.revenue"],
                               gammas / 10 * fixed.trial_totals["baseline.revenue"], rtol=1e-3)
    assert unc.result.meta["uncertain_parameters"] == ["segments[everyone].spend.gamma ~ uniform(5, 15)"]
    # the range of outcomes widens with the uncertain assumption; the fixed run's is chance alone. The
    # relative sd of γ_t is (10 / √12) / 10 = 0.29 against a chance spread of about 0.17 at 50 customers
    # in one month, so the range is about √(1 + (0.29 / 0.17)²) = 2 times as wide
    lo_f, hi_f = fixed.result.totals["baseline.revenue"]["range"]
    lo_u, hi_u = unc.result.totals["baseline.revenue"]["range"]
    assert hi_u - lo_u > 1.5 * (hi_f - lo_f)
