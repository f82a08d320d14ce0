"""Redemption on the visit and per-use tier perks, compiled (numba): one customer after the other.

Takes: the day loop's `ChunkSim` (simulator.engine.day_loop) whose program arm runs on the kernel, and per
call the day's members who bought (`mp`, their rows `mi` of the basket uniforms). Gives: `RedeemKernel`,
whose `goal` (the goal reward), `pay_most` (pay with points) and `per_use` (per-use tier perks) change the
program arm's state in place exactly as the numpy path does (`ChunkSim._redeem`, `ProgramArm.redeem`,
`ProgramArm.pay_most`, `LotStore.burn`, `CohortBook.take_oldest`, the per-use perk loop), and `burn(lots,
idx, amount)`, `LotStore.burn` on the kernel. Every customer of a call is a different one, and a
customer's change reads and writes only its own state, so customer after customer gives what the numpy
batch gives (the oldest-first rules are those of lots.py and cohorts.py: the `old` bucket, then the ring
from the customer's `head` to the newest slot; in the cohort book, the oldest cohort from its `head`,
the current month's column being `_held + cur`). No random numbers are drawn: the uniforms compared
here (redeem: column 4, perk use: column 3) are the day loop's basket uniforms, and the comparisons
are those of numpy 2 (a float32 uniform against a float32 threshold: the segment's `redeem` chance is
float32, the perk-use rate is a Python float, which numpy compares as a float32).
What stays in Python (rare, or not state of the lots): the order book's `front` (returns), a reward's
voucher, the inactivity clock of a program whose `activity` counts redemptions, and the records.
"""

from __future__ import annotations

import weakref

import numpy as np

from simulator.kernel.cache import setup

setup()

from numba import njit  # noqa: E402

SAFE = 2**62  # constants of the points arithmetic passed as int64 (beyond: the numpy path)


@njit(cache=True, error_model="numpy")
def _burn_lots(idx, amount, ring_on, avail, ring, old, head, cur_slot, ring_size, outstanding):
    """The lots of `LotStore.burn`: `old` first, then the ring slots from `head`, oldest first.
    (Loop bodies here call no helper taking arrays: a call per customer passing arrays costs their
    reference counts, more than the arithmetic.)"""
    for i in range(idx.size):
        c = idx[i]
        amt = amount[i]
        if not ring_on:
            avail[c] -= amt
        else:
            o = old[c]
            take_old = min(o, amt)
            old[c] = o - take_old
            rest = amt - take_old
            start = min(max(head[c], cur_slot - ring_size + 1), cur_slot)
            size = cur_slot - start + 1
            before = 0
            first_left = size
            for off in range(size):
                r = (start + off) % ring_size
                v = ring[r, c]
                take = min(max(rest - before, 0), v)  # np.clip(rest - before, 0, v)
                left = v - take
                ring[r, c] = left
                if left > 0 and first_left == size:
                    first_left = off
                before += v
            head[c] = start + min(first_left, size - 1)
        outstanding[c] -= amt


@njit(cache=True, error_model="numpy")
def _take_oldest(idx, amount, held, cur, chead, month, mat, rec, record):
    """`CohortBook.take_oldest(idx, amount, kind)`: each customer's cohorts from its `head` (the current
    month's column being `held + cur`), booked to `mat[:, month]` (and `rec[c]` for a recorded customer)."""
    R = month + 2
    for i in range(idx.size):
        c = idx[i]
        amt = amount[i]
        h = min(chead[c], R - 1)
        v = held[c, h]
        if h == R - 1:
            v += cur[c]
        if v >= amt:  # the oldest cohort held covers it: one entry
            held[c, h] -= amt
            chead[c] = min(h + (1 if v == amt else 0), R - 1)
            mat[h, month] += amt
            if c < record:
                rec[c, h, month] += amt
            continue
        held[c, R - 1] += cur[c]  # the current month's earnings join its column (`CohortBook._block`)
        cur[c] = 0
        before = 0
        first = -1
        for r in range(h, R):  # every column older than `head` is 0
            b = held[c, r]
            take = min(max(amt - before, 0), b)
            left = b - take
            held[c, r] = left
            mat[r, month] += take
            if c < record:
                rec[c, r, month] += take
            if left > 0 and first < 0:
                first = r
            before += b
        chead[c] = first if first >= 0 else R - 1


