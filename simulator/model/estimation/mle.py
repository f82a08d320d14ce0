"""Maximum likelihood on log-parameters, shared by every model of `simulator.model.estimation`.

Takes: a `Problem` (the model's total log-likelihood as a function of its parameters, optionally
its gradient, a starting point and what a runaway parameter means). Gives: a `ModelFit` with the
maximum, the standard errors and the covariance of the log-parameters from the Hessian, or a
`FitError` naming the parameter that ran away. `fit_counts` is the whole fit of a purchase model
on (x, t_x, T) summaries (BG/NBD and Pareto/NBD differ only in their likelihood and start).

How: the negative mean log-likelihood is minimized over u = ln θ (every parameter is positive) with
L-BFGS-B (analytic gradient when the model gives one, central differences otherwise), then polished
with Newton steps on the numerical Hessian so the maximum is found to many more digits than are
printed. The Hessian H of the total log-likelihood in u is taken by central differences (of the
gradient when there is one: H_ij = (g_i(u + h e_j) − g_i(u − h e_j)) / 2h, symmetrized; of the
function otherwise); the covariance of ln θ is (−H)⁻¹ (the inverse observed information) and the
delta method gives se(θ) = θ·sqrt(var ln θ). A Hessian that is not negative definite means the
maximum is not a proper one: the fit is returned with `converged=False` and NaN standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rulelang.limits import FIT_MAX_ITERATIONS, FIT_PARAMETER_MAX, FIT_PARAMETER_MIN

from simulator.model.estimation import RUNAWAY, TOO_LITTLE_DATA, FitError, ModelFit

_LOG_LOW = float(np.log(FIT_PARAMETER_MIN)) - 2.0  # the optimizer may step past the runaway limits,
_LOG_HIGH = float(np.log(FIT_PARAMETER_MAX)) + 2.0  # which are checked after it stops


@dataclass(frozen=True)
class Problem:
    """One model's likelihood, in its natural parameters θ (all positive)."""

    model: str
    names: tuple[str, ...]
    loglik: Callable[[np.ndarray], float]  # θ -> Σ_i w_i ℓ_i(θ)
    start: np.ndarray  # a starting θ
    n: int  # customers (Σ w_i)
    gradient: Callable[[np.ndarray], np.ndarray] | None = None  # θ -> ∂/∂θ Σ w_i ℓ_i
    runaway_hints: dict[str, str] = field(default_factory=dict)  # parameter -> what to try


