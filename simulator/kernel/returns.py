"""Returns on the compiled kernel (numba): the schedule of returns to come, and the day's returns.

Takes: the day loop's `ChunkSim` (simulator.engine.day_loop) whose program arm runs on the kernel and
has no rules `on return`. Gives: `ReturnKernel`, whose
- `book(ret, U, ib, ip, mi, earned, draws, day)` books the returns of today's purchases that will come
  back (`DayEvents._schedule_returns`): each one a row of a schedule held in preallocated arrays (grown
  when full, rows of past days reused), linked into its due day's list in booking order; an order that
  earned points opens its row in the order book (`OrderBook.open`, on the book's own arrays);
- `day(day, mo, touched)` pops the day's returns (`DayEvents._returns`): both arms' returns, refunds and
  revenue (tier economics too), the refunded discounts, and for members the reversal of the order's
  points (`reversal_target`, `reverse_orders`, `LotStore.reverse` with `_take_own` / `_take_newest`,
  the issue-month cohorts' `take_rows` / `take_newest` / `below`, `OrderBook.reversed`).
The state afterwards is the numpy path's, array for array. The numpy path processes a day's member
returns in rounds of unique customers (sorted by customer, each customer's returns in booking order,
which is order-day order); every change of a return reads and writes only its customer's lots, cohorts
and order-book rows (the cohort matrix of the month adds up integers: any order gives the same sums),
so customer after customer, each customer's returns in that order, gives the same state.
Balances beside the points lose their share (`ProgramArm.reverse_balances`) in `balance_batch`, one
call per balance, in the same per-customer order. What calls back into the numpy code, per round of the
numpy path, for these rows only and in the same order: under `returns lower tier metric and counters`,
`undo_returns` / `requalify` (`DayEvents._returns_numpy_steps`), which read and write neither the lots
nor the balances. The sampled customers' records are written in Python. No random numbers are drawn.
"""

from __future__ import annotations

import weakref

import numpy as np

from simulator.kernel.cache import setup

setup()

from numba import njit  # noqa: E402

# a row's flags in the schedule: bought in the baseline arm, in the program arm, as a member
F_BASE, F_PROG, F_MEMBER = 1, 2, 4
# `metrics` slots of `day_batch`
(R_BASE_CENTS, R_BASE_COUNT, R_PROG_CENTS, R_PROG_COUNT, R_DISC_BACK) = range(5)
N_RMETRICS = 5


@njit(cache=True, error_model="numpy")
def book_batch(nret, ret_rows, ret_due, ret_returned, U, m, ib, ip, mi, earned, disc, extra_src, amount, day, slot,
               s_cust, s_oday, s_ret, s_whole, s_disc, s_earned, s_bid, s_flags, s_next, s_extra, free,
               b_cust, b_seq, b_day, b_slot, b_A, b_R, b_live, n_open, bst,
               reverses, d_head, d_tail, st, outstanding, debt, debt_on, need):
    """Book the day's returns (`DayEvents._schedule_returns` + `open_orders` + `OrderBook.open`): rows
    `ret_rows[:nret]` of U (due `ret_due`, `ret_returned` cents back) of buyers of either arm. `earned`,
    `disc`, `extra_src[:, j]`: what member row `mi[j]` earned, its instant discount, its extra columns.
    `st` = (next unused schedule row, free rows), `bst` = the order book's (size, next id, open rows).
    Returns 0; or -1, with `need` = (rows to book, orders to open), changing nothing, when the schedule
    (`free` rows + unused) or the order book (its capacity) cannot hold them: the caller grows them."""
    flag = np.zeros(m, dtype=np.int8)
    for j in range(ib.size):
        flag[ib[j]] |= F_BASE
    for j in range(ip.size):
        flag[ip[j]] |= F_PROG
    pos = np.full(m, -1, dtype=np.int64)
    for j in range(mi.size):
        flag[mi[j]] |= F_MEMBER
        pos[mi[j]] = j
    keep = 0
    track = 0
    for i in range(nret):
        r = ret_rows[i]
        f = flag[r]
        if f & (F_BASE | F_PROG):
            keep += 1
            j = pos[r]
            if reverses and (f & F_MEMBER) and j >= 0 and earned[j] > 0:
                track += 1
    cap = s_cust.size
    if keep > cap - st[0] + st[1] or (track > 0 and bst[0] + track > b_cust.size):
        need[0] = keep
        need[1] = track
        return -1
    n_extra = s_extra.shape[0]
    for i in range(nret):
        r = ret_rows[i]
        f = flag[r]
        if not (f & (F_BASE | F_PROG)):
            continue
        if st[1] > 0:
            st[1] -= 1
            row = free[st[1]]
        else:
            row = st[0]
            st[0] += 1
        c = U[r]
        back = ret_returned[i]
        j = pos[r]
        e = earned[j] if j >= 0 else 0
        dsc = disc[j] if j >= 0 else 0
        s_cust[row] = c
        s_oday[row] = day
        s_ret[row] = back
        s_whole[row] = amount[r]
        s_disc[row] = dsc * back // amount[r]  # the returned part's share of the instant discount
        s_earned[row] = e
        s_flags[row] = f
        bid = -1
        if reverses and (f & F_MEMBER) and e > 0:  # `OrderBook.open`: its lots are the newest
            b = bst[0]
            bst[0] = b + 1
            bid = bst[1]
            bst[1] = bid + 1
            held = outstanding[c] + (debt[c] if debt_on else 0)
            own = min(e, held)
            b_cust[b] = c
            b_seq[b] = bid
            b_day[b] = day
            b_slot[b] = slot
            b_R[b] = own
            b_A[b] = held - own
            b_live[b] = True
            n_open[c] += 1
            bst[2] += 1
        s_bid[row] = bid
        for x in range(n_extra):
            s_extra[x, row] = extra_src[x, j] if j >= 0 else 0
        due = ret_due[i]
        s_next[row] = -1
        if due < 0 or due >= d_head.size:  # never due within the simulated days: never popped
            free[st[1]] = row
            st[1] += 1
            continue
        t = d_tail[due]
        if t >= 0:
            s_next[t] = row
        else:
            d_head[due] = row
        d_tail[due] = row
    return 0


