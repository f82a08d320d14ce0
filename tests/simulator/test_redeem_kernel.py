"""The compiled redemption, per-use perks and purchase-probability steps (simulator.kernel.redeem, .lift)
against the numpy code they replace: the lot burn on random ledgers (several lots, pending points, debt,
rings that wrapped, the `old` bucket, the cohort book), every step of real runs replayed both ways on
the same state (equal arrays, to the bit for the float32 probabilities, equal records), and whole
reports kernel == LOYALTY_ENGINE=numpy on 3 blocks."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from simulator.engine import day_loop
from simulator.engine.cohorts import CohortBook
from simulator.engine.lots import LotStore
from simulator.kernel import redeem
from simulator.trials.montecarlo import simulate
from test_differential import _compile

# ------------------------------------------------------------------ the lot burn on random ledgers


def _ledger(seed: int, granularity: str, pending: int, ring: int, negative: bool, n: int = 240, days: int = 150):
    """A LotStore with its CohortBook after `days` of random earning, maturing, folding into `old`, ring
    buckets expiring, returns beyond the balance (debt, under `negative`) and burns, all by the numpy code."""
    rng = np.random.default_rng(seed)
    month_of_day = np.arange(days + 1) // 30
    months = int(month_of_day[-1]) + 1
    lots = LotStore(n, pending, granularity, ring, negative_allowed=negative)
    lots.cohorts = book = CohortBook(n, month_of_day, months, granularity, record=7)
    slot_of = (lambda d: int(month_of_day[d])) if granularity == "month" else (lambda d: d)
    opening = np.flatnonzero(rng.random(n) < 0.3)
    lots.add_opening(opening, slot_of(0), rng.integers(1, 500, opening.size))
    for day in range(days):
        book.month = int(month_of_day[day])
        lots.start_slot(slot_of(day), fold=True)
        if pending and day - pending >= 0:
            lots.mature(day, slot_of(day - pending))
        if granularity == "day" and day % 11 == 5 and lots.ring is not None:  # the oldest bucket expires
            lots.expire_slot(lots.cur_slot - lots.ring_size + 1, None, day)
        who = np.flatnonzero(rng.random(n) < 0.25)
        lots.add(who, day, slot_of(day), rng.integers(0, 300, who.size))
        if day % 9 == 4:  # returns: the newest points, the rest beyond the balance a debt
            back = np.flatnonzero(rng.random(n) < 0.05)
            none = np.full(back.size, -1, dtype=np.int64)
            lots.reverse(back, rng.integers(1, 2000, back.size), none, none, none, day)
        if day % 6 == 2:
            _burn_some(lots, rng, lots.burn, share=0.1)
    return lots, rng


def _burn_some(lots: LotStore, rng, burn, share: float = 0.4) -> None:
    idx = np.flatnonzero(rng.random(lots.n) < share)
    avail = np.maximum(lots.available(idx), 0)
    # every amount from 0 to the whole available balance, the whole balance often
    amount = np.where(rng.random(idx.size) < 0.3, avail, (avail * rng.random(idx.size)).astype(np.int64))
    burn(idx, amount)


def _lot_state(lots: LotStore) -> dict:
    book = lots.cohorts
    out = {k: v for k, v in vars(lots).items() if isinstance(v, np.ndarray)}
    out.update({f"cohorts.{k}": v for k, v in vars(book).items() if isinstance(v, np.ndarray)})
    out.update({f"cohorts.mat.{k}": v for k, v in book.mat.items()})
    out.update({f"cohorts.rec.{k}": v for k, v in book.rec.items()})
    return {k: v.copy() for k, v in out.items()}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


@pytest.mark.parametrize("granularity,pending,ring,negative", [
    ("day", 0, 20, False),     # a day ring that wraps (lots older than it in `old`), buckets expiring
    ("day", 14, 30, True),     # pending points, debt from returns
    ("month", 0, 3, True),     # a month ring of 3 (older lots folded into `old`)
    ("none", 7, 1, False),     # no ring: one matured number per customer
])
def test_the_compiled_burn_is_the_numpy_burn(granularity, pending, ring, negative):
    for seed in range(3):
        lots, rng = _ledger(seed, granularity, pending, ring, negative)
        held = lots.held(np.arange(lots.n))
        assert (held > 0).sum() > 100  # a real ledger: most customers hold points ...
        if lots.ring is not None:
            assert (np.count_nonzero(lots.ring, axis=0) >= 2).sum() > 20  # ... in several lots
            assert (lots.old > 0).any() or ring > 20
        if pending:
            assert (lots.pending > 0).sum() > 20
        if negative:
            assert (lots.debt > 0).any()
        other = copy.deepcopy(lots)
        for step in range(4):  # the same burns, numpy on one copy, the kernel on the other
            state = rng.bit_generator.state
            _burn_some(lots, rng, lots.burn)
            rng.bit_generator.state = state
            _burn_some(other, rng, lambda idx, amount: redeem.burn(other, idx, amount))
            _assert_same(_lot_state(lots), _lot_state(other))
            assert lots.audit().max() == 0 and other.audit().max() == 0
        assert (lots.cohorts.mat["redeemed"].sum() > 0) and (lots.cohorts.rec["redeemed"].sum() > 0)


def test_the_compiled_month_fold_is_the_numpy_fold():
    lots, _ = _ledger(5, "day", 14, 30, True)
    book = lots.cohorts
    assert (book.cur != 0).sum() > 20  # this month's earnings not yet in their column
    other = copy.deepcopy(lots)
    other.cohorts.fold = redeem.fold
    book.month = other.cohorts.month = book.month + 1  # the month changes: `cur` folds into its column
    assert not book.cur.any()
    _assert_same(_lot_state(lots), _lot_state(other))


# ------------------------------------------------------------------ each step of real runs, both ways

STEPS = ("_redeem", "_per_use_perks", "_refresh_q", "_end_post_windows")


def _owners(sim) -> dict:
    arm = sim.arm
    out = {"sim": sim, "arm": arm, "lots": arm.lots, "cohorts": sim.cohorts}
    if arm.vouchers is not None:
        out["vouchers"] = arm.vouchers
    if arm.lots.book is not None:
        out["book"] = arm.lots.book
    return out


def _snapshot(sim) -> list:
    """Every numpy array (and dict of arrays) of the chunk's state, with a copy, and the scalars."""
    snap = []
    for name, o in _owners(sim).items():
        for k, v in vars(o).items():
            if isinstance(v, np.ndarray):
                snap.append((o, k, None, v, v.copy()))
            elif isinstance(v, dict):
                snap.extend((o, k, kk, vv, vv.copy()) for kk, vv in v.items() if isinstance(vv, np.ndarray))
            elif isinstance(v, (int, float, bool, np.integer, np.floating)) and not isinstance(v, type):
                snap.append((o, k, None, v, v))
    return snap + [(sim, "records", None, sim.records, copy.deepcopy(sim.records))]


