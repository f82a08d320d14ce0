"""Closed forms of the buy-till-you-die models, written from the papers for the tests.

BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
24(2): P(alive) (their eq. 13) and the conditional expectation E[Y(t) | x, t_x, T] (eq. 10).
Pareto/NBD: Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions": P(alive) (eq. 11, with A0 from eq. 19/20) and E[Y(t) | x, t_x, T] (eq. 22).
Gamma-gamma: Fader, Hardie & Lee (2005), "RFM and CLV", JMR: ν | x, m̄ ~ Gamma(q + p x, γ + x m̄).

The posterior draws follow the contract of `simulator.fit.models` (TRANSACTIONS_API.md) so that the
tests can run before the statistics core is merged: `install()` puts them in `sys.modules`
as `simulator.fit.models` only when the real package is absent (the simulator then calls them).
The BG/NBD joint posterior of (λ, p) given the history is a two-part mixture (alive at T:
λ ~ Gamma(r + x, α + T), p ~ Beta(a, b + x); dropped out after the last purchase:
λ ~ Gamma(r + x, α + t_x), p ~ Beta(a + 1, b + x − 1)), weighted by P(alive).
"""

from __future__ import annotations

import sys
import types

import numpy as np
from scipy.special import hyp2f1


def bgnbd_p_alive(params, x, t_x, T):
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    ratio = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return 1.0 / (1.0 + ratio)


def bgnbd_conditional_expected(params, t, x, t_x, T):
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                       * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t)))
    return num * bgnbd_p_alive(params, x, t_x, T)


def pareto_p_alive(params, x, t_x, T):
    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    k = r + s + x
    if alpha >= beta:
        a0 = (hyp2f1(k, s + 1, k + 1, (alpha - beta) / (alpha + t_x)) / (alpha + t_x) ** k
              - hyp2f1(k, s + 1, k + 1, (alpha - beta) / (alpha + T)) / (alpha + T) ** k)
    else:
        a0 = (hyp2f1(k, r + x, k + 1, (beta - alpha) / (beta + t_x)) / (beta + t_x) ** k
              - hyp2f1(k, r + x, k + 1, (beta - alpha) / (beta + T)) / (beta + T) ** k)
    return 1.0 / (1.0 + s / k * (alpha + T) ** (r + x) * (beta + T) ** s * a0)


def pareto_conditional_expected(params, t, x, t_x, T):
    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    alive_mean = (r + x) * (beta + T) / ((alpha + T) * (s - 1)) * (1 - ((beta + T) / (beta + T + t)) ** (s - 1))
    return pareto_p_alive(params, x, t_x, T) * alive_mean


def _bgnbd_posterior_draw(params, x, t_x, T, rng):
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    alive = rng.random(x.size) < bgnbd_p_alive(params, x, t_x, T)
    rate = np.where(alive, alpha + T, alpha + t_x)
    lam = rng.gamma(r + x, 1.0 / rate)
    pa = np.where(alive, a, a + 1)
    pb = np.where(alive, b + x, np.maximum(b + x - 1, 1e-12))
    p = rng.beta(pa, pb)
    return alive, lam, p


def _pareto_posterior_draw(params, x, t_x, T, rng):
    r, alpha, s, beta = params
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (x, t_x, T))
    alive = rng.random(x.size) < pareto_p_alive(params, x, t_x, T)
    lam = rng.gamma(r + x, 1.0 / (alpha + T))
    mu = rng.gamma(s, 1.0 / (beta + T))  # the living customers' posterior (the dead never buy)
    return alive, lam, mu


def _gamma_gamma_posterior_draw(params, x, mean_spend, rng):
    p, q, gamma = params
    x = np.asarray(x, dtype=np.float64)
    return rng.gamma(q + p * x, 1.0 / (gamma + x * np.asarray(mean_spend, dtype=np.float64)))


def install() -> bool:
    """Provide `simulator.fit.models` from these formulas when the real package is not there."""
    try:
        import simulator.fit.models.bgnbd
        import simulator.fit.models.gamma_gamma
        import simulator.fit.models.pareto_nbd
        return False
    except ImportError:
        pass
    pkg = types.ModuleType("simulator.fit.models")
    pkg.__path__ = []  # a package
    for name, draw in (("bgnbd", _bgnbd_posterior_draw), ("pareto_nbd", _pareto_posterior_draw),
                       ("gamma_gamma", _gamma_gamma_posterior_draw)):
        mod = types.ModuleType(f"simulator.fit.models.{name}")
        mod.posterior_draw = draw
        setattr(pkg, name, mod)
        sys.modules[f"simulator.fit.models.{name}"] = mod
    sys.modules["simulator.fit.models"] = pkg
    import simulator

    simulator.fit.models = pkg
    return True