@njit(cache=True, error_model="numpy")
def _stable_order(keys):
    """The order that sorts `keys` keeping equal keys in their order (a bottom-up merge sort: plain
    loops, much cheaper to compile than numba's `argsort(kind="mergesort")`)."""
    n = keys.size
    a = np.arange(n)
    b = np.empty(n, dtype=np.int64)
    width = 1
    while width < n:
        for lo in range(0, n, 2 * width):
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            i, j, k = lo, mid, lo
            while i < mid and j < hi:
                if keys[a[j]] < keys[a[i]]:  # the right run only when strictly smaller: stable
                    b[k] = a[j]
                    j += 1
                else:
                    b[k] = a[i]
                    i += 1
                k += 1
            while i < mid:
                b[k] = a[i]
                i += 1
                k += 1
            while j < hi:
                b[k] = a[j]
                j += 1
                k += 1
        a, b = b, a
        width *= 2
    return a


@njit(cache=True, error_model="numpy")
def day_batch(day, cur_slot, month, s_cust, s_oday, s_ret, s_whole, s_disc, s_earned, s_bid, s_flags, s_next,
              d_head, d_tail, free, st, out_rows, out_rank, b_cust, b_seq, b_A, b_R, b_live, n_open, bst,
              metrics, flows_on, rev_b, rev_p, mark, reverses, gran_month, month_of_day,
              pend_on, pend, pending, P, ring_on, avail, ring, old, head, ring_size, outstanding,
              debt_on, debt, book_on, held, cur, chead, mat, rec, record, below_zero, reversed_, refunded):
    """The day's returns (`DayEvents._returns` without rules on `return`): pops the due day's rows
    (freed for later bookings, their columns kept until then), adds both arms' returns to `metrics`,
    takes the refunds off the tier economics' revenue (`flows_on`), and for the member rows, customer
    after customer in booking order, refunds the discount share and (`reverses`) reverses the order's
    points. The member rows go to `out_rows` sorted by customer (booking order within one), with each
    one's round `out_rank` (its place among its customer's returns today); returns how many."""
    n = 0
    row = d_head[day]
    d_head[day] = -1
    d_tail[day] = -1
    while row >= 0:
        free[st[1] + n] = row  # `free` doubles as the list of today's rows (freed when done)
        n += 1
        row = s_next[row]
    rows = free[st[1]:st[1] + n]
    nm = 0
    for i in range(n):
        row = rows[i]
        f = s_flags[row]
        c = s_cust[row]
        back = s_ret[row]
        if f & F_BASE:
            metrics[R_BASE_CENTS] += back
            metrics[R_BASE_COUNT] += 1
            if flows_on:
                rev_b[c] -= back
        if f & F_PROG:
            metrics[R_PROG_CENTS] += back
            metrics[R_PROG_COUNT] += 1
            metrics[R_DISC_BACK] += s_disc[row]
            if flows_on:
                rev_p[c] -= back
        if f & F_MEMBER:
            out_rows[nm] = row
            nm += 1
    st[1] += n
    if nm == 0:
        return 0
    mem = out_rows[:nm].copy()
    keys = np.empty(nm, dtype=np.int64)
    for i in range(nm):
        keys[i] = s_cust[mem[i]]
    order = _stable_order(keys)  # stable: booking order within a customer
    ngroups = 0
    for i in range(nm):
        row = mem[order[i]]
        out_rows[i] = row
        if i > 0 and s_cust[row] == s_cust[out_rows[i - 1]]:
            out_rank[i] = out_rank[i - 1] + 1
        else:
            out_rank[i] = 0
            ngroups += 1
    # the group (customer) of each member row, and each group's first row
    gstart = np.empty(ngroups + 1, dtype=np.int64)
    g = -1
    for i in range(nm):
        if out_rank[i] == 0:
            g += 1
            gstart[g] = i
    gstart[ngroups] = nm
    for i in range(nm):
        refunded[s_cust[out_rows[i]]] += s_disc[out_rows[i]]
    if not reverses:
        return nm
    # each customer's open orders: one pass over the order book (`OrderBook._rows`)
    any_open = False
    for gi in range(ngroups):
        c = s_cust[out_rows[gstart[gi]]]
        if n_open[c] > 0:
            mark[c] = gi + 1
            any_open = True
    ocount = np.zeros(ngroups + 1, dtype=np.int64)
    if any_open:
        for b in range(bst[0]):
            if b_live[b] and mark[b_cust[b]] > 0:
                ocount[mark[b_cust[b]]] += 1
    for gi in range(ngroups):
        ocount[gi + 1] += ocount[gi]
    orows = np.empty(ocount[ngroups], dtype=np.int64)
    if any_open:
        fill = ocount[:ngroups].copy()
        for b in range(bst[0]):
            if b_live[b] and mark[b_cust[b]] > 0:
                gi = mark[b_cust[b]] - 1
                orows[fill[gi]] = b
                fill[gi] += 1
        for gi in range(ngroups):
            mark[s_cust[out_rows[gstart[gi]]]] = 0
    size = bst[0]
    for gi in range(ngroups):
        for i in range(gstart[gi], gstart[gi + 1]):
            row = out_rows[i]
            c = s_cust[row]
            back = s_ret[row]
            whole = s_whole[row]
            e = s_earned[row]
            # `reversal_target`: all it earned for a whole return, else its share, rounded down
            target = e if back >= whole else e * back // max(whole, 1)
            bid = s_bid[row]
            if not (target > 0 or bid >= 0):
                continue
            own_day = s_oday[row]
            own_slot = month_of_day[own_day] if gran_month else own_day
            # `LotStore.reverse`: the order's own lots first
            own_row = -1
            if bid >= 0:  # `OrderBook.rows_of`: ids are sorted
                lo, hi = 0, size
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if b_seq[mid] < bid:
                        lo = mid + 1
                    else:
                        hi = mid
                own_row = lo
            own_left = b_R[own_row] if own_row >= 0 else 0
            take_own = min(target, own_left)
            if take_own != 0:  # `_take_own`
                if pend_on and own_day > day - P:
                    pend[own_day % P, c] -= take_own
                    pending[c] -= take_own
                elif not ring_on:
                    avail[c] -= take_own
                elif own_slot > cur_slot - ring_size:
                    ring[own_slot % ring_size, c] -= take_own
                else:
                    old[c] -= take_own
            if book_on and take_own > 0:  # `CohortBook.take_rows`: the order's earn month
                r = 1 + month_of_day[own_day]
                held[c, r] -= take_own
                mat[r, month] += take_own
                if c < record:
                    rec[c, r, month] += take_own
            held_after_own = outstanding[c] + (debt[c] if debt_on else 0) - take_own
            rest = target - take_own
            taken = 0
            if rest > 0:  # `_take_newest`: pending lots newest first, the ring newest first, `old`
                want = rest
                if pend_on:
                    before = 0
                    got = 0
                    for k in range(P):
                        pr = (day - k) % P
                        v = pend[pr, c]
                        t = min(max(want - before, 0), v)
                        pend[pr, c] = v - t
                        got += t
                        before += v
                    pending[c] -= got
                    taken += got
                need = want - taken
                if not ring_on:
                    t = min(max(avail[c], 0), need)
                    avail[c] -= t
                    taken += t
                elif need != 0:
                    start = min(max(head[c], cur_slot - ring_size + 1), cur_slot)
                    span = cur_slot - start + 1
                    before = 0
                    for off in range(span):
                        sr = (cur_slot - off) % ring_size
                        v = ring[sr, c]
                        t = min(max(need - before, 0), v)
                        ring[sr, c] = v - t
                        taken += t
                        before += v
                need = want - taken
                t = min(max(old[c], 0), need)
                old[c] -= t
                taken += t
                if book_on:  # `CohortBook.take_newest`: the current month's `cur` joins its column
                    R = month + 2
                    held[c, R - 1] += cur[c]
                    cur[c] = 0
                    before = 0
                    for r in range(R - 1, -1, -1):
                        v = held[c, r]
                        t = min(max(taken - before, 0), v)
                        held[c, r] = v - t
                        mat[r, month] += t
                        if c < record:
                            rec[c, r, month] += t
                        before += v
                    chead[c] = min(chead[c], R - 1)
            leftover = rest - taken
            done = take_own + taken
            if debt_on:
                debt[c] += leftover
                done += leftover
                if book_on and leftover != 0:  # `CohortBook.below`
                    mat[below_zero, month] += leftover
                    if c < record:
                        rec[c, below_zero, month] += leftover
            outstanding[c] -= done
            reversed_[c] += done
            # `OrderBook.reversed`: the order's row closes, the customer's other open orders follow
            k_seq = -1
            if own_row >= 0:
                b_R[own_row] -= take_own
                b_live[own_row] = False
                n_open[b_cust[own_row]] -= 1
                bst[2] -= 1
                k_seq = b_seq[own_row]
            if bst[2] == 0:
                continue
            for q in range(ocount[gi], ocount[gi + 1]):
                b = orows[q]
                if not b_live[b]:
                    continue
                a = b_A[b]
                if b_seq[b] > k_seq:  # the order k was older than this one
                    a -= take_own
                rr = b_R[b]
                newer = max(held_after_own - a - rr, 0)
                t1 = min(rest, newer)
                t2 = min(rest - t1, rr)
                t3 = min(rest - t1 - t2, a)
                b_R[b] = rr - t2
                b_A[b] = a - t3
    return nm


