"""Drawing the lines of simulated purchases (a population segment's `lines`, docs/simulator.md).

Takes: the population's segments (their `LineModel`), the day's buyers, their segments, the
goods amount (amount less shipping), category and quantity of each purchase, and the blocks'
line streams (stream 5 of `simulator.engine.day_loop.block_rng`). Gives: the lines as (buyers, L)
arrays under `simulator.engine.lines.LINE_KEYS`, L the day's largest number of lines. Per block
(in block order, so the draws depend only on the seed, the trial and the block): the number of
lines of each buyer, 1 + Poisson(per_purchase − 1) (at most MAX_LINES); then, for as many line
slots as the block's largest basket, one uniform per slot for its category and one Poisson draw
per slot for its quantity, then, for each line attribute the program reads, one uniform per slot
(simulator.engine.line_attributes). A segment without `lines` gives one line: the
purchase itself. The goods are split over the lines in whole cents, in proportion to the
categories' amount weights (simulator.engine.lines.shares), so the lines add up to the purchase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.line_attributes import KEY, AttributeTables
from simulator.engine.lines import shares
from simulator.model.population import MAX_LINES, Population
from simulator.model.strings import StringTable

WEIGHT_SCALE = 1000  # amount weights in thousandths, so that the split is in whole numbers


@dataclass(frozen=True)
class LineTables:
    has: np.ndarray  # (segments,) bool: the segment describes lines
    per: np.ndarray  # (segments,) mean lines per purchase
    cum: np.ndarray  # (segments, C) cumulative shares of the categories
    codes: np.ndarray  # (segments, C) category string codes
    weight: np.ndarray  # (segments, C) int64 amount weights
    qmean: np.ndarray  # (segments, C) mean quantity of a line
    attributes: AttributeTables | None = None  # the line attributes the program reads (drawn last)

    @classmethod
    def of(cls, pop: Population, strings: StringTable,
           attributes: tuple[tuple[str, str], ...] = ()) -> "LineTables":
        n = len(pop.segments)
        width = max((len(s.lines.categories) for s in pop.segments if s.lines), default=1)
        has, per = np.zeros(n, bool), np.ones(n)
        cum, codes = np.ones((n, width)), np.zeros((n, width), np.int64)
        weight, qmean = np.ones((n, width), np.int64), np.zeros((n, width))
        for i, s in enumerate(pop.segments):
            if s.lines is None:
                continue
            c = len(s.lines.categories)
            has[i], per[i] = True, s.lines.per_purchase
            cum[i, :c] = np.cumsum(s.lines.shares)
            cum[i, c - 1:] = 1.0
            codes[i, :c] = [strings.code(x) for x in s.lines.categories]
            codes[i, c:] = codes[i, c - 1]
            weight[i, :c] = [int(round(w * WEIGHT_SCALE)) for w in s.lines.amounts]
            weight[i, c:] = weight[i, c - 1]
            qmean[i, :c] = s.lines.quantities
            qmean[i, c:] = qmean[i, c - 1]
        attrs = AttributeTables.of(pop, strings, attributes) if attributes else None
        return cls(has, per, cum, codes, weight, qmean, attrs)

    def draw(self, rngs: list, block_slices: list, U: np.ndarray, seg: np.ndarray, goods: np.ndarray,
             cat: np.ndarray, quantity: np.ndarray | None) -> dict[str, np.ndarray]:
        m, L = U.size, MAX_LINES
        count = np.ones(m, np.int64)
        pick = np.zeros((m, L), np.int64)
        qty = np.zeros((m, L), np.int64)
        at = self.attributes
        attrs = {} if at is None else {KEY + name: np.full((m, L), default, dtype=values.dtype)
                                       for name, default, values in zip(at.names, at.defaults, at.values)}
        for b, sl in enumerate(block_slices):
            lo, hi = (0, m) if len(block_slices) == 1 else (int(x) for x in np.searchsorted(U, [sl.start, sl.stop]))
            if hi <= lo:
                continue
            sg = seg[lo:hi]
            rng = rngs[b]
            count[lo:hi] = np.minimum(1 + rng.poisson(self.per[sg] - 1.0), L)
            w = int(count[lo:hi].max())  # line slots this block's buyers use today
            u = rng.random((hi - lo, w))
            got = np.minimum((u[:, :, None] >= self.cum[sg][:, None, :]).sum(axis=2), self.cum.shape[1] - 1)
            pick[lo:hi, :w] = got
            qty[lo:hi, :w] = rng.poisson(np.take_along_axis(self.qmean[sg], got, axis=1))
            if at is not None:  # the line attributes the program reads: after the lines' own draws
                at.draw(rng, sg, got, attrs, lo, hi)
        has = self.has[seg]
        codes = self.codes[seg[:, None], pick]
        weights = self.weight[seg[:, None], pick]
        count = np.where(has, count, 1)
        valid = np.arange(L)[None, :] < count[:, None]
        amount = shares(goods, weights, valid)
        # a segment without lines: one line, the purchase itself
        plain = np.flatnonzero(~has)
        if plain.size:
            codes[plain] = cat[plain, None]
            qty[plain] = 0
            qty[plain, 0] = quantity[plain] if quantity is not None else 0
            amount[plain] = 0
            amount[plain, 0] = goods[plain]
        width = int(count.max()) if m else 1  # the day's widest basket: fewer columns to carry
        if plain.size:  # the purchase as one line gives no attribute: each reads its default
            for key, default in zip(attrs, () if at is None else at.defaults):
                attrs[key][plain] = default
        return {"lines.amount": np.where(valid, amount, 0)[:, :width], "lines.category": codes[:, :width],
                "lines.quantity": np.where(valid, qty, 0)[:, :width], "lines.valid": valid[:, :width],
                **{key: value[:, :width] for key, value in attrs.items()}}
