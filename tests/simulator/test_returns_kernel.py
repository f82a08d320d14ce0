"""The compiled returns (simulator.kernel.returns) against the numpy code they replace
(`DayEvents._schedule_returns` / `_returns`, the order book, `LotStore.reverse`, the cohorts): hand-built
ledgers worked out by hand, and whole runs on the kernel with the returns compiled or on numpy, whose
states after the last day must be equal array for array (block sizes 128 and 1024, 2+ blocks, referred
newcomers in spare slots, pending points, debt, balances beside the points, lowered tier metrics)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from types import SimpleNamespace

import numpy as np
import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from simulator.engine import day_loop
from simulator.engine.calendar import Calendar
from simulator.engine.cohorts import CohortBook
from simulator.engine.day_events import DayEvents
from simulator.engine.program_arm import ProgramArm
from simulator.engine.program_plan import build_plan
from simulator.engine.returns import ReturnSchedule
from simulator.kernel import kernel_for
from simulator.kernel.returns import ReturnKernel
from simulator.model.strings import StringTable
from simulator.trials.montecarlo import simulate
from test_differential import _compile
from test_redeem_kernel import _assert_same, _population, _report, _state

# ------------------------------------------------------------------ hand-built ledgers

SHOP = """
program "Shop" {
  currency USD
  point cost 0.01 USD
  earn base on purchase {
    award 1 point per 1 USD of net amount
  }
  earn promo on purchase {
    discount 10% of net amount
  }
  returns reverse earned points
  negative balance NEGATIVE
}
"""
DAYS = 40  # from Monday 2027-01-04: days 0 .. 27 in January


def _program(negative: str):
    sf, diags = parse_text(SHOP.replace("NEGATIVE", negative), "shop.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return program


class _Sim(DayEvents):
    """The parts of a `ChunkSim` the return steps read: a program arm on the kernel, its cohort book,
    the month's metrics, the tier economics' revenue per customer, recorded customers."""

    def __init__(self, program, n: int, compiled: bool):
        strings = StringTable()
        cal = Calendar.make(dt.date(2027, 1, 4), DAYS)
        plan = build_plan(program, cal, strings)
        self.plan, self.days, self.compiled = plan, cal.days, compiled
        self.arm = ProgramArm(plan, n, strings, np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64), {}, {},
                              returns_happen=True)
        self.arm.kernel = kernel_for(plan, self.arm, strings)
        assert self.arm.kernel is not None
        self.cohorts = CohortBook(n, plan.month_of_day, cal.months, plan.granularity, record=n)
        self.arm.lots.cohorts = self.cohorts
        self.schedule = ReturnSchedule()
        self.return_rules = False
        self.tier_flows = True
        self.cust_rev = {k: np.zeros(n, dtype=np.int64) for k in ("revenue_cents", "baseline_revenue_cents")}
        self.rec_idx = set(range(n))
        self.records = {c: {"events": []} for c in range(n)}
        self.mon = {f"{a}.{m}": np.zeros(cal.months, dtype=np.int64) for a in ("baseline", "program")
                    for m in ("revenue_cents", "returns", "refund_cents")}
        self.mon["program.discount_returned_cents"] = np.zeros(cal.months, dtype=np.int64)

    def _return_kernel(self):
        rk = DayEvents._return_kernel(self) if self.compiled else None
        assert (rk is not None) == self.compiled
        return rk

    def start(self, day: int) -> int:
        self.arm.calendar(day)
        mo = int(self.plan.month_of_day[day])
        self.cohorts.month = mo
        return mo

    def buy(self, day: int, U, amount, ib, ip, mi, back) -> np.ndarray:
        """Buyers U (rows ib in the baseline arm, ip in the program arm, mi members) spend `amount`;
        `back`: (row, due day, cents returned) of the purchases that will come back."""
        U, amount = np.array(U, dtype=np.int64), np.array(amount, dtype=np.int64)
        ib, ip, mi = (np.array(x, dtype=np.int64) for x in (ib, ip, mi))
        earned = self.arm.apply("purchase", U[mi], {"amount": amount[mi]})
        draws = SimpleNamespace(amount=amount, shipping=None, category=None, channel=None, items=None, quantity=None)
        rows, due, returned = (np.array([b[k] for b in back], dtype=np.int64) for k in range(3))
        self._schedule_returns({"rows": rows, "due": due, "returned": returned}, U, ib, ip, mi, earned, draws, day)
        return earned


def _scenario(negative: str, compiled: bool) -> tuple[_Sim, dict]:
    sim = _Sim(_program(negative), 7, compiled)
    arm, lots = sim.arm, sim.arm.lots
    if negative == "allowed":  # c6 starts 10 points below zero (a debt), so its next points repay it first
        lots.outstanding[6], lots.debt[6] = -10, 10
    seen = {}
    for day in range(DAYS):
        mo = sim.start(day)
        sim._returns(day, mo, [])
        if day == 0:
            # rows 0 .. 4, 6: members c0 .. c4, c6 (program arm); row 5: c5 buys in the baseline arm only
            seen["earned0"] = sim.buy(day, [0, 1, 2, 3, 4, 5, 6], [2000, 5000, 3000, 1000, 2000, 700, 2000],
                                      ib=[5], ip=[0, 1, 2, 3, 4, 6], mi=[0, 1, 2, 3, 4, 6],
                                      back=[(0, 3, 500), (1, 5, 5000), (2, 6, 3000), (3, DAYS, 1000), (4, 5, 2000),
                                            (5, 4, 700), (6, 3, 2000)])
        elif day == 1:  # c2's second order, returned the same day as the first
            seen["earned1"] = sim.buy(day, [2], [1000], ib=[], ip=[0], mi=[0], back=[(0, 6, 1000)])
        elif day == 2:  # c1 and c4 spend 40 and 18 of their points before their orders come back
            lots.burn(np.array([1, 4]), np.array([40, 18]))
    return sim, seen


@pytest.mark.parametrize("negative", ["forbidden", "allowed"])
def test_returns_on_hand_built_ledgers_worked_by_hand(negative):
    numpy_sim, seen = _scenario(negative, compiled=False)
    sim, seen_k = _scenario(negative, compiled=True)
    # net amount = amount - 10% discount; 1 point per whole USD: 2000 -> 1800 -> 18, 5000 -> 45,
    # 3000 -> 27, 1000 -> 9, 2000 -> 18
    assert seen["earned0"].tolist() == seen_k["earned0"].tolist() == [18, 45, 27, 9, 18, 18]
    assert seen["earned1"].tolist() == [9]
    for s in (numpy_sim, sim):
        arm, lots = s.arm, s.arm.lots
        # c0: 500 of 2000 back: floor(18 x 500 / 2000) = 4; c1: 45 earned, 40 spent, all back: its own
        # 5 left, the other 40 beyond the balance (a debt only when allowed); c2: both orders back
        # on day 6, 27 + 9; c3: due after the last day, never returned; c4: all 18 spent, all back;
        # c6 (allowed): 18 earned, 10 of them repaid its debt, so its order holds 8: the return takes
        # those 8, and the other 10 beyond the balance are a debt again (forbidden: all 18 held)
        debt = negative == "allowed"
        assert arm.reversed.tolist() == [4, 45 if debt else 5, 36, 0, 18 if debt else 0, 0, 18]
        # what a debt reversed is below zero: outstanding = -debt (held in lots: 0)
        assert lots.outstanding.tolist() == [14, -40 if debt else 0, 0, 9, -18 if debt else 0, 0, -10 if debt else 0]
        assert (lots.debt.tolist() if debt else [0] * 7) == [0, 40 if debt else 0, 0, 0, 18 if debt else 0, 0,
                                                             10 if debt else 0]
        # the returned share of each discount: 200 x 500 // 2000 = 50, 500, 300 + 100, 200 (c3's never), 200
        assert arm.discount_refunded.tolist() == [50, 500, 400, 0, 200, 0, 200]
        assert s.mon["program.returns"][0] == 6 and s.mon["baseline.returns"][0] == 1
        assert s.mon["program.refund_cents"][0] == 500 + 5000 + 3000 + 1000 + 2000 + 2000
        assert s.mon["baseline.refund_cents"][0] == 700
        assert s.mon["program.discount_returned_cents"][0] == 50 + 500 + 400 + 200 + 200
        assert s.cust_rev["revenue_cents"].tolist() == [-500, -5000, -4000, 0, -2000, 0, -2000]
        assert s.cust_rev["baseline_revenue_cents"].tolist() == [0, 0, 0, 0, 0, -700, 0]
        assert [e["day"] for e in s.records[2]["events"]] == [6, 6]
        assert [e["order"] for e in s.records[2]["events"]] == ["d0", "d1"]
        assert not s.records[3]["events"] and not s.records[5]["events"]
        assert lots.book.live_count == 1 and lots.book.n_open.tolist() == [0, 0, 0, 1, 0, 0, 0]  # c3's order
        assert s.cohorts.mat["reversed"][:, 0].sum() == arm.reversed.sum()
    _assert_same(_hand_state(numpy_sim), _hand_state(sim))
    assert numpy_sim.records == sim.records


def _hand_state(sim: _Sim) -> dict:
    out = _state(sim)
    del out["sim.compiled"]
    return out


def test_the_schedule_grows_and_reuses_rows_like_the_numpy_schedule():
    program = _program("allowed")
    n = 600
    sims = [_Sim(program, n, compiled) for compiled in (False, True)]
    rng = np.random.default_rng(3)
    for day in range(DAYS):
        buyers = np.flatnonzero(rng.random(n) < 0.6)
        amount = rng.integers(100, 9000, buyers.size)
        rows = np.flatnonzero(rng.random(buyers.size) < 0.5)
        due = day + rng.integers(0, 24, rows.size)  # some due today (numpy: never popped), some after the last day
        back = np.minimum(amount[rows], rng.integers(1, 9000, rows.size))
        burn = np.flatnonzero(rng.random(n) < 0.2)
        for s in sims:
            mo = s.start(day)
            s._returns(day, mo, [])
            idx = np.arange(buyers.size)
            s.buy(day, buyers, amount, ib=idx[::2], ip=idx, mi=idx[idx % 3 > 0],
                  back=list(zip(rows.tolist(), due.tolist(), back.tolist())))
            s.arm.lots.burn(burn, np.maximum(s.arm.lots.available(burn), 0) // 2)
    numpy_sim, sim = sims
    assert sim._ret_k.cap > 1024  # grown
    assert numpy_sim.arm.reversed.sum() > 0 and numpy_sim.arm.lots.debt.sum() > 0
    _assert_same(_hand_state(numpy_sim), _hand_state(sim))
    assert numpy_sim.records == sim.records


# ------------------------------------------------------------------ whole runs, both ways


def _final(monkeypatch, program, pop, compiled: bool, **kw):
    """The report, the records, and every chunk's state after its last day."""
    states = []
    orig = day_loop.ChunkSim._finish

    def finish(self):
        assert (self.__dict__.get("_ret_k") is not None) == compiled
        state = _state(self)
        del state["sim.u"]  # scratch for the numpy pass's uniforms (np.empty; the compiled pass has its own)
        state["referred_reversed"] = np.array((self.arm.reversed[self.tr.pool] > 0).sum())  # in spare slots
        states.append((state, copy.deepcopy(self.records)))
        return orig(self)

    monkeypatch.setattr(day_loop.ChunkSim, "_finish", finish)
    if not compiled:
        monkeypatch.setattr(DayEvents, "_return_kernel", lambda self: None)
    monkeypatch.setenv("LOYALTY_ENGINE", "auto")
    res = simulate(program, pop, workers=1, **kw)
    monkeypatch.undo()
    assert res.meta["engine"] == "kernel"
    return res, states


