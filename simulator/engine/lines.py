"""A purchase's lines in the vectorized engine (docs/semantics.md §3.1).

Takes: a batch's event data, which holds the lines as (k, L) arrays under `LINE_KEYS` when the
day loop drew them (a population with `lines`, a program that reads lines), else nothing (each
purchase is one line: its amount less shipping, its category and quantity). Gives: the per-line
money bases and quantities of awards and discounts, summed over the lines whose category is
not excluded, and the lines' batch context for `any line` conditions; the same arithmetic as
the reference interpreter's (`rulelang.run.earning`: `shares`, `_line_base`, `_line_quantity`).
"""

from __future__ import annotations

import numpy as np

LINE_KEYS = ("lines.amount", "lines.category", "lines.quantity", "lines.valid")


def has_lines(data: dict) -> bool:
    return "lines.amount" in data


def shares(total: np.ndarray, weights: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(k, L) whole cents: `total` split over each row's lines in proportion to `weights`,
    floor(total × W_j / W) − floor(total × W_(j−1) / W); a row whose weights are all 0 puts it
    all on its last line."""
    w = np.where(valid, weights, 0).astype(np.int64)
    cum = np.cumsum(w, axis=1)
    whole = cum[:, -1]
    safe = np.maximum(whole, 1)
    upto = (total.astype(np.int64)[:, None] * cum) // safe[:, None]
    out = np.diff(upto, axis=1, prepend=0)
    zero = whole <= 0
    if zero.any():
        last = valid.sum(axis=1) - 1
        rows = np.flatnonzero(zero)
        out[rows] = 0
        out[rows, np.maximum(last[rows], 0)] = total[rows]
    return out


def counted(cat: np.ndarray, valid: np.ndarray, excluding: tuple[int, ...],
            only: tuple[int, ...] | None) -> np.ndarray:
    """The lines that count: valid, not excluded, and in `only` when it is given."""
    keep = valid & ~np.isin(cat, excluding) if excluding else valid.copy()
    if only is not None:
        keep &= np.isin(cat, only)
    return keep


def line_base(data: dict, amount: np.ndarray, goods: np.ndarray, discount: np.ndarray | None, base: str,
              excluding: tuple[int, ...], only: tuple[int, ...] | None = None) -> np.ndarray:
    """The money base over the lines not excluded: each line's net amount (its amount less its
    share of `discount`; `discount` None: before discounts) or gross amount (plus its share of
    the shipping)."""
    a, cat, valid = data["lines.amount"], data["lines.category"], data["lines.valid"]
    if base == "gross":
        parts = a + shares(amount - goods, a, valid)
    elif discount is None:
        parts = a
    else:
        parts = a - shares(discount, a, valid)
    return np.where(counted(cat, valid, excluding, only), parts, 0).sum(axis=1)


def line_quantity(data: dict, excluding: tuple[int, ...], only: tuple[int, ...] | None = None) -> np.ndarray:
    """The quantity over the lines that count."""
    cat, valid = data["lines.category"], data["lines.valid"]
    return np.where(counted(cat, valid, excluding, only), data["lines.quantity"], 0).sum(axis=1)
