"""The engine's plan as flat numpy arrays the kernel reads (one compile per program and chunk).

Takes: a `Plan` (simulator.engine.program_plan) and the chunk's `StringTable`. Gives:
`KernelTables`: per rule of one event kind (`kind`: purchases by default; another kind,
simulator.kernel.events, has no tier rate, tier discount, nor a metric of spend or purchases, and
its conditions read the `event.<field>` columns it carries), in candidate order, its condition program (`conditions`),
rounding, group, every-Nth, streak, and index ranges into flat tables of rate awards (rate × D,
net or gross, excluded and `in category` codes), multipliers (numerator, denominator), discounts,
point caps and limits (limit, period), discounts' and multipliers' `in category` codes, global
budgets (points or money, the point cost as a fraction); the fixed points and perk costs per rule; the tier
tables (own rate × D, multiplier, discount, thresholds); the counters on the kind (condition,
the event column they sum); per rule the balance beside the points it awards (-1: the points);
the customer and line attributes conditions read; each condition's flat form as well
(`cond_flat_lo/hi`, `cnt_flat_lo/hi`: `any line` read on the goods line, for a batch without drawn
lines; the line form where it cannot be flat); and `safe_amount`, the largest
purchase amount for which no product of the kernel's int64 arithmetic can wrap (a batch with a
larger amount runs on the numpy path, which is exact with Python integers there; at most 2**53,
so that amounts in the float64 condition columns and counter sums are exact).
A construct the tables cannot express raises `conditions.Unsupported`.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil

import numpy as np

from simulator.engine.program_plan import Plan
from simulator.engine.status_dates import tier_rate_table
from simulator.kernel.conditions import ANY_LINE, EVENT_COLUMNS, CondCode, Unsupported, compile_condition
from simulator.model.strings import StringTable

ROUNDING = {"down": 0, "up": 1, "nearest": 2}
PERIODS = ("day", "week", "month", "quarter", "year", "lifetime")
METRICS = {"spend": 1, "points": 3, "purchases": 4}  # 2: spend before discounts; 5: a counter; 6: a balance
INT64_HEADROOM = 2**62


def _i64(values, dtype=np.int64) -> np.ndarray:
    return np.array(values, dtype=dtype) if len(values) else np.zeros(0, dtype=dtype)


def _ranges(items_per_rule: list[list]) -> tuple[np.ndarray, np.ndarray, list]:
    lo, hi, flat = [], [], []
    for items in items_per_rule:
        lo.append(len(flat))
        flat.extend(items)
        hi.append(len(flat))
    return _i64(lo), _i64(hi), flat


def _codes(ranges: list[tuple[int, ...] | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi, flat = _ranges([list(r or ()) for r in ranges])
    return lo, hi, _i64(flat)


class KernelTables:
    @staticmethod
    def _flat(expr, strings: StringTable, code: CondCode, lined: tuple[int, int]) -> tuple[int, int]:
        """`expr` compiled flat when it holds an `any line` that can be (else its line form `lined`)."""
        if not any(code.ops[pc] == ANY_LINE for pc in range(*lined)):
            return lined
        mark = (len(code.ops), len(code.args), len(code.consts), len(code.sets))
        try:
            return compile_condition(expr, strings, code, flat=True)
        except Unsupported:
            del code.ops[mark[0]:], code.args[mark[1]:], code.consts[mark[2]:], code.sets[mark[3]:]
            return lined

    def __init__(self, plan: Plan, strings: StringTable, kind: str = "purchase",
                 event_fields: frozenset[str] = frozenset()):
        p = plan.program
        purchase = kind == "purchase"  # another event (simulator.kernel.events): no tier rate, discount, spend
        specs = plan.by_event.get(kind, [])
        self.specs = specs
        D = plan.common_den
        self.D = D
        self.rounding = ROUNDING[p.rounding]
        self.stack_add = p.stacking == "add"
        code = CondCode.of(p)
        code.event_fields = event_fields
        cond = [compile_condition(s.rule.condition, strings, code) for s in specs]
        # counters on purchases: their conditions (read before the event) and what they sum
        counted = [c for c in p.counters if c.event == kind]
        self.counted = [c.name for c in counted]
        ccond = [compile_condition(c.condition, strings, code) for c in counted]
        self.cnt_row = _i64([code.counters.index(c.name) for c in counted])
        self.cnt_cond_lo = _i64([c[0] for c in ccond])
        self.cnt_cond_hi = _i64([c[1] for c in ccond])
        # the same conditions for a batch without drawn lines: `any line` on the goods line, read as a
        # plain condition (no per-line loop); a condition that cannot be flat keeps its line form
        flat = [self._flat(s.rule.condition, strings, code, c) for s, c in zip(specs, cond)]
        cflat = [self._flat(c.condition, strings, code, cc) for c, cc in zip(counted, ccond)]
        self.cond_flat_lo, self.cond_flat_hi = _i64([c[0] for c in flat]), _i64([c[1] for c in flat])
        self.cnt_flat_lo, self.cnt_flat_hi = _i64([c[0] for c in cflat]), _i64([c[1] for c in cflat])
        for c in counted:
            if c.sums is not None and c.sums not in EVENT_COLUMNS and c.sums not in event_fields:
                raise Unsupported(f"counter `{c.name}` sums `{c.sums}`")
        self.cnt_sum_col = _i64([code.column(c.sums) if c.sums is not None else -1 for c in counted])
        self.counter_names = list(code.counters)
        self.attributes = [(a, code.attribute_types[a]) for a in code.attributes]
        self.line_attributes = [(a, code.line_attribute_types[a]) for a in code.line_attributes]
        # balances beside the points: per rule the balance it awards (-1: the points)
        self.balance_names = [b.name for b in p.balances]
        self.rule_bal = _i64([self.balance_names.index(s.rule.balance) if s.rule.balance is not None else -1
                              for s in specs])
        self.cond_lo = _i64([c[0] for c in cond])
        self.cond_hi = _i64([c[1] for c in cond])
        self.op = _i64(code.ops)
        self.arg = _i64(code.args)
        self.consts = np.array(code.consts, dtype=np.float64) if code.consts else np.zeros(1)
        self.set_lo, self.set_hi, flat = _ranges(code.sets)
        self.set_vals = np.array(flat, dtype=np.float64) if flat else np.zeros(1)
        self.columns = code.columns
        groups = sorted({s.rule.group for s in specs if s.rule.group is not None})
        self.n_groups = max(1, len(groups))
        self.rule_round = _i64([ROUNDING[s.rule.rounding] for s in specs])
        self.rule_group = _i64([groups.index(s.rule.group) if s.rule.group is not None else -1 for s in specs])
        self.sides_only = _i64([1 if s.sides else 0 for s in specs])
        self.every_nth = _i64([int(s.rule.every_nth or 0) for s in specs])
        self.streak_len = _i64([int(s.rule.streak.length) if s.rule.streak else 0 for s in specs])
        self.streak_period = [s.rule.streak.period if s.rule.streak else None for s in specs]
        self.gives_money = _i64([1 if s.gives_money else 0 for s in specs])
        self.windows = [(s.rule.start, s.rule.end) for s in specs]
        # rate awards
        rates = [list(s.rates) for s in specs]
        self.rate_lo, self.rate_hi, flat_rates = _ranges(rates)
        self.rate_factor = _i64([r.num * (D // r.den) for r in flat_rates])
        # a rule that awards a balance keeps its own rate where the tier sets one
        self.rate_own = _i64([1 if s.rule.balance is not None else 0 for s in specs for _ in s.rates])
        self.rate_gross = _i64([1 if r.base == "gross" else 0 for r in flat_rates])
        self.rx_lo, self.rx_hi, self.rx_codes = _codes([r.excluding for r in flat_rates])
        self.ro_has = _i64([0 if r.only is None else 1 for r in flat_rates])
        self.ro_lo, self.ro_hi, self.ro_codes = _codes([r.only for r in flat_rates])
        # awards per quantity (points per unit of the purchase's quantity), × D
        self.q_lo, self.q_hi, flat_q = _ranges([list(s.quantities) for s in specs])
        self.q_factor = _i64([q.num * (D // q.den) for q in flat_q])
        self.qx_lo, self.qx_hi, self.qx_codes = _codes([q.excluding for q in flat_q])
        self.qo_has = _i64([0 if q.only is None else 1 for q in flat_q])
        self.qo_lo, self.qo_hi, self.qo_codes = _codes([q.only for q in flat_q])
        # multipliers
        self.mult_lo, self.mult_hi, flat_m = _ranges([list(s.multipliers) for s in specs])
        self.mult_num = _i64([f.numerator for f in flat_m])
        self.mult_den = _i64([f.denominator for f in flat_m])
        flat_mo = [o for s in specs for o in (list(s.multiplier_only) + [None] * len(s.multipliers))[:len(s.multipliers)]]
        self.mo_has = _i64([0 if o is None else 1 for o in flat_mo])  # `multiply 2x in category`
        self.mo_lo, self.mo_hi, self.mo_codes = _codes(flat_mo)
        # fixed awards to the customer (a purchase has no referral side) and perks
        self.fixed = _i64([sum(pts for pts, to in s.fixed if to == "customer") for s in specs])
        self.perk_cost = _i64([sum(c for _, c in s.perks) for s in specs])
        # discounts
        self.disc_lo, self.disc_hi, flat_d = _ranges([list(s.discounts) for s in specs])
        pct = [(ds.percent / 100) if ds.percent is not None else None for ds in flat_d]
        self.disc_pct = _i64([1 if f is not None else 0 for f in pct])
        self.disc_num = _i64([f.numerator if f is not None else 0 for f in pct])
        self.disc_den = _i64([f.denominator if f is not None else 1 for f in pct])
        self.disc_fixed = _i64([int(ds.fixed_cents or 0) for ds in flat_d])
        self.disc_gross = _i64([1 if ds.base == "gross" else 0 for ds in flat_d])
        self.dx_lo, self.dx_hi, self.dx_codes = _codes([ds.excluding for ds in flat_d])
        self.do_has = _i64([0 if ds.only is None else 1 for ds in flat_d])  # `discount ... in category`
        self.do_lo, self.do_hi, self.do_codes = _codes([ds.only for ds in flat_d])
        self.has_rule_disc = _i64([1 if s.discounts else 0 for s in specs])
        # global budgets: per rule 0 (none), 1 (points) or 2 (money: discounts, perks and points at the
        # point cost pc_num / pc_den cents, what is left kept × pc_den, exact)
        self.budget_kind = _i64([0 if s.rule.budget is None else 1 if s.rule.budget.points is not None else 2
                                 for s in specs])
        self.budgeted = bool(self.budget_kind.any())
        pc = Fraction(p.point_cost_cents)
        self.pc_num, self.pc_den = pc.numerator, pc.denominator
        if self.budgeted and (pc.denominator > 2**20 or pc.numerator > 2**40):
            raise Unsupported("a point cost whose fraction passes the kernel's budget arithmetic")
        # caps (points) and limits (times): rows of the kernel's stacked state
        self.cap_lo, self.cap_hi, flat_c = _ranges([list(s.point_caps) for s in specs])
        self.cap_limit = _i64([c.limit for c in flat_c])
        self.cap_period = _i64([PERIODS.index(c.period) for c in flat_c])
        self.cap_keys = [(s.index, j) for s in specs for j in range(len(s.point_caps))]
        self.lim_lo, self.lim_hi, flat_l = _ranges([list(s.limits) for s in specs])
        self.lim_limit = _i64([c.limit for c in flat_l])
        self.lim_period = _i64([PERIODS.index(c.period) for c in flat_l])
        self.lim_keys = [(s.index, j) for s in specs for j in range(len(s.limits))]
        self.nth_row = _i64([k for k, _ in enumerate(specs)])
        # tiers
        ts = p.tiers
        tiers = ts.tiers if ts else ()
        self.ntiers = max(1, len(tiers))
        rate = tier_rate_table(ts, D) if purchase else None  # a tier's own rate: on purchases only
        self.tier_rate = np.asarray(rate, dtype=np.int64) if rate is not None else np.full(self.ntiers, -1, np.int64)
        mults = [Fraction(t.multiplier) if t.multiplier is not None else Fraction(1) for t in tiers]
        self.has_tier_mult = any(f != 1 for f in mults)
        self.tier_mult_num = _i64([f.numerator for f in mults] or [1])
        self.tier_mult_den = _i64([f.denominator for f in mults] or [1])
        discs = [Fraction(t.discount_percent) / 100 if t.discount_percent else Fraction(0) for t in tiers]
        self.has_tier_disc = purchase and any(discs)
        self.tier_disc_num = _i64([f.numerator for f in discs] or [0])
        self.tier_disc_den = _i64([f.denominator for f in discs] or [1])
        self.thresholds = _i64([int(ceil(t.threshold)) for t in tiers] or [0])
        if ts is None:
            self.metric_kind = 0
        elif not purchase and ts.metric in ("spend", "purchases"):
            self.metric_kind = 0  # moved by purchases only
        elif ts.metric == "spend":
            self.metric_kind = 2 if ts.spend_before_discounts else 1
        elif ts.metric in METRICS:
            self.metric_kind = METRICS[ts.metric]
        elif ts.metric in self.balance_names:
            self.metric_kind = 6
        elif ts.metric in self.counted:
            self.metric_kind = 5
        elif ts.metric in self.counter_names:
            self.metric_kind = 0  # a counter of other events: a purchase leaves the metric as it is
        else:
            raise Unsupported(f"tier metric `{ts.metric}`")
        # the counter (5: index among `counted`) or balance (6) the metric is
        self.metric_of = (self.counted.index(ts.metric) if self.metric_kind == 5 else
                          self.balance_names.index(ts.metric) if self.metric_kind == 6 else 0)
        self.any_discounts = self.has_tier_disc or any(s.discounts for s in specs)
        self.safe_amount = self._safe_amount(plan, flat_m, mults, discs, pct)

    def _safe_amount(self, plan: Plan, flat_m, mults, discs, pct) -> int:
        """The largest amount (cents) whose every int64 product stays below 2**62: R ≤ amount ×
        the sum of the rate factors (the tier's own rate where larger), a multiplied bonus
        ≤ 2 × R × every multiplier's numerator × the largest |m − 1| numerator, a discount
        ≤ 2 × amount × its numerator."""
        top = int(max(self.tier_rate.max(initial=0), 0))
        # R ≤ max(amount, quantity) × (the rate factors + the quantity factors): `apply` bounds both
        rsum = sum(max(int(f), top) for f in self.rate_factor) + sum(int(f) for f in self.q_factor) + 1
        nums = 1
        diff = 1
        dens = self.D
        for f in list(flat_m) + list(mults):
            nums *= max(f.numerator, 1)
            diff = max(diff, abs(f.numerator - f.denominator))
            dens *= f.denominator
        if 2 * dens * max(1, self.D) >= INT64_HEADROOM:
            raise Unsupported("multipliers whose denominators pass int64")
        per_cent = max(2 * rsum * nums * diff, *(2 * f.numerator + 1 for f in list(discs) + [x for x in pct if x]), 2)
        safe = min(INT64_HEADROOM // per_cent, 2**53)  # the condition columns and sums are exact float64
        if safe < 10**8:  # a million dollars per purchase would not fit
            raise Unsupported("rates and multipliers too large for int64 arithmetic")
        return int(safe)
