"""Vectorized points ledger: per-customer lot buckets for FIFO burn, pending and expiry.

Takes: the customer count, the pending period, and the lot granularity the
program's expiry needs. Gives: `LotStore`, holding for every customer
- a pending ring (one row per earn day, `pending_days` rows) of points not yet spendable,
- matured points, either one number per customer (granularity "none": no expiry
  depends on a lot's age) or a ring of buckets keyed by earn day ("day") or earn
  month ("month"), oldest burned first,
- an `old` bucket for lots older than the ring (kept alive by a tier that stops expiry),
- running totals `outstanding` and `pending`.
Rows are customer-contiguous per bucket (`ring[slot, customer]`) so a day's
calendar work reads one contiguous row. All points are int64.
"""

from __future__ import annotations

import numpy as np


class LotStore:
    def __init__(self, n: int, pending_days: int, granularity: str, ring_size: int):
        self.n = n
        self.pending_days = pending_days
        self.granularity = granularity
        self.ring_size = ring_size
        self.pend = np.zeros((pending_days, n), dtype=np.int32) if pending_days > 0 else None
        if granularity == "none":
            self.avail = np.zeros(n, dtype=np.int64)
            self.ring = None
        else:
            self.avail = None
            self.ring = np.zeros((ring_size, n), dtype=np.int32)
        self.old = np.zeros(n, dtype=np.int64)
        self.outstanding = np.zeros(n, dtype=np.int64)
        self.pending = np.zeros(n, dtype=np.int64)
        self.cur_slot = 0  # newest ring slot in use (earn day or earn month)

    # ------------------------------------------------------------ queries
    def available(self, idx: np.ndarray) -> np.ndarray:
        return self.outstanding[idx] - self.pending[idx]

    # ------------------------------------------------------------ changes
    def add(self, idx: np.ndarray, day: int, slot: int, points: np.ndarray) -> None:
        """Book `points` (>= 0) earned on `day` (ring slot `slot`) to customers `idx`."""
        if idx.size == 0:
            return
        if self.pend is not None:
            self.pend[day % self.pending_days, idx] += points
            self.pending[idx] += points
        elif self.ring is None:
            self.avail[idx] += points
        else:
            self.ring[slot % self.ring_size, idx] += points
        self.outstanding[idx] += points

    def start_slot(self, slot: int, fold: bool) -> None:
        """Make `slot` the newest ring slot; with `fold`, a bucket about to be reused
        moves into `old` (lots kept alive by a tier), otherwise it must be empty."""
        if self.ring is None:
            return
        while self.cur_slot < slot:
            self.cur_slot += 1
            row = self.ring[self.cur_slot % self.ring_size]
            if fold:
                self.old += row
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
            s = self.ring_size
            order = (np.arange(1, s + 1) + self.cur_slot) % s  # oldest .. newest
            block = self.ring[order[:, None], idx[None, :]].astype(np.int64)  # (s, k)
            cum = np.cumsum(block, axis=0)
            before = cum - block
            take = np.clip(rest[None, :] - before, 0, block)
            self.ring[order[:, None], idx[None, :]] = block - take
        self.outstanding[idx] -= amount

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
        return nz, pts

    def expire_old(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nz = idx[self.old[idx] != 0]
        pts = self.old[nz].copy()
        self.old[nz] = 0
        self.outstanding[nz] -= pts
        return nz, pts

    def expire_all(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expire every outstanding point (pending too) of customers `idx`."""
        nz = idx[self.outstanding[idx] != 0]
        pts = self.outstanding[nz].copy()
        if nz.size:
            if self.pend is not None:
                self.pend[:, nz] = 0
            if self.ring is None:
                self.avail[nz] = 0
            else:
                self.ring[:, nz] = 0
            self.old[nz] = 0
            self.pending[nz] = 0
            self.outstanding[nz] = 0
        return nz, pts