def _restore(snap: list) -> None:
    for o, k, kk, ref, saved in snap:
        if isinstance(ref, np.ndarray):
            ref[...] = saved
        elif k == "records":
            ref.clear()
            ref.update(copy.deepcopy(saved))
            continue
        if kk is None:
            setattr(o, k, ref)
        else:
            getattr(o, k)[kk] = ref


def _state(sim) -> dict:
    out = {}
    for name, o in _owners(sim).items():
        for k, v in vars(o).items():
            if isinstance(v, np.ndarray):
                out[f"{name}.{k}"] = v.copy()
            elif isinstance(v, dict):
                out.update({f"{name}.{k}[{kk}]": vv.copy() for kk, vv in v.items() if isinstance(vv, np.ndarray)})
            elif isinstance(v, (int, float, bool, np.integer, np.floating)):
                out[f"{name}.{k}"] = np.array(v)
    return out


def _replayed(monkeypatch, program, pop, **kw) -> dict:
    """Run `program` on the kernel; every call of the steps runs first on the numpy path, then, on the
    same state restored, compiled; the two states must be equal. Returns the calls per step."""
    orig = {name: getattr(day_loop.ChunkSim, name) for name in STEPS}
    calls = dict.fromkeys(STEPS, 0)
    changed = dict.fromkeys(STEPS, 0)

    def wrap(name):
        def step(self, *args):
            if self.redeem_k is None and self.lift_k is None:  # the numpy side of a replay (or a numpy chunk)
                return orig[name](self, *args)
            kernels = self.redeem_k, self.lift_k
            snap = _snapshot(self)
            before = _state(self)
            recorded = copy.deepcopy(self.records)
            self.redeem_k = self.lift_k = None
            orig[name](self, *args)
            want = _state(self)
            want_records = copy.deepcopy(self.records)
            _restore(snap)
            self.redeem_k, self.lift_k = kernels
            assert {k: v.tobytes() for k, v in _state(self).items()} == {k: v.tobytes() for k, v in before.items()}
            orig[name](self, *args)
            got = _state(self)
            _assert_same(want, got)
            assert self.records == want_records
            calls[name] += 1
            changed[name] += any(want[k].tobytes() != before[k].tobytes() for k in want) or recorded != self.records
        return step

    for name in STEPS:
        monkeypatch.setattr(day_loop.ChunkSim, name, wrap(name))
    monkeypatch.setenv("LOYALTY_ENGINE", "auto")
    res = simulate(program, pop, workers=1, **kw)
    assert res.meta["engine"] == "kernel"
    return {name: (calls[name], changed[name]) for name in STEPS}


