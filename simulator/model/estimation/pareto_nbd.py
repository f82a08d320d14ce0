"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987, "Counting your
customers: who are they and what will they do next?", Management Science; likelihood as in Fader &
Hardie 2005, "A note on deriving the Pareto/NBD model and related expressions").

Takes: per-customer summaries x, t_x, T (as in `bgnbd`) and parameters (r, α, s, β) in the order of
`NAMES`. Gives: log-likelihood contributions, the maximum-likelihood fit, P(alive), E[X(t)],
P(X(t) = x), E[Y(t) | history] and posterior draws (alive, λ, μ).

The model (the simulator's `model: pareto_nbd`): while alive a customer buys at rate λ,
λ ~ Gamma(r, rate α); the lifetime is τ ~ Exp(μ), μ ~ Gamma(s, rate β).

Likelihood. Given (λ, μ): alive at T, λ^x e^−(λ+μ)T, or dead at some τ in (t_x, T), λ^x e^−λτ μ e^−μτ.
Mixing over λ and μ,
  L = Γ(r+x) α^r β^s / Γ(r) · [ (α+T)^−(r+x) (β+T)^−s + s (G(t_x) − G(T)) ],
  G(t) = ∫_t^∞ (α+u)^−(r+x) (β+u)^−(s+1) du,
which is Fader & Hardie's A₀ term: G(t) = (α+t)^−(r+s+x) 2F1(r+s+x, s+1; r+s+x+1; (α−β)/(α+t)) / (r+s+x)
for α ≥ β (and the mirror form for α < β). Those 2F1 diverge as their argument nears 1 and are
large for large x; their Euler transforms are bounded and built from positive series:
  α ≥ β: G(t) = (α+t)^−(r+x) (β+t)^−s / k · 2F1(1, r+x; k+1; (α−β)/(α+t)),
  α < β: G(t) = (α+t)^−(r+x) (β+t)^−s / k · (α+t)/(β+t) · 2F1(1, s+1; k+1; (β−α)/(β+t)),
with k = r+s+x; at α = β both are (α+t)^−k/k (argument 0), so the two branches meet without a
special case. Everything is kept in logs: ln L = ln Γ(r+x) − ln Γ(r) + r ln α + s ln β +
logaddexp(alive, ln s + ln G(t_x) + log1p(−G(T)/G(t_x))).

Posterior given the history: alive (probability P(alive) = alive term / bracket), then
λ ~ Gamma(r+x, α+T) and μ ~ Gamma(s, β+T) independently, and by memorylessness the remaining
lifetime is Exp(μ); or dead at τ in (t_x, T) with density ∝ (α+τ)^−(r+x) (β+τ)^−(s+1) (drawn by
inverting its distribution function (G(t_x) − G(τ)) / (G(t_x) − G(T)) by bisection), then
λ ~ Gamma(r+x, α+τ), μ ~ Gamma(s+1, β+τ).

E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)] (rβ/α · ln(1+t/β) at s = 1); the conditional expectation
is P(alive) times the same at the alive posterior (r+x, α+T, s, β+T). P(X(t) = x) has no simple
closed form: it is (β/(β+t))^s NBD(x; t) + ∫_0^t NBD(x; τ) sβ^s (β+τ)^−(s+1) dτ, the integral by
Gauss–Legendre quadrature in ln(1+τ/α).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from simulator.model.estimation import ModelFit
from simulator.model.estimation.mle import fit_counts

NAMES = ("purchase.r", "purchase.alpha", "dropout.s", "dropout.beta")
_RATE_HINT = ("r and alpha grow together when purchase rates hardly vary between customers; "
              "try a longer calibration period, or segments fitted separately")
_LIFE_HINT = ("s and beta grow together when lifetimes hardly vary between customers, and beta alone when "
              "nobody seems to drop out; try model bgnbd or a longer calibration period")
RUNAWAY_HINTS = {"purchase.r": _RATE_HINT, "purchase.alpha": _RATE_HINT, "dropout.s": _LIFE_HINT,
                 "dropout.beta": _LIFE_HINT}
_PMF_NODES = 128


def _params(params) -> tuple[float, float, float, float]:
    r, alpha, s, beta = (float(v) for v in params)
    return r, alpha, s, beta


def _arrays(*values):
    return np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in values))


def _log_G(r, alpha, s, beta, x, t) -> np.ndarray:
    """ln G(t) (module docstring), vectorized over customers."""
    k = r + s + x
    base = -(r + x) * np.log(alpha + t) - s * np.log(beta + t) - np.log(k)
    if alpha >= beta:
        return base + np.log(special.hyp2f1(1.0, r + x, k + 1, (alpha - beta) / (alpha + t)))
    return (base + np.log(alpha + t) - np.log(beta + t)
            + np.log(special.hyp2f1(1.0, s + 1, k + 1, (beta - alpha) / (beta + t))))


