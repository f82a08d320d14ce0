"""Points by issue-month cohort, kept beside the lot buckets of one chunk.

Takes: the chunk's customer count, the calendar's month of each day, the lot granularity (to read a
ring slot's month) and how many recorded customers (chunk rows 0 .. record-1) keep their own matrix.
Gives: `CohortBook`, which `simulator.engine.lots.LotStore` tells about every change of the points
held (lots.py's docstring says when), and per chunk the cohort matrix `flows()`: for each kind
(issued, redeemed, expired, reversed: points that moved in the month; outstanding: held at the
month's end) an int64 array (cohorts, months). Cohort rows, oldest first: `OPENING` (0, a customers
file's balances), 1 + m (points earned in month m of the calendar), `below_zero` (M + 1: points a
return reversed beyond the balance under `negative balance allowed`, not yet repaid; its outstanding
is minus the debt). Sums over customers, so chunks and blocks merge by adding (exact in any order).

`held[c, r]` is what customer c still holds of cohort r (one int64 per customer and issue month),
customer-major: a change for a set of customers reads and writes each one's contiguous cohorts (one
or two cache lines) rather than one scattered element per cohort row. What makes it cheap enough to
run on every simulation (benchmarks/README.md, `bench_cohorts.py`), with the same numbers:
- the current month's earnings go to one contiguous array `cur` (per customer), folded into the
  month's column when the month changes (`held` folds on reading);
- `head` (per customer) is a lower bound of the oldest cohort still held: an oldest-first take that
  this cohort covers changes one entry; the others read only the columns from the lowest bound on;
- a month end's outstanding is the previous one plus the month's flows, not a pass over `held`.
Every lot of an earlier month is older than every lot of a later one, so the engine's orders of
consumption read directly on it: a burn takes the oldest points (matured lots are all older than
pending ones, so the oldest held are the oldest spendable), `old` (lots older than the ring) is the
oldest part of what a customer holds, a return takes its order's month and then the newest points,
an expiry of a bucket takes the bucket's month (the opening balance first when it shares the
bucket), an inactivity expiry takes everything. A debt repaid by new points is moved from
`below_zero` to the repaying cohort as a reversal in that month (rulelang.run.cohorts says the same
for the interpreter). The reference interpreter attributes lot by lot (`Result.cohorts`); the
differential test compares the two per recorded customer.

Month totals cannot wrap: each entry is a part of a ledger month total the day loop checks against
int64 (`_int64`); a month end's outstanding is the previous one plus the month's flows, in Python
ints, and `drift` compares the last one with `held` summed exactly (`exact_sum`).
"""

from __future__ import annotations

import numpy as np

from simulator.engine.exact import INT64_SAFE, exact_sum

OPENING = 0
KINDS = ("issued", "redeemed", "expired", "reversed")
MATRIX = KINDS + ("outstanding",)