def _population(busy, **response):
    # perk use at 0.7: its float32 (0.69999999) is below the float64 0.7, so comparing a uniform with
    # either one differs; the goal gradient and post-reward lift on, a 5-day window
    r = dataclasses.replace(busy.response, perk_use_rate=0.7, goal_gradient=0.3, post_reward_lift=0.15,
                            post_reward_days=5, **response)
    return dataclasses.replace(busy, response=r)


@pytest.mark.parametrize("path,steps,months", [
    # (these three reverse the points of returns: the order book hears of every burn)
    ("rules/coffee.loyalty", ("_redeem", "_refresh_q", "_end_post_windows"), 4),
    # debt, per-use perks (of a tier members reach in months), several rewards
    ("rules/airline.loyalty", ("_redeem", "_per_use_perks", "_refresh_q"), 9),
    ("rules/online_shop.loyalty", ("_redeem", "_refresh_q"), 4),  # pays with points; pending points
    ("tests/simulator/fixtures/vouchers.loyalty", ("_redeem", "_refresh_q"), 4),  # a reward that issues a voucher
])
def test_each_compiled_step_is_the_numpy_step_on_the_runs_states(path, steps, months, busy_population, monkeypatch):
    got = _replayed(monkeypatch, _compile(path), _population(busy_population),
                    customers=256, months=months, trials=1, seed=4, block_size=128, record=6)  # 2 blocks
    for name in steps:
        calls, changed = got[name]
        assert calls > 0 and changed > 0, (name, got)  # the step ran, and changed the state


# ------------------------------------------------------------------ whole reports


def _report(res) -> str:
    doc = res.to_json()
    doc.pop("meta")
    doc["ledger_flows"] = {k: v.tolist() for k, v in sorted(res.ledger_flows.items())}
    return json.dumps(doc, sort_keys=True, default=str)


@pytest.mark.parametrize("path", ["rules/coffee.loyalty", "rules/cosmetics.loyalty", "rules/grocery.loyalty",
                                  "rules/online_shop.loyalty"])
def test_reports_on_the_kernel_are_the_numpy_reports(path, busy_population, monkeypatch):
    program, pop = _compile(path), _population(busy_population)
    kw = dict(customers=384, months=6, trials=2, seed=9, workers=1, block_size=128, record=4)  # 3 blocks
    monkeypatch.setenv("LOYALTY_ENGINE", "numpy")
    a = simulate(program, pop, **kw)
    monkeypatch.setenv("LOYALTY_ENGINE", "auto")
    b = simulate(program, pop, **kw)
    assert b.meta["engine"] == "kernel"
    assert a.totals["program.points_redeemed"]["mean"] > 0
    assert _report(a) == _report(b)
    assert json.dumps(a.records, sort_keys=True, default=str) == json.dumps(b.records, sort_keys=True, default=str)


def test_numpy_compares_a_float32_uniform_with_a_python_float_as_float32():
    # the rule the compiled per-use perk test follows (numpy 2, NEP 50): 0.7 as a float32 is
    # 0.699999988079071, below 0.7, so the uniform equal to it is not below the rate in float32
    u = np.array([np.float32(0.7)], dtype=np.float32)
    assert float(np.float32(0.7)) < 0.7
    assert not (u < 0.7)[0]
    assert (u.astype(np.float64) < 0.7)[0]
