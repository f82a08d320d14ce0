"""The day's events other than purchases, for the vectorized engine (a mixin of `ChunkSim`).

Takes: the chunk's state (`ChunkSim`: traits, enrollment, alive flags, the program arm,
the return schedule) and the day. Gives, in this order each day, as the interpreter
sees them (every event of a day happens at 12:00, in this order):
- signups of the initial members (their enrollment day), customers who left before it never join;
- referrals (pre-drawn): the referrer's `referral` event, then the newcomer's `signup` and
  `referral` as referee in a spare slot of the referrer's block; a referral that finds no
  spare slot is counted (`dropped_referrals`, reported as a warning), never lost silently;
- birthdays of members;
- custom events (pre-drawn) of alive members, with their fields;
- returns due today: the returned list amount comes off each arm's revenue; for members the
  `return` event reverses the order's points (the program's `returns` policy) and runs rules
  on `return` (compiled where the program runs on the kernel and has no rules on `return`:
  simulator.kernel.returns, the same state).
Only days with something due do any work; nothing here is O(customers) per day.
It also records the event streams of sampled customers for the differential test.
"""

from __future__ import annotations

import numpy as np

from simulator.model.draws import NEVER, NON_LEAP_MONTH_START
from simulator.engine.program_arm import encode_values
from rulelang.fields import simulated_fields
from simulator.engine.event_days import birthdays_on, on_day, open_orders, reversal_target, reverse_orders
from simulator.engine.program_plan import CARRIED_FIELDS
from simulator.engine.line_attributes import KEY as ATTRIBUTE_KEY
from simulator.engine.undo import requalify, undo_returns

ORDER_FIELDS = simulated_fields("purchase")  # what an order's row in the return schedule keeps of it


