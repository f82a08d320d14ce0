"""The vectorized day loop: one chunk of customers (whole RNG blocks), both arms.

Takes: a `Plan` (or None: no program), a `Population`, the trial number, the
chunk's block numbers, and the run's seed. Gives: `ChunkResult`, integer monthly
metrics per arm plus end-of-run totals (all int64, so sums over chunks are exact
and independent of chunking), and optionally the recorded event streams and
ledgers of a few customers for the differential test.

Each day, per block, ONE float32 uniform per customer decides who buys: a
customer buys in the baseline arm when u < q (its base daily probability) and in
the program arm when u < q' (q raised by the behavioural response). Both arms
therefore share the draws (common random numbers). The day's buyers then get
their basket draws (spend, category, channel, items, and uniforms for dropout, perk
use, redemption and returns; the `quantity` of a purchase, Poisson(the segment's mean), from a
stream of its own (3), only when the program reads it; the purchase's lines, from a stream of their
own (4, `simulator.engine.line_draws`), only when the program reads lines and a segment describes
them): baseline buyers from the block's stream 0, the program
arm's extra buyers from stream 1, referred newcomers from the side stream 2, so the
baseline does not depend on the program, nor on the referral settings, and the referral
settings leave the other customers' draws alone.
Only purchases at the customer's own rate (u < q) carry the BG/NBD chance to drop out.

The rule for random draws, for anyone adding to the engine: draw only when the draw is used (a
program or population without the feature makes no draw for it), and draw after the draws that
exist, from the stream that owns the quantity (or a new stream of its own). Then every existing
program and population gives the same numbers, bit for bit, before and after the change, and
variants compared on common random numbers stay paired. A new trait gets its own trait stream
(`simulator.model.draws.TraitStreams`), never a draw taken from stream 0 in the middle of the day.

Where the program runs on the compiled kernel (`self.arm.kernel`) and the batch draws no purchase
lines, the day's pass (the uniforms, the buyers, their baskets and returns, both arms' month
metrics, the baseline churn, and after the program's purchase steps the program arm's churn) runs
compiled (`simulator.kernel.day`), drawing from the same streams in the same order as
`_purchases_numpy` and `_basket` here, which stay the reference and the path everywhere else.

Cost per day: the uniforms, one comparison and `flatnonzero` over the chunk (q_max =
max(q, q') is kept up to date, not recomputed); everything else touches only the
day's buyers and the customers with an event. Calendar work runs on boundaries.
The other day events (signups, referrals, birthdays, custom events, returns) are in
`simulator.engine.day_events`.

Where the chunk's purchases run on the compiled kernel (`arm.kernel`, simulator.kernel), so do
redemption on the visit (`_redeem`), per-use tier perks (`_per_use_perks`) and the purchase
probability (`_refresh_q`, `_end_post_windows`): the same state changes, no draw of their own
(they read the basket uniforms above: redeem, perk use); the numpy code below stays the
reference and the path of every other chunk. So do the returns of a program without rules on
`return` (`DayEvents._return_kernel`, simulator.kernel.returns: the schedule, both arms' return
metrics, the reversal of the order's points in the lots, order book and cohorts), and the program's
other events (signups, referral sides, birthdays, custom events, rules on `return`: `ProgramArm.apply`
hands every kind to the kernel, simulator.kernel.events).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rulelang import ir
from simulator.model.strings import StringTable
from simulator.engine.day_events import DayEvents, bday_of
from simulator.engine.event_days import day_order
from rulelang.fields import simulated_fields
from rulelang.limits import MAX_CUSTOMER_POINTS

from simulator.model.draws import NEVER, SegmentTables, concat_traits, draw_block
from simulator.engine.exact import ExactRangeError, exact_sum
from simulator.engine.program_plan import Plan
from simulator.model.population import Population
from simulator.engine.program_arm import ProgramArm
from simulator.engine.returns import ReturnSchedule
from simulator.engine.cohorts import CohortBook
from simulator.engine.line_draws import LineTables

BLOCK = 1 << 16
PURCHASE_FIELDS = simulated_fields("purchase")  # what a simulated purchase carries (`Basket` attributes)
ARM_METRICS = ("revenue_cents", "purchases", "active_customers", "alive_customers", "churned",
               "new_customers", "nps_promoters", "nps_detractors", "nps_respondents", "returns", "refund_cents")
PROGRAM_METRICS = ("points_issued", "points_redeemed", "points_expired", "points_reversed",
                   "points_outstanding", "points_available", "discount_cents", "reward_cents",
                   "points_payment_cents", "perk_cents", "voucher_cents", "fixed_cost_cents",
                   "acquisition_cents", "members", "discount_returned_cents")
TIER_FLOWS = ("revenue_cents", "baseline_revenue_cents", "discount_cents", "perk_cents", "points_issued")
# vouchers with a life (only for a program whose conversion gives them a validity)
VOUCHER_METRICS = ("vouchers_issued", "vouchers_used", "vouchers_expired", "vouchers_outstanding",
                   "voucher_issued_cents", "voucher_used_cents", "voucher_expired_cents", "voucher_outstanding_cents")
BALANCE_METRICS = ("issued", "expired", "reversed", "outstanding")  # per balance beside the points
UNIFORMS = ("category", "channel", "dropout", "perk_use", "redeem")  # per purchase, then 3 for returns
NO_VISIT = np.int16(-4)  # visit code: (month of the last purchase) * 4 + purchases so far (at most 2)


def block_rng(seed: int, trial: int, block: int, stream: int = 0) -> np.random.Generator:
    """A day-by-day random stream of one block. Stream 0: the uniforms and baskets of the block's
    customers, everything the baseline arm consumes, in an order that does not depend on the
    program; stream 1: what the program arm draws for itself (its extra purchases); stream 2
    (side): the referrals and the referred newcomers' uniforms and baskets. The customers' traits
    and custom events have streams of their own (`simulator.model.draws.TraitStreams`). So the baseline
    is the same whatever the program, and two programs share every draw they can (common random
    numbers)."""
    key = (trial, block) if stream == 0 else (trial, block, stream)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass
class ChunkResult:
    monthly: dict[str, np.ndarray]  # "program.revenue_cents" -> (months,) int64
    totals: dict[str, int]
    tier_counts: np.ndarray  # (months, tiers) int64, program arm members at month end
    records: dict[int, dict] = field(default_factory=dict)
    # tier economics (programs with tiers): TIER_FLOWS -> (months, tiers) int64, each enrolled customer's
    # month attributed to the tier held at the month's end (`ChunkSim._tier_month`)
    tier_flows: dict[str, np.ndarray] = field(default_factory=dict)
    # points by issue-month cohort (`simulator.engine.cohorts`): issued / redeemed / expired / reversed /
    # outstanding -> (cohorts, months) int64, cohorts = opening, each month, below zero
    cohorts: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Basket:
    """The draws of the day's buyers (rows of U): one attribute per field of
    `rulelang.fields.simulated_fields("purchase")`, under the field's name, then the uniforms."""

    amount: np.ndarray
    shipping: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    items: np.ndarray
    quantity: np.ndarray | None  # drawn only when the program reads `quantity`
    uniforms: np.ndarray  # (buyers, len(UNIFORMS) [+ 3]) float32
    ret: dict | None
    lines: dict | None = None  # (buyers, L) arrays under simulator.engine.lines.LINE_KEYS, drawn only when read


