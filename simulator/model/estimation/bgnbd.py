"""BG/NBD: the beta-geometric / negative binomial model of repeat purchasing (Fader, Hardie & Lee 2005,
"Counting your customers the easy way: an alternative to the Pareto/NBD model", Marketing Science).

Takes: per-customer summaries x (repeat transactions), t_x (time of the last one, from the first
transaction) and T (time from the first transaction to the end of the calibration period), and
parameters (r, α, a, b) in the order of `NAMES`. Gives: log-likelihood contributions, the maximum-
likelihood fit, P(alive), E[X(t)], P(X(t) = x), E[Y(t) | history] and posterior draws of the traits.

The model (the simulator's `model: bgnbd`): while alive a customer buys at rate λ (a Poisson process),
λ ~ Gamma(r, rate α); after each repeat purchase they drop out with probability p, p ~ Beta(a, b).

Likelihood of one customer (FHL 2005, eq. 6), in log space so that large x and long histories stay
finite (Hardie's note "Overcoming the BG/NBD model's #NUM! error problem", 2013):
  ℓ = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
      + ln[ (α+T)^−(r+x) + 1{x>0} · a/(b+x−1) · (α+t_x)^−(r+x) ],
the last term as logaddexp of the two logs.

Posterior of the traits given the history (used to simulate an existing customer forward). Given
(λ, p) the likelihood has two parts: the customer is alive at T, λ^x e^(−λT) (1−p)^x, or (x > 0) they
dropped out right after the last purchase at t_x, λ^x e^(−λ t_x) p (1−p)^(x−1). Each part times the
prior Gamma(r, α) × Beta(a, b) is a product of a gamma and a beta kernel, so the posterior is the
mixture of
  alive: λ ~ Gamma(r+x, α+T),   p ~ Beta(a, b+x),
         weight w_A = Γ(r+x) α^r / (Γ(r) (α+T)^(r+x)) · B(a, b+x) / B(a, b);
  dead:  λ ~ Gamma(r+x, α+t_x), p ~ Beta(a+1, b+x−1),
         weight w_D = Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x)) · B(a+1, b+x−1) / B(a, b),
the weights being the components' marginal likelihoods (their sum is the likelihood above, since
B(a+1, b+x−1)/B(a, b+x) = a/(b+x−1)). P(alive) = w_A / (w_A + w_D), FHL's eq. 11.

E[X(t)] for a new customer (FHL eq. 9) uses the Gaussian hypergeometric function; here in its Euler
transform 2F1(r, b; c; z) = (1−z)^(c−r−b) 2F1(c−r, c−b; c; z), c = a+b−1, z = t/(α+t):
  E[X(t)] = c/(a−1) · [1 − (α/(α+t))^(a−1) · 2F1(c−r, a−1; c; z)],
whose 2F1 stays near 1 (the original form is a huge 2F1 times a tiny power for the conditional
expectation with large x). Within 1e-4 of a = 1 or of a + b = 1 the closed form is 0/0 and E[X(t)] is
interpolated between closed forms just outside; a closed form that is still not finite is replaced by
E_p[(1 − (α/(α+pt))^r)/p], p ~ Beta(a, b), by Gauss–Jacobi quadrature.
The conditional expectation (FHL eq. 10) is P(alive) × the same function at the alive posterior
(r+x, α+T, a, b+x).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simulator.model.estimation import ModelFit
from simulator.model.estimation.mle import fit_counts

NAMES = ("purchase.r", "purchase.alpha", "dropout.a", "dropout.b")
RUNAWAY_HINTS = {
    "purchase.r": "r and alpha grow together when purchase rates hardly vary between customers; "
                  "try a longer calibration period, or segments fitted separately",
    "purchase.alpha": "r and alpha grow together when purchase rates hardly vary between customers; "
                      "try a longer calibration period, or segments fitted separately",
    "dropout.a": "the data show almost no dropout; try model pareto_nbd or a longer calibration period",
    "dropout.b": "nobody seems to drop out; try model pareto_nbd or a longer calibration period",
}
_QUADRATURE_NODES = 96
_NEAR = 1e-4  # how close to a = 1 or a + b = 1 the closed form of E[X(t)] is not used


def _params(params) -> tuple[float, float, float, float]:
    r, alpha, a, b = (float(v) for v in params)
    return r, alpha, a, b


def _arrays(*values):
    return np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))


def _log_parts(params, x, t_x, T):
    """(ln w_A, ln w_D) per customer, ln w_D = −inf where x = 0 (see the module docstring)."""
    r, alpha, a, b = _params(params)
    x, t_x, T = _arrays(x, t_x, T)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    log_alive = common + special.betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    xs = np.where(repeat, x, 1.0)  # any value where x = 0: that part is dropped
    log_dead = common + special.betaln(a + 1, b + xs - 1) - (r + x) * np.log(alpha + t_x)
    return log_alive, np.where(repeat, log_dead, -np.inf)


def loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood contributions ℓ_i (FHL 2005 eq. 6, in log space)."""
    log_alive, log_dead = _log_parts(params, x, t_x, T)
    return np.logaddexp(log_alive, log_dead)


