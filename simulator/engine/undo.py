"""What a return undoes of its purchase, for the vectorized engine (docs/semantics.md §6).

Takes: the program arm (`ProgramArm`), a batch of returns (customers, returned and whole
amounts, the order's day) and what each order added (its discount; with `returns lower tier
metric and counters`, its tier-metric increment and counter increments, kept by the arm at
purchase time in `last_moved`). Gives, as `rulelang.run.interpreter` does after a return's own
rules: the returned share of each quantity, `share` (all of what is left for a return of the
whole amount, else floor(quantity × returned / whole), at most what earlier returns left);
the refunded discount share; the metric lowered in the order's month when that month is
still in the tier window; counters and the purchase count lowered; and, with
`returns lower tier at once`, the tier the metric now reaches.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.calendar import month_index


def share(quantity: np.ndarray, returned: np.ndarray, whole: np.ndarray,
          undone: np.ndarray | int = 0) -> np.ndarray:
    """The part of `quantity` each return undoes (integers, see the module docstring)."""
    left = np.maximum(quantity - undone, 0)
    part = quantity * returned // np.maximum(whole, 1)
    return np.where((returned >= whole) | (whole <= 0), left, np.minimum(part, left))


def undo_returns(arm, c: np.ndarray, returned: np.ndarray, whole: np.ndarray, order_day: np.ndarray,
                 moved: dict[str, np.ndarray], undone: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Lower the metric, counters and purchase count of customers `c` (one return each) by the
    returned share of what their orders added; returns what was taken, by key of `moved`, and
    under "lowered" how much the metric of the window fell."""
    taken: dict[str, np.ndarray] = {}
    undone = undone or {}
    for key, added in moved.items():
        taken[key] = share(added, returned, whole, undone.get(key, 0))
    ts = arm.p.tiers
    dec = taken.get("metric")
    if ts is not None and dec is not None and dec.any():
        now = month_index(arm.date)
        order_month = month_index(arm.cal.start) + arm.plan.month_of_day[order_day].astype(np.int64)
        if ts.window == "lifetime":
            live = np.ones(c.size, dtype=bool)
        elif ts.window == "calendar_year":
            live = order_month // 12 == now // 12
        else:
            live = now - order_month < arm.window.shape[0]
        d = np.where(live, dec, 0)
        taken["lowered"] = d
        np.subtract.at(arm.metric, c, d)
        if arm.window is not None:
            np.subtract.at(arm.window, (order_month % arm.window.shape[0], c), d)
    for key, dec in list(taken.items()):
        if key.startswith("counter."):
            np.subtract.at(arm.counters[key[len("counter."):]], c, dec)
    if arm.counts_purchases:
        whole_gone = share((whole > 0).astype(np.int64), returned, whole, undone.get("purchase", 0))
        taken["purchase"] = whole_gone
        np.subtract.at(arm.purchases, c, whole_gone)
    return taken


def requalify(arm, c: np.ndarray, taken: dict[str, np.ndarray]) -> None:
    """`returns lower tier at once`: customers `c` whose return lowered the metric of the window
    (`taken["lowered"]` from `undo_returns`) and whose metric no longer reaches their tier move at
    once to the tier it reaches (their status starts today)."""
    ts = arm.p.tiers
    if ts is None or ts.on_return != "lower_at_once" or not arm.p.returns.lower_metrics or c.size == 0:
        return
    lowered = taken.get("lowered")
    if lowered is None:
        return
    c = np.unique(c[lowered > 0])
    qual = arm.qualified(arm.metric[c])
    down = qual < arm.tier[c]
    if down.any():
        d = c[down]
        arm.tier[d] = qual[down]
        arm.tier_since[d] = arm.day
        arm.grace_start[d] = -1