def blocks_for(customers: int, block_size: int = BLOCK) -> list[tuple[int, int]]:
    """(block number, customers in it) for a population of `customers`."""
    out = []
    b = 0
    left = customers
    while left > 0:
        n = min(block_size, left)
        out.append((b, n))
        left -= n
        b += 1
    return out


def balance_metric(name: str, metric: str) -> str:
    """The monthly metric of a balance beside the points: `program.balance.qualifying_dollars.issued`."""
    return f"program.balance.{name}.{metric}"


def ledger_error(arm: ProgramArm) -> int:
    """The largest error, over the chunk's customers, of the ledger identity issued = redeemed +
    expired + reversed + outstanding (plus the opening balance on the left), plus the lot buckets' own recount (`LotStore.audit`):
    0 for a sound ledger. Per-customer totals are below MAX_CUSTOMER_POINTS (2**53, checked at
    every month end), so these int64 differences cannot wrap."""
    if arm.n == 0:
        return 0
    ident = arm.opening + arm.issued - arm.redeemed - arm.expired - arm.reversed - arm.lots.outstanding
    # a balance beside the points: outstanding = issued - expired - reversed, never below zero
    below = max((int(-np.minimum(arm.bal_outstanding(name), 0).max()) for name in arm.bal_issued), default=0)
    return int(max(np.abs(ident).max(), arm.lots.audit().max(), below))


def cohort_error(arm: ProgramArm, book: CohortBook) -> int:
    """The largest error, over the chunk's customers, of the cohort book against the lots: what it holds
    by issue month adds up to the points in lots (outstanding plus any debt), and its flows to what it
    holds (`CohortBook.drift`). 0 when sound."""
    if arm.n == 0:
        return 0
    return max(int(np.abs(book.held.sum(axis=1) - arm.lots.held(np.arange(arm.n))).max()), book.drift())


def check_customer_totals(arm: ProgramArm) -> None:
    """Stop (ExactRangeError) when a customer's running totals pass MAX_CUSTOMER_POINTS."""
    if arm.n == 0:
        return
    balances = [(f"{name} issued", arr) for name, arr in arm.bal_issued.items()]  # balances beside the points
    for name, arr in (("issued", arm.issued), ("redeemed", arm.redeemed), ("expired", arm.expired),
                      ("reversed", arm.reversed), ("outstanding", arm.lots.outstanding), ("tier metric", arm.metric),
                      *balances):
        big = int(np.abs(arr).max())
        if big > MAX_CUSTOMER_POINTS:
            raise ExactRangeError(f"a customer's {name} reached {big:,}, beyond the {MAX_CUSTOMER_POINTS:,} (2**53) "
                                  "a customer's totals may hold exactly (rulelang.limits.MAX_CUSTOMER_POINTS)")


def _int64(value: int, name: str) -> int:
    if not -(2**63) <= value < 2**63:
        raise ExactRangeError(f"the month's {name} ({value:.3e}) is beyond int64 (9.2e18): simulate fewer customers")
    return value


def _visit(codes: np.ndarray, idx: np.ndarray, mo: int) -> int:
    """Book a purchase in month `mo` for customers `idx`; returns how many are new this month."""
    v = codes[idx]
    fresh = int(np.count_nonzero((v >> 2) != mo))
    codes[idx] = (mo << 2) | np.minimum((v & 3) + 1, 2)
    return fresh