@njit(cache=True, error_model="numpy")
def burn_batch(idx, amount, ring_on, avail, ring, old, head, cur_slot, ring_size, outstanding,
               book_on, held, cur, chead, month, mat, rec, record):
    """`LotStore.burn(idx, amount)` (lots and cohorts; `idx` unique)."""
    _burn_lots(idx, amount, ring_on, avail, ring, old, head, cur_slot, ring_size, outstanding)
    if book_on:
        _take_oldest(idx, amount, held, cur, chead, month, mat, rec, record)


@njit(cache=True, error_model="numpy")
def goal_batch(mp, mi, uni, redeem_chance, seg, price, cost_cents, pend_on, pending, redeemed, reward, ever, out,
               ring_on, avail, ring, old, head, cur_slot, ring_size, outstanding,
               book_on, held, cur, chead, month, mat, rec, record):
    """The goal reward on the visit (`ChunkSim._redeem` + `ProgramArm.redeem`): a member who wants to
    redeem (uniform 4 below its segment's chance) and has `price` points available burns them; the
    redeeming customers go to `out` (in `mp` order); returns how many."""
    k = 0
    for i in range(mp.size):  # branch-free selection: the comparison with a uniform is unpredictable
        c = mp[i]
        a = outstanding[c] - pending[c] if pend_on else outstanding[c]
        out[k] = c
        k += (uni[mi[i], 4] < redeem_chance[seg[c]]) & (a >= price)
    can = out[:k]
    burn_batch(can, np.full(k, price, dtype=np.int64), ring_on, avail, ring, old, head, cur_slot, ring_size,
               outstanding, book_on, held, cur, chead, month, mat, rec, record)
    for i in range(k):
        c = can[i]
        redeemed[c] += price
        reward[c] += cost_cents
        ever[c] = True
    return k


