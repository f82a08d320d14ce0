"""Gamma-gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis", JMR; Fader & Hardie 2013, "The gamma-gamma model of
monetary value", note 025).

Takes: per customer the number of transactions x whose amounts are averaged and their mean m_x
(currency units), and parameters (p, q, γ) in the order of `NAMES`. Gives: log-likelihood
contributions, the maximum-likelihood fit, the conditional expected mean spend and posterior draws
of each customer's spend scale ν.

The model, in the parametrization of `simulator.model.population` (so a fit goes into a population's
`spend:` block as it is): each transaction's amount z ~ Gamma(shape p, rate ν), ν ~ Gamma(shape q,
rate γ) across customers; the population mean spend is pγ/(q−1). The mean of x amounts is
Gamma(px, rate xν), so mixing over ν (a gamma integral)
  f(m_x | x) = Γ(px+q) / (Γ(px) Γ(q)) · γ^q · x^(px) · m_x^(px−1) / (γ + x m_x)^(px+q),
and the posterior of ν given (x, m_x) is Gamma(px+q, rate γ + x·m_x), whence
  E[Z | x, m_x] = p (γ + x m_x) / (px + q − 1).
Only customers with x > 0 carry information (the papers fit the repeat buyers, m_x the mean of the
repeat transactions); rows with x = 0 are left out of the fit and get the population mean.
The model assumes spend independent of purchase frequency; `frequency_spend_correlation` gives the
correlation a fit report should show beside it.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simulator.model.estimation import ModelFit
from simulator.model.estimation.mle import Problem, maximize

NAMES = ("spend.p", "spend.q", "spend.gamma")
_HINT = ("spend per transaction hardly differs between customers or within a customer; "
         "check the amounts (a constant price?) or fit more repeat buyers")
RUNAWAY_HINTS = {"spend.p": _HINT, "spend.q": _HINT, "spend.gamma": _HINT}


def _params(params) -> tuple[float, float, float]:
    p, q, gamma = (float(v) for v in params)
    return p, q, gamma


def loglik(params, x, mean_spend) -> np.ndarray:
    """Per-customer log-density of the mean spend m_x over x > 0 transactions (module docstring)."""
    p, q, gamma = _params(params)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(mean_spend, dtype=float))
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)
            + px * np.log(x) + (px - 1) * np.log(m) - (px + q) * np.log(gamma + x * m))


def gradient(params, x, mean_spend, weights) -> np.ndarray:
    """∂/∂(p, q, γ) of Σ w_i ℓ_i (analytic)."""
    p, q, gamma = _params(params)
    x, m = np.asarray(x, dtype=float), np.asarray(mean_spend, dtype=float)
    px = p * x
    log_total = np.log(gamma + x * m)
    d_p = x * (special.digamma(px + q) - special.digamma(px) + np.log(x) + np.log(m) - log_total)
    d_q = special.digamma(px + q) - special.digamma(q) + np.log(gamma) - log_total
    d_gamma = q / gamma - (px + q) / (gamma + x * m)
    return np.array([np.sum(weights * d) for d in (d_p, d_q, d_gamma)])  # np.sum: no BLAS threads per call


def _repeat_buyers(x, mean_spend, weights):
    x = np.asarray(x, dtype=float).ravel()
    m = np.asarray(mean_spend, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (len(x) == len(m) == len(w)):
        raise ValueError(f"x, mean_spend and weights differ in length: {len(x)}, {len(m)}, {len(w)}")
    if np.any(~np.isfinite(x)) or np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x (transactions averaged) must be whole numbers >= 0")
    keep = (x > 0) & (w > 0)
    if np.any(~np.isfinite(m[keep])) or np.any(m[keep] <= 0):
        raise ValueError("the mean spend of a customer with x > 0 must be a positive number")
    return x[keep], m[keep], w[keep]


def fit(x, mean_spend, *, weights=None) -> ModelFit:
    """Maximum-likelihood (p, q, γ) on the customers with x > 0; standard errors from the Hessian.
    Raises `FitError` (RL852 without any repeat buyer, RL850 when a parameter runs away)."""
    from simulator.model.estimation import TOO_LITTLE_DATA, FitError

    xs, ms, w = _repeat_buyers(x, mean_spend, weights)
    if len(xs) < 2:
        raise FitError("fewer than two customers bought more than once, so the spend model (gamma-gamma) cannot be "
                       "fitted", None, "use a longer calibration period, so that repeat purchases are seen",
                       TOO_LITTLE_DATA)
    mean = float(np.dot(w, ms) / w.sum())
    start = np.array([1.0, 2.0, mean])  # population mean pγ/(q−1) = the observed mean
    problem = Problem("gamma_gamma", NAMES, lambda th: float(np.sum(w * loglik(th, xs, ms))), start,
                      int(round(w.sum())), lambda th: gradient(th, xs, ms, w), RUNAWAY_HINTS)
    return maximize(problem)


def population_mean_spend(params) -> float:
    """E[Z] = pγ/(q−1) (infinite for q <= 1)."""
    p, q, gamma = _params(params)
    return p * gamma / (q - 1) if q > 1 else float("inf")


def conditional_mean_spend(params, x, mean_spend) -> np.ndarray:
    """E[Z | x, m_x] = p(γ + x m_x)/(px + q − 1): the customer's expected spend per transaction
    (the population mean pγ/(q−1) where x = 0)."""
    p, q, gamma = _params(params)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(mean_spend, dtype=float))
    m = np.where(x > 0, m, 0.0)
    with np.errstate(divide="ignore"):
        return p * (gamma + x * m) / (p * x + q - 1)


def posterior_draw(params, x, mean_spend, rng: np.random.Generator) -> np.ndarray:
    """ν per customer from its posterior Gamma(px + q, rate γ + x m_x) (the prior where x = 0)."""
    p, q, gamma = _params(params)
    x, m = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(mean_spend, dtype=float))
    m = np.where(x > 0, m, 0.0)
    return rng.gamma(p * x + q) / (gamma + x * m)


def frequency_spend_correlation(x, mean_spend) -> float:
    """Pearson correlation between x and m_x over the customers with x > 0 (the model assumes none)."""
    xs, ms, _ = _repeat_buyers(x, mean_spend, None)
    if len(xs) < 3 or np.std(xs) == 0 or np.std(ms) == 0:
        return float("nan")
    return float(np.corrcoef(xs, ms)[0, 1])


__all__ = ["NAMES", "loglik", "gradient", "fit", "population_mean_spend", "conditional_mean_spend",
           "posterior_draw", "frequency_spend_correlation"]
