"""The day's purchase pass on the compiled kernel: buffers, the per-block calls, the engine's views.

Takes: a `ChunkSim` (simulator.engine.day_loop) after its set-up. Gives: `DayPass`, whose
`draw(day, mo)` runs `simulator.kernel.day.day_block` for each block of the chunk (block by
block from Python: each block has its own Generators) and returns the day's buyers, the rows of
the baseline and program buyers and members, the `Basket` (views of buffers allocated once per
chunk, grown when a day has more buyers than they hold) and the month's metric increments; and
`churn(...)`, the program arm's dropout after the program's purchase steps. The numpy path
(`ChunkSim._purchases_numpy`) computes the same; the day loop chooses.
"""

from __future__ import annotations

import weakref

import numpy as np

from simulator.kernel import day as K
from simulator.kernel.cache import announce_compile


# the month's metrics the pass adds to (`ChunkSim.mon` keys) and their slot in `day.metrics`
METRICS = (("baseline.revenue_cents", K.M_BASE_REV), ("baseline.purchases", K.M_BASE_BUY),
           ("baseline.active_customers", K.M_BASE_ACTIVE), ("baseline.churned", K.M_BASE_CHURN),
           ("program.revenue_cents", K.M_PROG_REV), ("program.purchases", K.M_PROG_BUY),
           ("program.active_customers", K.M_PROG_ACTIVE))