def _log_parts(params, x, t_x, T):
    """(ln alive term, ln dead term) per customer, both including the common factor."""
    r, alpha, s, beta = _params(params)
    x, t_x, T = _arrays(x, t_x, T)
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_alive = common - (r + x) * np.log(alpha + T) - s * np.log(beta + T)
    g_tx = _log_G(r, alpha, s, beta, x, t_x)
    g_T = _log_G(r, alpha, s, beta, x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_dead = common + np.log(s) + g_tx + np.log1p(-np.exp(np.minimum(g_T - g_tx, 0.0)))
    return log_alive, np.where(t_x < T, log_dead, -np.inf)


def loglik(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood contributions ℓ_i (module docstring)."""
    log_alive, log_dead = _log_parts(params, x, t_x, T)
    return np.logaddexp(log_alive, log_dead)


def fit(x, t_x, T, *, weights=None) -> ModelFit:
    """Maximum-likelihood (r, α, s, β); standard errors from the Hessian. Raises `FitError`."""
    return fit_counts("pareto_nbd", "Pareto/NBD", NAMES, loglik, x, t_x, T, weights,
                      lambda rate, mean_T: np.array([1.0, 1.0 / max(rate, 1e-6), 1.0, mean_T]), None, RUNAWAY_HINTS)


def p_alive(params, x, t_x, T) -> np.ndarray:
    """P(the customer is still alive at T | x, t_x, T)."""
    log_alive, log_dead = _log_parts(params, x, t_x, T)
    return np.exp(log_alive - np.logaddexp(log_alive, log_dead))


def _expected_count(r, alpha, s, beta, t) -> np.ndarray:
    r, alpha, s, beta, t = _arrays(r, alpha, s, beta, t)
    log_ratio = np.log1p(t / beta)  # ln((β+t)/β)
    u = s - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(np.abs(u * log_ratio) < 1e-12, log_ratio, -np.expm1(-u * log_ratio) / u)
    return r * beta / alpha * factor


def expected_count(params, t) -> np.ndarray:
    """E[X(t)]: expected repeat transactions in (0, t] of a customer who first bought at 0."""
    r, alpha, s, beta = _params(params)
    return _expected_count(r, alpha, s, beta, t)


def conditional_expected(params, t, x, t_x, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected transactions in (T, T+t] given the history."""
    r, alpha, s, beta = _params(params)
    x, t_x, T, t = _arrays(x, t_x, T, t)
    return p_alive(params, x, t_x, T) * _expected_count(r + x, alpha + T, s, beta + T, t)


def _log_nbd(r, alpha, x, t):
    """ln P(N(t) = x) for a Poisson count with λ ~ Gamma(r, α) (the NBD), t >= 0."""
    return (special.gammaln(r + x) - special.gammaln(r) - special.gammaln(x + 1)
            + r * (np.log(alpha) - np.log(alpha + t)) + special.xlogy(x, t) - x * np.log(alpha + t))


def pmf(params, t, x) -> np.ndarray:
    """P(X(t) = x) for a new customer (module docstring); broadcasts t and x (memory: their size × 128)."""
    r, alpha, s, beta = _params(params)
    t, x = _arrays(t, x)
    survive = np.exp(s * (np.log(beta) - np.log(beta + t)) + _log_nbd(r, alpha, x, t))
    nodes, weights = np.polynomial.legendre.leggauss(_PMF_NODES)
    top = np.log1p(t / alpha)[..., None]  # u = ln(1 + τ/α) runs over [0, top]
    u = (nodes + 1) / 2 * top
    tau = alpha * np.expm1(u)
    dtau = alpha * np.exp(u) * top / 2  # dτ/du times the half-width of the rule
    log_life = np.log(s) + s * np.log(beta) - (s + 1) * np.log(beta + tau)
    died = np.sum(weights * dtau * np.exp(log_life + _log_nbd(r, alpha, x[..., None], tau)), axis=-1)
    return survive + died


def posterior_draw(params, x, t_x, T, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (alive at T, λ, μ) per customer from the exact posterior given the history (module
    docstring). For an alive customer the remaining lifetime is Exp(μ) from T on."""
    r, alpha, s, beta = _params(params)
    x, t_x, T = (np.array(v, dtype=float) for v in _arrays(x, t_x, T))
    alive = rng.random(x.shape) < p_alive(params, x, t_x, T)
    lam_rate = alpha + T
    mu_shape = np.full(x.shape, s)
    mu_rate = beta + T
    dead = ~alive
    if np.any(dead):
        tau = _draw_death_time(params, x[dead], t_x[dead], T[dead], rng.random(int(dead.sum())))
        lam_rate[dead] = alpha + tau
        mu_shape[dead] = s + 1
        mu_rate[dead] = beta + tau
    lam = rng.gamma(r + x) / lam_rate
    mu = rng.gamma(mu_shape) / mu_rate
    return alive, lam, mu


def _draw_death_time(params, x, t_x, T, u) -> np.ndarray:
    """τ in (t_x, T) with density ∝ (α+τ)^−(r+x) (β+τ)^−(s+1): solve G(τ) = G(t_x) − u (G(t_x) − G(T))
    by bisection (G decreases; 60 halvings leave an interval of (T − t_x)·2^−60)."""
    r, alpha, s, beta = _params(params)
    g_tx = _log_G(r, alpha, s, beta, x, t_x)
    g_T = _log_G(r, alpha, s, beta, x, T)
    # ln target = ln(G(t_x)·(1 − u) + G(T)·u)
    target = np.logaddexp(g_tx + np.log1p(-u), g_T + np.log(np.maximum(u, 1e-300)))
    lo, hi = t_x.copy(), T.copy()
    for _ in range(60):
        mid = (lo + hi) / 2
        above = _log_G(r, alpha, s, beta, x, mid) > target  # G(mid) too large: τ is further out
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return (lo + hi) / 2


__all__ = ["NAMES", "loglik", "fit", "p_alive", "expected_count", "conditional_expected", "pmf", "posterior_draw"]
