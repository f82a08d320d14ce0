"""Summary statistics over Monte Carlo trials, and the two words every output uses for them.

Takes: per-trial values (a list, or an array with trials on axis 0). Gives: `summarize`,
the mean with the two kinds of uncertainty every simulated figure carries, computed in
float64 in trial order so the numbers are reproducible bit for bit:

- **range of outcomes** (`range`: [p5, p95]): the 5th and 95th percentiles of the per-trial
  values (numpy's default "linear" method, type 7 of Hyndman & Fan 1996: the value at
  rank (n − 1)·q of the sorted trials, interpolated between neighbours). When the population
  draws uncertain assumptions per trial (distributions in the population file) it is the
  range of results those assumptions allow; with fixed assumptions it is the trial-to-trial
  spread of a finite population from chance alone (which customers, which purchases) and
  says nothing about whether the assumptions are right. It does not shrink with more trials.
- **Monte Carlo precision** (`mc_precision`: [low, high], also written `low`, `high`): the
  95 % confidence interval of the MEAN over trials (Student t with trials − 1 degrees of
  freedom, quantile from scipy.stats). It says how well the trials pin down the mean and
  shrinks as 1/√trials; a single trial gives a zero-width interval.

`RANGE`, `PRECISION` and the `*_note` functions are the wording the terminal tables, the
reports and the what-if commands print, so the two names mean the same everywhere.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

RANGE = "range of outcomes"
PRECISION = "Monte Carlo precision"
RANGE_PERCENTILES = (5.0, 95.0)
PRECISION_LEVEL = 0.95
MIN_TRIALS_FOR_RANGE = 20  # below this, p5 and p95 are interpolated between the most extreme trials


@lru_cache(maxsize=None)
def t975(df: int) -> float:
    """The 97.5 % quantile of Student's t with `df` degrees of freedom (0 for df <= 0)."""
    if df <= 0:
        return 0.0
    from scipy.special import stdtrit  # what scipy.stats.t.ppf computes, without importing scipy.stats (~1 s)

    return float(stdtrit(df, 0.5 + PRECISION_LEVEL / 2))


def summarize(values) -> dict[str, object]:
    """{"mean", "low", "high", "mc_precision": [low, high], "range": [p5, p95]} for scalars;
    arrays (trials × months) give lists: "mean"/"low"/"high" per month, "mc_precision" and
    "range" as [lows, highs]. `low`/`high` are the Monte Carlo precision interval's ends."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {"mean": None, "low": None, "high": None, "mc_precision": [None, None], "range": [None, None]}
    n = arr.shape[0]
    mean = arr.sum(axis=0) / n
    if n > 1:
        var = ((arr - mean) ** 2).sum(axis=0) / (n - 1)
        half = t975(n - 1) * np.sqrt(var / n)
    else:
        half = np.zeros_like(mean)
    lo, hi = mean - half, mean + half
    p5, p95 = np.percentile(arr, RANGE_PERCENTILES, axis=0)
    if arr.ndim == 1:
        return {"mean": _num(mean), "low": _num(lo), "high": _num(hi),
                "mc_precision": [_num(lo), _num(hi)], "range": [_num(p5), _num(p95)]}
    lows, highs = [_num(x) for x in lo], [_num(x) for x in hi]
    return {"mean": [_num(x) for x in mean], "low": lows, "high": highs, "mc_precision": [lows, highs],
            "range": [[_num(x) for x in p5], [_num(x) for x in p95]]}


def outcome_range(values) -> tuple[float | None, float | None]:
    """(p5, p95) of the values that are defined (NaN left out); (None, None) when none are."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None, None
    p5, p95 = np.percentile(v, RANGE_PERCENTILES)
    return float(p5), float(p95)


def precision_half_width(values) -> float:
    """Half the width of the Monte Carlo precision interval of the mean (0 for fewer than 2 values)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size < 2:
        return 0.0
    return float(t975(v.size - 1) * np.std(v, ddof=1) / math.sqrt(v.size))


def range_note(uncertain: bool, trials: int) -> str:
    """What the range of outcomes means in this run, in one sentence."""
    if trials <= 1:
        return f"one trial: no {RANGE} and no {PRECISION}"
    if uncertain:
        text = (f"{RANGE}: 5th to 95th percentile over the {trials} trials, each drawing the uncertain "
                f"assumptions of the population file")
    else:
        text = (f"{RANGE}: 5th to 95th percentile over the {trials} trials with the assumptions fixed, "
                f"so it is the spread from chance alone (which customers, which purchases), not "
                f"uncertainty about the assumptions")
    if trials < MIN_TRIALS_FOR_RANGE:
        text += f"; with fewer than {MIN_TRIALS_FOR_RANGE} trials its ends are rough"
    return text


def precision_note(trials: int) -> str:
    """What the Monte Carlo precision means, in one sentence."""
    return (f"{PRECISION} (±): the 95% confidence interval of the mean over the {trials} trials "
            f"(Student t); it narrows as 1/√trials")


def legend(uncertain: bool, trials: int) -> list[str]:
    """The two lines that name the uncertainty of a table: the range of outcomes, then the precision."""
    if trials <= 1:
        return [range_note(uncertain, trials)]
    return [range_note(uncertain, trials), precision_note(trials)]


def json_legend(uncertain: bool, trials: int) -> dict[str, str]:
    """What the `range` and `mc_precision` keys of a JSON document mean, in the words above."""
    return {"range": range_note(uncertain, trials), "mc_precision": precision_note(trials)}


def last_month(series: dict | None) -> dict | None:
    """The summary of a monthly series' last month ({"mean", "low", "high", "range"}), None without one."""
    if not series or not series.get("mean"):
        return None
    out = {k: (series[k][-1] if series.get(k) else None) for k in ("mean", "low", "high")}
    rng = series.get("range") or [None, None]
    out["range"] = [rng[0][-1] if rng[0] else None, rng[1][-1] if rng[1] else None]
    return out


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
