"""Closed forms of the buy-till-you-die models, written from the papers for the tests.

BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
24(2): P(alive) (their eq. 13) and the conditional expectation E[Y(t) | x, t_x, T] (eq. 10).
Pareto/NBD: Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related
expressions": P(alive) (eq. 11, with A0 from eq. 19/20) and E[Y(t) | x, t_x, T] (eq. 22).
Gamma-gamma: Fader, Hardie & Lee (2005), "RFM and CLV", JMR: ν | x, m̄ ~ Gamma(q + p x, γ + x m̄).

They are written independently of `simulator.model.estimation`, so the tests compare the simulator's
posterior draws with the papers, not with themselves.
"""

from __future__ import annotations

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
