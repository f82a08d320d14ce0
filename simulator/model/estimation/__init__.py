"""Statistics of `loyalty fit`: maximum-likelihood fits of the purchase, dropout and spend models.

Takes: per-customer summaries (numpy arrays; one entry per customer): the number of repeat
transactions `x`, the time of the last one `t_x` and the length of observation `T` (from the first
transaction to the end of the calibration period, in the population's time unit), and for spend the
mean amount `mean_spend` over `x` transactions. Reading transaction files and summarising them is
`simulator.transactions.reader` (and the `fit` command); this package only does statistics.

Gives: `ModelFit` records (point estimates, standard errors, the covariance of the natural logs of
the parameters, the log-likelihood) and, per model, the quantities a fit report and the simulation of
an existing customer base need: P(alive), E[X(t)], P(X(t) = x), conditional expectations and draws of
each customer's latent traits from their posterior given their own history.

Modules, one model each:
- `bgnbd`: BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way").
- `pareto_nbd`: Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie's likelihood note).
- `gamma_gamma`: spend per transaction (Fader, Hardie & Lee 2005, JMR; Fader & Hardie 2013 note).
- (the choice between the two purchase models is `simulator.fit.fitting.choose_model`)
- `mle`: the shared machinery (optimizer on log-parameters, Hessian, runaway checks).

Parameter names are the population-file keys (`purchase.r`, `dropout.b`, `spend.gamma`, ...), in the
parametrization `simulator.model.population` uses, so a fit goes into a population file as it is.

A fit that cannot be trusted raises `FitError(message, parameter, hint)` with a code (RL850–RL852);
the `fit` command turns it into a located diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RUNAWAY = "RL850"  # a parameter grew without bound (or shrank to zero): the model degenerates
NOT_CONVERGED = "RL851"  # the optimizer stopped without reaching a maximum
TOO_LITTLE_DATA = "RL852"  # the data cannot identify the model (no customers, nobody bought again)


class FitError(Exception):
    """A model could not be fitted. `parameter` names the population key that ran away (or None)."""

    def __init__(self, message: str, parameter: str | None = None, hint: str | None = None,
                 code: str = RUNAWAY):
        super().__init__(message)
        self.message = message
        self.parameter = parameter
        self.hint = hint
        self.code = code


@dataclass(frozen=True)
class ModelFit:
    """The result of one maximum-likelihood fit.

    `params` and `se` follow `names`; `log_covariance` is the covariance matrix of the natural logs of
    the parameters (the inverse of the observed information in log-parameters), the matrix a
    population file's `uncertainty` block carries. `se` is the delta-method standard error of each
    parameter itself (θ·sqrt(var log θ)). `loglik` is the maximized total log-likelihood, `n` the
    number of customers (the sum of the weights) it sums over.
    """

    model: str  # "bgnbd" | "pareto_nbd" | "gamma_gamma"
    names: tuple[str, ...]
    params: tuple[float, ...]
    se: tuple[float, ...]
    log_covariance: tuple[tuple[float, ...], ...]
    loglik: float
    n: int
    converged: bool
    iterations: int
    message: str

    def value(self, name: str) -> float:
        return self.params[self.names.index(name)]

    def as_dict(self) -> dict[str, float]:
        return dict(zip(self.names, self.params))

    @property
    def log_mean(self) -> tuple[float, ...]:
        return tuple(float(np.log(v)) for v in self.params)

    @property
    def covariance(self) -> np.ndarray:
        return np.array(self.log_covariance, dtype=float)

    @property
    def bic(self) -> float:
        """Bayesian information criterion, −2·LL + k·ln n (smaller is better)."""
        return -2.0 * self.loglik + len(self.params) * float(np.log(max(self.n, 1)))


MODEL_LABELS = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "gamma-gamma"}


def require_converged(fit: ModelFit) -> ModelFit:
    """`fit` itself if it converged; otherwise a `FitError` (RL851) saying why."""
    if not fit.converged:
        raise FitError(f"the {MODEL_LABELS.get(fit.model, fit.model)} fit did not converge: {fit.message}", None,
                       "the data do not pin every parameter down; use more customers or a longer calibration "
                       "period, or the other purchase model", NOT_CONVERGED)
    return fit


__all__ = ["FitError", "ModelFit", "RUNAWAY", "NOT_CONVERGED", "TOO_LITTLE_DATA", "MODEL_LABELS",
           "require_converged"]
