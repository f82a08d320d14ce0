"""The vectorized day loop: one chunk of customers (whole RNG blocks), both arms.

Takes: a `Plan` (or None: no program), a `Population`, the trial number, the
chunk's block numbers, and the run's seed. Gives: `ChunkResult`, integer monthly
metrics per arm plus end-of-run totals (all int64, so sums over chunks are exact
and independent of chunking), and optionally the recorded event streams and
ledgers of a few customers for the differential test.

Each day, per block, ONE float32 uniform per customer decides who buys: a
customer buys in the baseline arm when u < q (its base daily probability) and in
the program arm when u < q' (q raised by the behavioural response). Both arms
therefore share the draws (common random numbers); the customers who buy in
either arm then get one spend, category, channel, dropout and action draw each,
used by both arms. Rule work runs only for the day's purchasers; calendar work
only on boundaries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from rulelang import ir

from .conditions import StringTable
from .draws import NEVER, NON_LEAP_MONTH_START, SegmentTables, Traits, concat_traits, draw_block
from .plan import Plan
from .population import Population
from .program_arm import ProgramArm

BLOCK = 1 << 16
ARM_METRICS = ("revenue_cents", "purchases", "active_customers", "alive_customers", "churned",
               "new_customers", "nps_promoters", "nps_detractors", "nps_respondents")
PROGRAM_METRICS = ("points_issued", "points_redeemed", "points_expired", "points_reversed",
                   "points_outstanding", "points_available", "discount_cents", "reward_cents",
                   "points_payment_cents", "perk_cents", "voucher_cents", "fixed_cost_cents",
                   "acquisition_cents", "members")


def block_rng(seed: int, trial: int, block: int, stream: int = 0) -> np.random.Generator:
    """The random stream of one block. Stream 0 feeds the population and everything the baseline
    arm consumes, in an order that does not depend on the program; stream 1 feeds only what the
    program arm draws for itself (its extra purchases). So the baseline is the same whatever the
    program, and two programs share every draw they can (common random numbers)."""
    key = (trial, block) if stream == 0 else (trial, block, stream)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


@dataclass
class ChunkResult:
    monthly: dict[str, np.ndarray]  # "program.revenue_cents" -> (months,) int64
    totals: dict[str, int]
    tier_counts: np.ndarray  # (months, tiers) int64, program arm members at month end
    records: dict[int, dict] = field(default_factory=dict)


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


class ChunkSim:
    def __init__(self, plan: Plan | None, pop: Population, tables: SegmentTables, strings: StringTable,
                 seed: int, trial: int, blocks: list[tuple[int, int]], budgets: dict[str, int] | None = None,
                 record: int = 0):
        self.plan, self.pop, self.tables, self.strings = plan, pop, tables, strings
        self.cal = plan.cal if plan is not None else None
        self.rngs = [block_rng(seed, trial, b) for b, _ in blocks]
        self.prog_rngs = [block_rng(seed, trial, b, stream=1) for b, _ in blocks]
        self.days = plan.cal.days if plan is not None else 0
        parts = [draw_block(pop, tables, rng, n, self.days) for rng, (_, n) in zip(self.rngs, blocks)]
        self.tr, self.offsets = concat_traits(parts)
        self.sizes = [p.n for p in parts]
        self.pool_next = [int(p.n_customers) for p in parts]  # next spare slot per block (block-local)
        self.budgets = budgets if budgets is not None else {}
        self.record_n = record
        self.records: dict[int, dict] = {}

    # ------------------------------------------------------------------ run
    def run(self) -> ChunkResult:
        tr, plan, pop = self.tr, self.plan, self.pop
        cal = plan.cal
        n = tr.n
        resp = pop.response
        program = plan.program
        seg_mean = np.array([s.r / s.alpha_days for s in pop.segments])[tr.seg]
        self.weight = (1.0 / (1.0 + resp.heavy_buyer_damping * tr.q0 / np.maximum(seg_mean, 1e-12))).astype(np.float32)
        q_base = tr.q0.copy()
        q_base[tr.pool] = 0.0
        q_prog = q_base.copy()
        alive_b = ~tr.pool
        alive_p = alive_b.copy()
        enroll = tr.enroll_day.copy()
        arm = ProgramArm(plan, n, self.strings, enroll, tr.bday_doy, tr.attributes, self.budgets)
        self.arm, self.q_prog, self.alive_p, self.enroll = arm, q_prog, alive_p, enroll
        self.post_until = np.zeros(n, dtype=np.int64)
        rewards = sorted(program.rewards, key=lambda r: (r.price, r.name))
        goal_reward = rewards[0] if rewards else None
        per_use = []
        if program.tiers is not None:
            per_use = [(t, perk) for t, tier in enumerate(program.tiers.tiers) for perk in tier.perks if perk.per == "use"]
        ntiers = len(program.tiers.tiers) if program.tiers else 1
        # per-customer cumulative arrays for monthly metrics
        rev_b = np.zeros(n, np.int64); rev_p = np.zeros(n, np.int64)
        pur_b = np.zeros(n, np.int64); pur_p = np.zeros(n, np.int64)
        last_b = np.full(n, -1, np.int32); last_p = np.full(n, -1, np.int32)
        months = cal.months
        month_of_day = plan.month_of_day
        mon: dict[str, np.ndarray] = {f"{a}.{m}": np.zeros(months, np.int64) for a in ("program", "baseline") for m in ARM_METRICS}
        mon.update({f"program.{m}": np.zeros(months, np.int64) for m in PROGRAM_METRICS})
        tier_counts = np.zeros((months, ntiers), np.int64)
        prev: dict[str, int] = {}
        active_b = np.zeros(months, np.int64); active_p = np.zeros(months, np.int64)
        churn_b = np.zeros(months, np.int64); churn_p = np.zeros(months, np.int64)
        newc = np.zeros(months, np.int64)
        acq = np.zeros(months, np.int64)
        # enrollment and birthday day lists
        en_order = np.argsort(enroll, kind="stable")
        en_sorted = enroll[en_order]
        bd_order = np.argsort(tr.bday_doy, kind="stable")
        bd_sorted = tr.bday_doy[bd_order]
        ev_starts = np.searchsorted(tr.ev_day, np.arange(cal.days + 1))
        ref_starts = np.searchsorted(tr.ref_day, np.arange(cal.days + 1))
        u = np.empty(n, dtype=np.float32)
        q_max = np.empty(n, dtype=np.float32)
        death_day = tr.death_day
        items_any = bool((self.tables.items_mean > 1).any())
        rec = self.record_n > 0
        self.rec_idx = set(range(min(self.record_n, self.sizes[0]))) if rec else set()
        if rec:
            for c in list(self.rec_idx):
                self.records[c] = {"events": [], "birthday": _bday(int(tr.bday_doy[c])),
                                   "attributes": {k: v[c] for k, v in tr.attributes.items()}}
        for day in range(cal.days):
            date = cal.date(day)
            mo = int(month_of_day[day])
            arm.calendar(day)
            if date.day == 1 and day > 0:
                self._refresh_q(np.flatnonzero(alive_p & (enroll <= day)), day)
            touched: list[np.ndarray] = []
            # -- initial members enroll (signup)
            lo, hi = np.searchsorted(en_sorted, [day, day + 1])
            if hi > lo:
                who = np.sort(en_order[lo:hi])
                dead = who[~alive_p[who]]
                enroll[dead] = NEVER
                who = who[alive_p[who]]
                self._event("signup", who, {}, day)
            # -- referrals: the referrer's event, the newcomer's signup and referee event
            if plan.referral_rules and ref_starts[day + 1] > ref_starts[day]:
                refs = tr.ref_cust[ref_starts[day]:ref_starts[day + 1]]
                refs = refs[alive_p[refs] & (enroll[refs] <= day)]
                newcomers = []
                kept = []
                for c in refs.tolist():
                    b = int(np.searchsorted(self.offsets, c, side="right") - 1)
                    if self.pool_next[b] < self.sizes[b]:
                        j = int(self.offsets[b]) + self.pool_next[b]
                        self.pool_next[b] += 1
                        newcomers.append(j)
                        kept.append(c)
                if kept:
                    ref_code = self.strings.code("referrer")
                    kept_a = np.array(kept, dtype=np.int64)
                    for batch in _rounds(kept_a):
                        self._event("referral", batch, {"role": np.full(batch.size, ref_code)}, day)
                    nc = np.array(newcomers, dtype=np.int64)
                    enroll[nc] = day
                    arm.tier_since[nc] = day
                    alive_p[nc] = True
                    q_prog[nc] = tr.q0[nc]
                    newc[mo] += nc.size
                    acq[mo] += nc.size * pop.economics.acquisition_cost_cents
                    self._event("signup", nc, {}, day)
                    self._event("referral", nc, {"role": np.full(nc.size, self.strings.code("referee"))}, day)
                    touched += [kept_a, nc]
            # -- birthdays (every member, whether or not still buying)
            if "birthday" in plan.by_event:
                md = (date.month, date.day)
                if md != (2, 29):
                    doy = int(NON_LEAP_MONTH_START[date.month - 1] + date.day - 1)
                    lo, hi = np.searchsorted(bd_sorted, [doy, doy + 1])
                    if hi > lo:
                        who = np.sort(bd_order[lo:hi])
                        who = who[enroll[who] <= day]
                        self._event("birthday", who, {}, day)
                        touched.append(who)
            # -- custom events
            if ev_starts[day + 1] > ev_starts[day]:
                sl = slice(ev_starts[day], ev_starts[day + 1])
                cust, kinds = tr.ev_cust[sl], tr.ev_kind[sl]
                for kcode, name in enumerate(self.tables.event_names):
                    if name not in plan.by_event and not any(c.event == name for c in program.counters):
                        continue
                    rows = np.flatnonzero(kinds == kcode)
                    rows = rows[alive_p[cust[rows]] & (enroll[cust[rows]] <= day)]
                    if rows.size == 0:
                        continue
                    etype = next((e for e in program.events if e.name == name), None)
                    for batch_rows in _rounds_rows(cust[rows], rows):
                        data = {}
                        if etype is not None:
                            for fname, ftype in etype.fields:
                                raw = tr.ev_fields.get(fname)
                                vals = raw[sl][batch_rows] if raw is not None else np.full(batch_rows.size, None, dtype=object)
                                from .program_arm import encode_values
                                data["event." + fname] = encode_values(vals, ftype, batch_rows.size, self.strings)
                        self._event(name, cust[batch_rows], data, day, raw_fields={
                            f: (tr.ev_fields[f][sl][batch_rows] if f in tr.ev_fields else None)
                            for f, _ in (etype.fields if etype else ())})
                        touched.append(cust[batch_rows])
            # -- the day's purchases: one uniform per customer-day per block
            for b, rng in enumerate(self.rngs):
                s, e = int(self.offsets[b]), int(self.offsets[b + 1])
                rng.random(out=u[s:e], dtype=np.float32)
            np.maximum(q_base, q_prog, out=q_max)
            U = np.flatnonzero(u < q_max)  # buyers in either arm
            if death_day is not None:
                U = U[death_day[U] > day]
            uU = u[U]
            buy_b = U[uU < q_base[U]]
            buy_p = U[uU < q_prog[U]]
            amount, shipping, cat, chan, items, death_u, act_u, redeem_u = self._purchase_draws(U, uU < q_base[U])
            # baseline arm
            ib = np.searchsorted(U, buy_b)
            rev_b[buy_b] += amount[ib]
            pur_b[buy_b] += 1
            fresh = last_b[buy_b] != mo
            active_b[mo] += int(fresh.sum())
            last_b[buy_b] = mo
            if death_day is None:
                die = buy_b[death_u[ib] < tr.p_drop[buy_b]]
                alive_b[die] = False
                q_base[die] = 0.0
                churn_b[mo] += die.size
            # program arm
            ip = np.searchsorted(U, buy_p)
            rev_p[buy_p] += amount[ip]
            pur_p[buy_p] += 1
            fresh = last_p[buy_p] != mo
            active_p[mo] += int(fresh.sum())
            last_p[buy_p] = mo
            mem = enroll[buy_p] <= day
            mp, mi = buy_p[mem], ip[mem]
            if mp.size:
                data = {"amount": amount[mi], "shipping": shipping[mi], "category": cat[mi],
                        "channel": chan[mi], "items": items[mi]}
                self._event("purchase", mp, data, day)
                touched.append(mp)
                # per-use tier perks
                for t, perk in per_use:
                    use = mp[(arm.tier[mp] == t) & (act_u[mi] < resp.perk_use_rate)]
                    if use.size:
                        arm.use_perk(use, perk.cost_cents)
                        self._record(use, day, "use_perk", name=perk.name)
                # redemption on the visit
                prop = self.tables.redeem[tr.seg[mp]]
                wants = redeem_u[mi] < prop
                if goal_reward is not None:
                    can = mp[wants & (arm.lots.available(mp) >= goal_reward.price)]
                    if can.size:
                        arm.redeem(can, goal_reward)
                        self._record(can, day, "redeem", name=goal_reward.name)
                        self._post_reward(can, day)
                elif program.pay_with_points is not None:
                    self._pay(mp[wants], amount[mi][wants], day)
            if death_day is None and buy_p.size:
                pd = tr.p_drop[buy_p].astype(np.float64)
                if resp.tier_dropout_reduction and ntiers > 1:
                    pd = pd * (1.0 - resp.tier_dropout_reduction * np.where(mem, arm.tier[buy_p], 0) / (ntiers - 1))
                if resp.downgrade_dropout_increase:
                    pd = pd * (1.0 + resp.downgrade_dropout_increase * (arm.downgraded[buy_p] & mem))
                # Only purchases at the customer's own rate carry the BG/NBD chance to drop out; the
                # visits the program adds (uniform between that rate and the program's) do not.
                natural = u[buy_p] < tr.q0[buy_p]
                die = buy_p[natural & (death_u[ip] < pd)]
                alive_p[die] = False
                q_prog[die] = 0.0
                churn_p[mo] += die.size
            for t_idx in touched:  # customers whose balance changed today (repeats are harmless)
                self._refresh_q(t_idx[alive_p[t_idx] & (enroll[t_idx] <= day)], day)
            # -- month end: snapshot metrics
            if day == cal.days - 1 or cal.date(day + 1).day == 1:
                self._month_end(mo, day, mon, prev, rev_b, rev_p, pur_b, pur_p, alive_b, alive_p, death_day,
                                tier_counts, ntiers)
        mon["baseline.active_customers"] = active_b
        mon["program.active_customers"] = active_p
        mon["baseline.churned"] = churn_b
        mon["program.churned"] = churn_p
        mon["program.new_customers"] = newc
        mon["program.acquisition_cents"] = acq
        totals = {
            "baseline.buyers": int((pur_b > 0).sum()), "baseline.repeat_buyers": int((pur_b > 1).sum()),
            "program.buyers": int((pur_p > 0).sum()), "program.repeat_buyers": int((pur_p > 1).sum()),
            "customers": int((~tr.pool).sum()),
        }
        ident = arm.issued - arm.redeemed - arm.expired - arm.reversed - arm.lots.outstanding
        totals["ledger_identity_max_abs_error"] = int(np.abs(ident).max()) if n else 0
        for c in self.records:
            self.records[c]["ledger"] = self.ledger_of(c)
        return ChunkResult(mon, totals, tier_counts, self.records)

    # ------------------------------------------------------------------ helpers
    def _purchase_draws(self, U: np.ndarray, shared: np.ndarray):
        """Spend, category, channel, items and three action uniforms for the day's buyers `U`.
        Baseline buyers (`shared`) draw from stream 0, the program arm's other buyers from stream 1."""
        tr, tables = self.tr, self.tables
        m = U.size
        amount = np.zeros(m, np.int64); shipping = np.zeros(m, np.int64)
        cat = np.zeros(m, np.int64); chan = np.zeros(m, np.int64); items = np.ones(m, np.int64)
        death_u = np.zeros(m); act_u = np.zeros(m); redeem_u = np.zeros(m)
        if m == 0:
            return amount, shipping, cat, chan, items, death_u, act_u, redeem_u
        cuts = np.searchsorted(U, self.offsets)
        seg = tr.seg[U]
        sp = tables.spend_p[seg]
        items_any = bool((tables.items_mean > 1).any())
        for b in range(len(self.rngs)):
            lo, hi = int(cuts[b]), int(cuts[b + 1])
            if hi == lo:
                continue
            in_block = np.arange(lo, hi)
            for sl, rng in ((in_block[shared[lo:hi]], self.rngs[b]), (in_block[~shared[lo:hi]], self.prog_rngs[b])):
                if sl.size == 0:
                    continue
                z = rng.standard_gamma(sp[sl]) / tr.nu[U[sl]]
                uu = rng.random((5, sl.size))
                amount[sl] = np.maximum(1, np.rint(z * 100.0)).astype(np.int64)
                death_u[sl], act_u[sl], redeem_u[sl] = uu[2], uu[3], uu[4]
                if items_any:
                    items[sl] = 1 + rng.poisson(tables.items_mean[seg[sl]] - 1.0)
                for si in np.unique(seg[sl]).tolist():
                    pick = seg[sl] == si
                    rows = sl[pick]
                    ci = np.minimum(np.searchsorted(tables.cat_cdf[si], uu[0][pick], side="right"), len(tables.cat_cdf[si]) - 1)
                    cat[rows] = tables.cat_codes[si][ci]
                    hi_ = np.minimum(np.searchsorted(tables.chan_cdf[si], uu[1][pick], side="right"), len(tables.chan_cdf[si]) - 1)
                    chan[rows] = tables.chan_codes[si][hi_]
        if tables.shipping.any():
            shipping = tables.shipping[seg, np.minimum(chan, tables.shipping.shape[1] - 1)]
            amount = amount + shipping
        return amount, shipping, cat, chan, items, death_u, act_u, redeem_u

    def _event(self, kind: str, idx: np.ndarray, data: dict, day: int, raw_fields: dict | None = None) -> None:
        if idx.size == 0:
            return
        if self.rec_idx:
            self._record_event(kind, idx, data, day, raw_fields)
        if kind in self.plan.by_event or any(c.event == kind for c in self.plan.program.counters) or kind == "purchase":
            self.arm.apply(kind, idx, data)

    def _record_event(self, kind, idx, data, day, raw_fields) -> None:
        hits = [i for i, c in enumerate(idx.tolist()) if c in self.rec_idx]
        for i in hits:
            c = int(idx[i])
            ev = {"kind": kind, "day": day}
            if kind == "purchase":
                ev.update(amount_cents=int(data["amount"][i]), shipping_cents=int(data["shipping"][i]),
                          category=self.strings.name(data["category"][i]), channel=self.strings.name(data["channel"][i]),
                          items=int(data["items"][i]))
            if "role" in data:
                ev["role"] = self.strings.name(data["role"][i])
            if raw_fields:
                ev["fields"] = {f: (None if v is None else v[i]) for f, v in raw_fields.items()}
            self.records[c]["events"].append(ev)

    def _record(self, idx: np.ndarray, day: int, kind: str, **kw) -> None:
        if not self.rec_idx:
            return
        for i, c in enumerate(idx.tolist()):
            if c in self.rec_idx:
                ev = {"kind": kind, "day": day}
                ev.update({k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in kw.items()})
                self.records[c]["events"].append(ev)

    def _pay(self, idx: np.ndarray, amounts: np.ndarray, day: int) -> None:
        arm = self.arm
        pwp = arm.p.pay_with_points
        avail = arm.lots.available(idx)
        ok = avail >= pwp.minimum_balance
        share = (amounts * pwp.max_share.numerator) // (100 * pwp.max_share.denominator)
        by_points = (avail * pwp.cents) // pwp.points
        cents = np.minimum(share, by_points)
        ok &= cents > 0
        idx, cents = idx[ok], cents[ok]
        if idx.size:
            arm.pay(idx, cents)
            self._record(idx, day, "pay", amount_cents=cents)
            self._post_reward(idx, day)

    def _post_reward(self, idx: np.ndarray, day: int) -> None:
        r = self.pop.response
        if r.post_reward_lift and r.post_reward_days:
            self.post_until[idx] = day + r.post_reward_days

    def _refresh_q(self, idx: np.ndarray, day: int) -> None:
        """Program-arm daily purchase probability: q·(1 + w·(g·progress + post-reward lift))."""
        r = self.pop.response
        if idx.size == 0 or not (r.goal_gradient or r.post_reward_lift):
            return
        lift = np.zeros(idx.size)
        goal = self.plan.goal_points
        if r.goal_gradient and goal > 0:
            prog = np.minimum(1.0, self.arm.lots.available(idx) / goal)
            lift += r.goal_gradient * prog
        if r.post_reward_lift:
            lift += r.post_reward_lift * (self.post_until[idx] > day)
        self.q_prog[idx] = np.minimum(1.0, self.tr.q0[idx] * (1.0 + self.weight[idx] * lift)).astype(np.float32)

    def _month_end(self, mo, day, mon, prev, rev_b, rev_p, pur_b, pur_p, alive_b, alive_p, death_day,
                   tier_counts, ntiers) -> None:
        arm, tr, pop = self.arm, self.tr, self.pop
        if death_day is not None:
            alive_now_b = (death_day > day) & ~tr.pool
            alive_now_p = (death_day > day) & (~tr.pool | (self.enroll <= day))
        else:
            alive_now_b, alive_now_p = alive_b, alive_p
        cum = {
            "baseline.revenue_cents": int(rev_b.sum()), "program.revenue_cents": int(rev_p.sum()),
            "baseline.purchases": int(pur_b.sum()), "program.purchases": int(pur_p.sum()),
            "program.points_issued": int(arm.issued.sum()), "program.points_redeemed": int(arm.redeemed.sum()),
            "program.points_expired": int(arm.expired.sum()), "program.points_reversed": int(arm.reversed.sum()),
            "program.discount_cents": int(arm.discount.sum()), "program.reward_cents": int(arm.reward.sum()),
            "program.points_payment_cents": int(arm.pay_cents.sum()), "program.perk_cents": int(arm.perk.sum()),
            "program.voucher_cents": int(arm.voucher.sum()),
        }
        for k, v in cum.items():
            mon[k][mo] = v - prev.get(k, 0)
            prev[k] = v
        mon["program.points_outstanding"][mo] = int(arm.lots.outstanding.sum())
        mon["program.points_available"][mo] = int(arm.lots.outstanding.sum() - arm.lots.pending.sum())
        mon["baseline.alive_customers"][mo] = int(alive_now_b.sum())
        mon["program.alive_customers"][mo] = int(alive_now_p.sum())
        members = (self.enroll <= day) & alive_now_p
        nmem = int(members.sum())
        mon["program.members"][mo] = nmem
        mon["program.fixed_cost_cents"][mo] = nmem * pop.economics.fixed_cost_per_member_month_cents + pop.economics.fixed_cost_per_month_cents
        mem_idx = np.flatnonzero(self.enroll <= day)
        tier_counts[mo] = np.bincount(arm.tier[mem_idx], minlength=ntiers)[:ntiers]
        if pop.response.satisfaction:
            r = pop.response
            base_score = np.rint(tr.satisfaction)
            for arm_name, alive, boost in (("baseline", alive_now_b, None), ("program", alive_now_p, True)):
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
            del base_score

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
            "enroll_day": int(self.enroll[c]),
        }