class CohortBook:
    def __init__(self, n: int, month_of_day: np.ndarray, months: int, granularity: str, record: int = 0):
        self.n = n
        self.months = months
        self.month_of_day = month_of_day
        self.granularity = granularity
        self.below_zero = months + 1
        self._held = np.zeros((n, months + 1), dtype=np.int64)  # columns: opening, then month 0 .. M - 1
        # the current month's earnings not yet in `_held` (its column is `_held[:, month + 1] + cur`): a
        # purchase writes one contiguous array, not a column strided across the customers
        self.cur = np.zeros(n, dtype=np.int64)
        # per customer, a lower bound of the oldest cohort still held (every older column of `_held` is 0;
        # the current month's `cur` is not counted until the month's end folds it): new points go to the
        # newest column, so only an oldest-first take and the fold move it (months + 1: nothing held yet)
        self.head = np.full(n, months + 1, dtype=np.int64)
        self.mat = {k: np.zeros((months + 2, months), dtype=np.int64) for k in MATRIX}
        self.last_month: int | None = None  # the last month end booked
        self._month = 0  # the calendar month of the day being simulated (`month`, set by the day loop)
        self.record = record
        self.rec = {k: np.zeros((record, months + 2, months), dtype=np.int64) for k in KINDS} if record else None
        self.fold = None  # a compiled `_fold` (set where the chunk runs on the kernel), else numpy

    # ------------------------------------------------------------ helpers
    @property
    def month(self) -> int:
        return self._month

    @month.setter
    def month(self, mo: int) -> None:
        if mo != self._month:
            self._fold()
            self._month = mo

    def _fold(self) -> None:
        """Move `cur` into the current month's column."""
        if self.fold is not None:  # compiled (simulator.kernel.redeem.fold), the same effect
            self.fold(self.cur, self._held, self.head, self._month + 1)
            return
        nz = np.flatnonzero(self.cur)
        if nz.size:
            self._held[nz, self._month + 1] += self.cur[nz]
            self.cur[nz] = 0
            self.head[nz] = np.minimum(self.head[nz], self._month + 1)

    @property
    def held(self) -> np.ndarray:
        """`held[c, r]`: the points customer c holds of cohort r (customers x (opening, months))."""
        self._fold()
        return self._held

    def _block(self, idx: np.ndarray, cols: slice) -> np.ndarray:
        """`held[idx, cols]` (cols: a slice ending or starting at the current month's column), with the
        customers' `cur` moved into it (so the caller writes the whole block back to `_held`)."""
        block = self._held[idx, cols]
        c = self.cur[idx]
        block[:, 0 if cols.step == -1 else -1] += c
        self.cur[idx] = 0
        return block

    def _rows(self) -> int:
        """Rows that may hold points today: the opening and the months up to the current one."""
        return self.month + 2

    def _book(self, kind: str, idx: np.ndarray, take: np.ndarray, lo: int = 0) -> None:
        """Book `take` (customers `idx` x rows lo ..) as `kind` in the current month."""
        R = lo + take.shape[1]
        self.mat[kind][lo:R, self.month] += take.sum(axis=0)
        if self.rec is not None:
            sel = idx < self.record
            if sel.any():
                self.rec[kind][idx[sel], lo:R, self.month] += take[sel]

    def _book_cells(self, kind: str, idx: np.ndarray, rows: np.ndarray, pts: np.ndarray) -> None:
        """Book `pts` of cohort `rows` (one per customer `idx`) as `kind` in the current month."""
        np.add.at(self.mat[kind][:, self.month], rows, pts)
        if self.rec is not None:
            sel = idx < self.record
            if sel.any():
                self.rec[kind][idx[sel], rows[sel], self.month] += pts[sel]

    def _book_rows(self, kind: str, idx: np.ndarray, rows: np.ndarray | int, pts: np.ndarray) -> None:
        """Book `pts` of cohort `rows` (one row for all, or one per customer) as `kind` in the current month."""
        if isinstance(rows, (int, np.integer)):
            self.mat[kind][rows, self.month] += int(pts.sum())
        else:
            np.add.at(self.mat[kind][:, self.month], rows, pts.astype(np.int64))
        if self.rec is not None:
            sel = idx < self.record
            if sel.any():
                self.rec[kind][idx[sel], rows if isinstance(rows, (int, np.integer)) else rows[sel], self.month] += pts[sel]

    def month_row(self, day: np.ndarray | int) -> np.ndarray | int:
        return 1 + self.month_of_day[day]

    def slot_row(self, slot: int) -> int:
        """The cohort row of a ring slot (an earn day, or an earn month)."""
        return 1 + (slot if self.granularity == "month" else int(self.month_of_day[slot]))

    # ------------------------------------------------------------ changes (called by LotStore)
    def earned(self, idx: np.ndarray, day: int, points: np.ndarray, repaid: np.ndarray | None) -> None:
        """`points` earned on `day` by customers `idx`, of which `repaid` paid a debt at once."""
        row = int(self.month_row(day))
        kept = points if repaid is None else points - repaid
        if row == self._month + 1:
            self.cur[idx] += kept
        else:
            self._held[idx, row] += kept
            self.head[idx] = np.minimum(self.head[idx], row)
        self._book_rows("issued", idx, row, points)
        if repaid is not None and repaid.any():
            self._book_rows("reversed", idx, row, repaid)
            self._book_rows("reversed", idx, self.below_zero, -repaid)

    def opening(self, idx: np.ndarray, points: np.ndarray) -> None:
        self._held[idx, OPENING] += points
        self.head[idx] = OPENING
        self._book_rows("issued", idx, OPENING, points)

    def take_oldest(self, idx: np.ndarray, amount: np.ndarray, kind: str) -> None:
        """`amount` points per customer from the oldest cohorts."""
        if idx.size == 0:
            return
        R = self._rows()
        # a customer whose oldest held cohort covers the amount: one entry
        h = np.minimum(self.head[idx], R - 1)  # the current month's column always read (its `cur`)
        cur = h == R - 1
        v = self._held[idx, h] + np.where(cur, self.cur[idx], 0)
        one = v >= amount
        if one.any():
            f, hf, af, vf = idx[one], h[one], amount[one], v[one]
            self._held[f, hf] -= af  # the current month's column too: it is `_held` + `cur`
            self.head[f] = np.minimum(hf + (vf == af), R - 1)  # an emptied column: the next is a lower bound
            self._book_cells(kind, f, hf, af)
            rest = ~one
            idx, amount, h = idx[rest], amount[rest], h[rest]
            if idx.size == 0:
                return
        lo = int(h.min())  # every older column is 0 for these customers
        block = self._block(idx, slice(lo, R))  # customers x cohorts lo .. R - 1, oldest first
        before = np.cumsum(block, axis=1) - block
        take = np.clip(amount[:, None] - before, 0, block)
        left = block - take
        self._held[idx, lo:R] = left
        self._book(kind, idx, take, lo)
        # the oldest column still holding points (else the current month's) is the new lower bound
        self.head[idx] = lo + np.minimum(np.argmax(left > 0, axis=1) + (~left.any(axis=1)) * (R - lo), R - 1 - lo)

    def take_newest(self, idx: np.ndarray, amount: np.ndarray, kind: str) -> None:
        """`amount` points per customer from the newest cohorts."""
        if idx.size == 0:
            return
        R = self._rows()
        block = self._block(idx, slice(R - 1, None, -1))  # customers x cohorts, newest first
        before = np.cumsum(block, axis=1) - block
        take = np.clip(amount[:, None] - before, 0, block)
        self._held[idx, R - 1::-1] = block - take
        self.head[idx] = np.minimum(self.head[idx], R - 1)  # `cur` moved into the current month's column
        self._book(kind, idx, take[:, ::-1])

    def take_rows(self, idx: np.ndarray, rows: np.ndarray | int, amount: np.ndarray, kind: str) -> None:
        """`amount` points of cohort `rows` (one per customer)."""
        if idx.size == 0:
            return
        self._held[idx, rows] -= amount  # a column is `_held` + `cur` (linear): `cur` may stay
        self._book_rows(kind, idx, rows, amount)

    def take_slot(self, idx: np.ndarray, pts: np.ndarray, slot: int, with_opening: bool, kind: str) -> None:
        """A whole ring bucket of `slot` taken (expired): its month, the opening balance first when
        the bucket holds it (`with_opening`: the opening balance's bucket, not a pending row)."""
        if idx.size == 0:
            return
        if with_opening:
            first = np.minimum(self._held[idx, OPENING], pts)
            if first.any():
                self.take_rows(idx, OPENING, first, kind)
                pts = pts - first
        self.take_rows(idx, self.slot_row(slot), pts, kind)

    def take_all(self, idx: np.ndarray, kind: str) -> None:
        if idx.size == 0:
            return
        R = self._rows()
        block = self._block(idx, slice(0, R))
        self._held[idx, :R] = 0
        self.head[idx] = R - 1
        self._book(kind, idx, block)

    def below(self, idx: np.ndarray, points: np.ndarray) -> None:
        """`points` reversed beyond the balance (a debt)."""
        if points.any():
            self._book_rows("reversed", idx, self.below_zero, points)

    # ------------------------------------------------------------ month end and results
    def month_end(self, mo: int, debt: np.ndarray | None) -> None:
        """The month's outstanding per cohort: the previous month's plus the month's flows (what `held`
        sums to, since every change of `held` is booked as a flow; `drift` checks it at the end)."""
        out, R = self.mat["outstanding"], min(mo + 2, self.months + 1)
        flow = [self.mat[k][:R, mo].tolist() for k in KINDS]
        prev = out[:R, mo - 1].tolist() if mo else [0] * R
        # Python ints: a value beyond int64 raises on assignment instead of wrapping
        out[:R, mo] = [p + i - d - e - v for p, i, d, e, v in zip(prev, *flow)]
        out[self.below_zero, mo] = -exact_sum(debt) if debt is not None else 0
        self.last_month = mo

    def drift(self) -> int:
        """How far the last month end's outstanding per cohort is from what `held` sums to (0 when sound)."""
        mo = self.last_month
        if mo is None or self.n == 0:
            return 0
        R, held = min(mo + 2, self.months + 1), self.held
        if max(int(held.max()), -int(held.min())) * self.n < INT64_SAFE:  # every column sum fits: one pass
            sums = held.sum(axis=0)[:R].tolist()
        else:
            sums = [exact_sum(held[:, r]) for r in range(R)]
        return max(abs(sums[r] - int(self.mat["outstanding"][r, mo])) for r in range(R))

    def flows(self) -> dict[str, np.ndarray]:
        return {k: v.copy() for k, v in self.mat.items()}

    def customer(self, c: int, labels: list[str], debt: int) -> dict[str, dict]:
        """Recorded customer `c`'s cohorts in the interpreter's form (`rulelang.run.cohorts`)."""
        names = ["opening", *labels, "below zero"]
        out: dict[str, dict] = {}
        mine = self.held[c]
        for r, name in enumerate(names):
            held = int(mine[r]) if r <= self.months else -debt
            row = {"issued": int(self.rec["issued"][c, r].sum())}  # type: ignore[index]
            for k in ("redeemed", "expired", "reversed"):
                v = self.rec[k][c, r]  # type: ignore[index]
                row[k] = {labels[m]: int(v[m]) for m in np.flatnonzero(v)}
            row["outstanding"] = held
            if row["issued"] or held or any(row[k] for k in ("redeemed", "expired", "reversed")):
                out[name] = row
        return out


__all__ = ["KINDS", "MATRIX", "OPENING", "CohortBook"]