@pytest.mark.parametrize("path,customers,block,months,shows", [
    ("rules/coffee.loyalty", 256, 128, 5, "new_customers"),  # referrals: newcomers in spare slots; expiry
    ("rules/airline.loyalty", 256, 128, 5, "lots.debt"),  # negative balance allowed, a balance beside the points
    ("rules/airline_status.loyalty", 256, 128, 5, "lots.debt"),  # lower tier metric and counters, balances, debt
    ("rules/fashion_discount.loyalty", 256, 128, 5, "arm.discount_refunded"),  # tier lowered at once
    ("rules/online_shop.loyalty", 256, 128, 4, "new_customers"),  # pending points, referrals
    ("rules/coffee.loyalty", 2100, 1024, 3, "points_reversed"),  # 3 blocks of 1024
])
def test_compiled_returns_leave_the_numpy_returns_state(path, customers, block, months, shows, busy_population,
                                                         monkeypatch):
    program, pop = _compile(path), _population(busy_population)
    kw = dict(customers=customers, months=months, trials=1, seed=11, block_size=block, record=5)
    a, sa = _final(monkeypatch, program, pop, False, **kw)
    b, sb = _final(monkeypatch, program, pop, True, **kw)
    assert len(sa) == len(sb) == 1
    (want, want_rec), (got, got_rec) = sa[0], sb[0]
    _assert_same(want, got)
    assert want_rec == got_rec
    assert _report(a) == _report(b)
    assert json.dumps(a.records, sort_keys=True, default=str) == json.dumps(b.records, sort_keys=True, default=str)
    assert a.totals["program.returns"]["mean"] > 0
    if "." in shows:  # a return reversed beyond the balance (a debt); discounts refunded
        assert want[shows].sum() > 0
    else:  # referred newcomers (spare slots) joined; points reversed
        assert a.totals[f"program.{shows}"]["mean"] > 0
    if shows == "new_customers":  # and some of them returned a purchase that earned points
        assert want["referred_reversed"] > 0


def test_the_compiled_stable_order_is_numpys_stable_argsort():
    # equal customers keep their booking order: the numpy rounds' order of one customer's returns
    from simulator.kernel.returns import _stable_order

    rng = np.random.default_rng(1)
    for n in (0, 1, 2, 3, 7, 100, 1001):
        keys = rng.integers(0, 20, n)
        assert _stable_order(keys).tolist() == np.argsort(keys, kind="stable").tolist()
    assert _stable_order(np.array([5, 3, 5, 3, 1])).tolist() == [4, 1, 3, 0, 2]  # 1; the 3s; the 5s, in order