def _rounds(idx: np.ndarray):
    """Split a list of customers with repeats into batches of unique, sorted customers."""
    if idx.size == 0:
        return
    order = np.argsort(idx, kind="stable")
    s = idx[order]
    rank = np.zeros(s.size, dtype=np.int64)
    if s.size > 1:
        same = np.concatenate([[False], s[1:] == s[:-1]])
        grp = np.cumsum(~same) - 1
        first = np.flatnonzero(~same)
        rank = np.arange(s.size) - first[grp]
    for r in range(int(rank.max()) + 1):
        yield s[rank == r]


def _rounds_rows(cust: np.ndarray, rows: np.ndarray):
    """Like `_rounds` but yields the event rows of each batch (customers unique and sorted)."""
    if rows.size == 0:
        return
    order = np.lexsort((rows, cust))
    s = cust[order]
    r = rows[order]
    same = np.concatenate([[False], s[1:] == s[:-1]]) if s.size > 1 else np.zeros(1, dtype=bool)
    grp = np.cumsum(~same) - 1
    first = np.flatnonzero(~same)
    rank = np.arange(s.size) - first[grp]
    for k in range(int(rank.max()) + 1):
        yield r[rank == k]


def _bday(doy: int) -> tuple[int, int] | None:
    if doy < 0:
        return None
    m = int(np.searchsorted(NON_LEAP_MONTH_START, doy, side="right"))
    return (m, doy - int(NON_LEAP_MONTH_START[m - 1]) + 1)