class DayPass:
    def __init__(self, sim):
        from simulator.engine.day_loop import Basket  # the engine's record of the day's draws

        self.Basket = Basket
        self.sim = weakref.proxy(sim)  # sim owns this pass: a strong reference back would be a cycle
        tr, t = sim.tr, sim.tables
        n = tr.n
        self.blocks = []
        for b in range(len(sim.rngs)):
            lo, hi = int(sim.offsets[b]), int(sim.offsets[b + 1])
            q = sim.quantity_rngs[b] if sim.quantity_rngs is not None else sim.rngs[b]
            self.blocks.append((sim.rngs[b], sim.prog_rngs[b], sim.side_rngs[b], q, lo, int(sim.pool_start[b]), hi))
        self.U = np.zeros(n, dtype=np.int64)  # the day's buyers: at most every customer of the chunk
        self.uU = np.zeros(n, dtype=np.float32)
        self.cnt = np.zeros(K.N_COUNTS, dtype=np.int64)
        self.metrics = np.zeros(K.N_METRICS, dtype=np.int64)
        self.K = sim.n_uniforms
        self.tail = None  # day_block's arguments after the day's (`_bind`)
        # the basket buffers hold a typical day's buyers; a day with more grows them
        self._alloc(min(n, max(4096, 2 * int(np.ceil(float(sim.q_max.sum(dtype=np.float64)))) + 1024)))
        self.death = tr.death_day if tr.death_day is not None else np.zeros(1, dtype=np.int32)
        self.flows_dummy = np.zeros(1, dtype=np.int64)
        self.quantity_on = sim.quantity_rngs is not None
        ca, ch = t.cat_alias, t.chan_alias
        self.tabs = (t.spend_p, sim.nu, sim.items_any, t.items_mean, self.quantity_on, t.quantity_mean,
                     ca.k, ca.prob, ca.first, ca.second, ch.k, ch.prob, ch.first, ch.second,
                     sim.ship_any, t.shipping, sim.schedule is not None, t.ret_rate, t.ret_delay_min,
                     t.ret_delay_span, t.ret_frac_bounds, t.ret_frac_values, sim.days, sim.bgnbd, sim.p_drop)
        announce_compile(K.day_block)  # says so once, with the purchase kernel's announcement

    def _alloc(self, cap: int, keep: int = 0) -> None:
        """(Re)allocate the basket buffers for `cap` rows, keeping the first `keep` rows."""
        old = getattr(self, "bufs", None)
        bufs = {
            "z": np.zeros(cap), "part": np.zeros(cap, dtype=np.int8), "amount": np.zeros(cap, dtype=np.int64),
            "shipping": np.zeros(cap, dtype=np.int64), "cat": np.zeros(cap, dtype=np.int64),
            "chan": np.zeros(cap, dtype=np.int64), "items": np.zeros(cap, dtype=np.int64),
            "quantity": np.zeros(cap, dtype=np.int64), "uni": np.zeros((cap, self.K), dtype=np.float32),
            "ib": np.zeros(cap, dtype=np.int64), "ip": np.zeros(cap, dtype=np.int64),
            "mem_p": np.zeros(cap, dtype=np.bool_), "mi": np.zeros(cap, dtype=np.int64),
            "ret_rows": np.zeros(cap, dtype=np.int64), "ret_due": np.zeros(cap, dtype=np.int64),
            "ret_returned": np.zeros(cap, dtype=np.int64),
        }
        if old is not None and keep:
            for k, v in bufs.items():
                v[:keep] = old[k][:keep]
        self.bufs = bufs
        self.order = tuple(bufs[k] for k in ("z", "part", "amount", "shipping", "cat", "chan", "items", "quantity",
                                             "uni", "ib", "ip", "mem_p", "mi", "ret_rows", "ret_due", "ret_returned"))

    def _bind(self) -> None:
        """The arguments of `day_block` after the day's: the chunk's arrays (updated in place, never
        rebound: the day loop writes into them) and the buffers of the last `_alloc`."""
        sim = self.sim
        state = (sim.q_max, sim.q_base, sim.q_prog, self.death, not sim.bgnbd, sim.seg)
        flows = bool(sim.tier_flows)
        rev_b = sim.cust_rev["baseline_revenue_cents"] if flows else self.flows_dummy
        rev_p = sim.cust_rev["revenue_cents"] if flows else self.flows_dummy
        after = (sim.alive_b, sim.visit_b, sim.visit_p, sim.enroll, flows, rev_b, rev_p, self.cnt, self.U, self.uU)
        self.tail = (*state, *self.tabs, *after, *self.order, self.metrics)

    def draw(self, day: int, mo: int):
        """The day's pass over every block; None when nobody buys, else (U, ib, ip, mem_p, mi, basket):
        the buyers, the rows of U that buy in the baseline arm, in the program arm (and whether each
        is a member), of the members, and their draws. `book` adds the day's metrics."""
        sim = self.sim
        cnt, metrics = self.cnt, self.metrics
        cnt[:] = 0
        metrics[:] = 0
        if self.tail is None:
            self._bind()
        tail = self.tail
        for r0, r1, r2, r3, lo, mid, hi in self.blocks:
            got = K.day_block(r0, r1, r2, r3, lo, mid, hi, day, mo, True, 0, *tail)
            if got < 0:  # more buyers than the buffers hold: grow them, then draw the baskets
                m0, n_sel = int(cnt[K.C_ROWS]), -got - 1
                self._alloc(max(2 * self.bufs["amount"].size, m0 + n_sel), keep=m0)
                self._bind()
                tail = self.tail
                K.day_block(r0, r1, r2, r3, lo, mid, hi, day, mo, False, n_sel, *tail)
        m = int(cnt[K.C_ROWS])
        if m == 0:
            return None
        b = self.bufs
        nr = int(cnt[K.C_RET])
        ret = ({"rows": b["ret_rows"][:nr], "due": b["ret_due"][:nr], "returned": b["ret_returned"][:nr]}
               if sim.schedule is not None and nr else None)
        basket = self.Basket(b["amount"][:m], b["shipping"][:m], b["cat"][:m], b["chan"][:m], b["items"][:m],
                             b["quantity"][:m] if self.quantity_on else None, b["uni"][:m], ret)
        nip = int(cnt[K.C_IP])
        return (self.U[:m], b["ib"][:int(cnt[K.C_IB])], b["ip"][:nip], b["mem_p"][:nip], b["mi"][:int(cnt[K.C_MI])],
                basket)

    def book(self, mon: dict, mo: int) -> None:
        """Add the day's metric increments (of the last `draw`) to month `mo` of the metrics."""
        met = self.metrics
        for key, slot in METRICS:
            mon[key][mo] += int(met[slot])

    def churn(self, ip: np.ndarray, mem_p: np.ndarray, U: np.ndarray, uni: np.ndarray) -> int:
        """The program arm's BG/NBD churn of the day's program buyers; how many drop out."""
        sim = self.sim
        arm, resp = sim.arm, sim.resp
        return int(K.churn(ip, mem_p, ip.size, U, self.uU, uni, sim.p_drop, sim.q0, arm.tier, arm.downgraded,
                           sim.dropout_tiers, float(resp.tier_dropout_reduction),
                           float(resp.downgrade_dropout_increase), sim.ntiers, sim.alive_p, sim.q_prog,
                           sim.q_max, sim.q_base))