@njit(cache=True, error_model="numpy")
def balance_batch(rows, s_cust, s_ret, s_whole, earned, issued, expired, reversed_):
    """`ProgramArm.reverse_balances` for one balance beside the points over the member rows `rows` (sorted by
    customer, booking order within one: each customer's returns in the numpy rounds' order): each loses
    floor(earned x returned / amount) of what its order earned of it (all for a whole return), at most
    what is outstanding (issued - expired - reversed)."""
    for i in range(rows.size):
        row = rows[i]
        c = s_cust[row]
        e = earned[row]
        back = s_ret[row]
        whole = s_whole[row]
        target = e if back >= whole else e * back // max(whole, 1)
        done = min(max(target, 0), issued[c] - expired[c] - reversed_[c])
        reversed_[c] += done


_Z1 = np.zeros(1, dtype=np.int64)


def _i64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)

_Z2 = np.zeros((1, 1), dtype=np.int64)
_Z3 = np.zeros((1, 1, 1), dtype=np.int64)


class ReturnKernel:
    """The day loop's return schedule and returns on the kernel, bound to one chunk (`ChunkSim`)."""

    def __init__(self, sim, cap: int = 1024):
        from simulator.engine.returns import OrderBook

        self.sim = weakref.proxy(sim)  # sim owns this kernel: strong references back would be cycles
        arm = sim.arm
        self.arm = weakref.proxy(arm)
        self._arm_ref = weakref.ref(arm)
        days = sim.days
        self.d_head = np.full(days + 1, -1, dtype=np.int64)
        self.d_tail = np.full(days + 1, -1, dtype=np.int64)
        self.st = np.zeros(2, dtype=np.int64)  # next unused row, free rows
        self.bst = np.zeros(3, dtype=np.int64)  # the order book's size, next id, open rows (synced both ways)
        self.metrics = np.zeros(N_RMETRICS, dtype=np.int64)
        self.need = np.zeros(2, dtype=np.int64)
        # extra columns kept for the numpy steps called back: what each order moved (lower metrics),
        # what it earned of each balance beside the points
        self.moved_keys = (("metric", *("counter." + c.name for c in arm.p.counters))
                           if arm.p.returns.lower_metrics else ())
        self.bal_names = tuple(arm.bal_issued)
        self.n_extra = len(self.moved_keys) + len(self.bal_names)
        self.no_extra = np.zeros((0, 1), dtype=np.int64)
        self._alloc(cap)
        self._stub = OrderBook(1)  # the book of a program whose returns reverse nothing (never opened)
        self.mark = np.zeros(arm.n, dtype=np.int64)
        self.month_of_day = np.ascontiguousarray(arm.plan.month_of_day, dtype=np.int64)

    def is_for(self, arm) -> bool:
        """Whether this kernel is bound to `arm` (`DayEvents._return_kernel` checks before reusing it)."""
        return self._arm_ref() is arm

    @property
    def book_obj(self):
        book = self.arm.lots.book
        return book if book is not None else self._stub

    def _book_fixed(self) -> tuple:
        lots = self.arm.lots
        debt_on = lots.debt is not None
        return (self.arm.reverses, self.d_head, self.d_tail, self.st, lots.outstanding,
                lots.debt if debt_on else _Z1, debt_on, self.need)

    def _day_fixed(self) -> tuple:
        """The arrays of the lots and cohorts, and the constants (read per call: nothing is cached)."""
        sim, arm = self.sim, self.arm
        lots = arm.lots
        flows = bool(sim.tier_flows)
        ring_on = lots.ring is not None
        cb = lots.cohorts
        if cb is None:
            cohort = (False, _Z2, _Z1, _Z1, _Z2, _Z3, 0, 0)
        else:
            rec = cb.rec["reversed"] if cb.rec is not None else _Z3
            cohort = (True, cb._held, cb.cur, cb.head, cb.mat["reversed"], rec, cb.record, cb.below_zero)
        return (self.metrics, flows, sim.cust_rev["baseline_revenue_cents"] if flows else _Z1,
                sim.cust_rev["revenue_cents"] if flows else _Z1, self.mark, arm.reverses,
                arm.plan.granularity == "month", self.month_of_day,
                lots.pend is not None, lots.pend if lots.pend is not None else _Z2, lots.pending, lots.pending_days,
                ring_on, lots.avail if lots.avail is not None else _Z1, lots.ring if ring_on else _Z2, lots.old,
                lots.head if ring_on else _Z1, max(lots.ring_size, 1), lots.outstanding, lots.debt is not None,
                lots.debt if lots.debt is not None else _Z1, *cohort, arm.reversed, arm.discount_refunded)

    def _alloc(self, cap: int) -> None:
        old = getattr(self, "cols", None)
        cols = {k: np.zeros(cap, dtype=np.int64) for k in ("cust", "oday", "ret", "whole", "disc", "earned", "bid",
                                                             "next", "free")}
        cols["flags"] = np.zeros(cap, dtype=np.int8)
        cols["extra"] = np.zeros((self.n_extra, cap), dtype=np.int64)
        if old is not None:
            k = old["cust"].size
            for name, v in cols.items():
                v[..., :k] = old[name]
        self.cols = cols
        self.cap = cap
        self.out_rows = np.zeros(cap, dtype=np.int64)
        self.out_rank = np.zeros(cap, dtype=np.int64)
        self._sched = (cols["cust"], cols["oday"], cols["ret"], cols["whole"], cols["disc"], cols["earned"],
                       cols["bid"], cols["flags"], cols["next"])

    def _book_state(self) -> tuple:
        """The order book's arrays (reallocated when it grows) and its counts, into `bst`."""
        b = self.book_obj
        bst = self.bst
        bst[0], bst[1], bst[2] = b.size, b.next_seq, b.live_count
        return b.cust, b.seq, b.day, b.slot, b.A, b.R, b.live, b.n_open, bst

    def book(self, ret: dict, U: np.ndarray, ib: np.ndarray, ip: np.ndarray, mi: np.ndarray,
             earned: np.ndarray | None, draws, day: int) -> None:
        """`DayEvents._schedule_returns` on the kernel."""
        nret = ret["rows"].size
        if nret == 0:
            return
        arm = self.arm
        k = mi.size
        has = earned is not None and k > 0
        earn = _i64(earned) if has else np.zeros(k, dtype=np.int64)
        disc = _i64(arm.last_discount) if has and arm.last_discount is not None else np.zeros(k, dtype=np.int64)
        if self.n_extra:
            extra = np.zeros((self.n_extra, k), dtype=np.int64)
            if k:  # (as `_schedule_returns`: what the last purchase moved, whenever members bought)
                for x, key in enumerate(self.moved_keys):
                    if key in arm.last_moved:
                        extra[x] = arm.last_moved[key]
            if has:
                for x, name in enumerate(self.bal_names):
                    if name in arm.last_balances:
                        extra[len(self.moved_keys) + x] = arm.last_balances[name]
        else:
            extra = self.no_extra
        book = self.book_obj
        head = (nret, _i64(ret["rows"]), _i64(ret["due"]), _i64(ret["returned"]), _i64(U), U.size, _i64(ib),
                _i64(ip), _i64(mi), earn, disc, extra, _i64(draws.amount), day, arm.plan.slot_of_day(day))
        while True:
            bargs = self._book_state()
            got = book_batch(*head, *self._sched, self.cols["extra"], self.cols["free"], *bargs, *self._book_fixed())
            bst = bargs[-1]
            if got == 0:
                book.size, book.next_seq, book.live_count = int(bst[0]), int(bst[1]), int(bst[2])
                return
            keep, track = int(self.need[0]), int(self.need[1])
            if keep > self.cap - int(self.st[0]) + int(self.st[1]):
                self._alloc(max(2 * self.cap, int(self.st[0]) + keep))
            if track and book.size + track > book.cust.size:
                book._grow(track)  # as `OrderBook.open` grows (or compacts) it

    def day(self, day: int, mo: int, touched: list) -> None:
        """`DayEvents._returns` on the kernel (the program has no rules on `return`)."""
        if self.d_head[day] < 0:
            return
        sim, arm = self.sim, self.arm
        lots = arm.lots
        met = self.metrics
        met[:] = 0
        cb = lots.cohorts
        bargs = self._book_state()
        b = self.book_obj
        nm = day_batch(day, lots.cur_slot, cb._month if cb is not None else 0, *self._sched, self.d_head,
                       self.d_tail, self.cols["free"], self.st, self.out_rows, self.out_rank, b.cust, b.seq, b.A,
                       b.R, b.live, b.n_open, bargs[-1], *self._day_fixed())
        b.live_count = int(bargs[-1][2])
        mon = sim.mon
        b_cents, b_count, p_cents, p_count, disc_back = met.tolist()
        if b_count:
            mon["baseline.revenue_cents"][mo] -= b_cents
            mon["baseline.returns"][mo] += b_count
            mon["baseline.refund_cents"][mo] += b_cents
        if p_count:
            mon["program.revenue_cents"][mo] -= p_cents
            mon["program.returns"][mo] += p_count
            mon["program.refund_cents"][mo] += p_cents
            mon["program.discount_returned_cents"][mo] += disc_back
        if nm == 0:
            return
        rows = self.out_rows[:nm]
        c = self.cols
        cust = c["cust"][rows]
        if sim.rec_idx:
            for i, cc in enumerate(cust.tolist()):
                if cc in sim.rec_idx:
                    r = int(rows[i])
                    sim.records[cc]["events"].append({"kind": "return", "day": day, "order": f"d{int(c['oday'][r])}",
                                                      "amount_cents": int(c["ret"][r])})
        if self.bal_names and arm.reverses:  # balances beside the points (before the metrics, as numpy)
            nmk = len(self.moved_keys)
            for x, name in enumerate(self.bal_names):
                balance_batch(rows, c["cust"], c["ret"], c["whole"], c["extra"][nmk + x], arm.bal_issued[name],
                              arm.bal_expired[name], arm.bal_reversed[name])
        if self.moved_keys:
            self._numpy_steps(rows, self.out_rank[:nm])
        touched.append(cust)  # sorted by customer; a customer with two returns twice (harmless there)
    def _numpy_steps(self, rows: np.ndarray, rank: np.ndarray) -> None:
        """What stays numpy (`DayEvents._returns_numpy_steps`), per round of unique customers as in
        `DayEvents._returns`: lowering the tier metric and counters (`returns lower tier metric and
        counters`), the tier with it. It reads and writes neither the lots nor the balances."""
        c = self.cols
        for k in range(int(rank.max()) + 1):
            batch = rows[rank == k]
            self.sim._returns_numpy_steps(c["cust"][batch], c["ret"][batch], c["whole"][batch], c["oday"][batch],
                                          {key: c["extra"][x][batch] for x, key in enumerate(self.moved_keys)})


COMPILED = (book_batch, day_batch, balance_batch)

__all__ = ["COMPILED", "ReturnKernel"]
