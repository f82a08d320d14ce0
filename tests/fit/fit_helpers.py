"""Helpers of the fit tests: the CDNOW fixture, and direct simulations of the models' processes.

The simulations are written from the models' definitions, independently of `simulator.model.estimation`, so
that fitting them tests the estimators (not a model against itself).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np

CDNOW = Path(__file__).resolve().parent.parent / "fixtures" / "cdnow"
CALIBRATION_END = dt.date(1997, 9, 30)  # 39 weeks from 1997-01-01 (the last calibration day)


def cdnow_summary() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in weeks from the published summary file."""
    with open(CDNOW / "cdnow_customers_summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return (np.array([float(r["frequency"]) for r in rows]), np.array([float(r["recency"]) for r in rows]),
            np.array([float(r["T"]) for r in rows]))


def cdnow_from_transactions() -> dict[str, np.ndarray]:
    """Summaries computed from the raw transactions: same-day purchases are one transaction (their
    amounts added), calibration through 1997-09-30, times in weeks; `mean_spend` is the mean of the
    repeat transactions' amounts (the first purchase excluded, as in the gamma-gamma note)."""
    days: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    for line in (CDNOW / "CDNOW_sample.txt").read_text().splitlines():
        _, customer, date, _, amount = line.split()
        day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
        if day <= CALIBRATION_END:
            days[int(customer)][day] += float(amount)
    ids = sorted(days)
    x, t_x, T, mean_spend = [], [], [], []
    for c in ids:
        dates = sorted(days[c])
        x.append(len(dates) - 1)
        t_x.append((dates[-1] - dates[0]).days / 7)
        T.append((CALIBRATION_END - dates[0]).days / 7)
        repeat = [days[c][d] for d in dates[1:]]
        mean_spend.append(sum(repeat) / len(repeat) if repeat else 0.0)
    return {"id": np.array(ids), "x": np.array(x, float), "t_x": np.array(t_x), "T": np.array(T),
            "mean_spend": np.array(mean_spend)}


def _last_arrival(rng: np.random.Generator, x: np.ndarray, arrivals: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Time of the x-th of `arrivals` Poisson arrivals in (0, T]: T times the x-th order statistic of
    `arrivals` uniforms, which is Beta(x, arrivals − x + 1)."""
    has = x > 0
    t_x = np.zeros_like(T)
    t_x[has] = T[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return t_x


def simulate_bgnbd(r: float, alpha: float, a: float, b: float, T: np.ndarray,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x, t_x) of BG/NBD customers observed for T: λ ~ Gamma(r, rate α), p ~ Beta(a, b); purchases
    at rate λ, after each repeat purchase the customer drops out with probability p."""
    lam = rng.gamma(r, 1.0 / alpha, len(T))
    p = rng.beta(a, b, len(T))
    arrivals = rng.poisson(lam * T)  # purchases in (0, T] had the customer never dropped out
    last_one = rng.geometric(p)  # the repeat purchase after which the customer drops out
    x = np.minimum(arrivals, last_one).astype(float)
    return x, _last_arrival(rng, x, arrivals.astype(float), T)


def simulate_pareto_nbd(r: float, alpha: float, s: float, beta: float, T: np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(x, t_x) of Pareto/NBD customers: λ ~ Gamma(r, α), lifetime τ ~ Exp(μ), μ ~ Gamma(s, β)."""
    lam = rng.gamma(r, 1.0 / alpha, len(T))
    mu = rng.gamma(s, 1.0 / beta, len(T))
    tau = rng.exponential(1.0, len(T)) / mu
    seen = np.minimum(tau, T)
    x = rng.poisson(lam * seen).astype(float)
    return x, _last_arrival(rng, x, x, seen)


def simulate_gamma_gamma(p: float, q: float, gamma: float, x: np.ndarray,
                         rng: np.random.Generator) -> np.ndarray:
    """Mean spend over x transactions: z ~ Gamma(p, rate ν) per transaction, ν ~ Gamma(q, rate γ)."""
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    return rng.gamma(p * x, 1.0 / nu) / x  # the sum of x Gamma(p, ν) spends is Gamma(px, ν)

# A one-segment BG/NBD population with known parameters (r=2, α=4, a=0.8, b=2.5), for drawing histories.
KNOWN = """version: 1
name: known
currency: USD
time_unit: week
model: bgnbd
start: 2026-01-01
segments:
  - name: all
    share: 1
    purchase: {r: 2.0, alpha: 4.0}
    dropout: {a: 0.8, b: 2.5}
    spend: {p: 6.0, q: 4.0, gamma: 15.0}
    categories: {coffee: 0.75, food: 0.25}
    channels: {store: 0.8, app: 0.2}
    returns: 0
"""
