"""The program arm's events other than purchases on the compiled kernel.

Takes: the chunk's `PurchaseKernel` (simulator.kernel.dispatch: its stacked state and day values),
the `ProgramArm` and an event kind: `signup`, `referral` (a batch of one side: its `role` column
names `referrer` or `referee`), `birthday`, a custom event (its `event.<field>` columns), `return`
(the returned amount, the order's basket fields, and the `balance` before the return's reversal).
Gives: `event_kernel(pk, arm, kind)` -> an `EventKernel` (None: the kind stays on the numpy path,
`coverage.kind_reasons` says why), whose `apply(arm, idx, data)` is `ProgramArm.apply(kind, idx,
data)` bit for bit, run by `purchase.purchase_batch` on the kind's own `KernelTables`
(docs/semantics.md §4.1-4.2): an event without an amount has nothing for rates, awards per quantity
and discounts to take (the kernel reads an amount of 0, and the arm's last discount stays as it is);
a return's goods are its returned amount (no shipping comes off); a tier's own rate, its discount,
the purchase count, the `purchase` activity and a tier metric of spend or purchases move on
purchases only; a rule that only awards referral sides fires for the side the batch's role names,
and a fixed award `to referrer` / `to referee` only on that side; the return's `balance` reads the
column the day loop hands over. The kind's per-rule state (caps, limits, every-Nth, streaks) is
stacked like the purchase rules' (rows the arm's dictionaries keep as views); counters, balances,
lots, tiers and inactivity clocks are the purchase kernel's arrays. No random numbers are drawn.
"""

from __future__ import annotations

import weakref
from fractions import Fraction

import numpy as np

from rulelang.limits import MAX_EVENT_POINTS
from simulator.engine.exact import ExactRangeError
from simulator.kernel.conditions import EVENT_COLUMNS, GOODS, PUSH_COL, PUSH_STATE, STATE_FIELDS, Unsupported
from simulator.kernel.coverage import event_fields, kind_reasons
from simulator.kernel.dispatch import BUDGET_SAFE, _stack, _stack_rules
from simulator.kernel.purchase import P_ACT_BUY, P_ANYDISC, P_COUNT_BUY, P_METRIC, P_METRIC_OF, P_NGROUPS, P_TDISC, \
    purchase_batch
from simulator.kernel.tables import KernelTables

BALANCE = STATE_FIELDS.index("balance")
EXACT = 2.0**53  # an event column beyond this is not exact as a float64: the batch takes the numpy path


def event_kernel(pk, arm, kind: str) -> "EventKernel | None":
    if kind == "purchase" or kind_reasons(pk.plan, kind):
        return None
    try:
        return EventKernel(pk, arm, kind)
    except Unsupported:
        return None