def summaries(x, t_x, T, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked float arrays (x, t_x, T, w), one entry per distinct (x, t_x, T) with its total weight.

    Customers with the same summary have the same likelihood term, so they are summed once (a large
    base measured in days has many repeats: every one-time buyer of the same day is one row).
    """
    x = np.asarray(x, dtype=float).ravel()
    t_x = np.asarray(t_x, dtype=float).ravel()
    T = np.asarray(T, dtype=float).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    if not (len(x) == len(t_x) == len(T) == len(w)):
        raise ValueError(f"x, t_x, T and weights differ in length: {len(x)}, {len(t_x)}, {len(T)}, {len(w)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(T)) and np.all(np.isfinite(w))):
        raise ValueError("x, t_x, T and weights must be finite numbers")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("x (repeat transactions) must be whole numbers >= 0")
    if np.any(T <= 0) or np.any(t_x < 0) or np.any(t_x > T * (1 + 1e-12)):
        raise ValueError("need 0 <= t_x <= T and T > 0 for every customer")
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("a customer with no repeat transaction (x = 0) must have t_x = 0")
    if np.any(w < 0):
        raise ValueError("weights must be >= 0")
    keep = w > 0
    x, t_x, T, w = x[keep], np.minimum(t_x[keep], T[keep]), T[keep], w[keep]
    if len(x) == 0:
        raise FitError("there are no customers to fit", None, "check the transaction file and the calibration period",
                       TOO_LITTLE_DATA)
    rows = np.stack([x, t_x, T], axis=1)
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    wsum = np.bincount(inverse.ravel(), weights=w, minlength=len(unique))
    return unique[:, 0].copy(), unique[:, 1].copy(), unique[:, 2].copy(), wsum


def require_repeat_buyers(x: np.ndarray, w: np.ndarray, model: str) -> None:
    if not np.any((x > 0) & (w > 0)):
        raise FitError(f"no customer bought more than once, so the {model} model cannot be fitted "
                       "(its purchase rate and dropout are not identified)", None,
                       "use a longer calibration period, so that repeat purchases are seen", TOO_LITTLE_DATA)


def fit_counts(model: str, label: str, names: tuple[str, ...], loglik: Callable[..., np.ndarray], x, t_x, T,
               weights, start: Callable[[float, float], np.ndarray], gradient: Callable[..., np.ndarray] | None = None,
               runaway_hints: dict[str, str] | None = None) -> ModelFit:
    """Fit a purchase-and-dropout model on per-customer summaries (checked and grouped by `summaries`).

    `loglik(θ, x, t_x, T)` gives the per-customer contributions, `gradient(θ, x, t_x, T, w)` (optional)
    the gradient of their weighted sum, `start(rate, mean_T)` a starting θ from the repeat purchases
    per unit of time and the mean observation length. `label` names the model in errors.
    Raises `FitError`: RL852 when nobody bought again, RL850/RL851 from `maximize`."""
    xs, txs, Ts, w = summaries(x, t_x, T, weights)
    require_repeat_buyers(xs, w, label)
    rate = float(np.dot(w, xs) / np.dot(w, Ts))
    mean_T = float(np.dot(w, Ts) / w.sum())
    grad = None if gradient is None else (lambda th: gradient(th, xs, txs, Ts, w))
    problem = Problem(model, names, lambda th: float(np.sum(w * loglik(th, xs, txs, Ts))),
                      np.asarray(start(rate, mean_T), dtype=float), int(round(w.sum())), grad,
                      dict(runaway_hints or {}))
    return maximize(problem)


def _safe(value: float) -> float:
    return value if np.isfinite(value) else 1e300


def maximize(problem: Problem) -> ModelFit:
    """Fit `problem` by maximum likelihood (see the module docstring)."""
    n = max(float(problem.n), 1.0)
    k = len(problem.names)

    def objective(u: np.ndarray) -> float:
        return _safe(-problem.loglik(np.exp(u)) / n)

    def log_gradient(u: np.ndarray) -> np.ndarray:  # ∂ Σ wℓ / ∂u
        theta = np.exp(u)
        if problem.gradient is not None:
            return problem.gradient(theta) * theta
        h = 1e-6
        g = np.empty(k)
        for i in range(k):
            e = np.zeros(k)
            e[i] = h
            g[i] = (problem.loglik(np.exp(u + e)) - problem.loglik(np.exp(u - e))) / (2 * h)
        return g

    def objective_gradient(u: np.ndarray) -> np.ndarray:
        g = -log_gradient(u) / n
        return np.where(np.isfinite(g), g, 0.0)

    from scipy import optimize  # here, not at the top: simulations draw from fitted models without fitting (0.3 s)

    u0 = np.log(np.asarray(problem.start, dtype=float))
    res = optimize.minimize(objective, u0, jac=objective_gradient, method="L-BFGS-B",
                            bounds=[(_LOG_LOW, _LOG_HIGH)] * k,
                            options={"maxiter": FIT_MAX_ITERATIONS, "ftol": 1e-15, "gtol": 1e-10})
    u = np.asarray(res.x, dtype=float)
    iterations = int(res.nit)
    _check_runaway(problem, np.exp(u))

    # Newton polish: the L-BFGS-B stopping rule is on the mean log-likelihood; a few Newton steps
    # on the Hessian bring the gradient of the total to ~0 (quadratic convergence near the maximum).
    hessian = _hessian(problem, u, log_gradient)
    for _ in range(5):
        g = log_gradient(u)
        if not np.all(np.isfinite(hessian)) or not _negative_definite(hessian):
            break
        step = np.linalg.solve(hessian, g)
        if not np.all(np.isfinite(step)) or np.max(np.abs(step)) > 0.5:
            break
        trial = u - step
        if problem.loglik(np.exp(trial)) < problem.loglik(np.exp(u)) - 1e-9 * n:
            break
        u = trial
        iterations += 1
        hessian = _hessian(problem, u, log_gradient)
        if np.max(np.abs(step)) < 1e-10:
            break

    theta = np.exp(u)
    _check_runaway(problem, theta)
    loglik = float(problem.loglik(theta))
    gradient = log_gradient(u)
    messages = []
    converged = bool(res.success) or float(np.max(np.abs(gradient))) < 1e-4 * max(1.0, np.sqrt(n))
    if not converged:
        messages.append(f"the optimizer stopped without converging: {res.message}")
    if np.all(np.isfinite(hessian)) and _negative_definite(hessian):
        cov = np.linalg.inv(-hessian)
        cov = (cov + cov.T) / 2
        se = theta * np.sqrt(np.diag(cov))
    else:
        converged = False
        messages.append("the Hessian at the maximum is not negative definite: the standard errors are not defined "
                        "(the data do not pin every parameter down)")
        cov = np.full((k, k), np.nan)
        se = np.full(k, np.nan)
    message = "; ".join(messages) if messages else f"converged after {iterations} iterations"
    return ModelFit(problem.model, tuple(problem.names), tuple(float(v) for v in theta), tuple(float(v) for v in se),
                    tuple(tuple(float(v) for v in row) for row in cov), loglik, int(round(problem.n)), converged,
                    iterations, message)


def _check_runaway(problem: Problem, theta: np.ndarray) -> None:
    for name, value in zip(problem.names, theta):
        if value > FIT_PARAMETER_MAX or value < FIT_PARAMETER_MIN:
            grew = f"grew beyond {FIT_PARAMETER_MAX:g}" if value > FIT_PARAMETER_MAX else \
                f"shrank below {FIT_PARAMETER_MIN:g}"
            raise FitError(f"the fit did not converge: `{name}` {grew}", name,
                           problem.runaway_hints.get(name, "try a longer calibration period"), RUNAWAY)


def _negative_definite(h: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(-h)
    except np.linalg.LinAlgError:
        return False
    return True


def _hessian(problem: Problem, u: np.ndarray, log_gradient: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Hessian of Σ wℓ in u = ln θ by central differences (see the module docstring)."""
    k = len(u)
    hess = np.empty((k, k))
    if problem.gradient is not None:
        h = 1e-5
        for j in range(k):
            e = np.zeros(k)
            e[j] = h
            hess[:, j] = (log_gradient(u + e) - log_gradient(u - e)) / (2 * h)
    else:
        h = 1e-4
        f0 = problem.loglik(np.exp(u))

        def f(*steps: tuple[int, float]) -> float:
            v = u.copy()
            for i, s in steps:
                v[i] += s
            return problem.loglik(np.exp(v))

        for i in range(k):
            hess[i, i] = (f((i, h)) - 2 * f0 + f((i, -h))) / h**2
            for j in range(i):
                hess[i, j] = (f((i, h), (j, h)) - f((i, h), (j, -h)) - f((i, -h), (j, h)) + f((i, -h), (j, -h))) / (4 * h * h)
                hess[j, i] = hess[i, j]
    return (hess + hess.T) / 2


__all__ = ["Problem", "summaries", "require_repeat_buyers", "maximize", "fit_counts"]
