"""Exact integer arithmetic on numpy arrays: sums and products that never wrap silently.

Takes: int64 arrays (and Python ints). Gives: exact results, as int64 arrays when they fit
and as Python ints (or object arrays) when they might not, so that a total or a product
that leaves int64 either stays exact or raises `ExactRangeError`, never wraps. The
checks are scalar bounds (largest magnitude × count), so the common case costs one
`abs().max()` and stays vectorized.
"""

from __future__ import annotations

import numpy as np

INT64_SAFE = 2**62  # products and sums below this cannot wrap, with room for one more addition


class ExactRangeError(ArithmeticError):
    """A simulated total does not fit the engine's int64 arrays."""


def _max_abs(a: np.ndarray | int) -> int:
    if isinstance(a, np.ndarray):
        return int(np.abs(a).max()) if a.size else 0
    return abs(int(a))


def exact_sum(a: np.ndarray) -> int:
    """The sum of an int64 array as a Python int, exactly (int64 when the bound allows it)."""
    if a.size == 0:
        return 0
    if a.dtype == object:
        return int(sum(a.tolist()))
    big = _max_abs(a)
    if big * a.size < INT64_SAFE:
        return int(a.sum())
    return int(sum(a.tolist()))


def fits_int64(values: np.ndarray) -> np.ndarray:
    """`values` (int64 or an object array of Python ints) as int64, or ExactRangeError."""
    if values.dtype != object:
        return values
    if values.size and _max_abs(values) >= 2**63:
        raise ExactRangeError(f"a value of {_max_abs(values):.3e} is beyond int64 (9.2e18)")
    return values.astype(np.int64)


def mul(*factors: np.ndarray | int) -> np.ndarray:
    """The elementwise product of int64 arrays and ints: int64 when the magnitudes' product
    stays under 2**62, else an object array of exact Python ints."""
    bound = 1
    for f in factors:
        bound *= _max_abs(f)
    if bound < INT64_SAFE:
        out = np.asarray(factors[0], dtype=np.int64)
        for f in factors[1:]:
            out = out * f
        return np.asarray(out, dtype=np.int64)
    out = np.asarray(factors[0]).astype(object)
    for f in factors[1:]:
        out = out * (np.asarray(f).astype(object) if isinstance(f, np.ndarray) else int(f))
    return out


def checked_add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a + b for int64 arrays, or ExactRangeError when a sum could leave int64."""
    if _max_abs(a) + _max_abs(b) >= 2**63:
        raise ExactRangeError("a total of the run is beyond int64 (9.2e18)")
    return a + b


__all__ = ["ExactRangeError", "checked_add", "exact_sum", "fits_int64", "mul"]
