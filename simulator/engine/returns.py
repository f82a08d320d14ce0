"""Returns in the simulation: the purchases due to come back, and what their orders still hold.

Takes: the purchases the engine decided will be returned (drawn at purchase time from
the population's return model, so both arms return the same purchases), and every
change to a customer's lots. Gives:
- `ReturnSchedule`: returns by due day (columns of numpy arrays), popped day by day;
- `OrderBook`: for every open order that earned points, how many points its own lots
  still hold (`R`) and how many the customer's older lots hold (`A`). The lot buckets
  of `simulator.engine.lots.LotStore` know totals per earn day or month; the interpreter takes a
  return's points from the order's own lots first and then from the newest other lots
  (docs/semantics.md §6, §10). Burning and expiry take the oldest lots, so with A and R
  kept up to date the engine reverses exactly what the interpreter reverses:
  - burn X (oldest first): from A, then from R;
  - expiry of a bucket older than the order: from A; of its own bucket or everything: A = R = 0;
  - a return of another order k of the same customer: k's own take comes out of A when k is
    the older order; the rest, newest first, comes out of the lots newer than this order
    (held − A − R), then R, then A.
Open orders are few (returned purchases within their return delay), so each change
touches a small table, never the whole population.
"""

from __future__ import annotations

import numpy as np

_COLUMNS = ("cust", "seq", "day", "slot", "A", "R")


class OrderBook:
    """Open orders that earned points and will be returned (see the module docstring)."""

    def __init__(self, n: int):
        self.n_open = np.zeros(n, dtype=np.int32)  # open orders per customer
        self._mark = np.zeros(n, dtype=bool)  # scratch: customers asked about in `_rows`
        self.size = 0
        cap = 256
        self.cust = np.zeros(cap, dtype=np.int64)
        self.seq = np.zeros(cap, dtype=np.int64)  # creation order (the interpreter's lot order)
        self.day = np.zeros(cap, dtype=np.int64)
        self.slot = np.zeros(cap, dtype=np.int64)
        self.A = np.zeros(cap, dtype=np.int64)
        self.R = np.zeros(cap, dtype=np.int64)
        self.live = np.zeros(cap, dtype=bool)
        self.next_seq = 0
        self.live_count = 0

    # ------------------------------------------------------------ table
    def _grow(self, need: int) -> None:
        cap = self.cust.size
        if self.size + need <= cap:
            return
        if self.live_count * 2 < self.size:  # mostly closed rows: compact instead of growing
            self._compact()
            if self.size + need <= cap:
                return
        new = max(cap * 2, self.size + need)
        for name in (*_COLUMNS, "live"):
            arr = getattr(self, name)
            grown = np.zeros(new, dtype=arr.dtype)
            grown[:self.size] = arr[:self.size]
            setattr(self, name, grown)

    def _compact(self) -> None:
        keep = np.flatnonzero(self.live[:self.size])
        for name in (*_COLUMNS, "live"):
            arr = getattr(self, name)
            arr[:keep.size] = arr[keep]
        self.live[keep.size:self.size] = False
        self.size = keep.size

    def open(self, cust: np.ndarray, day: int, slot: int, held: np.ndarray, earned: np.ndarray) -> np.ndarray:
        """Open orders just earned by `cust` (their lots are the newest); returns their ids
        (rows move when the table is compacted; `rows_of` finds an id's row).
        `held` is each customer's points in lots after the purchase: the order holds
        min(earned, held) (less when part of it repaid a debt), older lots the rest."""
        k = cust.size
        self._grow(k)
        rows = np.arange(self.size, self.size + k)
        self.size += k
        own = np.minimum(earned, held)
        self.cust[rows] = cust
        self.seq[rows] = self.next_seq + np.arange(k)
        self.next_seq += k
        self.day[rows] = day
        self.slot[rows] = slot
        self.R[rows] = own
        self.A[rows] = held - own
        self.live[rows] = True
        self.n_open[cust] += 1
        self.live_count += k
        return self.seq[rows].copy()

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Current rows of order ids (-1 for -1). Ids grow with the rows and compaction keeps
        the order, so the id column is sorted."""
        out = np.full(ids.size, -1, dtype=np.int64)
        has = ids >= 0
        if has.any():
            out[has] = np.searchsorted(self.seq[:self.size], ids[has])
        return out

    def close(self, rows: np.ndarray) -> None:
        rows = rows[rows >= 0]
        if rows.size:
            self.live[rows] = False
            self.n_open[self.cust[rows]] -= 1
            self.live_count -= rows.size

    def _rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Open rows of customers `idx` (sorted, unique) and each row's position in `idx`."""
        if self.live_count == 0 or idx.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        with_open = idx[self.n_open[idx] > 0]
        if with_open.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        m = self.size
        mark = self._mark
        mark[with_open] = True
        rows = np.flatnonzero(self.live[:m] & mark[self.cust[:m]])
        mark[with_open] = False
        return rows, np.searchsorted(idx, self.cust[rows])

    # ------------------------------------------------------------ lot changes
    def front(self, idx: np.ndarray, amount: np.ndarray) -> None:
        """Customers `idx` burned `amount` points, oldest lots first."""
        rows, pos = self._rows(idx)
        if rows.size == 0:
            return
        x = amount[pos]
        a = self.A[rows]
        t = np.minimum(x, a)
        self.A[rows] = a - t
        r = self.R[rows]
        self.R[rows] = r - np.minimum(r, x - t)

    def expired_slot(self, idx: np.ndarray, pts: np.ndarray, slot: int) -> None:
        """The bucket of `slot` expired (`pts` points per customer of `idx`)."""
        self._expired(idx, pts, slot)

    def expired_old(self, idx: np.ndarray, pts: np.ndarray, oldest_ring_slot: int) -> None:
        """The `old` bucket (lots older than the ring) expired."""
        self._expired(idx, pts, oldest_ring_slot - 1)

    def _expired(self, idx: np.ndarray, pts: np.ndarray, through: int) -> None:
        """Lots of slots up to `through` expired, `pts` points per customer of `idx`: an order of
        such a slot lost its own lots (and, being newer than them, none of its older ones were
        left); a newer order lost them from its older lots `A`."""
        if self.live_count == 0:
            return
        order = np.argsort(idx, kind="stable")
        idx, pts = idx[order], pts[order]
        rows, pos = self._rows(idx)
        if rows.size == 0:
            return
        newer = self.slot[rows] > through
        self.A[rows[newer]] -= pts[pos[newer]]
        gone = rows[~newer]
        self.A[gone] = 0
        self.R[gone] = 0

    def expired_all(self, idx: np.ndarray) -> None:
        rows, _ = self._rows(np.sort(idx))
        self.A[rows] = 0
        self.R[rows] = 0

    def reversed(self, idx: np.ndarray, own_rows: np.ndarray, take_own: np.ndarray, rest: np.ndarray,
                 held_after_own: np.ndarray, keep_open: np.ndarray | None = None) -> None:
        """One return per customer of `idx`: `take_own` came from the order `own_rows`, then
        `rest` was asked of the other lots, newest first (`held_after_own` lots held then).
        The order's row closes unless `keep_open` (an order returned in parts, more to come):
        an open row then takes part in the rest below like any other open order (its own lots
        were taken first, so when `rest` > 0 it has none left)."""
        has = own_rows >= 0
        if has.any():
            self.R[own_rows[has]] -= take_own[has]
        self.close(own_rows if keep_open is None else np.where(keep_open, -1, own_rows))
        rows, pos = self._rows(idx)
        if rows.size == 0:
            return
        k_seq = np.where(has, self.seq[np.maximum(own_rows, 0)], -1)[pos]
        a = self.A[rows]
        a -= np.where(self.seq[rows] > k_seq, take_own[pos], 0)  # the order k was older than this one
        r = self.R[rows]
        want = rest[pos]
        newer = np.maximum(held_after_own[pos] - a - r, 0)
        t1 = np.minimum(want, newer)
        t2 = np.minimum(want - t1, r)
        t3 = np.minimum(want - t1 - t2, a)
        self.R[rows] = r - t2
        self.A[rows] = a - t3


