"""Summary statistics over Monte Carlo trials.

Takes: per-trial values (a list, or an array with trials on axis 0). Gives: the mean
and a 95 % confidence interval of the mean (Student t with trials − 1 degrees of
freedom; a single trial gives a zero-width interval), computed in float64 in trial
order so the numbers are reproducible bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042]


def t975(df: int) -> float:
    if df <= 0:
        return 0.0
    if df <= len(_T975):
        return _T975[df - 1]
    if df <= 60:
        return 2.0
    return 1.96


def summarize(values) -> dict[str, object]:
    """{"mean", "low", "high"} for scalars; arrays give lists (per month)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"mean": None, "low": None, "high": None}
    n = arr.shape[0]
    mean = arr.sum(axis=0) / n
    if n > 1:
        var = ((arr - mean) ** 2).sum(axis=0) / (n - 1)
        half = t975(n - 1) * np.sqrt(var / n)
    else:
        half = np.zeros_like(mean)
    lo, hi = mean - half, mean + half
    if arr.ndim == 1:
        return {"mean": _num(mean), "low": _num(lo), "high": _num(hi)}
    return {"mean": [_num(x) for x in mean], "low": [_num(x) for x in lo], "high": [_num(x) for x in hi]}


def _num(x) -> float | None:
    v = float(x)
    return None if math.isnan(v) else v


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out
