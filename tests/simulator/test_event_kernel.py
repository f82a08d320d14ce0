"""Events other than purchases on the compiled kernel (simulator.kernel.events) give what the numpy
path gives: signups, referrals (both sides, a rule that awards one side only), birthdays (a global
budget that runs out mid-batch), custom events whose fields conditions and counters read, and rules
on `return` (the returned amount, the balance handed over). Worked by hand on a few customers, on
the same state batch by batch through whole trials, and on whole reports."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from simulator.engine.calendar import Calendar
from simulator.engine.program_arm import ProgramArm
from simulator.engine.program_plan import build_plan
from simulator.kernel import events, kernel_for
from simulator.kernel.coverage import kind_reasons
from simulator.model.strings import StringTable
from simulator.trials.montecarlo import simulate
from test_differential import PROGRAMS, _compile
from test_kernel import _trials

PROGRAM = Path(__file__).resolve().parent / "fixtures" / "events.loyalty"
KINDS = ("signup", "referral", "birthday", "review", "survey", "return")


def _program():
    sf, diags = parse_text(PROGRAM.read_text(), str(PROGRAM))
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags]
    return program


def _arm(kernel: bool):
    strings = StringTable()
    plan = build_plan(_program(), Calendar.make(dt.date(2027, 1, 2), 30), strings)
    n = 4
    arm = ProgramArm(plan, n, strings, np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64),
                     {"vip": [True, False, True, False]}, {})
    if kernel:
        arm.kernel = kernel_for(plan, arm, strings)
        assert arm.kernel is not None
    arm.calendar(0)
    return arm, strings


def _go(arm, kind: str, who: list[int], **data) -> list[int]:
    return arm.apply(kind, np.array(who, dtype=np.int64), data).tolist()


def test_every_event_kind_of_the_program_runs_on_the_kernel():
    plan = build_plan(_program(), Calendar.make(dt.date(2027, 1, 2), 30), StringTable())
    assert {kind: kind_reasons(plan, kind) for kind in KINDS} == {kind: [] for kind in KINDS}


@pytest.mark.parametrize("path", PROGRAMS)
def test_every_event_kind_of_the_differential_programs_runs_on_the_kernel(path):
    plan = build_plan(_compile(path), Calendar.make(dt.date(2027, 1, 1), 30), StringTable())
    kinds = (set(plan.by_event) | {c.event for c in plan.program.counters}) - {"purchase"}
    assert {kind: kind_reasons(plan, kind) for kind in kinds} == {kind: [] for kind in kinds}


@pytest.mark.parametrize("kernel", [True, False])
def test_events_other_than_purchases_earn_what_the_rules_say_worked_by_hand(kernel):
    arm, strings = _arm(kernel)
    role = lambda *names: np.array([strings.code(x) for x in names], dtype=np.int64)  # noqa: E731
    # signups: welcome 200 for the vip customers c0, c2; welcome_all 10 for all
    assert _go(arm, "signup", [0, 1, 2, 3]) == [210, 10, 210, 10]
    # signup_gift's money budget of 75 cents, in batch order: c1's pen (50 cents, 25 left), c3's pen
    # (its 0 points are not cut; 25 - 50: -25 left)
    assert arm.perk.tolist() == [0, 50, 0, 50]
    assert arm.budgets == {"signup_gift": -25}
    # c1 signs up again this month: welcome_all's cap of 15 a month leaves 15 - 10 = 5; signup_gift's
    # budget is below 0: skipped, no pen
    assert _go(arm, "signup", [1]) == [5]
    assert arm.perk.tolist() == [0, 50, 0, 50]
    # c0 refers: 100 to the referrer; referee_bonus awards only the referee's side, skipped
    assert _go(arm, "referral", [0], role=role("referrer")) == [100]
    assert arm.tier.tolist()[0] == 1  # 210 + 100 = 310 points reach Gold (300)
    # c3 is referred: 50 + 25; again this month: referee_bonus's limit of once a month is used: 50
    assert _go(arm, "referral", [3], role=role("referee")) == [75]
    assert _go(arm, "referral", [3], role=role("referee")) == [50]
    # a batch of both sides (the numpy path): c1 refers (100), c2 is referred (50 + 25)
    assert _go(arm, "referral", [1, 2], role=role("referrer", "referee")) == [100, 75]
    # birthdays, the budget of 120 points spent in batch order: c0 50 (70 left), c1 50 (20 left),
    # c2 20 of its 50 (0 left), c3: a budget at 0 skips the rule
    assert _go(arm, "birthday", [0, 1, 2, 3]) == [50, 50, 20, 0]
    assert arm.budgets == {"signup_gift": -25, "birthday_treat": 0}
    # issued so far: c0 210 + 100 + 50 = 360, c1 15 + 100 + 50 = 165, c2 210 + 75 + 20 = 305 (Gold),
    # c3 10 + 75 + 50 = 135
    assert arm.issued.tolist() == [360, 165, 305, 135]
    assert arm.tier.tolist() == [1, 0, 1, 0]
    # reviews: good_review (rating >= 4 and verified) 20 for c0 only; photo_review (photos >= 2)
    # 7 for c0 and c1; photos_sent sums the photos of verified reviews: c0 2, c2 1
    assert _go(arm, "review", [0, 1, 2], **{"event.rating": np.array([5.0, 4.0, 3.0]),
                                           "event.photos": np.array([2.0, 3.0, 1.0]),
                                           "event.verified": np.array([True, False, True])}) == [27, 7, 0]
    assert arm.counters["photos_sent"].tolist() == [2, 0, 1, 0]
    # surveys: every 2nd one earns 3 (c0's second, on its own)
    assert _go(arm, "survey", [0, 1]) == [0, 0]
    assert _go(arm, "survey", [0]) == [3]
    assert arm.counters["surveys"].tolist() == [2, 1, 0, 0]
    # returns of 30 USD, read with the balance handed over (before the return): c0 (390, Gold):
    # 1 point per 2 USD of the whole 30 USD returned (no shipping comes off a return) = 15, Gold's 2x
    # adds 15: 30; c2's 299 (its 305 now) is below 300: 0; c3's 400 (its 135 now): 15, Base: 15
    got = _go(arm, "return", [0, 2, 3], amount=np.array([3000, 3000, 3000], dtype=np.int64),
              shipping=np.array([500, 0, 0], dtype=np.int64), balance=np.array([390, 299, 400], dtype=np.int64))
    assert got == [30, 0, 15]
    assert arm.issued.tolist() == [420, 172, 305, 150]
    assert arm.lots.outstanding.tolist() == [420, 172, 305, 150]
    assert arm.metric.tolist() == [420, 172, 305, 150]  # tiers by points
    assert arm.purchases.tolist() == [0, 0, 0, 0]  # no event but a purchase counts as one
    if kernel:  # every kind ran on the kernel
        assert sorted(k for k, ek in arm.kernel.events.items() if ek is not None) == sorted(KINDS)


def _owners(arm) -> list:
    """The objects whose arrays an event may change."""
    lots = arm.lots
    return [arm, lots, arm.status, getattr(lots, "cohorts", None), getattr(lots, "book", None)]


def _arrays(arm) -> dict:
    out = {}
    for o, obj in enumerate(_owners(arm)):
        if obj is None:
            continue
        for key, v in vars(obj).items():
            if isinstance(v, np.ndarray):
                out[o, key] = v
            elif isinstance(v, dict):
                for sub, w in v.items():
                    if isinstance(w, np.ndarray):
                        out[o, key, sub] = w
    return out


def _check_each_batch(monkeypatch) -> dict:
    """Run each batch an `EventKernel` takes on the kernel, then again on the numpy path from the
    same state: the points and every state array must be equal. Gives the batches per kind."""
    ran: dict = {}
    kernel_apply = events.EventKernel.apply

    def both(self, arm, idx, data):
        before = {k: v.copy() for k, v in _arrays(arm).items()}
        budgets = dict(arm.budgets)
        got = kernel_apply(self, arm, idx, data)
        if got is None:
            return None
        after = {k: v.copy() for k, v in _arrays(arm).items()}
        budgets_after = dict(arm.budgets)
        for k, v in _arrays(arm).items():
            v[...] = before[k]
        arm.budgets.clear()
        arm.budgets.update(budgets)
        kernel, arm.kernel = arm.kernel, None
        try:
            want = arm.apply(self.kind, idx, data)
        finally:
            arm.kernel = kernel
        assert got.tolist() == want.tolist(), self.kind
        assert arm.budgets == budgets_after, self.kind
        now = _arrays(arm)
        assert now.keys() == after.keys()
        assert [k for k in now if not np.array_equal(now[k], after[k])] == [], self.kind
        ran[self.kind] = ran.get(self.kind, 0) + 1
        return want

    monkeypatch.setattr(events.EventKernel, "apply", both)
    return ran


@pytest.mark.parametrize("block, customers, months", [(128, 400, 13), (1024, 2100, 3)])
def test_each_event_batch_on_the_kernel_leaves_the_numpy_paths_state(block, customers, months, busy_population,
                                                                      monkeypatch):
    monkeypatch.setenv("LOYALTY_ENGINE", "auto")
    ran = _check_each_batch(monkeypatch)
    res = simulate(_program(), busy_population, customers=customers, months=months, trials=1, seed=5, workers=1,
                   block_size=block)
    assert res.meta["engine"] == "kernel"
    assert set(ran) == set(KINDS), ran  # every kind ran on the kernel (returns: the rule `sorry`)
    assert res.totals["program.points_issued"]["mean"] > 0


@pytest.mark.parametrize("block, customers, months", [(128, 400, 13), (1024, 2100, 3)])
def test_events_on_the_kernel_give_the_numpy_paths_reports(block, customers, months, busy_population, monkeypatch):
    kw = dict(customers=customers, months=months, trials=2, seed=11, workers=1, block_size=block)
    monkeypatch.setenv("LOYALTY_ENGINE", "numpy")
    a = simulate(_program(), busy_population, **kw)
    monkeypatch.setenv("LOYALTY_ENGINE", "auto")
    b = simulate(_program(), busy_population, **kw)
    assert b.meta["engine"] == "kernel"
    assert json.loads(_trials(a)) == json.loads(_trials(b))