class ReturnSchedule:
    """Purchases to be returned, by due day.

    `add` takes equal-length columns (integers or booleans) and their due days; the columns
    are packed into one int64 matrix sorted by due day, and each due day keeps a view of its
    rows, so booking and popping cost a handful of numpy calls whatever the number of columns.
    """

    def __init__(self) -> None:
        self.by_day: dict[int, list[np.ndarray]] = {}
        self.names: tuple[str, ...] = ()
        self.dtypes: tuple[np.dtype, ...] = ()

    def add(self, due: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        if due.size == 0:
            return
        if not self.names:
            self.names = tuple(columns)
            self.dtypes = tuple(np.asarray(v).dtype for v in columns.values())
        order = np.argsort(due, kind="stable")
        packed = np.stack([np.asarray(columns[k])[order] for k in self.names]).astype(np.int64, copy=False)
        due_sorted = due[order]
        cuts = np.flatnonzero(np.diff(due_sorted)) + 1
        starts = [0, *cuts.tolist()]
        ends = [*cuts.tolist(), due_sorted.size]
        days = due_sorted[starts].tolist()
        for d, s, e in zip(days, starts, ends):
            self.by_day.setdefault(int(d), []).append(packed[:, s:e])

    def pop(self, day: int) -> dict[str, np.ndarray] | None:
        parts = self.by_day.pop(day, None)
        if not parts:
            return None
        packed = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return {k: (packed[i] if t == np.int64 else packed[i].astype(t))
                for i, (k, t) in enumerate(zip(self.names, self.dtypes))}
