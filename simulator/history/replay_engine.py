"""Run a program over a recorded history: the vectorized program arm fed with real events.

Takes: a `Feed` (`simulator.history.feed`), the compiled `ir.Program` and `ReplayOptions`.
Gives: `HistoryResult` — integer monthly series (points issued, redeemed, expired,
reversed, outstanding, available; discounts, rewards, points payments, perks, vouchers in
cents; purchases, revenue, returns, refunds, buyers, members), the tier mix at each month
end, and every customer's final ledger (for the check against the interpreter).

This is the engine of `loyalty simulate` without its behaviour model: `ProgramArm` (rule
evaluation, calendar work, lots, the order book for returns) is driven day by day exactly as
`simulator.engine.day_loop.ChunkSim` drives it, but the day's purchases and returns come from the
file, batch by batch (`Feed.batches`), instead of from draws. Each day: the calendar work,
signups, birthdays, then the day's batches in order; a purchase that will be returned opens
its row in the order book right after it earns (as the engine does); redemptions follow
the `ReplayOptions.redeem` policy right after the purchase, and under `when-affordable` a held
voucher with a life is spent at each purchase.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from rulelang import ir
from rulelang.diagnostics import Diagnostic

from simulator.engine.calendar import Calendar
from simulator.model.strings import StringTable
from simulator.engine.event_days import birthdays_on, day_order, on_day, open_orders, reversal_target, reverse_orders
from simulator.history.feed import UNKNOWN_REWARD, Feed, ReplayError, ReplayOptions, _span
from simulator.engine.program_plan import CARRIED_FIELDS, build_plan
from simulator.engine.undo import requalify, undo_returns
from simulator.engine.program_arm import ProgramArm

MONTHLY = ("purchases", "revenue_cents", "returns", "refund_cents", "buyers", "members", "new_members",
           "points_issued", "points_redeemed", "points_expired", "points_reversed", "points_outstanding",
           "points_available", "discount_cents", "discount_returned_cents", "reward_cents",
           "points_payment_cents", "perk_cents", "voucher_cents", "rewards_redeemed", "points_payments")
FLOWS = {"points_issued": "issued", "points_redeemed": "redeemed", "points_expired": "expired",
         "points_reversed": "reversed", "discount_cents": "discount", "reward_cents": "reward",
         "points_payment_cents": "pay_cents", "perk_cents": "perk", "voucher_cents": "voucher"}
LEDGER = ("issued", "redeemed", "expired", "reversed", "outstanding", "available", "pending",
          "discount_cents", "perk_cents", "reward_cents", "voucher_cents", "points_payment_cents")


@dataclass
class HistoryResult:
    """What the program did over the history (all integers: points, cents, counts)."""

    program: str
    currency: str
    points_unit: str
    point_cost_cents: float
    start: dt.date
    end: dt.date
    months: list[str]
    monthly: dict[str, np.ndarray]
    tier_names: list[str]
    tier_counts: np.ndarray  # (months, tiers): members by the tier they hold at month end
    customer_ids: np.ndarray
    ledgers: dict[str, np.ndarray]  # LEDGER field -> per customer; "tier" -> tier index
    enroll_day: np.ndarray
    redeem_policy: str
    reward: str | None
    warnings: list[Diagnostic] = field(default_factory=list)
    unmatched_returns: int = 0
    # balances beside the points: name -> issued / expired / reversed / outstanding per customer
    balances: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def ledger_of(self, c: int) -> dict:
        out = {k: int(self.ledgers[k][c]) for k in LEDGER}
        out["tier"] = self.tier_names[int(self.ledgers["tier"][c])] if self.tier_names else None
        if self.balances:
            out["balances"] = {name: {k: int(v[c]) for k, v in cols.items()} for name, cols in self.balances.items()}
        return out


def month_labels(start: dt.date, months: int) -> list[str]:
    y, m = start.year, start.month
    out = []
    for _ in range(months):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def pick_reward(program: ir.Program, options: ReplayOptions) -> ir.Reward | None:
    """The reward the `when-affordable` policy redeems: the one named, else the cheapest (by name on a tie)."""
    if options.reward is not None:
        found = next((r for r in program.rewards if r.name == options.reward), None)
        if found is None:
            names = ", ".join(r.name for r in program.rewards) or "none"
            raise ReplayError([Diagnostic(UNKNOWN_REWARD, "error", f"the program has no reward `{options.reward}`",
                                          _span("<options>"), f"rewards of this program: {names}")])
        return found
    rewards = sorted(program.rewards, key=lambda r: (r.price, r.name))
    return rewards[0] if rewards else None


class HistoryRun:
    """One program over one feed (see the module docstring)."""

    def __init__(self, program: ir.Program, feed: Feed, strings: StringTable, options: ReplayOptions,
                 budgets: dict | None = None):
        self.program, self.feed, self.strings, self.options = program, feed, strings, options
        self.cal = Calendar.make(feed.start, feed.days)
        self.plan = build_plan(program, self.cal, strings)
        n = feed.n_customers
        self.enroll = feed.enroll_day.copy()
        self.arm = ProgramArm(self.plan, n, strings, self.enroll, feed.bday_doy, feed.attributes,
                              budgets if budgets is not None else {}, bool(feed.is_return.any()))
        self.reward = pick_reward(program, options) if options.redeem == "when-affordable" else None
        self.uses_vouchers = options.redeem == "when-affordable" and ir.vouchers_with_a_life(program)
        self.pays = (options.redeem == "when-affordable" and self.reward is None
                     and program.pay_with_points is not None)
        rows = feed.cust.size
        self.earned = np.zeros(rows, dtype=np.int64)
        self.disc = np.zeros(rows, dtype=np.int64)
        self.book_id = np.full(rows, -1, dtype=np.int64)
        self.rev_done = np.zeros(rows, dtype=np.int64)
        # `returns lower tier metric and counters`: what each purchase added, and what returns undid
        keys = ("metric", *("counter." + c.name for c in program.counters)) if program.returns.lower_metrics else ()
        self.moved = {k: np.zeros(rows, dtype=np.int64) for k in keys}
        self.undone = {k: np.zeros(rows, dtype=np.int64) for k in (*keys, "purchase")} if keys else {}
        # balances beside the points: what each purchase row earned of each, and what returns took back
        self.bal_earned = {b.name: np.zeros(rows, dtype=np.int64) for b in program.balances}
        self.bal_rev_done = {b.name: np.zeros(rows, dtype=np.int64) for b in program.balances}
        self.last_month = np.full(n, -1, dtype=np.int64)
        months = self.cal.months
        self.mon = {k: np.zeros(months, dtype=np.int64) for k in MONTHLY}
        self.ntiers = len(program.tiers.tiers) if program.tiers else 0
        self.tier_counts = np.zeros((months, max(self.ntiers, 1)), dtype=np.int64)
        self.prev = {k: 0 for k in FLOWS}
        counted = {c.event for c in program.counters}
        self.applied = set(self.plan.by_event) | counted
        self.en_order, self.en_bounds = day_order(self.enroll, feed.days)
        self.bd_order, self.bd_bounds = day_order(feed.bday_doy, 366)

    # ------------------------------------------------------------ driving
    def run(self) -> HistoryResult:
        feed, cal, arm = self.feed, self.cal, self.arm
        month_of_day = self.plan.month_of_day
        first_batch = np.searchsorted(feed.batch_day, np.arange(feed.days + 1))
        birthdays = "birthday" in self.applied
        for day in range(feed.days):
            mo = int(month_of_day[day])
            arm.calendar(day)
            self._signups(day, mo)
            if birthdays:
                self._birthdays(day)
            for b in range(int(first_batch[day]), int(first_batch[day + 1])):
                lo, hi = int(feed.batches[b]), int(feed.batches[b + 1])
                if feed.is_return[lo]:
                    self._returns(lo, hi, day, mo)
                else:
                    self._purchases(lo, hi, day, mo)
            if day == feed.days - 1 or cal.date(day + 1).day == 1:
                self._month_end(mo, day)
        return self._result()

    def _signups(self, day: int, mo: int) -> None:
        who = on_day(self.en_order, self.en_bounds, day)
        if who.size == 0:
            return
        self.mon["new_members"][mo] += who.size
        who = who[self.feed.signup_event[who]]
        if who.size and "signup" in self.applied:
            self.arm.apply("signup", who, {})

    def _birthdays(self, day: int) -> None:
        who = birthdays_on(self.cal.date(day), self.bd_order, self.bd_bounds, self.enroll, day)
        if who.size:
            self.arm.apply("birthday", who, {})

    def _data(self, sl: slice, keep: np.ndarray) -> dict[str, np.ndarray]:
        f = self.feed
        k = int(np.count_nonzero(keep))
        # each built-in field the history records, else the field's engine default (rulelang.fields)
        data = {b.name: getattr(f, b.name)[sl][keep] if hasattr(f, b.name)
                else np.full(k, b.engine_default, dtype=np.int64) for b in CARRIED_FIELDS}
        data["hour"] = f.hour[sl][keep]
        return data

    def _purchases(self, lo: int, hi: int, day: int, mo: int) -> None:
        f, arm, mon = self.feed, self.arm, self.mon
        sl = slice(lo, hi)
        c = f.cust[sl]
        mon["purchases"][mo] += hi - lo
        mon["revenue_cents"][mo] += int(f.amount[sl].sum())
        mon["buyers"][mo] += int(np.count_nonzero(self.last_month[c] != mo))
        self.last_month[c] = mo
        mem = self.enroll[c] <= day
        if not mem.any():
            return
        pos = np.arange(lo, hi)[mem]
        mc = c[mem]
        data = self._data(sl, mem)
        earned = arm.apply("purchase", mc, data)
        self.earned[pos] = earned
        if arm.last_discount is not None:
            self.disc[pos] = arm.last_discount
        for key, col in self.moved.items():
            if key in arm.last_moved:
                col[pos] = arm.last_moved[key]
        for name, arr in arm.last_balances.items():
            self.bal_earned[name][pos] = arr
        if arm.reverses:
            track = np.flatnonzero((f.returns_left[pos] > 0) & (earned > 0))
            if track.size:
                self.book_id[pos[track]] = open_orders(arm, mc[track], day, earned[track])
        if self.reward is not None:
            can = mc[arm.lots.available(mc) >= self.reward.price]
            if can.size:
                arm.redeem(can, self.reward)
                mon["rewards_redeemed"][mo] += can.size
        elif self.pays:
            paid, _ = arm.pay_most(mc, data["amount"])
            mon["points_payments"][mo] += paid.size
        if self.uses_vouchers:  # a held voucher with a life is spent at the purchase
            arm.use_vouchers(arm.vouchers.holders(mc))  # type: ignore[union-attr]

    def _returns(self, lo: int, hi: int, day: int, mo: int) -> None:
        f, arm, mon = self.feed, self.arm, self.mon
        sl = slice(lo, hi)
        returned = f.amount[sl]
        mon["returns"][mo] += hi - lo
        mon["refund_cents"][mo] += int(returned.sum())
        mon["revenue_cents"][mo] -= int(returned.sum())
        o = f.order_pos[sl]
        matched = o >= 0
        om = np.maximum(o, 0)
        whole = np.where(matched, f.amount[om], 0)
        # the returned part's share of the purchase's instant discount is no longer a cost (round down)
        mon["discount_returned_cents"][mo] += int(np.where(matched, self.disc[om] * returned // np.maximum(whole, 1),
                                                           0).sum())
        mem = self.enroll[f.cust[sl]] <= day
        if not mem.any():
            return
        c = f.cust[sl][mem]
        data = self._data(sl, mem)
        data["balance"] = arm.lots.outstanding[c].copy()
        if arm.reverses:
            o, om, matched, whole, returned = o[mem], om[mem], matched[mem], whole[mem], returned[mem]
            earned = np.where(matched, self.earned[om], 0)
            target = reversal_target(returned, whole, earned)  # (a returned amount is never negative)
            target = np.minimum(target, earned - np.where(matched, self.rev_done[om], 0))
            book = np.where(matched, self.book_id[om], -1)
            last = f.returns_left[sl][mem] == 0
            go = (target > 0) | ((book >= 0) & last)
            if go.any():
                done = reverse_orders(arm, c[go], target[go], f.day[om[go]], book[go], day, keep_open=~last[go])
                self.rev_done[om[go]] += done
            if self.bal_earned:  # each balance: the returned share, less what earlier parts took back
                earned_b = {name: np.where(matched, arr[om], 0) for name, arr in self.bal_earned.items()}
                before = {name: np.where(matched, arr[om], 0) for name, arr in self.bal_rev_done.items()}
                done_b = arm.reverse_balances(c, returned, np.where(matched, whole, 0), earned_b, before)
                for name, done in done_b.items():
                    np.add.at(self.bal_rev_done[name], om[matched], done[matched])
        if "return" in self.applied:
            arm.apply("return", c, data)
        if self.moved:
            self._undo(sl, mem, c, day)

    def _undo(self, sl: slice, mem: np.ndarray, c: np.ndarray, day: int) -> None:
        """The returned share of what each order added to the metric and counters (simulator.engine.undo)."""
        f, arm = self.feed, self.arm
        o = f.order_pos[sl][mem]
        matched = o >= 0
        om = np.maximum(o, 0)
        returned = f.amount[sl][mem]
        whole = np.where(matched, f.amount[om], 0)
        moved = {k: np.where(matched, v[om], 0) for k, v in self.moved.items()}
        undone = {k: np.where(matched, v[om], 0) for k, v in self.undone.items()}
        taken = undo_returns(arm, c, returned, whole, f.day[om], moved, undone)
        for k, v in taken.items():
            if k in self.undone:
                np.add.at(self.undone[k], om[matched], v[matched])
        requalify(arm, c, taken)

    def _month_end(self, mo: int, day: int) -> None:
        arm, mon = self.arm, self.mon
        for key, attr in FLOWS.items():
            total = int(getattr(arm, attr).sum())
            mon[key][mo] = total - self.prev[key]
            self.prev[key] = total
        outstanding = int(arm.lots.outstanding.sum())
        mon["points_outstanding"][mo] = outstanding
        mon["points_available"][mo] = outstanding - int(arm.lots.pending.sum())
        members = np.flatnonzero(self.enroll <= day)
        mon["members"][mo] = members.size
        if self.ntiers:
            self.tier_counts[mo] = np.bincount(arm.tier[members], minlength=self.ntiers)[:self.ntiers]
        else:
            self.tier_counts[mo, 0] = members.size

    def _result(self) -> HistoryResult:
        arm, p, f = self.arm, self.program, self.feed
        lots = arm.lots
        ledgers = {
            "issued": arm.issued, "redeemed": arm.redeemed, "expired": arm.expired, "reversed": arm.reversed,
            "outstanding": lots.outstanding.copy(), "pending": lots.pending.copy(),
            "available": lots.outstanding - lots.pending, "discount_cents": arm.discount, "perk_cents": arm.perk,
            "reward_cents": arm.reward, "voucher_cents": arm.voucher, "points_payment_cents": arm.pay_cents,
            "tier": arm.tier,
        }
        names = [t.name for t in p.tiers.tiers] if p.tiers else []
        from fractions import Fraction

        return HistoryResult(p.name, p.currency, p.points_unit, float(Fraction(p.point_cost_cents)), f.start, f.end,
                             month_labels(f.start, self.cal.months), self.mon, names, self.tier_counts,
                             f.customer_ids, ledgers, self.enroll, self.options.redeem,
                             self.reward.name if self.reward is not None else None, list(f.warnings),
                             f.unmatched_returns,
                             {name: {"issued": arm.bal_issued[name].copy(), "expired": arm.bal_expired[name].copy(),
                                     "reversed": arm.bal_reversed[name].copy(),
                                     "outstanding": arm.bal_outstanding(name)} for name in arm.bal_issued})


def replay(program: ir.Program, feed: Feed, strings: StringTable, options: ReplayOptions = ReplayOptions()) -> HistoryResult:
    """Run `program` over `feed` (the strings table must be the one the feed was built with)."""
    return HistoryRun(program, feed, strings, options).run()


__all__ = ["HistoryResult", "HistoryRun", "LEDGER", "MONTHLY", "month_labels", "pick_reward", "replay"]
