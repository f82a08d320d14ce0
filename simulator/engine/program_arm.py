"""The program arm's state and rule evaluation, vectorized over customers.

Takes: a `Plan` (the compiled program), the chunk's customer count and traits.
Gives: `ProgramArm`, which runs the calendar work of a day (§7: pending, expiry,
tier review, conversion, per-period perks) and applies one kind of event to a
batch of customers at once, following docs/semantics.md §4.2 step by step:
candidates in order, skips (window, condition, group, limit, every Nth, streak,
budget), discounts, rate awards, multipliers, fixed awards, caps, budget, lots,
counters and tier metric, upgrade — one method per step, by the names the reference
interpreter's steps have (`rulelang.run.earning`: `candidates`, `skips`, `discounts`,
`rate_awards`, `tier_multiplier`, `rule_multipliers`, `fixed_awards`, `caps_and_budget`,
`book_lots`; `rulelang.run.interpreter`: `counters_and_metrics`, `upgrade`), the point sources
of `rulelang.ir.POINT_SOURCES` through `SOURCE_STEPS`, and the global-budget bound through
`BOUND_TERMS`. Per-customer totals (issued, redeemed,
expired, costs in cents) are kept as int64 arrays so both the metrics and the
differential test against the reference interpreter read them directly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil

import numpy as np

from rulelang import ir
from rulelang.limits import MAX_EVENT_POINTS

from simulator.engine.calendar import add_months, month_index, period_id

from simulator.model.strings import StringTable
from simulator.engine.lines import has_lines, line_base, line_quantity
from simulator.engine.conditions import LINES_FIELD, BatchContext, evaluate, fields_read, line_context
from simulator.engine.exact import ExactRangeError, fits_int64, mul
from simulator.engine.lots import LotStore
from simulator.engine.program_plan import CARRIED_FIELDS, Plan, RuleSpec, round_div
from simulator.engine.returns import OrderBook
from simulator.engine.status_dates import StatusDates, tier_rate_table, tier_rates
from simulator.engine.vouchers import VoucherBook, voucher_end

BIG = np.int64(2**40)
PERIODS = ("day", "week", "month", "quarter", "year", "lifetime")


@dataclass
class _Batch:
    """One event applied to a batch of customers: what each step of `ProgramArm.apply` leaves
    for the next (arrays over the batch)."""

    kind: str
    idx: np.ndarray
    data: dict[str, np.ndarray]
    ctx: BatchContext
    candidates: list[RuleSpec] = field(default_factory=list)
    fired: list[tuple[RuleSpec, np.ndarray]] = field(default_factory=list)  # (rule, customers it fires for)
    rule_pts: list[np.ndarray] = field(default_factory=list)  # per fired rule: its points
    counter_inc: dict[str, np.ndarray] = field(default_factory=dict)
    disc_by_rule: dict[int, np.ndarray] = field(default_factory=dict)
    money_raw: dict[int, np.ndarray | None] = field(default_factory=dict)  # per fired rule: its rate awards' raw
    net: np.ndarray | None = None
    goods: np.ndarray | None = None  # amount - shipping, before discounts
    metric_changed: bool = False
    bal: dict[str, np.ndarray] = field(default_factory=dict)  # what each balance beside the points earned
    metric_moved: np.ndarray | None = None  # per row: the event changed the tier metric

    def __post_init__(self) -> None:
        k = self.k
        self.role = self.data.get("role")
        self.amount = self.data.get("amount")
        self.cat = self.data.get("category", np.zeros(k, dtype=np.int64))
        self.R: np.ndarray = np.zeros(k, dtype=np.int64)  # R of step 6, in 1/D points
        self.pnum = np.ones(k, dtype=np.int64)  # m1 × … × mj so far (`multipliers multiply`)
        self.pden = np.ones(k, dtype=np.int64)
        self.tier_pts = np.zeros(k, dtype=np.int64)
        self.total = np.zeros(k, dtype=np.int64)

    @property
    def k(self) -> int:
        return self.idx.size


class ProgramArm:
    def __init__(self, plan: Plan, n: int, strings: StringTable, enroll_day: np.ndarray,
                 bday_doy: np.ndarray, attributes: dict[str, np.ndarray], budgets: dict[str, int],
                 returns_happen: bool = False):
        self.plan = plan
        self.p = plan.program
        self.n = n
        self.kernel = None  # a simulator.kernel.PurchaseKernel when the engine runs purchases on it
        self.strings = strings
        self.enroll_day = enroll_day  # shared with the engine (referrals activate slots)
        self.bday_doy = bday_doy
        self.attributes_raw = attributes
        self.attr_cache: dict[str, np.ndarray] = {}
        self.budgets = budgets
        cal = plan.cal
        policy = self.p.returns
        self.lots = LotStore(n, self.p.pending_days, plan.granularity, plan.ring_size,
                             negative_allowed=bool(policy.reverse and policy.negative_balance and returns_happen))
        self.reverses = bool(policy.reverse and returns_happen)
        if self.reverses:
            self.lots.book = OrderBook(n)
        self.last_discount: np.ndarray | None = None  # per customer of the last `apply` with an amount
        # what the last purchase `apply` added to the tier metric and the counters (returns undo it)
        self.last_moved: dict[str, np.ndarray] = {}
        ts = self.p.tiers
        self.ntiers = len(ts.tiers) if ts else 1
        self.tier = np.zeros(n, dtype=np.int64)
        self.tier_since = np.zeros(n, dtype=np.int64)
        self.grace_start = np.full(n, -1, dtype=np.int64)
        self.downgraded = np.zeros(n, dtype=bool)
        self.redeemed_ever = np.zeros(n, dtype=bool)
        self.purchases = np.zeros(n, dtype=np.int64)
        self.counters = {c.name: np.zeros(n, dtype=np.int64) for c in self.p.counters}
        self.metric = np.zeros(n, dtype=np.int64)
        self.window = None
        if ts and ts.window == "rolling":
            self.window = np.zeros((max(1, ts.window_months or 1), n), dtype=np.int64)
        self.thresholds = [int(ceil(t.threshold)) for t in ts.tiers] if ts else [0]
        self.threshold_table = np.array(self.thresholds, dtype=np.int64)
        self.ascending = bool(np.all(np.diff(self.threshold_table) > 0))
        # per tier: earn multiplier and instant discount as fractions (1 and 0 where the tier has none)
        mults = [Fraction(t.multiplier) if t.multiplier is not None else Fraction(1) for t in ts.tiers] if ts else []
        discs = [Fraction(t.discount_percent) / 100 if t.discount_percent else Fraction(0) for t in ts.tiers] if ts else []
        self.tier_mult = (np.array([f.numerator for f in mults], dtype=np.int64),
                          np.array([f.denominator for f in mults], dtype=np.int64)) if any(f != 1 for f in mults) else None
        self.tier_disc = (np.array([f.numerator for f in discs], dtype=np.int64),
                          np.array([f.denominator for f in discs], dtype=np.int64)) if any(discs) else None
        self.any_discounts = self.tier_disc is not None or any(spec.discounts for spec in plan.rules)
        self.budgeted = any(spec.rule.budget is not None for spec in plan.rules)
        self._source_steps = ir.in_source_order(SOURCE_STEPS, "the vectorized engine (ProgramArm.apply)")
        self._bound_terms = ir.in_source_order(BOUND_TERMS, "the global-budget bound (ProgramArm._budget_at_risk)")
        # the purchase count is kept only when something reads it
        read = set()
        for spec in plan.rules:
            read |= set(fields_read(spec.rule.condition))
        for c in self.p.counters:
            read |= set(fields_read(c.condition)) | ({c.sums} if c.sums else set())
        self.counts_purchases = bool(read & {"first_purchase", "purchases"}) or bool(ts and ts.metric == "purchases")
        self.inact_due = {k: np.full(n, BIG, dtype=np.int64) for k, s in enumerate(plan.expiry_sets)
                          if s.inactivity_months}
        self.expired_through = np.full(n, -1, dtype=np.int64)
        # customers who had no event yet, kept only when an event may not count as activity
        self.unseen = np.ones(n, dtype=bool) if self.inact_due and tuple(self.p.activity) != ("purchase", "earning") \
            else None
        self.prev_cut = -1
        # rule state
        self.cap_used: dict[tuple[int, int], np.ndarray] = {}
        self.cap_pid: dict[tuple[int, int], np.ndarray] = {}
        self.lim_used: dict[tuple[int, int], np.ndarray] = {}
        self.lim_pid: dict[tuple[int, int], np.ndarray] = {}
        self.nth: dict[int, np.ndarray] = {}
        self.streak_last: dict[int, np.ndarray] = {}
        self.streak_run: dict[int, np.ndarray] = {}
        for s in plan.rules:
            for j, _ in enumerate(s.point_caps):
                self.cap_used[s.index, j] = np.zeros(n, dtype=np.int64)
                self.cap_pid[s.index, j] = np.full(n, -1, dtype=np.int64)
            for j, _ in enumerate(s.limits):
                self.lim_used[s.index, j] = np.zeros(n, dtype=np.int64)
                self.lim_pid[s.index, j] = np.full(n, -1, dtype=np.int64)
            if s.rule.every_nth:
                self.nth[s.index] = np.zeros(n, dtype=np.int64)
            if s.rule.streak:
                self.streak_last[s.index] = np.full(n, -(2**40), dtype=np.int64)
                self.streak_run[s.index] = np.zeros(n, dtype=np.int64)
        # totals (int64 per customer)
        z = lambda: np.zeros(n, dtype=np.int64)  # noqa: E731
        self.issued, self.redeemed, self.expired, self.reversed = z(), z(), z(), z()
        self.discount, self.perk, self.reward, self.voucher = z(), z(), z(), z()
        self.pay_cents = z()  # points payments: each costs round(points × point cost) cents
        self.discount_refunded = z()  # the returned share of discounts (no longer a cost)
        self.opening = z()  # opening balances of a program already running (customers file)
        self.vouchers = VoucherBook(n) if ir.vouchers_with_a_life(self.p) else None
        # balances beside the points (docs/semantics.md §2.1): issued, expired, reversed per customer;
        # outstanding = issued - expired - reversed (never redeemed, never below zero)
        self.bal_issued = {b.name: z() for b in self.p.balances}
        self.bal_expired = {b.name: z() for b in self.p.balances}
        self.bal_reversed = {b.name: z() for b in self.p.balances}
        self.last_balances: dict[str, np.ndarray] = {}  # per customer of the last `apply`: each balance earned
        self.metric_balance = ts.metric if ts is not None and ts.metric in self.bal_issued else None
        self.cal = cal
        self.date = cal.start
        self.day = 0
        self._month_tables: dict[int, np.ndarray] = {}
        self._set_table = np.array(plan.tier_expiry, dtype=np.int64)
        self._last_cut = [-2] * len(plan.expiry_sets)
        self._downgraded_today = False
        self.tier_since[:] = np.minimum(enroll_day, 2**30)
        self.status = StatusDates(ts, cal, enroll_day) if ts is not None and ts.status_through is not None else None
        self.tier_rate = tier_rate_table(ts, plan.common_den)
        if ts:  # customers start in the tier a metric of 0 qualifies for (a later tier at 0 too)
            self.tier[:] = int(self.qualified(np.zeros(1, dtype=np.int64))[0])

    # ------------------------------------------------------------ helpers
    def members(self, day: int) -> np.ndarray:
        return np.flatnonzero(self.enroll_day <= day)

    def expiry_set_of(self, idx: np.ndarray) -> np.ndarray:
        return self._set_table[self.tier[idx]]

    def bal_outstanding(self, name: str, idx: np.ndarray | None = None) -> np.ndarray:
        """Outstanding of a balance beside the points (all customers, or `idx`)."""
        if idx is None:
            return self.bal_issued[name] - self.bal_expired[name] - self.bal_reversed[name]
        return self.bal_issued[name][idx] - self.bal_expired[name][idx] - self.bal_reversed[name][idx]

    def reverse_balances(self, idx: np.ndarray, returned: np.ndarray, whole: np.ndarray,
                         earned: dict[str, np.ndarray],
                         before: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """A return of customers `idx` (unique): each balance loses floor(earned × returned / amount)
        of what the order earned (all of it for a whole return), less what earlier returns of the order
        took (`before`), at most what is outstanding (a tier that goes by the balance loses it only
        with `returns lower tier metric and counters`, as any metric: `undo`). Gives what each balance lost."""
        out: dict[str, np.ndarray] = {}
        for name, e in earned.items():
            target = np.where(returned >= whole, e, e * returned // np.maximum(whole, 1))
            if before is not None:
                target = np.minimum(target, e - before[name])
            done = np.minimum(np.maximum(target, 0), self.bal_outstanding(name, idx))
            out[name] = done
            self.bal_reversed[name][idx] += done
        return out

    def balance_available(self, idx: np.ndarray) -> np.ndarray:
        return self.lots.available(idx)

    def _expire(self, nz: np.ndarray, pts: np.ndarray) -> None:
        if nz.size:
            self.expired[nz] += pts

    def _period_ids(self, period: str) -> int:
        return period_id(self.date, period)

    # ------------------------------------------------------------ calendar (§7)
    def calendar(self, day: int) -> None:
        self.day = day
        self.date = d = self.cal.date(day)
        plan = self.plan
        lots = self.lots
        lots.start_slot(plan.slot_of_day(day), plan.fold_old)
        # 1. pending lots mature
        P = self.p.pending_days
        if P > 0 and day - P >= 0:
            lots.mature(day, plan.slot_of_day(day - P))
        # 2. expiry
        self._expiry(day, d)
        # 2b. balances beside the points that expire all at once today
        for name, days in self.plan.balance_expiry_days.items():
            if day in days:
                self.bal_expired[name] += self.bal_outstanding(name)
        # 3. tier review
        ts = self.p.tiers
        first_of_month = d.day == 1
        if self.status is not None:
            self.status.end(self, day, d)
        if ts is not None and first_of_month:
            review = (ts.review == "monthly" or (ts.review == "quarterly" and d.month in (1, 4, 7, 10))
                      or (ts.review == "yearly" and d.month == 1))
            if review and ts.downgrade != "never":
                self._review(day, d)
            if ts.window == "calendar_year" and d.month == 1:
                self.metric[:] = 0
            if self.window is not None:
                row = self.window[month_index(d) % self.window.shape[0]]
                self.metric -= row
                row[:] = 0
        # 4. conversion
        conv = self.p.conversion
        if self.vouchers is not None:  # vouchers whose validity ends today expire, unused
            self.vouchers.expire(day)
        if conv is not None and conv.runs_on(d):
            idx = self.members(day)
            avail = lots.available(idx)
            vouchers = avail // conv.points
            sel = vouchers > 0
            idx, vouchers = idx[sel], vouchers[sel]
            pts = vouchers * conv.points
            lots.burn(idx, pts)
            self.redeemed[idx] += pts
            if self.vouchers is not None and conv.valid is not None:  # costs when used (`use_vouchers`)
                end = self.cal.day_of(voucher_end(conv.valid, conv.valid_unit, d))
                self.vouchers.issue(idx, vouchers, end, conv.voucher_cents)
            else:
                self.voucher[idx] += vouchers * conv.voucher_cents
        # 5. per-period tier perks
        if ts is not None and first_of_month:
            for t, tier in enumerate(ts.tiers):
                for perk in tier.perks:
                    if perk.per == "month" or (perk.per == "year" and d.month == 1):
                        idx = self.members(day)
                        idx = idx[self.tier[idx] == t]
                        self.perk[idx] += perk.cost_cents

    def use_vouchers(self, idx: np.ndarray) -> None:
        """Customers `idx` (holders, distinct) each spend one voucher: its face value is the cost."""
        if self.vouchers is not None and idx.size:
            self.voucher[idx] += self.vouchers.use(idx)

    def _expiry(self, day: int, d: dt.date) -> None:
        """Expire what is due today or earlier under each customer's expiry set (§6): per-lot
        dates through the cut-off tables, inactivity for all lots at once."""
        plan, lots = self.plan, self.lots
        single = not plan.fold_old
        catch_up = self._downgraded_today
        self._downgraded_today = False
        for k, s in enumerate(plan.expiry_sets):
            if s.empty:
                continue
            cut_today = int(s.cutoff[day]) if s.cutoff is not None else -1
            if not single and not s.inactivity_months and cut_today == self._last_cut[k] and not catch_up:
                continue  # nothing new is due, and no customer moved into this set
            self._last_cut[k] = cut_today
            if single:
                idx = None
            else:
                members = self.members(day)
                idx = members[self.expiry_set_of(members) == k]
                if idx.size == 0:
                    continue
            if s.cutoff is not None:
                cut = int(s.cutoff[day])
                oldest = lots.cur_slot - lots.ring_size + 1
                if single:
                    for slot in range(max(self.prev_cut + 1, oldest, 0), cut + 1):
                        self._expire(*lots.expire_slot(slot, None, day))
                    self.prev_cut = max(self.prev_cut, cut)
                else:
                    todo = idx[self.expired_through[idx] < cut]
                    if todo.size:
                        lo = int(self.expired_through[todo].min())
                        if lo < oldest - 1:
                            self._expire(*lots.expire_old(todo[self.expired_through[todo] < oldest - 1]))
                        for slot in range(max(lo + 1, oldest, 0), cut + 1):
                            sel = todo[self.expired_through[todo] < slot]
                            self._expire(*lots.expire_slot(slot, sel, day))
                        self.expired_through[todo] = cut
            if s.inactivity_months:
                hit = np.flatnonzero(self.inact_due[k] <= day)
                hit = hit[lots.held(hit) != 0]
                if idx is not None:
                    hit = np.intersect1d(hit, idx, assume_unique=True)
                self._expire(*lots.expire_all(hit))

    def _review(self, day: int, d: dt.date) -> None:
        """Tier review (§5): qualified tier from the metric as of yesterday; validity, grace, downgrade."""
        ts = self.p.tiers
        idx = self.members(day)
        cur = self.tier[idx]
        qual = self.qualified(self.metric[idx])
        failing = qual < cur
        self.grace_start[idx[~failing]] = -1
        if not failing.any():
            return
        fidx, fcur, fqual = idx[failing], cur[failing], qual[failing]
        since = self.tier_since[fidx]
        ok = (since < day) & (self.months_later(since, ts.validity_months) <= day)
        fidx, fcur, fqual = fidx[ok], fcur[ok], fqual[ok]
        if ts.grace_months:
            gs = self.grace_start[fidx]
            start_grace = gs < 0
            self.grace_start[fidx[start_grace]] = day
            go = (~start_grace) & (self.months_later(gs, ts.grace_months) <= day)
            fidx, fcur, fqual = fidx[go], fcur[go], fqual[go]
        if ts.downgrade == "one_step":
            new = fcur - 1
        elif ts.downgrade == "to_base":
            new = np.zeros_like(fcur)
        else:
            new = fqual
        self.tier[fidx] = new
        self.tier_since[fidx] = day
        self.grace_start[fidx] = -1
        self.downgraded[fidx] = True
        if fidx.size:
            self._downgraded_today = True

    def note_downgrade(self) -> None:
        """A customer moved to a lower tier today: the next expiry pass looks at every set."""
        self._downgraded_today = True

    def months_later(self, days: np.ndarray, months: int) -> np.ndarray:
        """Day index of (date of each day) + `months` months, clamped (table lookup)."""
        if months == 0:
            return days
        table = self._month_tables.get(months)
        if table is None:
            cal = self.cal
            table = np.array([cal.day_of(add_months(cal.date(i), months)) for i in range(cal.days)], dtype=np.int64)
            self._month_tables[months] = table
        return table[np.clip(days, 0, self.cal.days - 1)]

    def qualified(self, metric: np.ndarray) -> np.ndarray:
        """The last tier, in the order written, whose threshold `metric` reaches; tier 0 when none
        does (the interpreter's rule, docs/semantics.md §5: thresholds need not increase, and
        the first tier is the base tier even when its threshold is above 0)."""
        metric = np.asarray(metric)
        if self.ascending:
            return np.maximum(np.searchsorted(self.threshold_table, metric, side="right") - 1, 0)
        best = np.zeros(metric.shape, dtype=np.int64)
        for i, th in enumerate(self.thresholds):
            best[metric >= th] = i
        return best

    # ------------------------------------------------------------ events (§4.2)
    def context(self, idx: np.ndarray, data: dict[str, np.ndarray]) -> BatchContext:
        k = idx.size
        d = self.date
        g = {
            # fields an event carries: its data, else the field's engine default (rulelang.fields)
            **{f.name: (lambda f=f: data.get(f.name, np.full(k, f.engine_default, dtype=np.int64)))
               for f in CARRIED_FIELDS},
            "weekday": lambda: d.weekday(),
            "hour": lambda: data.get("hour", 12),  # simulated events happen at 12:00
            "date": lambda: d.toordinal(),
            "month": lambda: d.month,
            "first_purchase": lambda: self.purchases[idx] == 0,
            "purchases": lambda: self.purchases[idx],
            "tier": lambda: self.tier[idx],
            "days_from_birthday": lambda: days_from_birthday(self.bday_doy[idx], d),
            "balance": lambda: data["balance"] if "balance" in data else self.lots.outstanding[idx],
        }
        g[LINES_FIELD] = lambda: line_context(
            k, data, data["amount"] - data["shipping"] if "shipping" in data else data.get("amount", np.zeros(k, np.int64)),
            self.strings, self.p.line_attributes)
        for name, arr in self.counters.items():
            g[name] = g["counter." + name] = (lambda a=arr: a[idx])
        for (aname, atype) in self.p.attributes:
            g["customer." + aname] = (lambda an=aname, at=atype: self.attribute(an, at, idx))
        for key, arr in data.items():
            if key.startswith("event."):
                g[key] = (lambda a=arr: a)
        return BatchContext(k, g, self.strings)

    def attribute(self, name: str, atype: str, idx: np.ndarray) -> np.ndarray:
        arr = self.attr_cache.get(name)
        if arr is None:
            arr = encode_values(self.attributes_raw.get(name), atype, self.n, self.strings)
            self.attr_cache[name] = arr
        return arr[idx]

    def apply(self, kind: str, idx: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray:
        """Apply one event of `kind` to each customer in `idx` (sorted, unique); returns points issued.

        Customers are processed together; when a global budget of a candidate rule could run
        out within the batch, one after the other (`_apply_in_turn`), so that the customers after
        the one who spends it find the rule skipped, as the interpreter's semantics say.
        The steps are those of docs/semantics.md §4.2, by the names the reference interpreter
        (`rulelang.run.earning`) uses; the point sources run through `SOURCE_STEPS`."""
        k = idx.size
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        if self.kernel is not None:  # the compiled kernel (simulator.kernel), every kind it runs
            out = self.kernel.apply(self, idx, data) if kind == "purchase" else self.kernel.event(self, kind, idx, data)
            if out is not None:
                return out
        self.first_event(idx)
        if k > 1 and self.budgeted:
            at_risk = self._budget_at_risk(kind, idx, data)
            if at_risk is not None:
                return self._apply_in_turn(kind, idx, data, at_risk)
        b = _Batch(kind, idx, data, self.context(idx, data))
        self.candidates(b)
        self.skips(b)
        b.counter_inc = self._counter_increments(b)  # step 10's increments: conditions read the state before
        self.discounts(b)
        for _source, step in self._source_steps:
            step(self, b)
        self.caps_and_budget(b)
        self.book_lots(b)
        self.counters_and_metrics(b)
        self.upgrade(b)
        return b.total

    def candidates(self, b: "_Batch") -> None:
        """§4.2 step 2: the rules on this event, by priority (higher first), then source order."""
        b.candidates = self.plan.by_event.get(b.kind, [])

    def skips(self, b: "_Batch") -> None:
        """§4.2 step 3: per candidate, the customers it fires for (window, condition, side,
        group, limit, every Nth, streak, budget); every-Nth counts and streaks advance for every
        matching event."""
        k, idx, d, ctx, role = b.k, b.idx, self.date, b.ctx, b.role
        groups: dict[str, np.ndarray] = {}
        for spec in b.candidates:
            r = spec.rule
            if (r.start is not None and d < r.start) or (r.end is not None and d > r.end):
                continue
            m = evaluate(r.condition, ctx).copy()
            if spec.sides:  # a rule that only awards referral sides skips the other side
                m &= np.isin(role, [self.strings.code(x) for x in spec.sides]) if role is not None else False
            nth_ok = streak_ok = None
            if r.every_nth:
                cnt = self.nth[spec.index]
                sel = idx[m]
                cnt[sel] += 1
                nth_ok = np.zeros(k, dtype=bool)
                nth_ok[m] = (cnt[sel] % r.every_nth) == 0
            if r.streak is not None:
                streak_ok = self._streak(spec, idx, m)
            if r.group is not None and r.group in groups:
                m &= ~groups[r.group]
            for j, cap in enumerate(spec.limits):
                used = self._period_value(self.lim_used[spec.index, j], self.lim_pid[spec.index, j], idx, cap.period)
                m &= used < cap.limit
            if nth_ok is not None:
                m &= nth_ok
            if streak_ok is not None:
                m &= streak_ok
            if r.budget is not None and self.budget_left(spec) <= 0:
                m[:] = False
            if not m.any():
                continue
            if r.group is not None:
                groups[r.group] = groups.get(r.group, np.zeros(k, dtype=bool)) | m
            b.fired.append((spec, m))
        b.rule_pts = [np.zeros(k, dtype=np.int64) for _ in b.fired]

    def _counter_increments(self, b: "_Batch") -> dict[str, np.ndarray]:
        """Each declared counter's increment for this event (booked in step 10); counter
        conditions read the state before the event."""
        counter_inc: dict[str, np.ndarray] = {}
        for c in self.p.counters:
            if c.event != b.kind:
                continue
            cm = evaluate(c.condition, b.ctx)
            val = np.asarray(b.ctx.field(c.sums), dtype=np.int64) if c.sums else np.ones(b.k, dtype=np.int64)
            counter_inc[c.name] = np.where(cm, np.broadcast_to(val, (b.k,)), 0)
        return counter_inc

    def discounts(self, b: "_Batch") -> None:
        """§4.2 step 4: discounts of firing rules, then the tier's; capped at amount - shipping.
        The net base is then known."""
        k, idx, data, amount, p = b.k, b.idx, b.data, b.amount, self.p
        if amount is None:
            return
        purchase = b.kind == "purchase"
        cat = b.cat
        # shipping is part of a purchase only; a return's amount is all goods (§4.1)
        goods = amount - data["shipping"] if purchase and "shipping" in data else amount
        disc = np.zeros(k, dtype=np.int64)
        for spec, m in b.fired:
            before = disc.copy()
            for ds in spec.discounts:
                if has_lines(data):
                    base = line_base(data, amount, goods, None, ds.base, ds.excluding, ds.only)
                else:
                    base = amount.copy() if ds.base == "gross" else goods.copy()
                    if ds.excluding:
                        base[np.isin(cat, ds.excluding)] = 0
                    if ds.only is not None:  # `in category`: the purchase, one line, counts when it is in them
                        base[~np.isin(cat, ds.only)] = 0
                if ds.percent is not None:
                    f = ds.percent / 100
                    val = fits_int64(round_div(mul(base, f.numerator), f.denominator, spec.rule.rounding))
                else:
                    val = np.minimum(base, int(ds.fixed_cents or 0))
                disc += np.where(m, val, 0)
            if spec.discounts:
                disc = np.minimum(disc, goods)
                b.disc_by_rule[spec.index] = disc - before
        if self.tier_disc is not None and purchase:
            t_of = self.tier[idx]
            disc += fits_int64(round_div(mul(goods, self.tier_disc[0][t_of]), self.tier_disc[1][t_of], p.rounding))
        b.goods = goods
        if self.any_discounts:
            disc = np.minimum(disc, goods)
            self.discount[idx] += disc
            self.last_discount = disc
            b.net = goods - disc
        else:
            self.last_discount = None
            b.net = goods

    def rate_awards(self, b: "_Batch") -> None:
        """§4.2 step 5 (point source `ir.RATE_AWARD`): raw = rate × base cents, exact; each
        firing rule's points round(raw) by its mode; R = the sum of the raw points.

        R, in 1/D points, and the multipliers' products stay exact: int64 while the bound
        allows it, Python ints (object arrays) beyond (simulator.engine.exact)."""
        D = self.plan.common_den
        for i, ((spec, m), pts) in enumerate(zip(b.fired, b.rule_pts)):
            num = self._money_raw(b, spec, m)
            b.money_raw[i] = num
            if num is not None:
                if spec.rule.balance is None:  # R: the points' raw awards only
                    b.R = b.R + num
                pts += fits_int64(round_div(num, D, spec.rule.rounding))

    def quantity_awards(self, b: "_Batch") -> None:
        """§4.2 step 5 (point source `ir.QUANTITY_AWARD`): raw = rate × the purchase's
        `quantity`, exact, added to the rule's raw points of `rate_awards` (its points are
        round(raw) of the sum) and to R."""
        D = self.plan.common_den
        quantity = b.data.get("quantity")
        for i, ((spec, m), pts) in enumerate(zip(b.fired, b.rule_pts)):
            if not spec.quantities or quantity is None:
                continue
            num: np.ndarray = np.zeros(b.k, dtype=np.int64)
            for qs in spec.quantities:
                base = self._quantity_base(b, quantity, qs.excluding, qs.only)
                num = num + mul(base, qs.num * (D // qs.den))
            num = np.where(m, num, 0)
            money = b.money_raw.get(i)  # the rule's raw points of `rate_awards`, rounded there alone
            pts -= fits_int64(round_div(money, D, spec.rule.rounding)) if money is not None else 0
            pts += fits_int64(round_div(money + num if money is not None else num, D, spec.rule.rounding))
            if spec.rule.balance is None:
                b.R = b.R + num

    def _money_raw(self, b: "_Batch", spec: RuleSpec, m: np.ndarray):
        """A firing rule's raw points of its rate awards (in 1/D points) for the customers `m`
        it fires for; None when it has none or the event has no amount."""
        if not spec.rates or b.amount is None:
            return None
        num: np.ndarray = np.zeros(b.k, dtype=np.int64)
        for rs in spec.rates:
            base = self._rate_base(b, rs.base, rs.excluding, rs.only)
            num = num + mul(base, self._rate_factor(b, rs, spec))
        return np.where(m, num, 0)

    def _rate_factor(self, b: "_Batch", rs, spec: RuleSpec | None = None) -> np.ndarray | int:
        """The award's rate × D: on a purchase, the rate of the tier each customer holds where
        the tier sets one (it replaces the rate of every purchase rate award of the points; a rule
        that awards a balance beside the points keeps its own)."""
        own = rs.num * (self.plan.common_den // rs.den)
        if self.tier_rate is None or b.kind != "purchase" or (spec is not None and spec.rule.balance is not None):
            return own
        t = self.tier_rate[self.tier[b.idx]]
        return np.where(t >= 0, t, own)

    def _rate_base(self, b: "_Batch", base: str, excluding: tuple[int, ...],
                   only: tuple[int, ...] | None = None) -> np.ndarray:
        """A rate award's money base (cents): net or gross, 0 for an excluded category; with
        lines, summed over the lines not excluded (simulator.engine.lines)."""
        if has_lines(b.data):
            goods = b.amount - b.data["shipping"] if "shipping" in b.data else b.amount
            return line_base(b.data, b.amount, goods, goods - b.net, base, excluding, only)
        out = b.amount.copy() if base == "gross" else b.net.copy()
        if excluding:
            out[np.isin(b.cat, excluding)] = 0
        if only is not None:
            out[~np.isin(b.cat, only)] = 0
        return out

    def tier_multiplier(self, b: "_Batch") -> None:
        """§4.2 step 6 (point source `ir.TIER_MULTIPLIER`): the tier's multiplier is m1, its
        bonus R × (m − 1) rounded by the program's mode (each customer holds one tier)."""
        if self.tier_mult is None or not b.R.any():
            return
        t_of = self.tier[b.idx]
        fn, fd = self.tier_mult[0][t_of], self.tier_mult[1][t_of]
        b.tier_pts = fits_int64(round_div(mul(b.R, fn - fd), mul(fd, self.plan.common_den), self.p.rounding))
        if self.p.stacking != "add":
            b.pnum, b.pden = fn, fd

    def rule_multipliers(self, b: "_Batch") -> None:
        """§4.2 step 6 (point source `ir.RULE_MULTIPLIER`): firing rules' multipliers, in
        candidate order after the tier's, each bonus rounded by its rule's mode."""
        if not b.R.any():
            return
        add = self.p.stacking == "add"
        for (spec, m), pts in zip(b.fired, b.rule_pts):
            for j, f in enumerate(spec.multipliers):
                only = spec.multiplier_only[j] if j < len(spec.multiplier_only) else None
                R = b.R if only is None else self._raw_on(b, only)
                pts += np.where(m, self._bonus(R, b.pnum, b.pden, f, add, spec.rule.rounding), 0)
                if not add:
                    b.pnum = np.where(m, fits_int64(mul(b.pnum, f.numerator)), b.pnum)
                    b.pden = np.where(m, fits_int64(mul(b.pden, f.denominator)), b.pden)
                    g = np.gcd(b.pnum, b.pden)
                    b.pnum //= g
                    b.pden //= g

    def _raw_on(self, b: "_Batch", only: tuple[int, ...]) -> np.ndarray:
        """R on the lines of the category codes `only` (in 1/D points): the firing rules' rate
        awards and awards per quantity of the points (not of a balance beside them), each on those
        of its lines in `only` (a multiplier `in category`, docs/semantics.md §3.1)."""
        D = self.plan.common_den
        out: np.ndarray = np.zeros(b.k, dtype=np.int64)
        quantity = b.data.get("quantity")
        for spec, m in b.fired:
            if spec.rule.balance is not None:  # a balance beside the points is not multiplied
                continue
            num: np.ndarray = np.zeros(b.k, dtype=np.int64)
            if b.amount is not None:
                for rs in spec.rates:
                    base = self._rate_base(b, rs.base, rs.excluding, _meet(rs.only, only))
                    num = num + mul(base, self._rate_factor(b, rs))
            if quantity is not None:
                for qs in spec.quantities:
                    base = self._quantity_base(b, quantity, qs.excluding, _meet(qs.only, only))
                    num = num + mul(base, qs.num * (D // qs.den))
            out = out + np.where(m, num, 0)
        return out

    def _quantity_base(self, b: "_Batch", quantity, excluding: tuple[int, ...],
                       only: tuple[int, ...] | None) -> np.ndarray:
        """An award per quantity's base: the quantity of the lines that count (simulator.engine.lines)."""
        if has_lines(b.data):
            return line_quantity(b.data, excluding, only)
        base = np.asarray(quantity, dtype=np.int64).copy()
        if excluding:
            base[np.isin(b.cat, excluding)] = 0
        if only is not None:
            base[~np.isin(b.cat, only)] = 0
        return base

    def fixed_awards(self, b: "_Batch") -> None:
        """§4.2 step 7 (point source `ir.FIXED_AWARD`): fixed awards add their points (referral
        sides: only the side the event's role names). A rule's points are never negative."""
        role = b.role
        for (spec, m), pts in zip(b.fired, b.rule_pts):
            for points, to in spec.fixed:
                if to == "customer":
                    pts += np.where(m, points, 0)
                elif role is not None:
                    pts += np.where(m & (role == self.strings.code(to)), points, 0)
            np.maximum(pts, 0, out=pts)

    def caps_and_budget(self, b: "_Batch") -> None:
        """§4.2 step 8: each firing rule's points cut to what its caps leave, then to what its
        global budget leaves; a rule cut to 0 that gives no money did not fire."""
        idx = b.idx
        for (spec, m), pts in zip(b.fired, b.rule_pts):
            wanted = pts.copy()
            for j, cap in enumerate(spec.point_caps):
                used = self._period_value(self.cap_used[spec.index, j], self.cap_pid[spec.index, j], idx, cap.period)
                np.minimum(pts, np.maximum(cap.limit - used, 0), out=pts)
            if spec.rule.budget is not None:
                self._budget_cut(spec, m, pts, b.disc_by_rule.get(spec.index))
            # a rule cut to 0 that gives no money did not fire (no limit usage, no perk)
            if not spec.gives_money:
                m &= ~((pts == 0) & (wanted > 0))

    def book_lots(self, b: "_Batch") -> None:
        """§4.2 step 9: book the fired rules — the customers' lots (the tier bonus included),
        perk costs; the counters of caps and limits."""
        idx, total = b.idx, b.total
        for (spec, m), pts in zip(b.fired, b.rule_pts):
            for j, cap in enumerate(spec.point_caps):
                self.cap_used[spec.index, j][idx] += pts
            for j, cap in enumerate(spec.limits):
                arr, pid = self.lim_used[spec.index, j], self.lim_pid[spec.index, j]
                sel = idx[m]
                self._period_value(arr, pid, sel, cap.period)
                arr[sel] += 1
            for _, cost in spec.perks:
                self.perk[idx] += np.where(m, cost, 0)
            if spec.rule.balance is not None:  # a balance beside the points: not a lot
                name = spec.rule.balance
                b.bal[name] = b.bal[name] + pts if name in b.bal else pts.copy()
                continue
            total += pts
        total += np.maximum(b.tier_pts, 0)
        if b.k and int(total.max()) > MAX_EVENT_POINTS:
            raise ExactRangeError(f"one {b.kind} would earn {int(total.max()):,} {self.p.points_unit}, more than "
                                  f"the {MAX_EVENT_POINTS:,} one event may earn (rulelang.limits.MAX_EVENT_POINTS)")
        earned = np.flatnonzero(total > 0)
        if earned.size:
            self.lots.add(idx[earned], self.day, self.plan.slot_of_day(self.day), total[earned])
            self.issued[idx[earned]] += total[earned]
        for name, pts in b.bal.items():
            self.bal_issued[name][idx] += pts
        if self.bal_issued:
            self.last_balances = {name: b.bal.get(name, np.zeros(b.k, dtype=np.int64)) for name in self.bal_issued}

    def counters_and_metrics(self, b: "_Batch") -> None:
        """§4.2 step 10: activity, the purchase count, declared counters, the tier metric."""
        idx, k, kind, total = b.idx, b.k, b.kind, b.total
        act = self.p.activity
        active = (total > 0) if "earning" in act else np.zeros(k, dtype=bool)
        if kind == "purchase" and "purchase" in act:
            active = np.ones(k, dtype=bool)
        self._activity(idx[active], self.day)
        for name, inc in b.counter_inc.items():
            self.counters[name][idx] += inc
        if kind == "purchase" and self.counts_purchases:
            self.purchases[idx] += 1
        ts = self.p.tiers
        b.metric_changed = False
        if ts is not None:
            inc = None
            if ts.metric == "spend" and b.net is not None and kind == "purchase":
                inc = b.goods if ts.spend_before_discounts else b.net
            elif ts.metric == "points":
                inc = total
            elif ts.metric == "purchases" and kind == "purchase":
                inc = np.ones(k, dtype=np.int64)
            elif ts.metric == self.metric_balance:
                inc = b.bal.get(ts.metric)
            elif ts.metric in b.counter_inc:
                inc = b.counter_inc[ts.metric]
            if inc is not None:
                b.metric_moved = np.asarray(inc) != 0
                self.metric[idx] += inc
                if self.window is not None:
                    self.window[month_index(self.date) % self.window.shape[0], idx] += inc
                b.metric_changed = True
        if kind == "purchase" and self.p.returns.lower_metrics:
            self.last_moved = {"metric": np.zeros(k, dtype=np.int64) if not b.metric_changed else
                               np.broadcast_to(inc, (k,)).astype(np.int64),  # type: ignore[arg-type]
                               **{"counter." + n: np.asarray(v, dtype=np.int64) for n, v in b.counter_inc.items()}}

    def upgrade(self, b: "_Batch") -> None:
        """§4.2 step 11: a metric that now qualifies for a higher tier moves the customer up at once."""
        if not b.metric_changed:
            return
        idx, day = b.idx, self.day
        qual = self.qualified(self.metric[idx])
        if self.status is not None and b.metric_moved is not None:
            self.status.earned_again(idx, b.metric_moved, qual, self.tier[idx], self.date.year)
        up = qual > self.tier[idx]
        if up.any():
            u = idx[up]
            self.tier[u] = qual[up]
            self.tier_since[u] = day
            self.grace_start[u] = -1

    def _budget_at_risk(self, kind: str, idx: np.ndarray, data: dict[str, np.ndarray]) -> np.ndarray | None:
        """The customers of this batch who could take the last of a rule's global budget (None:
        the batch cannot spend any budget that is left). For each budgeted rule in its window with
        budget left, the customers its condition holds for are compared with what is left, by a
        bound on what they can take, one term per point source (`BOUND_TERMS`): each one's
        amount × every rate of the event's rules × every multiplier (tiers' and rules'), plus
        every fixed award and 1 for each rounding, and for a money budget the amount (discounts)
        and every perk on top."""
        specs = [sp for sp in self.plan.by_event.get(kind, []) if sp.rule.budget is not None]
        d = self.date
        specs = [sp for sp in specs if (sp.rule.start is None or d >= sp.rule.start)
                 and (sp.rule.end is None or d <= sp.rule.end) and self.budget_left(sp) > 0]
        if not specs:
            return None
        event_specs = self.plan.by_event.get(kind, [])
        bound = _Bound()
        for _source, term in self._bound_terms:
            term(bound, event_specs, self)
        rate, mult, fixed = bound.rate, bound.factor, bound.fixed + bound.roundings
        perks = sum(c for sp in event_specs for _, c in sp.perks)
        amount = data.get("amount")
        ctx = self.context(idx, data)  # conditions read the state before the event: nothing changes
        at_risk = np.zeros(idx.size, dtype=bool)
        for sp in specs:
            m = np.broadcast_to(evaluate(sp.rule.condition, ctx), (idx.size,))
            count = int(np.count_nonzero(m))
            if count == 0:
                continue
            cents = int(amount[m].sum()) if amount is not None else 0
            units = int(np.asarray(data["quantity"])[m].sum()) if "quantity" in data else 0
            points = ceil((cents * rate + units * bound.per_quantity) * mult) + count * fixed
            if sp.rule.budget.points is not None:
                need = points
            else:
                need = cents + count * perks + points * Fraction(self.p.point_cost_cents)
            if need >= self.budget_left(sp):
                at_risk |= m
        return at_risk if at_risk.any() else None

    def _apply_in_turn(self, kind: str, idx: np.ndarray, data: dict[str, np.ndarray],
                       at_risk: np.ndarray) -> np.ndarray:
        """`apply` with the customers who could take the last of a budget one by one, in index
        order; the others (no budgeted rule applies to them) together. Only budgets couple
        customers, so this gives what applying the batch one customer at a time gives."""
        k = idx.size
        total = np.zeros(k, dtype=np.int64)
        disc = np.zeros(k, dtype=np.int64)
        moved: dict[str, np.ndarray] = {}
        bal = {name: np.zeros(k, dtype=np.int64) for name in self.bal_issued}

        def part(rows: np.ndarray) -> None:
            sub = {key: (v[rows] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == k else v)
                   for key, v in data.items()}
            total[rows] = self.apply(kind, idx[rows], sub)
            if self.last_discount is not None and "amount" in data:
                disc[rows] = self.last_discount
            for key, arr in self.last_moved.items():
                moved.setdefault(key, np.zeros(k, dtype=np.int64))[rows] = arr
            for name, arr in self.last_balances.items():
                bal[name][rows] = arr

        rest = np.flatnonzero(~at_risk)
        if rest.size:
            part(rest)
        for i in np.flatnonzero(at_risk).tolist():
            part(np.array([i]))
        if "amount" in data:
            self.last_discount = disc if self.any_discounts else None
        if kind == "purchase" and self.p.returns.lower_metrics:
            self.last_moved = moved
        if bal:
            self.last_balances = bal
        return total

    def budget_left(self, spec: RuleSpec):
        b = spec.rule.budget
        if spec.name not in self.budgets:
            self.budgets[spec.name] = int(b.points) if b.points is not None else Fraction(b.cents or 0)
        return self.budgets[spec.name]

    def _budget_cut(self, spec: RuleSpec, m: np.ndarray, pts: np.ndarray, disc: np.ndarray | None) -> None:
        """Global budget (§4.2 step 8), customer by customer in index order."""
        b = spec.rule.budget
        left = self.budget_left(spec)
        pc = Fraction(self.p.point_cost_cents)
        perk = sum(c for _, c in spec.perks)
        for i in np.flatnonzero(m).tolist():
            want = int(pts[i])
            if b.points is not None:
                allowed = max(int(left), 0)
            elif pc > 0:
                dc = int(disc[i]) if disc is not None else 0
                allowed = int((max(left - dc - perk, 0)) // pc)
            else:
                allowed = want
            got = min(want, allowed)
            pts[i] = got
            if b.points is not None:
                left -= got
            else:
                dc = int(disc[i]) if disc is not None else 0
                left -= dc + perk + got * pc
        self.budgets[spec.name] = left

    def _bonus(self, R: np.ndarray, pnum: np.ndarray, pden: np.ndarray, f: Fraction, add: bool, mode: str) -> np.ndarray:
        D = self.plan.common_den
        if add:
            return fits_int64(round_div(mul(R, f.numerator - f.denominator), D * f.denominator, mode))
        num = mul(R, pnum, f.numerator - f.denominator)
        den = mul(pden, D * f.denominator)
        return fits_int64(round_div(num, den, mode))

    def _period_value(self, arr: np.ndarray, pid: np.ndarray, idx: np.ndarray, period: str) -> np.ndarray:
        """Current-period usage for `idx`, resetting usage recorded in an earlier period."""
        cur = period_id(self.date, period)
        stale = idx[pid[idx] != cur]
        arr[stale] = 0
        pid[stale] = cur
        return arr[idx]

    def _streak(self, spec: RuleSpec, idx: np.ndarray, m: np.ndarray) -> np.ndarray:
        st = spec.rule.streak
        cur = streak_period(self.date, st.period)
        last, run = self.streak_last[spec.index], self.streak_run[spec.index]
        sel = idx[m]
        lp = last[sel]
        same = lp == cur
        nxt = lp == cur - 1
        run[sel] = np.where(same, run[sel], np.where(nxt, run[sel] + 1, 1))
        last[sel] = cur
        done = (~same) & (run[sel] >= st.length)
        run[sel[done]] = 0
        out = np.zeros_like(m)
        out[np.flatnonzero(m)[done]] = True
        return out

    def first_event(self, idx: np.ndarray) -> None:
        """With a declared `activity` that leaves some events out, the inactivity clock starts
        on the day before each customer's first event (the interpreter's starting state)."""
        if self.unseen is None:
            return
        new = idx[self.unseen[idx]]
        if new.size == 0:
            return
        self.unseen[new] = False
        before = self.date - dt.timedelta(days=1)
        for k, due in self.inact_due.items():
            months = self.plan.expiry_sets[k].inactivity_months
            due[new] = self.cal.day_of(add_months(before, months))

    def _activity(self, idx: np.ndarray, day: int) -> None:
        if idx.size == 0:
            return
        for k, due in self.inact_due.items():
            due[idx] = self.plan.expiry_sets[k].inactive_due[day]

    def open_balances(self, idx: np.ndarray, points: np.ndarray) -> None:
        """Opening balances (a program already running): a lot earned on the first simulated day,
        spendable at once; the inactivity clock starts on that day."""
        if idx.size == 0:
            return
        self.opening[idx] += points
        self.lots.add_opening(idx, self.plan.slot_of_day(0), points)
        for k, due in self.inact_due.items():
            due[idx] = self.plan.expiry_sets[k].inactive_due[0]

    # ------------------------------------------------------------ redemption (§8)
    def redeem(self, idx: np.ndarray, reward: ir.Reward) -> None:
        self.first_event(idx)
        if "redemption" in self.p.activity and reward.price > 0:
            self._activity(idx, self.day)
        self.lots.burn(idx, np.full(idx.size, reward.price, dtype=np.int64))
        self.redeemed[idx] += reward.price
        self.reward[idx] += reward.cost_cents
        self.redeemed_ever[idx] = True
        if reward.voucher_cents is not None and reward.valid is not None and self.vouchers is not None:
            end = self.cal.day_of(voucher_end(reward.valid, reward.valid_unit, self.date))
            self.vouchers.issue(idx, np.ones(idx.size, dtype=np.int64), end, reward.voucher_cents)

    def pay(self, idx: np.ndarray, cents: np.ndarray) -> None:
        pwp = self.p.pay_with_points
        pts = -((-cents * pwp.points) // pwp.cents)
        self.first_event(idx)
        if "redemption" in self.p.activity:
            self._activity(idx[pts > 0], self.day)
        self.lots.burn(idx, pts)
        self.redeemed[idx] += pts
        pc = Fraction(self.p.point_cost_cents)
        self.pay_cents[idx] += (2 * pts * pc.numerator + pc.denominator) // (2 * pc.denominator)
        self.redeemed_ever[idx] = True

    def pay_most(self, idx: np.ndarray, baskets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Customers `idx` pay with points as much of their baskets (`baskets` cents) as the
        program allows: at most its share of the basket, at most what the available points
        buy, only from the minimum balance up. Returns (who paid, cents paid)."""
        pwp = self.p.pay_with_points
        avail = self.lots.available(idx)
        ok = avail >= pwp.minimum_balance
        share = (baskets * pwp.max_share.numerator) // (100 * pwp.max_share.denominator)
        by_points = (avail * pwp.cents) // pwp.points
        cents = np.minimum(share, by_points)
        ok &= cents > 0
        idx, cents = idx[ok], cents[ok]
        if idx.size:
            self.pay(idx, cents)
        return idx, cents

    def use_perk(self, idx: np.ndarray, cost_cents: int) -> None:
        self.first_event(idx)
        self.perk[idx] += cost_cents


# One step of `ProgramArm.apply` per point source (docs/semantics.md §4.2 steps 5-7).
SOURCE_STEPS = {
    ir.RATE_AWARD: ProgramArm.rate_awards,
    ir.QUANTITY_AWARD: ProgramArm.quantity_awards,
    ir.TIER_MULTIPLIER: ProgramArm.tier_multiplier,
    ir.RULE_MULTIPLIER: ProgramArm.rule_multipliers,
    ir.FIXED_AWARD: ProgramArm.fixed_awards,
}


@dataclass
class _Bound:
    """A bound on the points one customer's event can earn: amount (cents) × `rate` × `factor`
    + `fixed` + `roundings` (each rounding of a rule's points or a bonus adds at most 1)."""

    rate: Fraction = Fraction(0)
    per_quantity: Fraction = Fraction(0)  # points per unit of the purchase's `quantity`
    factor: Fraction = Fraction(1)
    fixed: int = 0
    roundings: int = 1


def _bound_rates(b: _Bound, specs: list[RuleSpec], arm: ProgramArm) -> None:
    top = max((r for r in tier_rates(arm.p.tiers) if r is not None), default=Fraction(0))
    for sp in specs:
        b.rate += sum((max(Fraction(rs.num, rs.den), top) for rs in sp.rates), Fraction(0))
        b.roundings += bool(sp.rates)


def _bound_quantities(b: _Bound, specs: list[RuleSpec], arm: ProgramArm) -> None:
    for sp in specs:
        b.per_quantity += sum((Fraction(qs.num, qs.den) for qs in sp.quantities), Fraction(0))
        b.roundings += bool(sp.quantities)


def _bound_tier_multiplier(b: _Bound, specs: list[RuleSpec], arm: ProgramArm) -> None:
    if arm.tier_mult is not None:
        b.factor *= max(Fraction(int(n), int(dd)) for n, dd in zip(*arm.tier_mult))
        b.roundings += 1


def _bound_rule_multipliers(b: _Bound, specs: list[RuleSpec], arm: ProgramArm) -> None:
    for sp in specs:
        for f in sp.multipliers:
            b.factor *= max(f, Fraction(1))
            b.roundings += 1


def _bound_fixed(b: _Bound, specs: list[RuleSpec], arm: ProgramArm) -> None:
    b.fixed += sum(max(pts, 0) for sp in specs for pts, _ in sp.fixed)


# What each point source can add at most, for the global-budget bound (`_budget_at_risk`).
BOUND_TERMS = {
    ir.RATE_AWARD: _bound_rates,
    ir.QUANTITY_AWARD: _bound_quantities,
    ir.TIER_MULTIPLIER: _bound_tier_multiplier,
    ir.RULE_MULTIPLIER: _bound_rule_multipliers,
    ir.FIXED_AWARD: _bound_fixed,
}


def streak_period(d: dt.date, period: str) -> int:
    if period == "day":
        return d.toordinal()
    if period == "week":
        return (d.toordinal() - d.weekday()) // 7
    return month_index(d)


def days_from_birthday(doy: np.ndarray, d: dt.date) -> np.ndarray:
    """Days from `d` to the nearest birthday (a non-leap day-of-year), 366 when unknown."""
    out = np.full(doy.size, 366, dtype=np.int64)
    known = doy >= 0
    if not known.any():
        return out
    best = np.full(doy.size, 10**6, dtype=np.int64)
    dd = doy[known].astype(np.int64)
    for year in (d.year - 1, d.year, d.year + 1):
        base = dt.date(year, 1, 1).toordinal()
        leap = 1 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 0
        ords = base + dd + np.where(dd >= 59, leap, 0)
        dist = np.abs(ords - d.toordinal())
        best[known] = np.minimum(best[known], dist)
    out[known] = best[known]
    return out


def encode_values(raw: np.ndarray | None, atype: str, n: int, strings: StringTable) -> np.ndarray:
    """Population attribute values in the engine's representation (defaults when missing)."""
    if raw is None:
        if atype == "string":
            return np.zeros(n, dtype=np.int64)
        if atype == "bool":
            return np.zeros(n, dtype=bool)
        return np.zeros(n, dtype=np.float64 if atype == "number" else np.int64)
    if atype == "string":
        return np.array([strings.code("" if v is None else str(v)) for v in raw], dtype=np.int64)
    if atype == "bool":
        return np.array([bool(v) if v is not None else False for v in raw], dtype=bool)
    if atype == "money":
        return np.array([int(round(float(v) * 100)) if v is not None else 0 for v in raw], dtype=np.int64)
    if atype == "date":
        return np.array([(v.toordinal() if isinstance(v, dt.date) else 0) for v in raw], dtype=np.int64)
    return np.array([float(v) if v is not None else 0.0 for v in raw], dtype=np.float64)


def _meet(a: tuple[int, ...] | None, b: tuple[int, ...]) -> tuple[int, ...]:
    """The category codes in both (`a` None: all of `b`)."""
    return b if a is None else tuple(sorted(set(a) & set(b)))