class EventKernel:
    def __init__(self, pk, arm, kind: str):
        self.fn = purchase_batch
        self.pk = weakref.proxy(pk)  # pk owns this kernel: a strong reference back would be a cycle
        self.kind = kind
        plan = pk.plan
        t = self.t = KernelTables(plan, arm.strings, kind=kind, event_fields=event_fields(plan, kind))
        if kind == "return":  # `balance`: what the customer held before the return (the day loop's column)
            col = len(t.columns)
            t.columns.append("balance")
            for pc in range(t.op.size):
                if t.op[pc] == PUSH_STATE and t.arg[pc] == BALANCE:
                    t.op[pc], t.arg[pc] = PUSH_COL, col
        n = arm.n
        self.cap_used = _stack(arm.cap_used, t.cap_keys, n)
        self.cap_pid = _stack(arm.cap_pid, t.cap_keys, n)
        self.lim_used = _stack(arm.lim_used, t.lim_keys, n)
        self.lim_pid = _stack(arm.lim_pid, t.lim_keys, n)
        self.nth = _stack_rules(arm.nth, t.specs, n)
        self.streak_last = _stack_rules(arm.streak_last, t.specs, n)
        self.streak_run = _stack_rules(arm.streak_run, t.specs, n)
        if t.counter_names != pk.t.counter_names or t.balance_names != pk.t.balance_names:
            raise Unsupported("counters or balances laid out unlike the purchase kernel's")
        everyone = np.arange(n)
        attrs = [np.asarray(arm.attribute(a, at, everyone), dtype=np.float64) for a, at in t.attributes]
        self.attrs = np.stack(attrs) if attrs else np.zeros((1, 1))
        self.exact = all(np.all(np.abs(a) < EXACT) for a in attrs)
        self.any_discounts = bool(arm.any_discounts)  # the numpy path's switch (every rule's discounts)
        self.sides: dict[str | None, tuple[np.ndarray, np.ndarray]] = {}
        # the budgeted rules: (row, spec, a money budget); a points budget is an int
        self.budgeted = [(r, s, t.budget_kind[r] == 2) for r, s in enumerate(t.specs) if t.budget_kind[r] != 0]
        self.most_perk = int(t.perk_cost.max(initial=0))
        self.no_columns = np.zeros((0, 1))
        self.no_budgets = np.zeros(max(len(t.specs), 1), dtype=np.int64)  # no budget: never read
        self._day = -1
        # the day's values change with the day only for windows, streaks and a rolling tier window
        self.daily = any(s is not None or e is not None for s, e in t.windows) or any(t.streak_period) \
            or arm.window is not None

    def _side(self, role: str | None) -> tuple[np.ndarray, np.ndarray]:
        """Per rule, for a batch of one referral side (None: an event without a role): its fixed
        points (to the customer, and to that side) and whether the rule is skipped (it awards
        only other sides)."""
        got = self.sides.get(role)
        if got is None:
            specs = self.t.specs
            fixed = np.array([sum(pts for pts, to in s.fixed if to == "customer" or (role is not None and to == role))
                              for s in specs] or [0], dtype=np.int64)[:len(specs)]
            skip = np.array([1 if s.sides and role not in s.sides else 0 for s in specs] or [0],
                            dtype=np.int64)[:len(specs)]
            got = self.sides[role] = (fixed, skip)
        return got

    def _day_values(self, arm) -> None:
        from simulator.engine.program_arm import streak_period
        d = arm.date
        t = self.t
        self._day = arm.day
        self.active = np.array([int((s is None or d >= s) and (e is None or d <= e)) for s, e in t.windows],
                               dtype=np.int64)
        self.streak_cur = np.array([streak_period(d, per) if per else 0 for per in t.streak_period], dtype=np.int64)
        # the program's values (`purchase.P_*`) for this kind, without an amount and with one (a return):
        # the purchase kernel's of today (the row of a rolling window) with what only purchases move
        prog = self.pk.prog.copy()
        prog[P_TDISC] = 0
        prog[P_METRIC] = t.metric_kind
        prog[P_METRIC_OF] = t.metric_of
        prog[P_NGROUPS] = t.n_groups
        prog[P_ACT_BUY] = 0
        prog[P_COUNT_BUY] = 0
        prog[P_ANYDISC] = 0
        with_amount = prog.copy()
        with_amount[P_ANYDISC] = int(self.any_discounts)
        self.prog = (prog, with_amount)

    def _budgets_in(self, arm, amount: np.ndarray | None) -> np.ndarray | None:
        """What is left of each rule's global budget, as `PurchaseKernel._budgets_in` (None: beyond
        int64); `amount` None: the event has none."""
        t = self.t
        left = np.zeros(max(len(t.specs), 1), dtype=np.int64)
        most = int(amount.max()) if amount is not None else 0
        if (most + self.most_perk) * t.pc_den >= BUDGET_SAFE:
            return None
        for r, spec, money in self.budgeted:
            have = arm.budget_left(spec)
            if money:
                have = Fraction(have) * t.pc_den
                if have.denominator != 1:
                    return None
            if abs(have) >= BUDGET_SAFE:
                return None
            left[r] = int(have)
        return left

    def _columns(self, arm, idx: np.ndarray, data: dict, amount: np.ndarray) -> np.ndarray | None:
        """The condition columns (None: a value beyond float64's exact integers)."""
        t = self.t
        ev = np.empty((len(t.columns), idx.size), dtype=np.float64)
        for j, name in enumerate(t.columns):
            if name == GOODS:  # the event's one line (`any line`): its amount less the order's shipping
                col = amount - data["shipping"] if "shipping" in data else amount
            elif name == "balance" and name not in data:  # a return handed over without it: the balance now
                col = arm.lots.outstanding[idx]
            else:
                col = data[name] if name in data else EVENT_COLUMNS[name]
            col = np.asarray(col)
            if col.dtype.kind in "iu" and col.size and int(np.abs(col).max()) >= EXACT:
                return None
            ev[j] = col
        return ev

    def apply(self, arm, idx: np.ndarray, data: dict) -> np.ndarray | None:
        """`ProgramArm.apply(kind, idx, data)` on the kernel; None when this batch takes the numpy path."""
        k = idx.size
        if not self.exact or "lines.amount" in data:
            return None
        t, pk = self.t, self.pk
        role_col = data.get("role")
        role = None
        if role_col is not None:
            code = int(role_col[0])
            if not np.all(role_col == code):
                return None  # one side per batch (the day loop's referrals)
            role = arm.strings.name(code)
        zeros = np.zeros(k, dtype=np.int64)  # read only: the kernel never writes its event columns
        has_amount = "amount" in data
        amount = np.ascontiguousarray(data["amount"], dtype=np.int64) if has_amount else zeros
        qty = np.ascontiguousarray(data["quantity"], dtype=np.int64) if "quantity" in data else zeros
        if (has_amount and int(np.abs(amount).max()) > t.safe_amount) or \
                (qty is not zeros and int(np.abs(qty).max()) > t.safe_amount):
            return None
        if t.columns:
            ev = self._columns(arm, idx, data, amount)
            if ev is None:
                return None
        else:
            ev = self.no_columns
        budget_left = self._budgets_in(arm, amount if has_amount else None) if t.budgeted else self.no_budgets
        if budget_left is None:
            return None
        if arm.day != pk._day:
            pk._day_values(arm)
        if arm.day != self._day and (self.daily or self._day < 0):
            self._day_values(arm)
        fixed, skip = self._side(role)
        prog = self.prog[1] if has_amount else self.prog[0]
        cat = np.ascontiguousarray(data["category"], dtype=np.int64) if "category" in data else zeros
        shipping = zeros  # a return's goods are its amount; other events have none
        total = np.zeros(k, dtype=np.int64)
        disc, inc, repaid = np.zeros((3, k), dtype=np.int64)
        cinc = np.zeros((max(len(t.counted), 1), k), dtype=np.int64)
        bal = np.zeros((max(len(t.balance_names), 1), k), dtype=np.int64)
        lots = arm.lots
        biggest = self.fn(
            np.ascontiguousarray(idx, dtype=np.int64), amount, shipping, cat, ev, arm.day, pk.slot, pk.day_vals,
            pk.bday_base, self.active, pk.period_cur, self.streak_cur,
            t.cond_flat_lo, t.cond_flat_hi, t.op, t.arg, t.consts, t.set_lo, t.set_hi, t.set_vals,
            t.rule_round, t.rule_group, skip, t.every_nth, t.streak_len, t.gives_money,
            t.rate_lo, t.rate_hi, t.rate_factor, t.rate_gross, t.rx_lo, t.rx_hi, t.rx_codes, t.ro_has, t.ro_lo,
            t.ro_hi, t.ro_codes, t.mult_lo, t.mult_hi, t.mult_num, t.mult_den, fixed, t.perk_cost,
            t.disc_lo, t.disc_hi, t.disc_pct, t.disc_num, t.disc_den, t.disc_fixed, t.disc_gross, t.dx_lo, t.dx_hi,
            t.dx_codes, t.has_rule_disc, t.cap_lo, t.cap_hi, t.cap_limit, t.cap_period, t.lim_lo, t.lim_hi,
            t.lim_limit, t.lim_period, prog, t.tier_rate, t.tier_mult_num, t.tier_mult_den, t.tier_disc_num,
            t.tier_disc_den, t.thresholds,
            arm.tier, arm.tier_since, arm.grace_start, arm.purchases, arm.metric, pk.window, arm.issued,
            arm.discount, arm.perk, lots.outstanding, lots.pending, pk.avail, pk.ring, pk.pend, pk.debt,
            pk.inact, pk.inact_due_tab, self.cap_used, self.cap_pid, self.lim_used, self.lim_pid,
            self.nth, self.streak_last, self.streak_run, pk.bday, total, disc, inc, repaid,
            t.cnt_row, t.cnt_flat_lo, t.cnt_flat_hi, t.cnt_sum_col, pk.counters, self.attrs, cinc,
            t.rule_bal, t.rate_own, pk.bal_issued, bal,
            qty, t.q_lo, t.q_hi, t.q_factor, t.qx_lo, t.qx_hi, t.qx_codes, t.qo_has, t.qo_lo, t.qo_hi, t.qo_codes,
            t.do_has, t.do_lo, t.do_hi, t.do_codes, t.mo_has, t.mo_lo, t.mo_hi, t.mo_codes,
            False, *pk.no_lines, pk.la_default,
            arm.status is not None, arm.status.year if arm.status is not None else pk.no_status, arm.date.year,
            arm.unseen is not None, arm.unseen if arm.unseen is not None else pk.no_unseen, pk.first_due,
            t.budget_kind, budget_left, t.pc_num, t.pc_den)
        if t.budgeted:
            for r, spec in enumerate(t.specs):
                if t.budget_kind[r] == 1:
                    arm.budgets[spec.name] = int(budget_left[r])
                elif t.budget_kind[r] == 2:
                    arm.budgets[spec.name] = Fraction(int(budget_left[r]), t.pc_den)
        if biggest > MAX_EVENT_POINTS:
            raise ExactRangeError(f"one {self.kind} would earn {int(biggest):,} {arm.p.points_unit}, more than "
                                  f"the {MAX_EVENT_POINTS:,} one event may earn (rulelang.limits.MAX_EVENT_POINTS)")
        if lots.cohorts is not None:  # the issue-month cohorts hear of the lots, as from `LotStore.add`
            earned = np.flatnonzero(total > 0)
            if earned.size:
                lots.cohorts.earned(idx[earned], arm.day, total[earned],
                                    repaid[earned] if lots.debt is not None else None)
        if has_amount:
            arm.last_discount = disc if self.any_discounts else None
        if t.balance_names:
            arm.last_balances = {name: bal[j] for j, name in enumerate(t.balance_names)}
        return total
