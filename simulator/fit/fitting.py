"""`loyalty fit`, the computation: transactions -> segments -> fitted models, mixes and fit checks.

Takes: `Transactions`, `Summaries` (simulator.fit.summary) and the options of the command
(model, segment column). Gives: a `FitOutcome` — per segment the purchase-and-dropout model
fitted on the whole history (what the population file carries), the same model fitted on the
calibration period when there is a holdout (what the fit report checks against the holdout),
the gamma-gamma spend model, the frequency–spend correlation and the mixes — and the fit
checks of `simulator.fit.checks`. The statistics are `simulator.model.estimation` (MLE with scipy); a fit
that cannot be trusted raises `TransactionsError` with its RL85x code and the segment named.

Model choice (`--model auto`, `choose_model`): both BG/NBD and Pareto/NBD are fitted in every
segment, and the population takes the one with the higher log-likelihood summed over the
segments (one population file has one model). Both have four parameters, so the likelihood
alone decides (a BIC would rank them the same way). With a holdout the log-likelihoods compared
are those of the calibration-period fits: the fits the report shows and checks against the
holdout, and the comparison of the papers (on CDNOW: BG/NBD −9582.4, Pareto/NBD −9595.0);
without one, those of the whole-history fits. The model then carries its whole-history fit into
the population file. `--model bgnbd|pareto_nbd` fits only the model asked for. The choice and
every log-likelihood compared are in `FitOutcome.choice`, which the report and the population
file's comment print.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rulelang import limits
from rulelang.diagnostics import Diagnostic, Span

from simulator.model.estimation import MODEL_LABELS
from simulator.fit.mixes import Mixes, estimate_mixes
from simulator.fit.summary import Summaries
from simulator.transactions.reader import Transactions, TransactionsError

MODELS = ("bgnbd", "pareto_nbd")
CORRELATION_WARNING = 0.3  # |Pearson r| of frequency and mean spend above which gamma-gamma is doubtful
UNKNOWN_SEGMENT = "unknown"


@dataclass(frozen=True)
class SegmentFit:
    name: str
    share: float
    customers: np.ndarray  # bool mask over the customers of the Transactions
    model: str
    purchase: Any  # ModelFit on the whole history
    alternatives: tuple[Any, ...]  # the other model's fit (auto), whole history
    calibration: Any | None  # ModelFit on the calibration period (with a holdout)
    calibration_alternatives: tuple[Any, ...]
    spend: Any | None  # gamma-gamma ModelFit, or None
    spend_customers: int  # repeat buyers it was fitted on
    spend_excluded: int  # repeat buyers left out because their mean spend is 0 or less
    spend_correlation: float | None  # Pearson r of repeat transactions and mean spend (repeat buyers)
    mixes: Mixes

    @property
    def n_customers(self) -> int:
        return int(self.customers.sum())


@dataclass(frozen=True)
class ModelChoice:
    """Which purchase model the population uses and why."""

    model: str
    asked: bool  # `--model bgnbd|pareto_nbd` (only that model fitted) rather than `auto`
    basis: str  # "calibration period" | "whole history": the fits whose log-likelihoods are compared
    loglik: tuple[tuple[str, float], ...]  # (model, log-likelihood summed over the segments), best first

    def sentence(self) -> str:
        """The choice in words, with every log-likelihood compared (report and population comment)."""
        name = MODEL_LABELS[self.model]
        if len(self.loglik) == 1:
            why = f"as asked (--model {self.model})" if self.asked else "the only model that could be fitted"
            return f"{name}, {why}; log-likelihood on the {self.basis} {self.loglik[0][1]:,.1f}"
        lls = ", ".join(f"{MODEL_LABELS[m]} {ll:,.1f}" for m, ll in self.loglik)
        return f"{name}: the higher log-likelihood on the {self.basis} ({lls})"


def choose_model(fits: dict[str, list[Any]], asked: bool, basis: str) -> ModelChoice:
    """The model with the highest log-likelihood summed over the segments; `fits` maps each model
    fitted to its per-segment fits (all on the same customers). Ties go to the first model of `fits`."""
    totals = [(m, float(sum(f.loglik for f in per_segment))) for m, per_segment in fits.items()]
    ranked = sorted(totals, key=lambda t: -t[1])  # stable: a tie keeps the order of `fits`
    return ModelChoice(ranked[0][0], asked, basis, tuple(ranked))


@dataclass(frozen=True)
class FitOutcome:
    model: str
    segments: tuple[SegmentFit, ...]
    segment_by: str | None
    summaries: Summaries
    transactions: Transactions
    failed_models: tuple[tuple[str, str], ...] = ()  # (model, why) for a model of `auto` that could not be fitted
    choice: ModelChoice | None = None


def _module(model: str):
    from simulator.model.estimation import bgnbd, pareto_nbd

    return {"bgnbd": bgnbd, "pareto_nbd": pareto_nbd}[model]


def _fit_error(tx: Transactions, segment: str, many: bool, exc: Exception) -> TransactionsError:
    from simulator.model.estimation import TOO_LITTLE_DATA

    code = exc.code  # type: ignore[attr-defined]  # a FitError's RL85x code
    message = getattr(exc, "message", str(exc))
    where = f"segment `{segment}`: " if many else ""
    hint = getattr(exc, "hint", None)
    if many and code == TOO_LITTLE_DATA:
        hint = (hint + "; " if hint else "") + "a small segment can be merged with another (--segment-by a coarser column)"
    return TransactionsError([Diagnostic(code, "error", where + message, Span(tx.path, 0, 0, 0, 0), hint)])


def _fit(tx: Transactions, segment: str, many: bool, model: str, x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
    from simulator.model.estimation import FitError

    seen = T > 0  # first seen on the period's last day: a likelihood of 1 whatever the parameters
    try:
        return _module(model).fit(x[seen], t_x[seen], T[seen])
    except FitError as exc:  # a located diagnostic naming the segment
        raise _fit_error(tx, segment, many, exc) from None


def segment_masks(tx: Transactions, column: str | None) -> list[tuple[str, np.ndarray]]:
    """(segment name, customer mask) per value of the segment column; one segment `all` without one."""
    if column is None:
        return [("all", np.ones(tx.n_customers, dtype=bool))]
    values = np.where(tx.customer_table[column] == "", UNKNOWN_SEGMENT, tx.customer_table[column])
    names, counts = np.unique(values, return_counts=True)
    if names.size > limits.MAX_FIT_SEGMENTS:
        raise TransactionsError([Diagnostic(
            "RL822", "error", f"--segment-by {column}: the column has {names.size:,} different values, more than "
            f"{limits.MAX_FIT_SEGMENTS} segments", Span(tx.path, 1, 1, 1, 1),
            "segment by a column with a few values (a tier, a region, a customer type)")])
    order = np.argsort(-counts, kind="stable")
    return [(str(names[i]), values == names[i]) for i in order]


def _spend(tx: Transactions, s: Summaries, mask: np.ndarray, many: bool, name: str):
    from simulator.model.estimation import FitError, gamma_gamma

    repeat = mask & (s.spend_count >= 2)
    positive = repeat & (s.mean_spend > 0)
    excluded = int(repeat.sum() - positive.sum())
    if positive.sum() == 0:
        return None, 0, excluded, None
    x, m = s.spend_count[positive], s.mean_spend[positive]
    corr = float(np.corrcoef(x, m)[0, 1]) if positive.sum() > 2 and np.std(x) > 0 and np.std(m) > 0 else None
    try:
        spend = gamma_gamma.fit(x, m)
    except FitError as exc:  # reported with the segment named
        raise _fit_error(tx, name, many, exc) from None
    return spend, int(positive.sum()), excluded, corr


def run_fit(tx: Transactions, s: Summaries, model: str = "auto", segment_by: str | None = None,
            attribute_names: tuple[str, ...] = ()) -> FitOutcome:
    """Fit every segment; raises TransactionsError for a fit that cannot be trusted."""
    masks = segment_masks(tx, segment_by)
    many = len(masks) > 1
    candidates = list(MODELS if model == "auto" else (model,))
    full: dict[str, list[Any]] = {}
    cal: dict[str, list[Any]] = {}
    failed: dict[str, str] = {}
    first_error: TransactionsError | None = None
    for m in list(candidates):
        try:
            full[m] = [_fit(tx, name, many, m, s.full_x[mask], s.full_t_x[mask], s.full_T[mask])
                       for name, mask in masks]
            cal[m] = [_fit(tx, name, many, m, s.x[mask & s.in_calibration], s.t_x[mask & s.in_calibration],
                           s.T[mask & s.in_calibration]) for name, mask in masks] if s.holdout else []
        except TransactionsError as err:
            first_error = first_error or err
            candidates.remove(m)
            failed[m] = err.diagnostics[0].message
    if not candidates and first_error is not None:
        raise first_error
    basis = "calibration period" if s.holdout else "whole history"
    choice = choose_model({m: (cal[m] if s.holdout else full[m]) for m in candidates}, model != "auto", basis)
    chosen = choice.model
    segments = []
    total = tx.n_customers
    for i, (name, mask) in enumerate(masks):
        spend, n_spend, excluded, corr = _spend(tx, s, mask, many, name)
        others = tuple(full[m][i] for m in candidates if m != chosen)
        cal_others = tuple(cal[m][i] for m in candidates if m != chosen and s.holdout)
        segments.append(SegmentFit(
            name=name, share=float(mask.sum()) / total, customers=mask, model=chosen, purchase=full[chosen][i],
            alternatives=others, calibration=cal[chosen][i] if s.holdout else None,
            calibration_alternatives=cal_others, spend=spend, spend_customers=n_spend, spend_excluded=excluded,
            spend_correlation=corr, mixes=estimate_mixes(tx, mask, attribute_names)))
    return FitOutcome(chosen, tuple(segments), segment_by, s, tx, tuple(failed.items()), choice)
