"""The engine's choice: the kernel for the program arm's purchases, or the numpy path.

Takes: the `Plan`, the chunk's `ProgramArm`, the `StringTable` and the population. Gives:
`kernel_for(...)` -> a `PurchaseKernel` bound to the arm's state (or None: numpy path; its
`event(...)` runs the other event kinds, simulator.kernel.events), and
`engine_label(plan, population)`: "kernel", or "numpy (kernel lacks: ...)" naming what forced
the numpy path (written to the report's meta.engine). The environment variable LOYALTY_ENGINE
chooses: "auto" (default: the kernel where it runs the whole program), "numpy" (never the
kernel). `PurchaseKernel` hands the kernel a batch's drawn lines and what is left of each global
budget (written back to the arm's `budgets` after the batch), and stacks the arm's per-rule state
(caps, limits, every-Nth, streaks, inactivity clocks) into 2-D arrays and puts rows of them back into the arm's dictionaries, so
the numpy steps and the kernel read and write the same memory.
"""

from __future__ import annotations

import datetime as dt
import os
from fractions import Fraction

import numpy as np

from rulelang.limits import MAX_EVENT_POINTS
from simulator.engine.calendar import add_months, month_index, period_id
from simulator.engine.exact import ExactRangeError
from simulator.engine.program_plan import Plan
from simulator.kernel.cache import announce_compile
from simulator.kernel.coverage import kernel_supports
from simulator.engine.line_attributes import KEY as ATTRIBUTE_KEY, default_value
from simulator.engine.lines import has_lines as has_lines_in
from simulator.kernel.conditions import EVENT_COLUMNS, GOODS
from simulator.kernel.tables import PERIODS, KernelTables
from simulator.model.strings import StringTable

ENV = "LOYALTY_ENGINE"
BUDGET_SAFE = 2**61  # what is left of a budget, and what one purchase spends of it, stay below this
LINES_SAFE = 2**31  # a purchase with lines above this many cents takes the numpy path: shares multiply amounts


def _numba_missing() -> str | None:
    import importlib.util
    return None if importlib.util.find_spec("numba") is not None else "numba is not installed"


def reasons(plan: Plan, population=None) -> list[str]:
    """Why the kernel does not run this program (empty: it does)."""
    choice = os.environ.get(ENV, "auto")
    if choice == "numpy":
        return [f"{ENV}=numpy"]
    missing = _numba_missing()
    if missing:
        return [missing]
    return kernel_supports(plan, population)


def kernel_compiled() -> bool:
    """Whether the kernel's machine code is already in this process or numba's disk cache (False:
    the first run on this machine, or after an upgrade, compiles it)."""
    from simulator.kernel.cache import is_cached

    return all(is_cached(f) for f in compiled_functions())


def compiled_functions() -> tuple:
    """Every @njit entry point the engine calls: the purchase kernel, the day pass, and the steps
    around the purchases (redemption and per-use perks, the purchase probability, the month fold,
    the return schedule and the day's returns)."""
    from simulator.kernel import day, lift, purchase, redeem, returns

    return (purchase.purchase_batch, day.day_block, day.churn, *redeem.COMPILED, *lift.COMPILED, *returns.COMPILED)


def engine_label(plan: Plan, population=None) -> str:
    why = reasons(plan, population)
    return "kernel" if not why else f"numpy (kernel lacks: {'; '.join(why)})"


def kernel_for(plan: Plan, arm, strings: StringTable, population=None) -> "PurchaseKernel | None":
    if reasons(plan, population):
        return None
    if not plan.by_event.get("purchase") and plan.program.tiers is None:
        return None  # nothing to do on a purchase beyond what the day loop does
    return PurchaseKernel(plan, arm, strings)