class DayEvents:
    """Mixin: the attributes used here are set up by `ChunkSim`."""

    # ------------------------------------------------------------ before purchases
    def _signups(self, day: int) -> None:
        who = on_day(self.en_order, self.en_bounds, day)
        if who.size:
            if self.tr.member_before is not None:  # members before the first day do not sign up again
                who = who[~self.tr.member_before[who]]
            alive = self.alive_p[who]
            self.enroll[who[~alive]] = NEVER
            self._event("signup", who[alive], {}, day)

    def _referrals(self, day: int, mo: int, touched: list) -> None:
        tr = self.tr
        lo, hi = self.ref_bounds[day], self.ref_bounds[day + 1]
        if hi == lo:
            return
        refs = tr.ref_cust[lo:hi]
        refs = refs[self.alive_p[refs] & (self.enroll[refs] <= day)]
        newcomers, kept = [], []
        for c in refs.tolist():
            b = int(np.searchsorted(self.offsets, c, side="right") - 1)
            if self.pool_next[b] < self.sizes[b]:
                newcomers.append(int(self.offsets[b]) + self.pool_next[b])
                self.pool_next[b] += 1
                kept.append(c)
            else:
                self.dropped_referrals += 1
        if not kept:
            return
        ref_code = self.strings.code("referrer")
        kept_a = np.array(kept, dtype=np.int64)
        for batch in _rounds(kept_a):
            self._event("referral", batch, {"role": np.full(batch.size, ref_code)}, day)
        nc = np.array(newcomers, dtype=np.int64)
        self.enroll[nc] = day
        self.arm.tier_since[nc] = day
        if self.arm.status is not None:  # a newcomer's status starts on the day they join
            self.arm.status.year[nc] = self.arm.cal.date(day).year
        self.alive_p[nc] = True
        self.q_prog[nc] = self.q0[nc]
        self.q_max[nc] = self.q0[nc]
        self.newcomers[mo] += nc.size
        self.acquisition[mo] += nc.size * self.pop.economics.acquisition_cost_cents
        self._event("signup", nc, {}, day)
        self._event("referral", nc, {"role": np.full(nc.size, self.strings.code("referee"))}, day)
        touched += [kept_a, nc]

    def _birthdays(self, day: int, touched: list) -> None:
        who = birthdays_on(self.cal.date(day), self.bd_order, self.bd_bounds, self.enroll, day)
        if who.size:
            self._event("birthday", who, {}, day)
            touched.append(who)

    def _custom_events(self, day: int, touched: list) -> None:
        tr, program = self.tr, self.plan.program
        lo, hi = self.ev_bounds[day], self.ev_bounds[day + 1]
        if hi == lo:
            return
        sl = slice(lo, hi)
        cust, kinds = tr.ev_cust[sl], tr.ev_kind[sl]
        for kcode, name in enumerate(self.tables.event_names):
            if name not in self.plan.by_event and not any(c.event == name for c in program.counters):
                continue
            rows = np.flatnonzero(kinds == kcode)
            rows = rows[self.alive_p[cust[rows]] & (self.enroll[cust[rows]] <= day)]
            if rows.size == 0:
                continue
            etype = next((e for e in program.events if e.name == name), None)
            for batch_rows in _rounds_rows(cust[rows], rows):
                data = {}
                if etype is not None:
                    for fname, ftype in etype.fields:
                        raw = tr.ev_fields.get(fname)
                        vals = raw[sl][batch_rows] if raw is not None else np.full(batch_rows.size, None, dtype=object)
                        data["event." + fname] = encode_values(vals, ftype, batch_rows.size, self.strings)
                self._event(name, cust[batch_rows], data, day, raw_fields={
                    f: (tr.ev_fields[f][sl][batch_rows] if f in tr.ev_fields else None)
                    for f, _ in (etype.fields if etype else ())})
                touched.append(cust[batch_rows])

    # ------------------------------------------------------------ returns
    def _return_kernel(self):
        """The chunk's compiled returns (simulator.kernel.returns.ReturnKernel) where the program runs
        on the kernel and has no rules on `return` (those run on the numpy schedule below); else None."""
        rk = self.__dict__.get("_ret_k", False)
        if rk is False or (rk is not None and not rk.is_for(self.arm)):
            rk = None
            if self.arm.kernel is not None and not self.return_rules:
                rk = self.arm.kernel.returns(self)
            self._ret_k = rk
        return rk

    def _schedule_returns(self, ret: dict, U: np.ndarray, ib: np.ndarray, ip: np.ndarray, mi: np.ndarray,
                          earned: np.ndarray | None, draws, day: int) -> None:
        """Book the returns of today's purchases that will come back (rows `ret["rows"]` of `U`).
        Called right after the members' purchases were applied: an order that earned points
        opens a row in the order book while its lots are still the customer's newest.
        Compiled where the program runs on the kernel (`_return_kernel`), the same state."""
        rk = self._return_kernel()
        if rk is not None:
            rk.book(ret, U, ib, ip, mi, earned, draws, day)
            return
        rows = ret["rows"]
        if rows.size == 0:
            return
        m = U.size
        in_b = np.zeros(m, dtype=bool)
        in_b[ib] = True
        in_p = np.zeros(m, dtype=bool)
        in_p[ip] = True
        member = np.zeros(m, dtype=bool)
        member[mi] = True
        keep = in_b[rows] | in_p[rows]
        rows = rows[keep]
        if rows.size == 0:
            return
        returned, due = ret["returned"][keep], ret["due"][keep]
        earn_u = np.zeros(m, dtype=np.int64)
        disc_u = np.zeros(m, dtype=np.int64)
        bal_u = {name: np.zeros(m, dtype=np.int64) for name in self.arm.bal_issued}  # balances beside the points
        if earned is not None and mi.size:
            earn_u[mi] = earned
            if self.arm.last_discount is not None:
                disc_u[mi] = self.arm.last_discount
            for name, arr in self.arm.last_balances.items():
                bal_u[name][mi] = arr
        whole = draws.amount[rows]
        # the returned part's share of the purchase's instant discount (round down): the sale of
        # that part is undone, so its discount is no longer a cost (the ledger keeps it, §6)
        disc_back = disc_u[rows] * returned // whole
        cust = U[rows]
        book_id = np.full(rows.size, -1, dtype=np.int64)
        mem = member[rows]
        if self.arm.reverses:
            track = np.flatnonzero(mem & (earn_u[rows] > 0))
            if track.size:
                book_id[track] = open_orders(self.arm, cust[track], day, earn_u[rows][track])
        # the order's basket fields, under their names (`amount` is the whole order's)
        basket = {f.name: v[rows] for f in ORDER_FIELDS if (v := getattr(draws, f.name)) is not None}
        moved = {}  # what each member's order added to the metric and counters (returns lower them)
        if self.arm.p.returns.lower_metrics:
            for key in ("metric", *("counter." + c.name for c in self.arm.p.counters)):
                col = np.zeros(m, dtype=np.int64)
                if mi.size and key in self.arm.last_moved:
                    col[mi] = self.arm.last_moved[key]
                moved["moved." + key] = col[rows]
        self.schedule.add(due, {
            **basket, **moved, "cust": cust, "order_day": np.full(rows.size, day, dtype=np.int64),
            "returned": returned, "disc_back": disc_back,
            "in_b": in_b[rows], "in_p": in_p[rows], "member": mem, "earned": earn_u[rows], "book_id": book_id,
            **{f"balance.{name}": arr[rows] for name, arr in bal_u.items()},
        })

    def _returns(self, day: int, mo: int, touched: list) -> None:
        """Today's returns: the returned list amount comes off each arm's revenue, and the returned
        share of an instant discount off the program's discount cost; a member's return is a program
        event (its order's points reversed by the program's policy, rules on `return`).
        Compiled where the program runs on the kernel (`_return_kernel`), the same state."""
        rk = self._return_kernel()
        if rk is not None:
            rk.day(day, mo, touched)
            return
        due = self.schedule.pop(day)
        if due is None:
            return
        mon = self.mon
        for arm_name, sel in (("baseline", due["in_b"]), ("program", due["in_p"])):
            cents = int(due["returned"][sel].sum())
            mon[f"{arm_name}.revenue_cents"][mo] -= cents
            mon[f"{arm_name}.returns"][mo] += int(sel.sum())
            mon[f"{arm_name}.refund_cents"][mo] += cents
            if self.tier_flows:  # tier economics: revenue net of refunds, like the arm's revenue
                key = "revenue_cents" if arm_name == "program" else "baseline_revenue_cents"
                np.subtract.at(self.cust_rev[key], due["cust"][sel], due["returned"][sel])
        mon["program.discount_returned_cents"][mo] += int(due["disc_back"][due["in_p"]].sum())
        rows = np.flatnonzero(due["member"])
        if rows.size == 0:
            return
        rows = rows[np.lexsort((due["order_day"][rows], due["cust"][rows]))]
        arm = self.arm
        for batch in _rounds_rows(due["cust"][rows], rows):
            batch = batch[np.argsort(due["cust"][batch], kind="stable")]
            c = due["cust"][batch]
            returned, whole, earned = due["returned"][batch], due["amount"][batch], due["earned"][batch]
            # a return reads its order's basket fields (rulelang.fields.BASKET), its amount the returned part
            data = {f.name: due[f.name][batch] for f in ORDER_FIELDS if f.name in due}
            data["amount"] = returned
            data["balance"] = arm.lots.outstanding[c].copy()
            if self.rec_idx:
                order_day = due["order_day"][batch]
                for i, cc in enumerate(c.tolist()):
                    if cc in self.rec_idx:
                        self.records[cc]["events"].append({"kind": "return", "day": day, "order": f"d{int(order_day[i])}",
                                                           "amount_cents": int(returned[i])})
            if arm.reverses:
                target = reversal_target(returned, whole, earned)
                book_id = due["book_id"][batch]
                go = (target > 0) | (book_id >= 0)
                if go.any():
                    reverse_orders(arm, c[go], target[go], due["order_day"][batch][go], book_id[go], day)
                if arm.bal_issued:
                    arm.reverse_balances(c, returned, whole, {name: due[f"balance.{name}"][batch]
                                                              for name in arm.bal_issued})
            if self.return_rules:
                arm.apply("return", c, data)
            arm.discount_refunded[c] += due["disc_back"][batch]
            if arm.p.returns.lower_metrics:
                moved = {k[len("moved."):]: v[batch] for k, v in due.items() if k.startswith("moved.")}
                requalify(arm, c, undo_returns(arm, c, returned, whole, due["order_day"][batch], moved))
            touched.append(c)

    def _returns_numpy_steps(self, c: np.ndarray, returned: np.ndarray, whole: np.ndarray, order_day: np.ndarray,
                             moved: dict) -> None:
        """The step of one round of members' returns (customers `c`, unique) that the compiled returns
        call back, as `_returns` runs it: `returns lower tier metric and counters` (what each order
        `moved`) lowers the metric, counters and tier."""
        arm = self.arm
        requalify(arm, c, undo_returns(arm, c, returned, whole, order_day, moved))

    # ------------------------------------------------------------ events and records
    def _event(self, kind: str, idx: np.ndarray, data: dict, day: int,
               raw_fields: dict | None = None) -> np.ndarray | None:
        """Apply one event to customers `idx` (sorted, unique); returns the points each earned."""
        if idx.size == 0:
            return None
        if self.rec_idx:
            self._record_event(kind, idx, data, day, raw_fields)
        # any event is a first event (the inactivity clock starts the day before it), also one no
        # rule reads: a signup, as in the interpreter
        self.arm.first_event(idx)
        if kind == "purchase" or kind in self.applied_kinds:
            return self.arm.apply(kind, idx, data)
        return None

    def _record_event(self, kind, idx, data, day, raw_fields) -> None:
        hits = [i for i, c in enumerate(idx.tolist()) if c in self.rec_idx]
        for i in hits:
            c = int(idx[i])
            ev = {"kind": kind, "day": day}
            if kind == "purchase":
                ev.update(id=f"d{day}", amount_cents=int(data["amount"][i]))
                for f in CARRIED_FIELDS:  # the interpreter's keys and values (rulelang.fields)
                    if f.interpreter_key is not None and f.name in data:
                        value = data[f.name][i]
                        ev[f.interpreter_key] = self.strings.name(value) if f.type == "string" else int(value)
                if "lines.amount" in data:
                    valid = data["lines.valid"][i]
                    ev["lines"] = [(int(a), self.strings.name(c), int(q)) for a, c, q, ok in zip(
                        data["lines.amount"][i], data["lines.category"][i], data["lines.quantity"][i], valid) if ok]
                    attrs = self._recorded_line_attributes(data, i, valid)
                    if attrs:
                        ev["line_attributes"] = attrs
            if "role" in data:
                ev["role"] = self.strings.name(data["role"][i])
            if raw_fields:
                ev["fields"] = {f: (None if v is None else v[i]) for f, v in raw_fields.items()}
            self.records[c]["events"].append(ev)

    def _recorded_line_attributes(self, data, i: int, valid) -> list[dict]:
        """The drawn line attributes of purchase row `i`, one {name: value} per line, as the
        interpreter reads them (a string's text, a bool, a number as its shortest decimal, cents)."""
        read = self.plan.line_attributes if self.plan is not None else ()
        keys = [(name, vtype) for name, vtype in read if ATTRIBUTE_KEY + name in data]
        if not keys:
            return []
        out: list[dict] = []
        for j, ok in enumerate(valid):
            if not ok:
                continue
            line: dict = {}
            for name, vtype in keys:
                value = data[ATTRIBUTE_KEY + name][i][j]
                if vtype == "string":
                    if int(value) != self.strings.code(""):
                        line[name] = self.strings.name(value)
                elif vtype == "bool":
                    line[name] = bool(value)
                elif vtype == "money":
                    line[name] = int(value)
                else:
                    line[name] = repr(float(value))
            out.append(line)
        return out

    def _record(self, idx: np.ndarray, day: int, kind: str, **kw) -> None:
        if not self.rec_idx:
            return
        for i, c in enumerate(idx.tolist()):
            if c in self.rec_idx:
                ev = {"kind": kind, "day": day}
                ev.update({k: (v[i] if isinstance(v, np.ndarray) else v) for k, v in kw.items()})
                self.records[c]["events"].append(ev)


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


def bday_of(doy: int) -> tuple[int, int] | None:
    """(month, day) of a day of a non-leap year, None when unknown (-1)."""
    if doy < 0:
        return None
    m = int(np.searchsorted(NON_LEAP_MONTH_START, doy, side="right"))
    return (m, doy - int(NON_LEAP_MONTH_START[m - 1]) + 1)