class ChunkSim(DayEvents):
    def __init__(self, plan: Plan | None, pop: Population, tables: SegmentTables, strings: StringTable,
                 seed: int, trial: int, blocks: list[tuple[int, int]], budgets: dict[str, int] | None = None,
                 record: int = 0, kernel_for=None):
        self.plan, self.pop, self.tables, self.strings = plan, pop, tables, strings
        self.kernel_for = kernel_for  # (plan, arm, strings, population) -> a purchase kernel or None
        self.cal = plan.cal if plan is not None else None
        self.rngs = [block_rng(seed, trial, b) for b, _ in blocks]
        self.prog_rngs = [block_rng(seed, trial, b, stream=1) for b, _ in blocks]
        self.side_rngs = [block_rng(seed, trial, b, stream=2) for b, _ in blocks]
        # stream 3: the purchases' `quantity`, only for a program that reads it (the draw rule above)
        self.quantity_rngs = ([block_rng(seed, trial, b, stream=3) for b, _ in blocks]
                              if plan is not None and plan.reads_quantity else None)
        # stream 4: whether a member holding a voucher with a life spends one at a purchase, only
        # for a program whose vouchers have a life (the draw rule above)
        self.voucher_rngs = ([block_rng(seed, trial, b, stream=4) for b, _ in blocks]
                             if plan is not None and ir.vouchers_with_a_life(plan.program) else None)
        # stream 5: the purchases' lines, only for a program that reads lines and a population that
        # describes them (the draw rule above)
        self.line_rngs = ([block_rng(seed, trial, b, stream=5) for b, _ in blocks]
                          if plan is not None and plan.reads_lines and any(sg.lines for sg in pop.segments) else None)
        if self.line_rngs is not None:
            self.line_tables = LineTables.of(pop, strings, plan.line_attributes)  # type: ignore[union-attr]
        self.days = plan.cal.days if plan is not None else 0
        start = plan.cal.start if plan is not None else None
        parts = [draw_block(pop, tables, seed, trial, b, n, self.days, side, start)
                 for side, (b, n) in zip(self.side_rngs, blocks)]
        self.tr, self.offsets = concat_traits(parts)
        # per block: its customers' slots (daily uniforms from stream 0) and its spare slots for
        # referred newcomers (from the side stream, so the referral settings leave stream 0 alone)
        self.uniform_slices = []
        self.pool_start = []  # per block: its first spare slot
        for b, part in enumerate(parts):
            lo, mid, hi = int(self.offsets[b]), int(self.offsets[b]) + part.n_customers, int(self.offsets[b + 1])
            self.pool_start.append(mid)
            self.uniform_slices.append((slice(lo, mid), self.rngs[b]))
            if hi > mid:
                self.uniform_slices.append((slice(mid, hi), self.side_rngs[b]))
        self.sizes = [p.n for p in parts]
        self.pool_next = [int(p.n_customers) for p in parts]  # next spare slot per block (block-local)
        self.budgets = budgets if budgets is not None else {}
        self.record_n = record
        self.records: dict[int, dict] = {}
        self.dropped_referrals = 0  # referrals that found no spare slot (reported as a warning)

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        tr, plan, pop = self.tr, self.plan, self.pop
        cal, program, resp = plan.cal, plan.program, pop.response
        n = tr.n
        self.resp = resp
        self.q0 = tr.q0
        seg_mean = np.array([s.r / s.alpha_days for s in pop.segments])[tr.seg]
        self.weight = (1.0 / (1.0 + resp.heavy_buyer_damping * tr.q0 / np.maximum(seg_mean, 1e-12))).astype(np.float32)
        self.q_base = tr.q0.copy()
        self.q_base[tr.pool] = 0.0
        self.q_prog = self.q_base.copy()
        self.q_max = self.q_base.copy()  # max(q_base, q_prog), kept up to date
        self.alive_b = ~tr.pool if tr.alive is None else ~tr.pool & tr.alive  # customers who start dead never buy
        self.alive_p = self.alive_b.copy()
        self.enroll = tr.enroll_day.copy()
        returns_on = self.tables.has_returns
        self.arm = ProgramArm(plan, n, self.strings, self.enroll, tr.bday_doy, tr.attributes, self.budgets, returns_on)
        # points by issue-month cohort: bookkeeping only, no draw
        self.cohorts = CohortBook(n, plan.month_of_day, cal.months, plan.granularity,
                                  record=min(self.record_n, self.sizes[0]) if self.record_n > 0 else 0)
        self.arm.lots.cohorts = self.cohorts
        if self.kernel_for is not None:  # the compiled kernel for the purchases (simulator.kernel)
            self.arm.kernel = self.kernel_for(plan, self.arm, self.strings, pop)
        self._opening_state()
        self.schedule = ReturnSchedule() if returns_on else None
        counted = {c.event for c in program.counters}
        self.applied_kinds = set(plan.by_event) | counted
        self.return_rules = "return" in self.applied_kinds
        self.post_until = np.zeros(n, dtype=np.int32)
        self.post_lift = bool(resp.post_reward_lift and resp.post_reward_days)
        self.lifts = bool(resp.goal_gradient and plan.goal_points > 0) or bool(resp.post_reward_lift)
        rewards = sorted(program.rewards, key=lambda r: (r.price, r.name))
        self.goal_reward = rewards[0] if rewards else None
        self.per_use = []
        if program.tiers is not None:
            self.per_use = [(t, perk) for t, tier in enumerate(program.tiers.tiers) for perk in tier.perks
                            if perk.per == "use"]
        self.ntiers = len(program.tiers.tiers) if program.tiers else 1
        self.visit_b = np.full(n, NO_VISIT, dtype=np.int16)
        self.visit_p = np.full(n, NO_VISIT, dtype=np.int16)
        months = cal.months
        self.mon = {f"{a}.{m}": np.zeros(months, np.int64) for a in ("program", "baseline") for m in ARM_METRICS}
        self.mon.update({f"program.{m}": np.zeros(months, np.int64) for m in PROGRAM_METRICS})
        if self.arm.vouchers is not None:
            self.mon.update({f"program.{m}": np.zeros(months, np.int64) for m in VOUCHER_METRICS})
        # balances beside the points: only a program that declares them has these metrics
        self.mon.update({balance_metric(b.name, m): np.zeros(months, np.int64)
                         for b in program.balances for m in BALANCE_METRICS})
        self.newcomers = self.mon["program.new_customers"]
        self.acquisition = self.mon["program.acquisition_cents"]
        self.tier_counts = np.zeros((months, self.ntiers), np.int64)
        self.prev: dict[str, int] = {}
        self._tier_setup(months)
        # the day's event lists: customers sorted by day, and each day's slice
        days = np.arange(cal.days + 1)
        self.en_order, self.en_bounds = day_order(self.enroll, cal.days)
        self.bd_order, self.bd_bounds = day_order(tr.bday_doy, 366)
        self.ev_bounds = np.searchsorted(tr.ev_day, days)
        self.ref_bounds = np.searchsorted(tr.ref_day, days)
        self.u = np.empty(n, dtype=np.float32)
        self.block_slices = [slice(int(self.offsets[b]), int(self.offsets[b + 1])) for b in range(len(self.rngs))]
        self.bgnbd = tr.death_day is None
        self.p_drop = tr.p_drop
        self.nu = tr.nu
        self.seg = tr.seg
        t = self.tables
        self.spend_p = t.spend_p
        self.n_uniforms = len(UNIFORMS) + (3 if returns_on else 0)
        self.items_any = bool((t.items_mean > 1).any())
        self.ship_any = bool(t.shipping.any())
        self.dropout_tiers = bool(resp.tier_dropout_reduction and self.ntiers > 1)
        self.rec_idx = set(range(min(self.record_n, self.sizes[0]))) if self.record_n > 0 else set()
        # the compiled day pass (simulator.kernel.day) where the program runs on the kernel, but for a
        # batch that draws purchase lines (numpy draws those)
        self.day_pass = (self.arm.kernel.day_pass(self) if self.arm.kernel is not None and self.line_rngs is None
                         else None)
        for c in self.rec_idx:
            self.records[c] = {"events": [], "birthday": bday_of(int(tr.bday_doy[c])),
                               "attributes": {k: v[c] for k, v in tr.attributes.items()}}
        # the compiled steps around the purchases (simulator.kernel.redeem, .lift), where the purchases
        # run on the kernel: redemption, per-use perks, the purchase probability (None: numpy below)
        self.redeem_k, self.lift_k = self.arm.kernel.day_steps(self) if self.arm.kernel is not None else (None, None)

    def _opening_state(self) -> None:
        """A program already running (customers file): the opening tier and balance of its members.
        Opening points are a lot earned on the first simulated day, spendable at once (no pending
        period), and count toward no tier metric; the ledger identity becomes
        opening + issued = redeemed + expired + reversed + outstanding."""
        tr, arm = self.tr, self.arm
        if tr.start_tier is not None and arm.p.tiers is not None:
            index = {t.name: k for k, t in enumerate(arm.p.tiers.tiers)}
            names = tr.start_tier
            has = np.flatnonzero(names != "")
            if has.size:
                arm.tier[has] = np.array([index[str(v)] for v in names[has]], dtype=np.int64)
        if tr.opening is not None:
            idx = np.flatnonzero(tr.opening > 0)
            arm.open_balances(idx, tr.opening[idx])

    # ------------------------------------------------------------------ run
    def run(self) -> ChunkResult:
        self._setup()
        plan, cal, arm = self.plan, self.plan.cal, self.arm
        month_of_day = plan.month_of_day
        birthdays = "birthday" in plan.by_event
        referrals = plan.referral_rules
        customs = bool(self.tables.event_names)
        for day in range(cal.days):
            date = cal.date(day)
            mo = int(month_of_day[day])
            self.cohorts.month = mo
            arm.calendar(day)
            if date.day == 1 and day > 0 and self.lifts:
                self._refresh_q(np.flatnonzero(self.alive_p & (self.enroll <= day)), day)
            elif self.post_lift and day > 0:
                self._end_post_windows(day)
            touched: list[np.ndarray] = []
            self._signups(day)
            if referrals:
                self._referrals(day, mo, touched)
            if birthdays:
                self._birthdays(day, touched)
            if customs:
                self._custom_events(day, touched)
            if self.schedule is not None:
                self._returns(day, mo, touched)
            buyers = self._purchases(day, mo)
            if buyers is not None:
                touched.append(buyers)
            if self.lifts and touched:
                # the customers whose balance changed today, in one call (repeats are harmless: the
                # probability is a function of the state, which nothing changes in between)
                t_idx = touched[0] if len(touched) == 1 else np.concatenate(touched)
                self._refresh_q(t_idx[self.alive_p[t_idx] & (self.enroll[t_idx] <= day)], day)
            if day == cal.days - 1 or cal.date(day + 1).day == 1:
                self._month_end(mo, day)
        return self._finish()

    def _finish(self) -> ChunkResult:
        tr, arm, mon = self.tr, self.arm, self.mon
        vb, vp = self.visit_b & 3, self.visit_p & 3
        totals = {
            "baseline.buyers": int(np.count_nonzero(vb > 0)), "baseline.repeat_buyers": int(np.count_nonzero(vb > 1)),
            "program.buyers": int(np.count_nonzero(vp > 0)), "program.repeat_buyers": int(np.count_nonzero(vp > 1)),
            "customers": int((~tr.pool).sum()),
            "alive_at_start": int((~tr.pool).sum() if tr.alive is None else (~tr.pool & tr.alive).sum()),
            "program.points_opening": _int64(exact_sum(arm.opening), "opening balances"),
            "program.referrals_dropped": self.dropped_referrals,
        }
        totals["ledger_identity_max_abs_error"] = max(ledger_error(arm), cohort_error(arm, self.cohorts))
        for c in self.records:
            self.records[c]["ledger"] = self.ledger_of(c)
        return ChunkResult(mon, totals, self.tier_counts, self.records, self.tier_flows, self.cohorts.flows())

    # ------------------------------------------------------------------ purchases
    def _purchases(self, day: int, mo: int) -> np.ndarray | None:
        """The day's purchases in both arms; returns the members who bought (program arm). On the
        compiled pass (`simulator.kernel.day`: the program runs on the kernel and the batch draws no
        purchase lines) the uniforms, baskets, returns, month metrics and churn are compiled; else numpy.
        Both give the same draws and results, bit for bit."""
        if self.day_pass is not None:
            return self._purchases_compiled(day, mo)
        return self._purchases_numpy(day, mo)

    def _purchases_compiled(self, day: int, mo: int) -> np.ndarray | None:
        """`_purchases_numpy` with the day's draws and both arms' month metrics in compiled code;
        the program arm's purchase steps stay here (`_program_steps`), then its churn is compiled."""
        got = self.day_pass.draw(day, mo)
        if got is None:
            return None
        U, ib, ip, mem_p, mi, d = got
        self.day_pass.book(self.mon, mo)
        mp = U[mi]
        self._program_steps(U, ib, ip, mp, mi, d, day)
        if self.bgnbd and ip.size:
            gone = self.day_pass.churn(ip, mem_p, U, d.uniforms)
            if gone:
                self.mon["program.churned"][mo] += gone
        return mp if mp.size else None

    def _program_steps(self, U: np.ndarray, ib: np.ndarray, ip: np.ndarray, mp: np.ndarray, mi: np.ndarray,
                       d: Basket, day: int) -> None:
        """The program arm's purchase steps for its members `mp` (rows `mi` of U): the purchase event,
        the returns to come, per-use perks, redemption and voucher use."""
        earned = None
        uni = d.uniforms
        if mp.size:
            data = {f.name: v[mi] for f in PURCHASE_FIELDS if (v := getattr(d, f.name)) is not None}
            if d.lines is not None:
                data.update({key: value[mi] for key, value in d.lines.items()})
            earned = self._event("purchase", mp, data, day)
        if d.ret is not None:
            self._schedule_returns(d.ret, U, ib, ip, mi, earned, d, day)
        if mp.size:
            if self.per_use:
                self._per_use_perks(mp, mi, uni, day)
            self._redeem(mp, mi, d, day)
            if self.voucher_rngs is not None:
                self._use_vouchers(mp, day)

    def _purchases_numpy(self, day: int, mo: int) -> np.ndarray | None:
        """The day's purchases in both arms with numpy (the reference of the compiled pass)."""
        u = self.u
        for sl, rng in self.uniform_slices:
            rng.random(out=u[sl], dtype=np.float32)
        U = np.flatnonzero(u < self.q_max)  # buyers in either arm
        if not self.bgnbd:
            U = U[self.tr.death_day[U] > day]
        if U.size == 0:
            return None
        uU = u[U]
        shared = uU < self.q_base[U]  # buys in the baseline (and so in the program arm, but for churn)
        d = self._basket(U, shared, day)
        mon = self.mon
        uni = d.uniforms
        # baseline arm
        ib = np.flatnonzero(shared)
        buy_b = U[ib]
        mon["baseline.revenue_cents"][mo] += int(d.amount[ib].sum())
        if self.tier_flows:
            self.cust_rev["baseline_revenue_cents"][buy_b] += d.amount[ib]
        mon["baseline.purchases"][mo] += ib.size
        mon["baseline.active_customers"][mo] += _visit(self.visit_b, buy_b, mo)
        pdU = self.p_drop[U] if self.bgnbd else None
        if self.bgnbd:
            die = buy_b[uni[ib, 2] < pdU[ib]]
            if die.size:
                self.alive_b[die] = False
                self.q_base[die] = 0.0
                self.q_max[die] = self.q_prog[die]
                mon["baseline.churned"][mo] += die.size
        # program arm
        in_p = uU < self.q_prog[U]
        ip = np.flatnonzero(in_p)
        buy_p = U[ip]
        mon["program.revenue_cents"][mo] += int(d.amount[ip].sum())
        if self.tier_flows:
            self.cust_rev["revenue_cents"][buy_p] += d.amount[ip]
        mon["program.purchases"][mo] += ip.size
        mon["program.active_customers"][mo] += _visit(self.visit_p, buy_p, mo)
        mem = self.enroll[buy_p] <= day
        if mem.all():
            mp, mi = buy_p, ip
        else:
            mp, mi = buy_p[mem], ip[mem]
        arm = self.arm
        self._program_steps(U, ib, ip, mp, mi, d, day)
        if self.bgnbd and buy_p.size:
            # Only purchases at the customer's own rate carry the BG/NBD chance to drop out; the
            # visits the program adds (uniform between that rate and the program's) do not.
            pd = pdU[ip]
            worst = np.float32(1.0 + self.resp.downgrade_dropout_increase)  # the largest factor below
            cand = (uni[ip, 2] < pd * worst) & (uU[ip] < self.q0[buy_p])
            if cand.any():
                sel = np.flatnonzero(cand)
                who = buy_p[sel]
                if not (self.dropout_tiers or self.resp.downgrade_dropout_increase):
                    who = who[uni[ip[sel], 2] < pd[sel]]
                else:
                    p = pd[sel].astype(np.float64)
                    member = mem[sel]
                    if self.dropout_tiers:
                        p = p * (1.0 - self.resp.tier_dropout_reduction * np.where(member, arm.tier[who], 0)
                                 / (self.ntiers - 1))
                    if self.resp.downgrade_dropout_increase:
                        p = p * (1.0 + self.resp.downgrade_dropout_increase * (arm.downgraded[who] & member))
                    who = who[uni[ip[sel], 2] < p]
                if who.size:
                    self.alive_p[who] = False
                    self.q_prog[who] = 0.0
                    self.q_max[who] = self.q_base[who]
                    mon["program.churned"][mo] += who.size
        return mp if mp.size else None

    def _basket(self, U: np.ndarray, shared: np.ndarray, day: int) -> Basket:
        """Spend, category, channel, items and the action uniforms of the day's buyers `U`, and,
        when the population returns purchases, which come back (returned amount, return day).
        Baseline buyers (`shared`) draw from stream 0, the program arm's other buyers from stream 1,
        referred newcomers (spare slots) from the side stream 2; in each, the draws are: spend
        (gamma), the uniforms (buyer by buyer), items (Poisson)."""
        t = self.tables
        m = U.size
        segU = self.seg[U]
        K = self.n_uniforms
        z = np.empty(m)
        uni = np.empty((m, K), dtype=np.float32)
        items = np.ones(m, np.int64)
        whole = bool(shared.all())
        for b, sl in enumerate(self.block_slices):
            if len(self.block_slices) == 1:
                lo, hi = 0, m
            else:
                lo, hi = (int(x) for x in np.searchsorted(U, [sl.start, sl.stop]))
                if hi == lo:
                    continue
            if whole:
                parts = [(slice(lo, hi), hi - lo, self.rngs[b])]
            else:
                # the block's spare slots (referred newcomers, never baseline buyers) come last
                pm = lo + int(np.searchsorted(U[lo:hi], self.pool_start[b]))
                sh = shared[lo:pm]
                idx = np.arange(lo, pm)
                mine, other = idx[sh], idx[~sh]
                parts = [(mine, mine.size, self.rngs[b]), (other, other.size, self.prog_rngs[b]),
                         (slice(pm, hi), hi - pm, self.side_rngs[b])]
            for where, k, rng in parts:
                if k == 0:
                    continue
                z[where] = rng.standard_gamma(self.spend_p[segU[where]])
                uni[where] = rng.random((k, K), dtype=np.float32)
                if self.items_any:
                    items[where] = 1 + rng.poisson(t.items_mean[segU[where]] - 1.0)
        quantity = None
        if self.quantity_rngs is not None:  # after every other draw, from its own stream
            quantity = np.zeros(m, np.int64)
            for b, sl in enumerate(self.block_slices):
                lo, hi = (0, m) if len(self.block_slices) == 1 else \
                    (int(x) for x in np.searchsorted(U, [sl.start, sl.stop]))
                if hi > lo:
                    quantity[lo:hi] = self.quantity_rngs[b].poisson(t.quantity_mean[segU[lo:hi]])
        amount = np.rint(z * (100.0 / self.nu[U])).astype(np.int64)
        np.maximum(amount, 1, out=amount)
        cat = t.cat_alias.first[segU, 0] if t.cat_alias.constant else t.cat_alias.pick(segU, uni[:, 0])
        chan = t.chan_alias.first[segU, 0] if t.chan_alias.constant else t.chan_alias.pick(segU, uni[:, 1])
        if self.ship_any:
            shipping = t.shipping[segU, np.minimum(chan, t.shipping.shape[1] - 1)]
            amount += shipping
        else:
            shipping = np.zeros(m, np.int64)
        lines = None
        if self.line_rngs is not None:  # after every other draw, from its own stream
            lines = self.line_tables.draw(self.line_rngs, self.block_slices, U, segU, amount - shipping, cat, quantity)
            quantity = lines["lines.quantity"].sum(axis=1)
        ret = None
        if self.schedule is not None:
            back = np.flatnonzero(uni[:, 5] < t.ret_rate[segU])
            if back.size:
                sb = segU[back]
                due = day + t.ret_delay_min[sb] + (uni[back, 7] * t.ret_delay_span[sb]).astype(np.int64)
                keep = due < self.days  # returns after the last simulated day are not simulated
                back, sb, due = back[keep], sb[keep], due[keep]
                pick = np.searchsorted(t.ret_frac_bounds, sb + uni[back, 6].astype(np.float64), side="right")
                frac = t.ret_frac_values[np.minimum(pick, t.ret_frac_values.size - 1)]
                full = amount[back]
                returned = np.where(frac >= 1.0, full, np.clip(np.floor(full * frac), 1, full)).astype(np.int64)
                ret = {"rows": back, "due": due, "returned": returned}
        return Basket(amount, shipping, cat, chan, items, quantity, uni, ret, lines=lines)

    def _per_use_perks(self, mp: np.ndarray, mi: np.ndarray, uni: np.ndarray, day: int) -> None:
        """Per-use tier perks: today's members `mp` (basket rows `mi`) use each perk of their tier with
        the `perk_use_rate` chance (uniform 3)."""
        arm = self.arm
        if self.redeem_k is not None and self.redeem_k.per_use_ok:  # compiled (kernel.redeem), the same effect
            used = self.redeem_k.per_use(mp, mi, uni, bool(self.rec_idx))
            if used is not None:
                for j, (_, perk) in enumerate(self.per_use):
                    use = mp[used[:, j]]
                    if use.size:
                        self._record(use, day, "use_perk", name=perk.name)
            return
        for t, perk in self.per_use:
            use = mp[(arm.tier[mp] == t) & (uni[mi, 3] < self.resp.perk_use_rate)]
            if use.size:
                arm.use_perk(use, perk.cost_cents)
                self._record(use, day, "use_perk", name=perk.name)

    def _redeem(self, mp: np.ndarray, mi: np.ndarray, d: Basket, day: int) -> None:
        """Redemption on the visit: members who want to redeem and can afford the goal reward."""
        program = self.plan.program
        if self.goal_reward is None and program.pay_with_points is None:
            return
        arm, rk = self.arm, self.redeem_k
        if rk is not None and (rk.goal_ok if self.goal_reward is not None else rk.pay_ok):  # compiled, the same effect
            if self.goal_reward is not None:
                can = rk.goal(mp, mi, d.uniforms, self.goal_reward)
                if can.size:
                    self._record(can, day, "redeem", name=self.goal_reward.name)
                    self._post_reward(can, day)
            else:
                idx, cents = rk.pay_most(mp, mi, d.uniforms, d.amount)
                if idx.size:
                    self._record(idx, day, "pay", amount_cents=cents)
                    self._post_reward(idx, day)
            return
        wants = d.uniforms[mi, 4] < self.tables.redeem[self.seg[mp]]
        if self.goal_reward is not None:
            w = np.flatnonzero(wants)
            can = mp[w][arm.lots.available(mp[w]) >= self.goal_reward.price]
            if can.size:
                arm.redeem(can, self.goal_reward)
                self._record(can, day, "redeem", name=self.goal_reward.name)
                self._post_reward(can, day)
        else:
            self._pay(mp[wants], d.amount[mi][wants], day)

    def _use_vouchers(self, mp: np.ndarray, day: int) -> None:
        """Members who bought today and hold a voucher with a life spend one with their segment's
        `voucher_use` chance: one uniform per holder, from the block's stream 4, in customer order."""
        arm = self.arm
        holders = arm.vouchers.holders(mp)  # type: ignore[union-attr]
        if holders.size == 0:
            return
        u = np.empty(holders.size, dtype=np.float32)
        for b, sl in enumerate(self.block_slices):
            lo, hi = (int(x) for x in np.searchsorted(holders, [sl.start, sl.stop]))
            if hi > lo:
                self.voucher_rngs[b].random(out=u[lo:hi], dtype=np.float32)  # type: ignore[index]
        use = holders[u < self.tables.voucher_use[self.seg[holders]]]
        if use.size:
            arm.use_vouchers(use)
            self._record(use, day, "use_voucher")

    # ------------------------------------------------------------------ helpers
    def _pay(self, idx: np.ndarray, amounts: np.ndarray, day: int) -> None:
        idx, cents = self.arm.pay_most(idx, amounts)
        if idx.size:
            self._record(idx, day, "pay", amount_cents=cents)
            self._post_reward(idx, day)

    def _post_reward(self, idx: np.ndarray, day: int) -> None:
        r = self.resp
        if r.post_reward_lift and r.post_reward_days:
            self.post_until[idx] = day + r.post_reward_days

    def _end_post_windows(self, day: int) -> None:
        """Post-reward windows that end today (they covered the `post_reward_days` days from the
        reward's day): their lift goes now, not at the customer's next balance change."""
        if self.lift_k is not None and self.lifts:  # compiled (simulator.kernel.lift), the same effect
            self.lift_k.end_post_windows(day)
            return
        ends = np.flatnonzero(self.post_until == day)
        if ends.size:
            self._refresh_q(ends[self.alive_p[ends]], day)

    def _refresh_q(self, idx: np.ndarray, day: int) -> None:
        """Program-arm daily purchase probability: q·(1 + w·(g·progress + post-reward lift))."""
        r = self.resp
        if idx.size == 0 or not self.lifts:
            return
        if self.lift_k is not None:  # compiled (simulator.kernel.lift), the same arithmetic
            self.lift_k.refresh(idx, day)
            return
        lift = np.zeros(idx.size, dtype=np.float32)
        goal = self.plan.goal_points
        if r.goal_gradient and goal > 0:
            avail = self.arm.lots.available(idx)
            lift += np.float32(r.goal_gradient) * np.clip(avail * (1.0 / goal), 0.0, 1.0).astype(np.float32)
        if r.post_reward_lift:
            lift += np.float32(r.post_reward_lift) * (self.post_until[idx] > day)
        q = np.minimum(self.q0[idx] * (1.0 + self.weight[idx] * lift), 1.0)
        self.q_prog[idx] = q
        self.q_max[idx] = np.maximum(q, self.q_base[idx])

    def _month_end(self, mo: int, day: int) -> None:
        arm, tr, pop, mon = self.arm, self.tr, self.pop, self.mon
        if not self.bgnbd:
            alive_now_b = (tr.death_day > day) & ~tr.pool
            alive_now_p = (tr.death_day > day) & (~tr.pool | (self.enroll <= day))
        else:
            alive_now_b, alive_now_p = self.alive_b, self.alive_p
        check_customer_totals(arm)
        self.cohorts.month_end(mo, arm.lots.debt)
        # sums over customers as Python ints (exact_sum), stored into int64 months: a month's total
        # beyond int64 raises instead of wrapping
        cum = {
            "program.points_issued": arm.issued, "program.points_redeemed": arm.redeemed,
            "program.points_expired": arm.expired, "program.points_reversed": arm.reversed,
            "program.discount_cents": arm.discount, "program.reward_cents": arm.reward,
            "program.points_payment_cents": arm.pay_cents, "program.perk_cents": arm.perk,
            "program.voucher_cents": arm.voucher,
        }
        for k, arr in cum.items():
            v = exact_sum(arr)
            mon[k][mo] = _int64(v - self.prev.get(k, 0), k)
            self.prev[k] = v
        vb = arm.vouchers
        if vb is not None:
            for k, arr in (("program.vouchers_issued", vb.issued), ("program.vouchers_used", vb.used),
                           ("program.vouchers_expired", vb.expired), ("program.voucher_issued_cents", vb.issued_cents),
                           ("program.voucher_used_cents", vb.used_cents),
                           ("program.voucher_expired_cents", vb.expired_cents)):
                v = exact_sum(arr)
                mon[k][mo] = _int64(v - self.prev.get(k, 0), k)
                self.prev[k] = v
            mon["program.vouchers_outstanding"][mo] = _int64(exact_sum(vb.held), "program.vouchers_outstanding")
            mon["program.voucher_outstanding_cents"][mo] = _int64(exact_sum(vb.held_cents),
                                                                  "program.voucher_outstanding_cents")
        for name in arm.bal_issued:
            for metric, arr in (("issued", arm.bal_issued[name]), ("expired", arm.bal_expired[name]),
                                ("reversed", arm.bal_reversed[name])):
                key = balance_metric(name, metric)
                v = exact_sum(arr)
                mon[key][mo] = _int64(v - self.prev.get(key, 0), key)
                self.prev[key] = v
            key = balance_metric(name, "outstanding")
            mon[key][mo] = _int64(exact_sum(arm.bal_outstanding(name)), key)
        outstanding = exact_sum(arm.lots.outstanding)
        mon["program.points_outstanding"][mo] = _int64(outstanding, "program.points_outstanding")
        mon["program.points_available"][mo] = _int64(outstanding - exact_sum(arm.lots.pending), "program.points_available")
        mon["baseline.alive_customers"][mo] = int(np.count_nonzero(alive_now_b))
        mon["program.alive_customers"][mo] = int(np.count_nonzero(alive_now_p))
        enrolled = self.enroll <= day
        nmem = int(np.count_nonzero(enrolled & alive_now_p))
        mon["program.members"][mo] = nmem
        econ = pop.economics
        # per member only: the fixed cost per month belongs to the trial, added once by `merge_chunks`
        mon["program.fixed_cost_cents"][mo] = nmem * econ.fixed_cost_per_member_month_cents
        # tier mix: members still active (alive in the program arm) by the tier they hold
        members = enrolled & alive_now_p
        if self.ntiers > 1:
            self.tier_counts[mo] = np.bincount(arm.tier[members], minlength=self.ntiers)[:self.ntiers]
        else:
            self.tier_counts[mo, 0] = nmem
        if self.tier_flows:
            self._tier_month(mo, enrolled)
        if pop.response.satisfaction:
            r = pop.response
            for arm_name, alive, boost in (("baseline", alive_now_b, False), ("program", alive_now_p, True)):
                idx = np.flatnonzero(alive)
                s = tr.satisfaction[idx].astype(np.float64)
                if boost:
                    mem = self.enroll[idx] <= day
                    s = s + mem * (r.satisfaction_redeem_boost * arm.redeemed_ever[idx]
                                   + r.satisfaction_tier_boost * arm.tier[idx])
                score = np.clip(np.rint(s), 0, 10)
                mon[f"{arm_name}.nps_promoters"][mo] = int((score >= 9).sum())
                mon[f"{arm_name}.nps_detractors"][mo] = int((score <= 6).sum())
                mon[f"{arm_name}.nps_respondents"][mo] = int(idx.size)

    # ------------------------------------------------------------------ tier economics
    def _tier_setup(self, months: int) -> None:
        """Per-customer running revenue in both arms, and the month's flows by tier (programs with tiers)."""
        self.tier_flows: dict[str, np.ndarray] = {}
        if self.ntiers <= 1:
            return
        n = self.arm.issued.size
        self.cust_rev = {k: np.zeros(n, np.int64) for k in ("revenue_cents", "baseline_revenue_cents")}
        self.tier_prev = {k: np.zeros(n, np.int64) for k in TIER_FLOWS}
        self.tier_flows = {k: np.zeros((months, self.ntiers), np.int64) for k in TIER_FLOWS}

    def _tier_month(self, mo: int, enrolled: np.ndarray) -> None:
        """The month's revenue (program arm, and the same customers' baseline), discounts, perk costs and
        points issued of every enrolled customer, added to the tier it holds at the month's end (int64:
        exact, so chunks merge by summing)."""
        arm = self.arm
        now = {"revenue_cents": self.cust_rev["revenue_cents"],
               "baseline_revenue_cents": self.cust_rev["baseline_revenue_cents"],
               "discount_cents": arm.discount, "perk_cents": arm.perk, "points_issued": arm.issued}
        members = np.flatnonzero(enrolled)
        tiers = arm.tier[members]
        by_tier = [members[tiers == t] for t in range(self.ntiers)]  # then plain int64 sums per tier
        for k, cum in now.items():
            delta = cum - self.tier_prev[k]
            np.copyto(self.tier_prev[k], cum)
            row = self.tier_flows[k][mo]
            for t, who in enumerate(by_tier):
                if who.size:
                    row[t] += delta[who].sum()

    def ledger_of(self, c: int) -> dict:
        arm = self.arm
        names = [t.name for t in arm.p.tiers.tiers] if arm.p.tiers else [None]
        return {
            "issued": int(arm.issued[c]), "redeemed": int(arm.redeemed[c]), "expired": int(arm.expired[c]),
            "reversed": int(arm.reversed[c]), "outstanding": int(arm.lots.outstanding[c]),
            "pending": int(arm.lots.pending[c]), "available": int(arm.lots.outstanding[c] - arm.lots.pending[c]),
            "discount_cents": int(arm.discount[c]), "perk_cents": int(arm.perk[c]),
            "reward_cents": int(arm.reward[c]), "voucher_cents": int(arm.voucher[c]),
            "points_payment_cents": int(arm.pay_cents[c]), "tier": names[int(arm.tier[c])],
            "discount_refunded_cents": int(arm.discount_refunded[c]),
            "enroll_day": int(self.enroll[c]),
            "cohorts": self.cohorts.customer(c, self.plan.cal.month_labels(),
                                             int(arm.lots.debt[c]) if arm.lots.debt is not None else 0),
            **({} if arm.vouchers is None else {
                "vouchers_issued": int(arm.vouchers.issued[c]), "vouchers_used": int(arm.vouchers.used[c]),
                "vouchers_expired": int(arm.vouchers.expired[c]), "vouchers_outstanding": int(arm.vouchers.held[c]),
                "voucher_outstanding_cents": int(arm.vouchers.held_cents[c])}),
            **({"balances": {name: {"issued": int(arm.bal_issued[name][c]), "expired": int(arm.bal_expired[name][c]),
                                    "reversed": int(arm.bal_reversed[name][c]),
                                    "outstanding": int(arm.bal_outstanding(name, np.array([c]))[0])}
                             for name in arm.bal_issued}} if arm.bal_issued else {}),
        }


__all__ = ["BLOCK", "VOUCHER_METRICS", "ChunkResult", "ChunkSim", "NEVER", "block_rng", "blocks_for"]