@njit(cache=True, error_model="numpy")
def pay_batch(mp, mi, uni, redeem_chance, seg, basket, consts, pend_on, pending, redeemed, pay_cents, ever,
              out, out_cents, out_pts,
              ring_on, avail, ring, old, head, cur_slot, ring_size, outstanding,
              book_on, held, cur, chead, month, mat, rec, record):
    """Pay with points on the visit (`ChunkSim._pay` + `ProgramArm.pay_most` + `ProgramArm.pay`): a member
    who wants to redeem pays the most of its basket the program allows (its share of the basket, what
    the available points buy, from the minimum balance up); `consts` = (minimum balance, share numerator,
    100 x share denominator, cents, points, point cost numerator, denominator). Who paid, the cents and
    the points go to `out`, `out_cents`, `out_pts` (in `mp` order); returns how many."""
    min_bal, sh_num, sh_den, pw_cents, pw_points, pc_num, pc_den = (consts[0], consts[1], consts[2], consts[3],
                                                                    consts[4], consts[5], consts[6])
    k = 0
    for i in range(mp.size):
        c = mp[i]
        j = mi[i]
        if not uni[j, 4] < redeem_chance[seg[c]]:
            continue
        a = outstanding[c] - pending[c] if pend_on else outstanding[c]
        if a < min_bal:
            continue
        share = (basket[j] * sh_num) // sh_den
        by_points = (a * pw_cents) // pw_points
        cents = min(share, by_points)
        if cents <= 0:
            continue
        out[k] = c
        out_cents[k] = cents
        out_pts[k] = -((-cents * pw_points) // pw_cents)
        k += 1
    burn_batch(out[:k], out_pts[:k], ring_on, avail, ring, old, head, cur_slot, ring_size, outstanding,
               book_on, held, cur, chead, month, mat, rec, record)
    for i in range(k):
        c = out[i]
        pts = out_pts[i]
        redeemed[c] += pts
        pay_cents[c] += (2 * pts * pc_num + pc_den) // (2 * pc_den)
        ever[c] = True
    return k


@njit(cache=True, error_model="numpy")
def per_use_batch(mp, mi, uni, rate, tier, tier_cost, perk_tier, perk, used, record_uses):
    """Per-use tier perks (the day loop's per-use loop + `ProgramArm.use_perk`): a member whose tier has
    per-use perks uses each with uniform 3 below `rate` (float32), which costs `tier_cost[tier]` (the
    sum of its tier's per-use perk costs: no branch on the random comparison); with `record_uses`,
    `used[i, j]` says whether row i used perk j (of tier `perk_tier[j]`)."""
    for i in range(mp.size):
        c = mp[i]
        use = uni[mi[i], 3] < rate
        t = tier[c]
        perk[c] += tier_cost[t] * use
        if record_uses and use:
            for j in range(perk_tier.size):
                if perk_tier[j] == t:
                    used[i, j] = True


@njit(cache=True, error_model="numpy")
def fold(cur, held, chead, col):
    """`CohortBook._fold`: each customer's current-month earnings `cur` into column `col` of `held`."""
    for c in range(cur.size):
        v = cur[c]
        if v != 0:
            held[c, col] += v
            cur[c] = 0
            if chead[c] > col:
                chead[c] = col


_Z1 = np.zeros(1, dtype=np.int64)
_Z2 = np.zeros((1, 1), dtype=np.int64)
_Z3 = np.zeros((1, 1, 1), dtype=np.int64)


def lot_args(lots) -> tuple:
    """The lot arrays and scalars of `burn_batch` (after `idx, amount`), cohorts included."""
    ring_on = lots.ring is not None
    book = lots.cohorts
    if book is None:
        cohort = (False, _Z2, _Z1, _Z1, 0, _Z2, _Z3, 0)
    else:
        rec = book.rec["redeemed"] if book.rec is not None else _Z3
        cohort = (True, book._held, book.cur, book.head, book._month, book.mat["redeemed"], rec, book.record)
    return (ring_on, lots.avail if lots.avail is not None else _Z1, lots.ring if ring_on else _Z2, lots.old,
            lots.head if ring_on else _Z1, lots.cur_slot, max(lots.ring_size, 1), lots.outstanding, *cohort)


def burn(lots, idx: np.ndarray, amount: np.ndarray) -> None:
    """`LotStore.burn(idx, amount)` on the kernel: the same lots, cohorts and order book afterwards."""
    if idx.size == 0:
        return
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    amount = np.ascontiguousarray(amount, dtype=np.int64)
    burn_batch(idx, amount, *lot_args(lots))
    if lots.book is not None:
        lots.book.front(idx, amount)


def _fits(*values: int) -> bool:
    return all(-SAFE < int(v) < SAFE for v in values)


class RedeemKernel:
    """The day loop's redemption and per-use perks on the kernel, bound to one chunk (`ChunkSim`)."""

    def __init__(self, sim):
        self.sim = weakref.proxy(sim)  # sim owns this kernel: a strong reference back would be a cycle
        arm = sim.arm
        p = arm.p
        self.consts = None
        pwp = p.pay_with_points
        if pwp is not None:
            from fractions import Fraction
            pc = Fraction(p.point_cost_cents)
            vals = (pwp.minimum_balance, pwp.max_share.numerator, 100 * pwp.max_share.denominator, pwp.cents,
                    pwp.points, pc.numerator, pc.denominator)
            self.consts = np.array(vals, dtype=np.int64) if _fits(*vals, 2 * pc.denominator) else None
        self.pay_ok = pwp is None or self.consts is not None
        goal = sim.goal_reward
        self.goal_ok = goal is None or _fits(goal.price, goal.cost_cents)  # else the numpy path
        per_use = sim.per_use
        self.perk_tier = np.array([t for t, _ in per_use], dtype=np.int64)
        costs = [0] * max(arm.ntiers, 1)
        for t, perk in per_use:
            costs[t] += perk.cost_cents
        self.per_use_ok = _fits(*costs)  # else the numpy path
        self.tier_cost = np.array(costs if self.per_use_ok else [0] * len(costs), dtype=np.int64)
        self.perk_rate = np.float32(sim.resp.perk_use_rate)  # numpy 2 compares a float32 with a Python float as float32
        self.redeem_activity = "redemption" in p.activity
        self._noz = np.zeros((0, 0), dtype=np.bool_)

    @staticmethod
    def supports(sim) -> bool:
        """Whether this chunk's redemption runs here: its purchases run on the kernel, and no customer
        waits for a first event to start an inactivity clock (`ProgramArm.first_event` has nothing to do)."""
        return sim.arm.kernel is not None and sim.arm.unseen is None

    def goal(self, mp: np.ndarray, mi: np.ndarray, uni: np.ndarray, reward) -> np.ndarray:
        """The members of `mp` who redeem `reward` today (the state changed as `ProgramArm.redeem` does)."""
        sim, arm = self.sim, self.sim.arm
        lots = arm.lots
        mp = np.ascontiguousarray(mp, dtype=np.int64)
        out = np.empty(mp.size, dtype=np.int64)
        k = goal_batch(mp, np.ascontiguousarray(mi, dtype=np.int64), uni, sim.tables.redeem, sim.seg,
                       reward.price, reward.cost_cents, lots.pend is not None, lots.pending, arm.redeemed,
                       arm.reward, arm.redeemed_ever, out, *lot_args(lots))
        can = out[:k]
        if k:
            self._after(can, np.full(k, reward.price, dtype=np.int64), reward.price > 0)
            if reward.voucher_cents is not None and reward.valid is not None and arm.vouchers is not None:
                from simulator.engine.vouchers import voucher_end
                end = arm.cal.day_of(voucher_end(reward.valid, reward.valid_unit, arm.date))
                arm.vouchers.issue(can, np.ones(k, dtype=np.int64), end, reward.voucher_cents)
        return can

    def pay_most(self, mp: np.ndarray, mi: np.ndarray, uni: np.ndarray, amount: np.ndarray):
        """Who of `mp` pays with points today and how many cents (as `ChunkSim._pay`'s `pay_most`)."""
        sim, arm = self.sim, self.sim.arm
        lots = arm.lots
        mp = np.ascontiguousarray(mp, dtype=np.int64)
        out = np.empty(mp.size, dtype=np.int64)
        cents = np.empty(mp.size, dtype=np.int64)
        pts = np.empty(mp.size, dtype=np.int64)
        k = pay_batch(mp, np.ascontiguousarray(mi, dtype=np.int64), uni, sim.tables.redeem, sim.seg,
                      np.ascontiguousarray(amount, dtype=np.int64), self.consts, lots.pend is not None,
                      lots.pending, arm.redeemed, arm.pay_cents, arm.redeemed_ever, out, cents, pts,
                      *lot_args(lots))
        idx, cents, pts = out[:k], cents[:k], pts[:k]
        if k:
            self._after(idx[pts > 0], pts, True, burned=idx)
        return idx, cents

    def _after(self, active: np.ndarray, pts: np.ndarray, counts: bool, burned: np.ndarray | None = None) -> None:
        """What `ProgramArm.redeem`/`pay` do beside the lots: the inactivity clock (an `activity` that
        counts redemptions) and the order book (returns)."""
        arm = self.sim.arm
        if self.redeem_activity and counts:
            arm._activity(active, arm.day)
        if arm.lots.book is not None:
            arm.lots.book.front(active if burned is None else burned, pts)

    def per_use(self, mp: np.ndarray, mi: np.ndarray, uni: np.ndarray, record: bool) -> np.ndarray | None:
        """Per-use tier perks of today's members `mp`; with `record`, which row used which perk."""
        arm = self.sim.arm
        used = np.zeros((mp.size, self.perk_tier.size), dtype=np.bool_) if record else self._noz
        per_use_batch(np.ascontiguousarray(mp, dtype=np.int64), np.ascontiguousarray(mi, dtype=np.int64), uni,
                      self.perk_rate, arm.tier, self.tier_cost, self.perk_tier, arm.perk, used, record)
        return used if record else None


COMPILED = (burn_batch, goal_batch, pay_batch, per_use_batch, fold)

__all__ = ["COMPILED", "RedeemKernel", "burn", "fold", "lot_args"]