def gradient(params, x, t_x, T, weights) -> np.ndarray:
    """∂/∂(r, α, a, b) of Σ w_i ℓ_i (analytic)."""
    r, alpha, a, b = _params(params)
    log_alive, log_dead = _log_parts(params, x, t_x, T)
    w_dead = np.exp(log_dead - np.logaddexp(log_alive, log_dead))  # P(dead | history)
    w_alive = 1.0 - w_dead
    repeat = x > 0
    xs = np.where(repeat, x, 1.0)
    dg = special.digamma
    log_aT, log_at = np.log(alpha + T), np.log(alpha + t_x)
    d_r = dg(r + x) - dg(r) + np.log(alpha) - w_alive * log_aT - w_dead * log_at
    d_alpha = r / alpha - (r + x) * (w_alive / (alpha + T) + w_dead / (alpha + t_x))
    d_a = dg(a + b) - dg(a + b + x) + w_dead / a
    d_b = dg(b + x) - dg(a + b + x) - dg(b) + dg(a + b) - np.where(repeat, w_dead / (b + xs - 1), 0.0)
    return np.array([np.sum(weights * d) for d in (d_r, d_alpha, d_a, d_b)])


def fit(x, t_x, T, *, weights=None) -> ModelFit:
    """Maximum-likelihood (r, α, a, b); standard errors from the Hessian. Raises `FitError`."""
    return fit_counts("bgnbd", "BG/NBD", NAMES, loglik, x, t_x, T, weights,
                      lambda rate, mean_T: np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, 3.0]), gradient, RUNAWAY_HINTS)


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(the customer is still alive at T | x, t_x, T) (FHL eq. 11)."""
    log_alive, log_dead = _log_parts(params, x, t_x, T)
    return np.exp(log_alive - np.logaddexp(log_alive, log_dead))


def _closed_form(r, alpha, a, b, t) -> np.ndarray:
    """c/(a−1) · [1 − (α/(α+t))^(a−1) 2F1(c−r, a−1; c; t/(α+t))], c = a+b−1 (Euler-transformed eq. 9)."""
    c = a + b - 1
    with np.errstate(all="ignore"):
        bracket = 1.0 - np.exp((a - 1) * (np.log(alpha) - np.log(alpha + t))) * special.hyp2f1(c - r, a - 1, c, t / (alpha + t))
        return c / (a - 1) * bracket


def _expected_count(r, alpha, a, b, t) -> np.ndarray:
    """E[X(t)] for customers with (possibly per-customer) parameters, t >= 0 (module docstring).

    The closed form is 0/0 at a = 1 and at a + b = 1 (c = 0); within `_NEAR` of either, E[X(t)] (smooth
    in a and b) is interpolated linearly between closed forms `_NEAR` and 2·`_NEAR` away (error of order
    _NEAR², rounding of order 1e-16/_NEAR). What is still not finite goes to quadrature."""
    arrays = _arrays(r, alpha, a, b, t)
    shape = arrays[0].shape
    r, alpha, a, b, t = (np.array(v, dtype=float).ravel() for v in arrays)
    out = np.asarray(_closed_form(r, alpha, a, b, t), dtype=float)
    near_a = np.abs(a - 1) < _NEAR
    if np.any(near_a):
        m = near_a
        lo = _closed_form(r[m], alpha[m], 1 - _NEAR, b[m], t[m])
        hi = _closed_form(r[m], alpha[m], 1 + _NEAR, b[m], t[m])
        out[m] = lo + (a[m] - (1 - _NEAR)) / (2 * _NEAR) * (hi - lo)
    near_c = (np.abs(a + b - 1) < _NEAR) & ~near_a
    if np.any(near_c):
        m = near_c
        one = _closed_form(r[m], alpha[m], a[m], 1 - a[m] + _NEAR, t[m])
        two = _closed_form(r[m], alpha[m], a[m], 1 - a[m] + 2 * _NEAR, t[m])
        out[m] = one + (a[m] + b[m] - 1 - _NEAR) / _NEAR * (two - one)
    bad = ~np.isfinite(out) | (out < 0)
    if np.any(bad):
        out[bad] = _expected_count_quadrature(r[bad], alpha[bad], a[bad], b[bad], t[bad])
    return np.where(t > 0, out, 0.0).reshape(shape)


def _expected_count_quadrature(r, alpha, a, b, t) -> np.ndarray:
    """E_p[(1 − (α/(α+pt))^r)/p], p ~ Beta(a, b), by Gauss–Jacobi quadrature (one rule per (a, b))."""
    out = np.empty(len(r))
    pairs, which = np.unique(np.stack([a, b], axis=1), axis=0, return_inverse=True)
    for k, (ak, bk) in enumerate(pairs):
        nodes, weights = special.roots_jacobi(_QUADRATURE_NODES, bk - 1, ak - 1)
        p = (nodes + 1) / 2
        weights = weights / weights.sum()
        m = which.ravel() == k
        pt = p[None, :] * t[m][:, None]
        g = -np.expm1(-r[m][:, None] * np.log1p(pt / alpha[m][:, None])) / p[None, :]
        out[m] = g @ weights
    return out


def expected_count(params, t) -> np.ndarray:
    """E[X(t)]: expected repeat transactions in (0, t] of a customer who first bought at 0 (FHL eq. 9)."""
    r, alpha, a, b = _params(params)
    return _expected_count(r, alpha, a, b, t)


def conditional_expected(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected transactions in (T, T+t] given the history (FHL eq. 10)."""
    r, alpha, a, b = _params(params)
    x, t_x, T, t = _arrays(x, t_x, T, t)
    return p_alive(params, x, t_x, T) * _expected_count(r + x, alpha + T, a, b + x, t)


