"""Vouchers with a life in the vectorized engine: issued by a conversion or a reward, used, expired.

Takes: the chunk's customer count (issues give their end day, face value and counts). Gives:
`VoucherBook`, per customer a few slots (end day, face value in cents, count; the table grows
when a customer holds more kinds), with `issue`, `expire` (the calendar work of a day, before its
events: only the customers with a slot ending that day are touched) and `use` (the voucher that
expires first, of equal end days the smaller face value first), and per customer the totals
issued / used / expired / outstanding, in count and in cents. The same semantics as
`rulelang.run.vouchers` (docs/semantics.md §8); the cost of a used voucher (its face value) is
added by the caller to the arm's voucher cents. `voucher_end` is the validity rule.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from simulator.engine.calendar import add_months

__all__ = ["VoucherBook", "voucher_end"]

EMPTY = np.int64(2**20)  # the end day of an empty slot (beyond any run: MAX_DAYS + a validity < 2**20)
FACE = np.int64(2**41)  # sort key: end day × FACE + face cents (faces are below MAX_MONEY_CENTS < 2**40)


def voucher_end(valid: int, unit: str, issued: dt.date) -> dt.date:
    """The first day a voucher issued on `issued` is no longer valid (rulelang.run.vouchers)."""
    if unit == "days":
        return issued + dt.timedelta(days=valid)
    return add_months(issued, valid)


class VoucherBook:
    def __init__(self, n: int, slots: int = 2):
        self.end = np.full((n, slots), EMPTY, dtype=np.int64)
        self.face = np.zeros((n, slots), dtype=np.int64)
        self.cnt = np.zeros((n, slots), dtype=np.int64)
        self.due: dict[int, list[np.ndarray]] = {}  # end day -> customers with a slot ending then
        z = lambda: np.zeros(n, dtype=np.int64)  # noqa: E731
        self.issued, self.used, self.expired, self.held = z(), z(), z(), z()
        self.issued_cents, self.used_cents, self.expired_cents, self.held_cents = z(), z(), z(), z()

    def _grow(self) -> None:
        n, k = self.end.shape
        self.end = np.concatenate([self.end, np.full((n, k), EMPTY, dtype=np.int64)], axis=1)
        self.face = np.concatenate([self.face, np.zeros((n, k), dtype=np.int64)], axis=1)
        self.cnt = np.concatenate([self.cnt, np.zeros((n, k), dtype=np.int64)], axis=1)

    def issue(self, idx: np.ndarray, counts: np.ndarray, end_day: int, face_cents: int) -> None:
        """Customers `idx` (distinct) each get `counts` vouchers of `face_cents`, expiring on `end_day`."""
        if idx.size == 0:
            return
        counts = np.asarray(counts, dtype=np.int64)
        same = (self.end[idx] == end_day) & (self.face[idx] == face_cents)
        has = same.any(axis=1)
        slot = np.where(has, np.argmax(same, axis=1), np.argmax(self.end[idx] == EMPTY, axis=1))
        full = ~has & (self.end[idx, slot] != EMPTY)
        while full.any():  # no free slot: the table grows, then the new slots are free
            first_new = self.end.shape[1]
            self._grow()
            slot = np.where(full, first_new, slot)
            full = ~has & (self.end[idx, slot] != EMPTY)
        self.end[idx, slot] = end_day
        self.face[idx, slot] = face_cents
        self.cnt[idx, slot] += counts
        self.issued[idx] += counts
        self.held[idx] += counts
        self.issued_cents[idx] += counts * face_cents
        self.held_cents[idx] += counts * face_cents
        self.due.setdefault(end_day, []).append(idx[~has])

    def expire(self, day: int) -> None:
        for idx in self.due.pop(day, ()):
            rows = self.end[idx] <= day
            gone = np.where(rows, self.cnt[idx], 0)
            cents = (gone * self.face[idx]).sum(axis=1)
            n = gone.sum(axis=1)
            self.expired[idx] += n
            self.expired_cents[idx] += cents
            self.held[idx] -= n
            self.held_cents[idx] -= cents
            self.end[idx] = np.where(rows, EMPTY, self.end[idx])
            self.cnt[idx] = np.where(rows, 0, self.cnt[idx])
            self.face[idx] = np.where(rows, 0, self.face[idx])

    def holders(self, idx: np.ndarray) -> np.ndarray:
        return idx[self.held[idx] > 0]

    def use(self, idx: np.ndarray) -> np.ndarray:
        """Each customer of `idx` (holders, distinct) spends the voucher that expires first; their face values."""
        if idx.size == 0:
            return np.zeros(0, dtype=np.int64)
        end = self.end[idx]
        key = np.where(end == EMPTY, np.iinfo(np.int64).max, np.minimum(end, EMPTY - 1) * FACE + self.face[idx])
        slot = np.argmin(key, axis=1)
        face = self.face[idx, slot]
        self.cnt[idx, slot] -= 1
        empty = self.cnt[idx, slot] == 0
        self.end[idx[empty], slot[empty]] = EMPTY
        self.face[idx[empty], slot[empty]] = 0
        self.used[idx] += 1
        self.used_cents[idx] += face
        self.held[idx] -= 1
        self.held_cents[idx] -= face
        return face