def _stack(d: dict, keys: list, n: int) -> np.ndarray:
    """The arrays of `d` under `keys` as rows of one 2-D array; `d` then holds the rows (views)."""
    if not keys:
        return np.zeros((1, 1), dtype=np.int64)
    out = np.stack([d[k] for k in keys]).astype(np.int64)
    for row, k in enumerate(keys):
        d[k] = out[row]
    return out


def _stack_rules(d: dict, specs, n: int) -> np.ndarray:
    """Per-rule state (every-Nth counts, streaks) as one row per purchase rule."""
    if not any(s.index in d for s in specs):
        return np.zeros((1, 1), dtype=np.int64)
    out = np.zeros((len(specs), n), dtype=np.int64)
    for row, s in enumerate(specs):
        if s.index in d:
            out[row] = d[s.index]
            d[s.index] = out[row]
    return out


class PurchaseKernel:
    def __init__(self, plan: Plan, arm, strings: StringTable):
        from simulator.kernel import purchase  # imports numba (after the cache folder is set)
        self.fn = purchase.purchase_batch
        self.plan = plan
        t = self.t = KernelTables(plan, strings)
        n = arm.n
        specs = t.specs
        self.cap_used = _stack(arm.cap_used, t.cap_keys, n)
        self.cap_pid = _stack(arm.cap_pid, t.cap_keys, n)
        self.lim_used = _stack(arm.lim_used, t.lim_keys, n)
        self.lim_pid = _stack(arm.lim_pid, t.lim_keys, n)
        self.nth = _stack_rules(arm.nth, specs, n)
        self.streak_last = _stack_rules(arm.streak_last, specs, n)
        self.streak_run = _stack_rules(arm.streak_run, specs, n)
        keys = sorted(arm.inact_due)
        self.inact = _stack(arm.inact_due, keys, n) if keys else np.zeros((0, 1), dtype=np.int64)
        self.inact_due_tab = (np.stack([plan.expiry_sets[k].inactive_due for k in keys]).astype(np.int64)
                              if keys else np.zeros((0, 1), dtype=np.int64))
        lots = arm.lots
        z1, z2 = np.zeros(1, dtype=np.int64), np.zeros((1, 1), dtype=np.int64)
        self.avail = lots.avail if lots.avail is not None else z1
        self.ring = lots.ring if lots.ring is not None else z2
        self.pend = lots.pend if lots.pend is not None else z2
        self.debt = lots.debt if lots.debt is not None else z1
        self.window = arm.window if arm.window is not None else z2
        self.bday = np.ascontiguousarray(arm.bday_doy, dtype=np.int64)
        self.counters = _stack(arm.counters, t.counter_names, n)
        self.bal_issued = _stack(arm.bal_issued, t.balance_names, n)
        everyone = np.arange(n)
        attrs = [np.asarray(arm.attribute(a, at, everyone), dtype=np.float64) for a, at in t.attributes]
        self.attrs = np.stack(attrs) if attrs else np.zeros((1, 1))
        # an attribute beyond 2**53 is not exact as a float64: such a chunk's purchases take the numpy path
        self.exact = all(np.all(np.abs(a) < 2.0**53) for a in attrs)
        p = plan.program
        act = p.activity
        self.prog = np.array([
            t.D, t.rounding, int(t.stack_add), int(t.any_discounts), int(t.has_tier_mult), int(t.has_tier_disc),
            t.metric_kind, int("earning" in act), int("purchase" in act), int(arm.counts_purchases),
            p.pending_days, int(lots.ring is not None), max(lots.ring_size, 1), int(lots.debt is not None), -1,
            MAX_EVENT_POINTS, t.n_groups, len(keys), t.metric_of, strings.code("")], dtype=np.int64)
        self.lower_metrics = bool(p.returns.lower_metrics)
        # the line attributes `any line` conditions read, and what a line that gives none reads
        self.line_attributes = t.line_attributes
        self.la_default = np.array([float(default_value(vt, strings)) for _, vt in t.line_attributes] or [0.0])
        self.no_status = np.zeros(1, dtype=np.int64)
        self.no_unseen = np.zeros(1, dtype=np.bool_)
        self.inact_months = [plan.expiry_sets[k].inactivity_months for k in keys]
        self.no_lines = (np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=np.int64),
                         np.zeros((1, 1), dtype=np.int64), np.zeros((1, 1), dtype=np.bool_), np.zeros((1, 1, 1)))
        self._day = -1
        self.events: dict = {}  # per event kind other than a purchase: its `EventKernel` (None: numpy)
        announce_compile(*compiled_functions())

    def event(self, arm, kind: str, idx: np.ndarray, data: dict) -> np.ndarray | None:
        """`ProgramArm.apply(kind, idx, data)` for an event other than a purchase, on the kernel
        (simulator.kernel.events); None: this kind or batch takes the numpy path."""
        ek = self.events.get(kind, False)
        if ek is False:
            from simulator.kernel.events import event_kernel
            ek = self.events[kind] = event_kernel(self, arm, kind)
        return ek.apply(arm, idx, data) if ek is not None else None

    def day_steps(self, sim) -> tuple:
        """The day loop's compiled steps around the purchases, bound to chunk `sim` (a `ChunkSim`):
        (a `RedeemKernel` for redemption and per-use perks, or None where it does not run; a `LiftKernel`
        for the purchase probability); the chunk's cohort book gets the compiled month fold."""
        from simulator.kernel.lift import LiftKernel
        from simulator.kernel.redeem import RedeemKernel, fold
        if getattr(sim.cohorts, "fold", False) is None:  # the cohort book's month fold, compiled
            sim.cohorts.fold = fold
        return (RedeemKernel(sim) if RedeemKernel.supports(sim) else None), LiftKernel(sim)

    def day_pass(self, sim):
        """The compiled day pass (`simulator.kernel.day_pass.DayPass`) of a chunk whose purchases run here."""
        from simulator.kernel.day_pass import DayPass
        return DayPass(sim)

    def returns(self, sim):
        """The compiled returns (`simulator.kernel.returns.ReturnKernel`) of a chunk whose purchases run here."""
        from simulator.kernel.returns import ReturnKernel
        return ReturnKernel(sim)

    def _day_values(self, arm) -> None:
        """The day's values the kernel reads (computed once per simulated day)."""
        d: dt.date = arm.date
        t = self.t
        self._day = arm.day
        self.day_vals = np.array([d.weekday(), d.toordinal(), d.month], dtype=np.float64)
        base = []
        for year in (d.year - 1, d.year, d.year + 1):
            leap = 1 if (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)) else 0
            base.append((dt.date(year, 1, 1).toordinal(), leap))
        self.bday_base = np.array(base, dtype=np.int64)
        self.active = np.array([int((s is None or d >= s) and (e is None or d <= e)) for s, e in t.windows],
                               dtype=np.int64)
        self.period_cur = np.array([period_id(d, per) for per in PERIODS], dtype=np.int64)
        from simulator.engine.program_arm import streak_period
        self.streak_cur = np.array([streak_period(d, per) if per else 0 for per in t.streak_period], dtype=np.int64)
        if arm.window is not None:
            self.prog[14] = month_index(d) % arm.window.shape[0]
        self.slot = self.plan.slot_of_day(arm.day)
        # where a customer's first event starts the inactivity clock (the day before it)
        before = d - dt.timedelta(days=1)
        self.first_due = np.array([arm.cal.day_of(add_months(before, months)) for months in self.inact_months] or [0],
                                  dtype=np.int64)

    def _budgets_in(self, arm, amount: np.ndarray) -> np.ndarray | None:
        """What is left of each rule's global budget (money × the point cost's denominator), for the
        kernel to spend customer after customer in batch order (None: beyond its int64 arithmetic)."""
        t = self.t
        left = np.zeros(max(len(t.specs), 1), dtype=np.int64)
        if not t.budgeted:
            return left
        if (int(amount.max()) + int(t.perk_cost.max(initial=0))) * t.pc_den >= BUDGET_SAFE:
            return None
        for r, spec in enumerate(t.specs):
            if t.budget_kind[r] == 0:
                continue
            have = Fraction(arm.budget_left(spec)) * (t.pc_den if t.budget_kind[r] == 2 else 1)
            if have.denominator != 1 or abs(have) >= BUDGET_SAFE:
                return None
            left[r] = int(have)
        return left

    def _budgets_out(self, arm, left: np.ndarray) -> None:
        t = self.t
        for r, spec in enumerate(t.specs):
            if t.budget_kind[r] == 1:
                arm.budgets[spec.name] = int(left[r])
            elif t.budget_kind[r] == 2:
                arm.budgets[spec.name] = Fraction(int(left[r]), t.pc_den)

    def _lines(self, data: dict, k: int) -> tuple:
        """The batch's drawn lines as the kernel reads them: amounts, categories, quantities, which
        slots are lines, and the line attributes read (a (attributes, k, L) float64 table; an
        attribute not drawn reads its default)."""
        amt = np.ascontiguousarray(data["lines.amount"], dtype=np.int64)
        cat = np.ascontiguousarray(data["lines.category"], dtype=np.int64)
        qty = np.ascontiguousarray(data["lines.quantity"], dtype=np.int64)
        valid = np.ascontiguousarray(data["lines.valid"], dtype=np.bool_)
        names = self.line_attributes
        attrs = np.empty((max(len(names), 1),) + amt.shape)
        for a, (name, _) in enumerate(names):
            drawn = data.get(ATTRIBUTE_KEY + name)
            attrs[a] = drawn if drawn is not None else self.la_default[a]
        return amt, cat, qty, valid, attrs

    def apply(self, arm, idx: np.ndarray, data: dict) -> np.ndarray | None:
        """`ProgramArm.apply("purchase", idx, data)` on the kernel; None when this batch must take
        the numpy path (an amount beyond the kernel's int64 bound)."""
        if not self.exact:
            return None
        amount = np.ascontiguousarray(data["amount"], dtype=np.int64)
        k = idx.size
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        qty = np.ascontiguousarray(data["quantity"], dtype=np.int64) if "quantity" in data \
            else np.zeros(k, dtype=np.int64)
        if int(amount.max()) > self.t.safe_amount or int(np.abs(qty).max()) > self.t.safe_amount:
            return None
        if arm.day != self._day:
            self._day_values(arm)
        t = self.t
        shipping = np.ascontiguousarray(data["shipping"], dtype=np.int64) if "shipping" in data \
            else np.zeros(k, dtype=np.int64)
        cat = np.ascontiguousarray(data["category"], dtype=np.int64) if "category" in data \
            else np.zeros(k, dtype=np.int64)
        ev = np.empty((len(t.columns), k), dtype=np.float64)
        for j, name in enumerate(t.columns):
            if name == GOODS:  # the one line of a purchase without lines (a flat `any line`): its goods
                ev[j] = amount - shipping
            else:
                ev[j] = data[name] if name in data else EVENT_COLUMNS[name]
        has_lines = has_lines_in(data)
        if has_lines:
            if int(amount.max()) >= LINES_SAFE:  # the lines' shares multiply two amounts
                return None
            lines = self._lines(data, k)
        else:
            lines = self.no_lines
        budget_left = self._budgets_in(arm, amount)
        if budget_left is None:
            return None
        total = np.zeros(k, dtype=np.int64)
        disc = np.zeros(k, dtype=np.int64)
        inc = np.zeros(k, dtype=np.int64)
        repaid = np.zeros(k, dtype=np.int64)
        cinc = np.zeros((max(len(t.counted), 1), k), dtype=np.int64)
        bal = np.zeros((max(len(t.balance_names), 1), k), dtype=np.int64)
        lots = arm.lots
        biggest = self.fn(
            np.ascontiguousarray(idx, dtype=np.int64), amount, shipping, cat, ev, arm.day, self.slot, self.day_vals,
            self.bday_base, self.active, self.period_cur, self.streak_cur,
            *((t.cond_lo, t.cond_hi) if has_lines else (t.cond_flat_lo, t.cond_flat_hi)), t.op, t.arg, t.consts, t.set_lo, t.set_hi, t.set_vals,
            t.rule_round, t.rule_group, t.sides_only, t.every_nth, t.streak_len, t.gives_money,
            t.rate_lo, t.rate_hi, t.rate_factor, t.rate_gross, t.rx_lo, t.rx_hi, t.rx_codes, t.ro_has, t.ro_lo,
            t.ro_hi, t.ro_codes, t.mult_lo, t.mult_hi, t.mult_num, t.mult_den, t.fixed, t.perk_cost,
            t.disc_lo, t.disc_hi, t.disc_pct, t.disc_num, t.disc_den, t.disc_fixed, t.disc_gross, t.dx_lo, t.dx_hi,
            t.dx_codes, t.has_rule_disc, t.cap_lo, t.cap_hi, t.cap_limit, t.cap_period, t.lim_lo, t.lim_hi,
            t.lim_limit, t.lim_period, self.prog, t.tier_rate, t.tier_mult_num, t.tier_mult_den, t.tier_disc_num,
            t.tier_disc_den, t.thresholds,
            arm.tier, arm.tier_since, arm.grace_start, arm.purchases, arm.metric, self.window, arm.issued,
            arm.discount, arm.perk, lots.outstanding, lots.pending, self.avail, self.ring, self.pend, self.debt,
            self.inact, self.inact_due_tab, self.cap_used, self.cap_pid, self.lim_used, self.lim_pid,
            self.nth, self.streak_last, self.streak_run, self.bday, total, disc, inc, repaid,
            t.cnt_row, *((t.cnt_cond_lo, t.cnt_cond_hi) if has_lines else (t.cnt_flat_lo, t.cnt_flat_hi)), t.cnt_sum_col, self.counters, self.attrs, cinc,
            t.rule_bal, t.rate_own, self.bal_issued, bal,
            qty, t.q_lo, t.q_hi, t.q_factor, t.qx_lo, t.qx_hi, t.qx_codes, t.qo_has, t.qo_lo, t.qo_hi, t.qo_codes,
            t.do_has, t.do_lo, t.do_hi, t.do_codes, t.mo_has, t.mo_lo, t.mo_hi, t.mo_codes,
            has_lines, *lines, self.la_default,
            arm.status is not None, arm.status.year if arm.status is not None else self.no_status, arm.date.year,
            arm.unseen is not None, arm.unseen if arm.unseen is not None else self.no_unseen, self.first_due,
            t.budget_kind, budget_left, t.pc_num, t.pc_den)
        if t.budgeted:
            self._budgets_out(arm, budget_left)
        if biggest > MAX_EVENT_POINTS:
            raise ExactRangeError(f"one purchase would earn {int(biggest):,} {arm.p.points_unit}, more than "
                                  f"the {MAX_EVENT_POINTS:,} one event may earn (rulelang.limits.MAX_EVENT_POINTS)")
        if lots.cohorts is not None:  # the issue-month cohorts hear of the lots, as from `LotStore.add`
            earned = np.flatnonzero(total > 0)
            if earned.size:
                lots.cohorts.earned(idx[earned], arm.day, total[earned],
                                    repaid[earned] if lots.debt is not None else None)
        arm.last_discount = disc if t.any_discounts else None
        arm.last_balances = {name: bal[j] for j, name in enumerate(t.balance_names)}
        if self.lower_metrics:
            arm.last_moved = {"metric": inc, **{"counter." + name: cinc[j] for j, name in enumerate(t.counted)}}
        return total
