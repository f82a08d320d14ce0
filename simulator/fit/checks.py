"""Does the model fit? The fit report's checks, each with a one-line verdict computed from the data.

Takes: a `FitOutcome` (simulator.fit.fitting). Gives: a JSON-able dict, one entry per check.
With a holdout the checks use the calibration fits (the model has not seen the holdout);
without one, the whole-history fits (and the holdout checks say they need `--holdout-from`).
Every model quantity is summed over the segments, each with its own parameters.

- `frequency`: customers by repeat transactions 0..6 and 7+, actual vs the model's
  Σ_i P(X(T_i) = x) (Fader, Hardie & Lee 2005, Figure 1). Verdict from the total variation
  distance between the two histograms (half the sum of the gaps, over the customers).
- `tracking`: cumulative repeat transactions at the end of each week since the first day,
  actual vs Σ_i E[X(t − birth_i)] (their Figure 2), through calibration and holdout. Verdict:
  the holdout total, actual vs model, and its % error.
- `conditional`: mean holdout transactions by calibration frequency, actual vs
  E[X(T, T+t*) | x, t_x, T] (their Figure 4). Verdict: the total and the largest group gap.
- `p_alive`: customers by P(alive) at the end of the calibration; with a holdout, per band the
  mean holdout transactions actual vs model, so P(alive) itself is checked.
- `spend`: the frequency–spend correlation of repeat buyers (gamma-gamma assumes none).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from simulator.fit.fitting import CORRELATION_WARNING, FitOutcome, _module

GROUPS = 7  # x = 0..6, then 7+
GOOD, ROUGH = 0.05, 0.15  # relative error of a holdout total: within 5 % "close", 15 % "rough"
TV_GOOD, TV_ROUGH = 0.03, 0.08  # total variation distance of the frequency histogram
ALIVE_BANDS = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0000001)


def _word(err: float, good: float, rough: float) -> str:
    return "close" if abs(err) <= good else "rough" if abs(err) <= rough else "poor"


def _cal(o: FitOutcome):
    """(fit, mask, x, t_x, T) per segment: the calibration period with a holdout, else the whole history."""
    s = o.summaries
    for seg in o.segments:
        if s.holdout:
            m = seg.customers & s.in_calibration
            yield seg.calibration, m, s.x[m], s.t_x[m], s.T[m]
        else:
            m = seg.customers
            yield seg.purchase, m, s.full_x[m], s.full_t_x[m], s.full_T[m]


def frequency_check(o: FitOutcome) -> dict[str, Any]:
    actual = np.zeros(GROUPS + 1)
    model = np.zeros(GROUPS + 1)
    for fit, _, x, _, T in _cal(o):
        actual += np.bincount(np.minimum(x, GROUPS), minlength=GROUPS + 1)
        ts, counts = np.unique(T, return_counts=True)
        mod = _module(o.model)
        expected = [float(np.dot(counts, mod.pmf(fit.params, ts, np.full(ts.size, float(k))))) for k in range(GROUPS)]
        model[:GROUPS] += expected
        model[GROUPS] += x.size - sum(expected)
    n = actual.sum()
    tv = float(np.abs(actual - model).sum() / (2 * n)) if n else 0.0
    worst = int(np.argmax(np.abs(actual - model)))
    label = [str(k) for k in range(GROUPS)] + [f"{GROUPS}+"]
    verdict = (f"{_word(tv, TV_GOOD, TV_ROUGH)}: the histograms differ by {tv:.1%} of the {int(n):,} customers; "
               f"the largest gap is at {label[worst]} repeat transactions ({actual[worst]:,.0f} actual, "
               f"{model[worst]:,.1f} model)")
    return {"x": label, "actual": actual.tolist(), "model": model.tolist(), "distance": tv, "verdict": verdict}


def tracking_check(o: FitOutcome) -> dict[str, Any]:
    from simulator.fit.summary import weekly_repeat_transactions

    s = o.summaries
    weeks = int(np.ceil(((s.last_day - s.first_day).days + 1) / 7))
    cal_days = (s.cal_end - s.first_day).days + 1
    actual = np.zeros(weeks)
    model = np.zeros(weeks)
    w_end = 7 * np.arange(1, weeks + 1) - 1  # last day (from first_day) of each week
    for fit, mask, *_ in _cal(o):
        actual += weekly_repeat_transactions(s, mask)
        births, counts = np.unique(s.birth[mask], return_counts=True)
        elapsed = np.maximum(w_end[:, None] - births[None, :], 0) / s.unit_days
        e = _module(o.model).expected_count(fit.params, elapsed.ravel()).reshape(elapsed.shape)
        model += e @ counts
    out: dict[str, Any] = {"week": list(range(1, weeks + 1)), "actual": actual.tolist(), "model": model.tolist(),
                           "calibration_weeks": cal_days / 7.0}
    if s.holdout:
        # the holdout total: transactions after cal_end (interpolating the model at the calibration end)
        act = float(_holdout_actual(o))
        mod = _holdout_model(o)
        err = (mod - act) / act if act else 0.0
        out.update(holdout_actual=act, holdout_model=mod, holdout_error=err,
                   verdict=f"{_word(err, GOOD, ROUGH)}: in the holdout ({s.cal_end + dt.timedelta(days=1)} .. {s.last_day}) the model "
                           f"expects {mod:,.0f} repeat transactions, the customers made {act:,.0f} ({err:+.1%})")
    else:
        cal_act = float(actual[-1])
        cal_mod = float(model[-1])
        err = (cal_mod - cal_act) / cal_act if cal_act else 0.0
        out["verdict"] = (f"in-sample only (no --holdout-from): {cal_mod:,.0f} repeat transactions expected, "
                          f"{cal_act:,.0f} made ({err:+.1%}); pass --holdout-from to check a forecast")
    return out


def _holdout_actual(o: FitOutcome) -> int:
    s = o.summaries
    return int(s.x_star[s.in_calibration].sum())


def _holdout_model(o: FitOutcome) -> float:
    s = o.summaries
    total = 0.0
    mod = _module(o.model)
    for fit, mask, *_ in _cal(o):
        births, counts = np.unique(s.birth[mask], return_counts=True)
        end = (s.last_day - s.first_day).days - births
        cal = (s.cal_end - s.first_day).days - births
        total += float(np.dot(counts, mod.expected_count(fit.params, end / s.unit_days)
                              - mod.expected_count(fit.params, cal / s.unit_days)))
    return total


def conditional_check(o: FitOutcome) -> dict[str, Any]:
    s = o.summaries
    label = [str(k) for k in range(GROUPS)] + [f"{GROUPS}+"]
    if not s.holdout:
        return {"x": label, "verdict": "not checked: pass --holdout-from DATE to compare the model's conditional "
                "expectations with what customers did after that date"}
    n = np.zeros(GROUPS + 1)
    act = np.zeros(GROUPS + 1)
    mod = np.zeros(GROUPS + 1)
    for fit, mask, x, t_x, T in _cal(o):
        g = np.minimum(x, GROUPS)
        pred = _module(o.model).conditional_expected(fit.params, s.holdout_units, x, t_x, T)
        n += np.bincount(g, minlength=GROUPS + 1)
        act += np.bincount(g, weights=s.x_star[mask], minlength=GROUPS + 1)
        mod += np.bincount(g, weights=pred, minlength=GROUPS + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_act, mean_mod = act / n, mod / n
    total_err = (mod.sum() - act.sum()) / act.sum() if act.sum() else 0.0
    gaps = np.where(n > 0, np.abs(mean_mod - mean_act), -1)
    worst = int(np.argmax(gaps))
    verdict = (f"{_word(total_err, GOOD, ROUGH)}: summed over customers the model expects {mod.sum():,.0f} holdout "
               f"transactions, the customers made {act.sum():,.0f} ({total_err:+.1%}); the largest gap is for "
               f"customers with {label[worst]} calibration repeats ({mean_act[worst]:.2f} actual vs "
               f"{mean_mod[worst]:.2f} model per customer)")
    return {"x": label, "customers": n.tolist(), "actual": _nulls(mean_act), "model": _nulls(mean_mod),
            "holdout_weeks": s.holdout_units * s.unit_days / 7.0, "verdict": verdict}


def _nulls(values: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(v) else float(v) for v in values]


def p_alive_check(o: FitOutcome) -> dict[str, Any]:
    s = o.summaries
    bands = np.array(ALIVE_BANDS)
    n = np.zeros(bands.size - 1)
    act = np.zeros(bands.size - 1)
    mod = np.zeros(bands.size - 1)
    every: list[np.ndarray] = []
    for fit, mask, x, t_x, T in _cal(o):
        p = _module(o.model).p_alive(fit.params, x, t_x, T)
        every.append(p)
        band = np.clip(np.searchsorted(bands, p, side="right") - 1, 0, bands.size - 2)
        n += np.bincount(band, minlength=bands.size - 1)
        if s.holdout:
            act += np.bincount(band, weights=s.x_star[mask], minlength=bands.size - 1)
            mod += np.bincount(band, weights=_module(o.model).conditional_expected(fit.params, s.holdout_units,
                                                                                   x, t_x, T),
                               minlength=bands.size - 1)
    p_all = np.concatenate(every) if every else np.array([])
    labels = [f"{lo:.2f}–{min(hi, 1.0):.2f}" for lo, hi in zip(bands[:-1], bands[1:])]
    out: dict[str, Any] = {"band": labels, "customers": n.tolist(), "mean": float(p_all.mean()) if p_all.size else None,
                           "histogram": np.histogram(p_all, bins=20, range=(0.0, 1.0))[0].tolist()}
    alive = float((p_all >= 0.5).mean()) if p_all.size else 0.0
    if s.holdout:
        with np.errstate(invalid="ignore", divide="ignore"):
            out["actual"], out["model"] = _nulls(act / n), _nulls(mod / n)
        low = n[0] if n.size else 0
        out["verdict"] = (f"mean P(alive) {out['mean']:.2f}, {alive:.0%} of customers above 0.5; customers "
                          f"below 0.10 made {act[0] / low if low else 0:.2f} holdout transactions each "
                          f"(model {mod[0] / low if low else 0:.2f})" if low else
                          f"mean P(alive) {out['mean']:.2f}, {alive:.0%} of customers above 0.5")
    else:
        out["verdict"] = f"mean P(alive) {out['mean']:.2f}, {alive:.0%} of customers above 0.5 (not checked without a holdout)"
    return out


def spend_check(o: FitOutcome) -> dict[str, Any]:
    rows = []
    worst = 0.0
    for seg in o.segments:
        r = seg.spend_correlation
        rows.append({"segment": seg.name, "repeat_buyers": seg.spend_customers, "correlation": r,
                     "excluded": seg.spend_excluded})
        if r is not None:
            worst = max(worst, abs(r))
    s = o.summaries
    repeat = (s.spend_count >= 2) & (s.mean_spend > 0)
    group = np.minimum(s.spend_count[repeat], GROUPS + 1)  # 2..7, then 8+
    labels = [str(k) for k in range(2, GROUPS + 1)] + [f"{GROUPS + 1}+"]
    counts = np.bincount(group, minlength=GROUPS + 2)[2:]
    sums = np.bincount(group, weights=s.mean_spend[repeat], minlength=GROUPS + 2)[2:]
    with np.errstate(invalid="ignore", divide="ignore"):
        by_count = _nulls(sums / counts)
    strong = worst >= CORRELATION_WARNING
    verdict = (f"frequency and mean spend are correlated (|r| up to {worst:.2f} ≥ {CORRELATION_WARNING}): the "
               "gamma-gamma spend model assumes they are independent, so spend forecasts for heavy buyers are "
               "biased" if strong else
               f"frequency and mean spend are nearly independent (|r| ≤ {worst:.2f}), as gamma-gamma assumes")
    return {"segments": rows, "strong": strong, "verdict": verdict, "transactions": labels,
            "customers": counts.tolist(), "mean_spend": by_count}


def all_checks(o: FitOutcome) -> dict[str, Any]:
    return {"frequency": frequency_check(o), "tracking": tracking_check(o), "conditional": conditional_check(o),
            "p_alive": p_alive_check(o), "spend": spend_check(o)}
