"""Vectorized points ledger: per-customer lot buckets for FIFO burn, pending, expiry and reversal.

Takes: the customer count, the pending period, the lot granularity the program's
expiry needs, and whether returns may take the balance below zero. Gives:
`LotStore`, holding for every customer
- a pending ring (one row per earn day, `pending_days` rows) of points not yet spendable,
- matured points, either one number per customer (granularity "none": no expiry
  depends on a lot's age) or a ring of buckets keyed by earn day ("day") or earn
  month ("month"), oldest burned first,
- an `old` bucket for lots older than the ring (kept alive by a tier that stops expiry),
- running totals `outstanding` and `pending`, and `debt` (points a return reversed
  beyond the balance, under `negative balance allowed`; later lots repay it first).

Lots in one bucket share their expiry and maturity, so bucket totals give exactly the
interpreter's ledger (docs/semantics.md §6, §10): burning and expiry take the oldest
lots, a return takes its order's own lots and then the newest. Which lots an order
still holds is followed by an optional `OrderBook` (simulator.engine.returns) that every
change here reports to. Rows are customer-contiguous per bucket (`ring[slot, customer]`)
so a day's calendar work reads one contiguous row. Points are int64 everywhere, buckets too:
a bucket holds whatever a customer earns in a day or a month, which no static bound keeps
under 2**31 (an int32 bucket wrapped silently: F14); `rulelang.limits` keeps every sum under 2**63.

Issue-month cohorts (docs/accounting.md §3): when `cohorts` is set (the day loop sets a
`simulator.engine.cohorts.CohortBook`), every change is reported to it, with what it needs to know
which calendar month's lots moved — `add` (points earned on `day`, and the part that repaid a debt),
`add_opening` (the "opening" cohort), `burn` (redeemed: the oldest points), `expire_slot` (expired: the
bucket's month, read from its slot — an earn day's month, or the earn month — the opening balance
first in slot 0), `expire_old` (expired: the oldest points), `expire_all` (expired: everything),
`reverse` (reversed: the order's own lots in its earn day's month, then the newest points; the part
beyond the balance to "below zero"). The book keeps one int64 per customer and issue month (the
points still held of that month) and two more per customer (simulator.engine.cohorts); the buckets here are unchanged, so nothing it records changes a
ledger total or a random draw. Any other engine of these lots (a compiled kernel) reports the same
changes at the same moments.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class LotStore:
    def __init__(self, n: int, pending_days: int, granularity: str, ring_size: int,
                 negative_allowed: bool = False):
        self.n = n
        self.pending_days = pending_days
        self.granularity = granularity
        self.ring_size = ring_size
        self.pend = np.zeros((pending_days, n), dtype=np.int64) if pending_days > 0 else None
        if granularity == "none":
            self.avail = np.zeros(n, dtype=np.int64)
            self.ring = None
        else:
            self.avail = None
            self.ring = np.zeros((ring_size, n), dtype=np.int64)
        self.old = np.zeros(n, dtype=np.int64)
        self.outstanding = np.zeros(n, dtype=np.int64)
        self.pending = np.zeros(n, dtype=np.int64)
        self.debt = np.zeros(n, dtype=np.int64) if negative_allowed else None
        self.cur_slot = 0  # newest ring slot in use (earn day or earn month)
        # per customer, a lower bound of the oldest ring slot that may hold points: burns and
        # reversals read only the slots from there to the newest, not the whole ring
        self.head = np.zeros(n, dtype=np.int64) if self.ring is not None else None
        self.book = None  # an OrderBook when returns reverse points (set by the program arm)
        self.cohorts = None  # a CohortBook (simulator.engine.cohorts) told of every change (set by the day loop)

    # ------------------------------------------------------------ queries
    def available(self, idx: np.ndarray) -> np.ndarray:
        if self.pend is None:  # no pending period: everything outstanding is spendable
            return self.outstanding[idx]
        return self.outstanding[idx] - self.pending[idx]

    def held(self, idx: np.ndarray) -> np.ndarray:
        """Points remaining in lots (outstanding plus any debt)."""
        if self.debt is None:
            return self.outstanding[idx]
        return self.outstanding[idx] + self.debt[idx]

    def audit(self) -> np.ndarray:
        """Per customer, how far the buckets are from the running totals, recounted from the
        buckets themselves (independent of `outstanding` and `pending`, which every change
        updates alongside): |buckets − (outstanding + debt)| + |pending rows − pending| + the
        points in negative buckets. 0 for every customer of a sound ledger; a bucket that
        wrapped or went negative shows here even when the running totals still add up."""
        held = self.old.copy()
        bad = np.maximum(-self.old, 0)
        pend = np.zeros(self.n, dtype=np.int64)
        for rows in (self.ring, self.pend):
            if rows is None or rows.shape[0] == 0:
                continue
            # int64 sums are exact here: every bucket is bounded by MAX_CUSTOMER_POINTS (2**53)
            # and a ring has at most a few thousand rows
            bad += np.maximum(-rows, 0).sum(axis=0)
            part = rows.sum(axis=0)
            held += part
            if rows is self.pend:
                pend = part
        if self.avail is not None:
            held += self.avail
            bad += np.maximum(-self.avail, 0)
        debt = self.debt if self.debt is not None else 0
        return np.abs(held - (self.outstanding + debt)) + np.abs(pend - self.pending) + bad

    # ------------------------------------------------------------ changes
    def add(self, idx: np.ndarray, day: int, slot: int, points: np.ndarray) -> None:
        """Book `points` (>= 0) earned on `day` (ring slot `slot`) to customers `idx`;
        a debt is repaid first (that part never enters a bucket)."""
        if idx.size == 0:
            return
        self.outstanding[idx] += points
        pay = None
        if self.debt is not None:
            debt = self.debt[idx]
            if debt.any():
                pay = np.minimum(debt, points)
                self.debt[idx] = debt - pay
        if self.cohorts is not None:
            self.cohorts.earned(idx, day, points, pay)
        if pay is not None:
            points = points - pay
        if self.pend is not None:
            self.pend[day % self.pending_days, idx] += points
            self.pending[idx] += points
        elif self.ring is None:
            self.avail[idx] += points
        else:
            self.ring[slot % self.ring_size, idx] += points
            # `head` stays a lower bound: a burn never sets it past the newest slot, where new lots go

    def add_opening(self, idx: np.ndarray, slot: int, points: np.ndarray) -> None:
        """Book opening balances as matured points of ring slot `slot` (no pending period)."""
        self.outstanding[idx] += points
        if self.cohorts is not None:
            self.cohorts.opening(idx, points.astype(np.int64))
        if self.ring is None:
            self.avail[idx] += points
        else:
            self.ring[slot % self.ring_size, idx] += points.astype(np.int64)
            self.head[idx] = np.minimum(self.head[idx], slot)

    def start_slot(self, slot: int, fold: bool) -> None:
        """Make `slot` the newest ring slot; with `fold`, a bucket about to be reused
        moves into `old` (lots kept alive by a tier), otherwise it must be empty."""
        if self.ring is None:
            return
        while self.cur_slot < slot:
            self.cur_slot += 1
            row = self.ring[self.cur_slot % self.ring_size]
            if fold:
                nz = np.flatnonzero(row)
                if nz.size:
                    self.old[nz] += row[nz]
                    row[nz] = 0
            else:
                row[:] = 0

    def mature(self, day: int, earn_slot: int) -> None:
        """Move the lots earned `pending_days` ago (ring slot `earn_slot`) to matured points."""
        if self.pend is None:
            return
        row = self.pend[day % self.pending_days]
        nz = np.flatnonzero(row)
        if nz.size == 0:
            return
        pts = row[nz].astype(np.int64)
        self.pending[nz] -= pts
        if self.ring is None:
            self.avail[nz] += pts
        else:
            self.ring[earn_slot % self.ring_size, nz] += pts
            self.head[nz] = np.minimum(self.head[nz], earn_slot)
        row[nz] = 0

    def burn(self, idx: np.ndarray, amount: np.ndarray) -> None:
        """Spend `amount` matured points per customer, oldest lots first (caller checked cover)."""
        if idx.size == 0:
            return
        if self.ring is None:
            self.avail[idx] -= amount
        else:
            take_old = np.minimum(self.old[idx], amount)
            self.old[idx] -= take_old
            rest = amount - take_old
            span = self._span(idx)
            v = self.ring[span.slots, span.cols].astype(np.int64)  # each customer's slots, oldest first
            cs = np.cumsum(v)
            before = cs - v
            before -= before[span.first][span.grp]  # points in the customer's older slots
            take = np.clip(rest[span.grp] - before, 0, v)
            left = v - take
            self.ring[span.slots, span.cols] = left
            # the oldest slot still holding points is the customer's new lower bound
            first_left = np.minimum.reduceat(np.where(left > 0, span.off, span.size[span.grp]), span.first)
            self.head[idx] = span.start + np.minimum(first_left, span.size - 1)
        self.outstanding[idx] -= amount
        if self.cohorts is not None:
            self.cohorts.take_oldest(idx, amount, "redeemed")
        if self.book is not None:
            self.book.front(idx, amount)

    def _span(self, idx: np.ndarray) -> "_Span":
        """The ring slots from each customer's `head` (at least the oldest slot still in the
        ring) to the newest, flattened customer by customer, oldest first."""
        start = np.clip(self.head[idx], self.cur_slot - self.ring_size + 1, self.cur_slot)
        size = self.cur_slot - start + 1
        first = np.cumsum(size) - size
        grp = np.repeat(np.arange(idx.size), size)
        off = np.arange(int(size.sum())) - first[grp]
        return _Span(start, size, first, grp, off, (start[grp] + off) % self.ring_size, idx[grp])

    def expire_slot(self, slot: int, mask_idx: np.ndarray | None, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Expire the bucket of `slot` (all customers, or only `mask_idx`) — still pending
        lots too, when the slot is an earn day within the pending period; returns
        (customers, points expired)."""
        pending = (self.pend is not None and self.granularity == "day" and slot > day - self.pending_days)
        row = self.pend[slot % self.pending_days] if pending else self.ring[slot % self.ring_size]
        if mask_idx is None:
            nz = np.flatnonzero(row)
        else:
            nz = mask_idx[row[mask_idx] != 0]
        pts = row[nz].astype(np.int64)
        row[nz] = 0
        self.outstanding[nz] -= pts
        if pending:
            self.pending[nz] -= pts
        if self.cohorts is not None:  # the opening balance is a lot of slot 0 (`add_opening`)
            self.cohorts.take_slot(nz, pts, slot, not pending and slot == 0, "expired")
        if self.book is not None and nz.size:
            self.book.expired_slot(nz, pts, slot)
        return nz, pts

    def expire_old(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nz = idx[self.old[idx] != 0]
        pts = self.old[nz].copy()
        self.old[nz] = 0
        self.outstanding[nz] -= pts
        if self.cohorts is not None:  # `old` holds a customer's oldest lots
            self.cohorts.take_oldest(nz, pts, "expired")
        if self.book is not None and nz.size:
            self.book.expired_old(nz, pts, self.cur_slot - self.ring_size + 1)
        return nz, pts

    def expire_all(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expire every point held in lots (pending too) of customers `idx`; a debt stays."""
        held = self.held(idx)
        sel = held != 0
        nz = idx[sel]
        pts = held[sel]
        if nz.size:
            if self.pend is not None:
                self.pend[:, nz] = 0
            if self.ring is None:
                self.avail[nz] = 0
            else:
                self.ring[:, nz] = 0
            self.old[nz] = 0
            self.pending[nz] = 0
            self.outstanding[nz] -= pts
            if self.cohorts is not None:
                self.cohorts.take_all(nz, "expired")
            if self.book is not None:
                self.book.expired_all(nz)
        return nz, pts

    # ------------------------------------------------------------ returns (§6, §10)
    def reverse(self, idx: np.ndarray, target: np.ndarray, own_day: np.ndarray, own_slot: np.ndarray,
                own_ids: np.ndarray, day: int, keep_open: np.ndarray | None = None) -> np.ndarray:
        """Reverse `target` points of one returned order per customer (`idx` unique): first
        from the order's own lots (earned on `own_day`, ring slot `own_slot`; what they
        still hold is tracked by the order book under `own_ids`, -1 when the order earned
        nothing), then from the other lots newest first, pending or not. Under a negative
        balance policy the rest becomes debt, otherwise it is not reversed. Returns the
        points reversed per customer. An order returned in parts stays in the order book
        (`keep_open` True) until its last return."""
        book = self.book
        own_rows = book.rows_of(own_ids) if book is not None else np.full(idx.size, -1, dtype=np.int64)
        has_row = own_rows >= 0
        own_left = np.zeros(idx.size, dtype=np.int64)
        if book is not None and has_row.any():
            own_left[has_row] = book.R[own_rows[has_row]]
        take_own = np.minimum(target, own_left)
        if take_own.any():
            self._take_own(idx, take_own, own_day, own_slot, day)
            if self.cohorts is not None:
                has = take_own > 0
                self.cohorts.take_rows(idx[has], self.cohorts.month_row(own_day[has]), take_own[has], "reversed")
        held_after_own = self.held(idx) - take_own
        rest = target - take_own
        taken = np.zeros(idx.size, dtype=np.int64)
        sel = np.flatnonzero(rest > 0)
        if sel.size:
            taken[sel] = self._take_newest(idx[sel], rest[sel], day)
            if self.cohorts is not None:
                self.cohorts.take_newest(idx[sel], taken[sel], "reversed")
        leftover = rest - taken
        done = take_own + taken
        if self.debt is not None:
            self.debt[idx] += leftover
            done = done + leftover
            if self.cohorts is not None:
                self.cohorts.below(idx, leftover)
        self.outstanding[idx] -= done
        if book is not None:
            book.reversed(idx, own_rows, take_own, rest, held_after_own, keep_open)
        return done

    def _take_own(self, idx: np.ndarray, take: np.ndarray, own_day: np.ndarray, own_slot: np.ndarray,
                  day: int) -> None:
        """Take `take` points from the bucket that holds each customer's order lots."""
        P = self.pending_days
        in_pend = (own_day > day - P) if self.pend is not None else np.zeros(idx.size, dtype=bool)
        if in_pend.any():
            c, t = idx[in_pend], take[in_pend]
            self.pend[own_day[in_pend] % P, c] -= t
            self.pending[c] -= t
        rest = ~in_pend
        if not rest.any():
            return
        c, t, s = idx[rest], take[rest], own_slot[rest]
        if self.ring is None:
            self.avail[c] -= t
            return
        in_ring = s > self.cur_slot - self.ring_size
        self.ring[s[in_ring] % self.ring_size, c[in_ring]] -= t[in_ring]
        self.old[c[~in_ring]] -= t[~in_ring]

    def _take_newest(self, idx: np.ndarray, want: np.ndarray, day: int) -> np.ndarray:
        """Take up to `want` points per customer from the newest lots (pending first, then the
        ring newest first, then `old`); returns what was taken."""
        k = idx.size
        taken = np.zeros(k, dtype=np.int64)
        P = self.pending_days
        if self.pend is not None:
            prow = (day - np.arange(P)) % P  # pending rows, newest earn day first
            block = self.pend[prow[:, None], idx[None, :]].astype(np.int64)
            before = np.cumsum(block, axis=0) - block
            t = np.clip(want[None, :] - before, 0, block)
            if t.any():
                self.pend[prow[:, None], idx[None, :]] -= t
                got = t.sum(axis=0)
                self.pending[idx] -= got
                taken += got
        need = want - taken
        if self.ring is None:
            t = np.minimum(np.maximum(self.avail[idx], 0), need)
            self.avail[idx] -= t
            taken += t
        elif need.any():
            span = self._span(idx)
            slots = (self.cur_slot - span.off) % self.ring_size  # newest first
            v = self.ring[slots, span.cols].astype(np.int64)
            before = np.cumsum(v) - v
            before -= before[span.first][span.grp]
            t = np.clip(need[span.grp] - before, 0, v)
            if t.any():
                self.ring[slots, span.cols] = (v - t)
                taken += np.add.reduceat(t, span.first)
        need = want - taken
        t = np.minimum(np.maximum(self.old[idx], 0), need)
        self.old[idx] -= t
        return taken + t


class _Span(NamedTuple):
    """Ring slots of a set of customers, flattened (see `LotStore._span`)."""

    start: np.ndarray  # per customer: first (oldest) slot read
    size: np.ndarray  # per customer: slots read (at least 1)
    first: np.ndarray  # per customer: position of its first slot in the flat arrays
    grp: np.ndarray  # flat: which customer (position in idx)
    off: np.ndarray  # flat: 0 .. size - 1 within the customer
    slots: np.ndarray  # flat: ring row, oldest first
    cols: np.ndarray  # flat: customer index