def pmf(params, t, x) -> np.ndarray:
    """P(X(t) = x) for a new customer (FHL eq. 8); the sum over j < x of NBD terms is a regularized
    incomplete beta function: 1 − (α/(α+t))^r Σ_{j<x} Γ(r+j)/(Γ(r) j!) (t/(α+t))^j = I_{t/(α+t)}(x, r)."""
    r, alpha, a, b = _params(params)
    t, x = _arrays(t, x)
    log_nbd = (special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)
               + r * (np.log(alpha) - np.log(alpha + t)) + special.xlogy(x, t) - x * np.log(alpha + t))
    alive = np.exp(special.betaln(a, b + x) - special.betaln(a, b) + log_nbd)
    repeat = x > 0
    xs = np.where(repeat, x, 1.0)
    dead = np.exp(special.betaln(a + 1, b + xs - 1) - special.betaln(a, b)) * special.betainc(xs, r, t / (alpha + t))
    return alive + np.where(repeat, dead, 0.0)


def posterior_draw(params, x, t_x, T, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (alive at T, λ, p) per customer from the exact posterior given the history (module docstring).

    λ is per unit of time (the unit of t_x and T), p the dropout probability after each purchase."""
    r, alpha, a, b = _params(params)
    x, t_x, T = _arrays(x, t_x, T)
    alive = rng.random(x.shape) < p_alive(params, x, t_x, T)
    shape = r + x
    rate = np.where(alive, alpha + T, alpha + t_x)
    lam = rng.gamma(shape) / rate
    xs = np.where(x > 0, x, 1.0)
    p = rng.beta(np.where(alive, a, a + 1), np.where(alive, b + x, b + xs - 1))
    return alive, lam, p


__all__ = ["NAMES", "loglik", "gradient", "fit", "p_alive", "expected_count", "conditional_expected", "pmf",
           "posterior_draw"]
