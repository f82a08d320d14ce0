"""A global budget shared by every customer: the engine and the reference interpreter agree.

All customers of a small busy population are recorded, and replayed through the reference
interpreter together (`rulelang.run_together`), with one `BudgetState`, in the order the
engine applies a day's events (docs/simulator.md §6). The budgets run out during the run,
so the replay must give the last points to the same purchase and skip the rule for the
same customers after it: every customer's ledger must match exactly.
"""

from __future__ import annotations

import datetime as dt

import pytest

from rulelang import ir
from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from sim_helpers import HERE
from simulator.engine.interpreter_check import compare_records_together, documented_order
from simulator.trials.montecarlo import simulate

POINTS_BUDGET = 6000
MONEY_BUDGET_CENTS = 2000
CHECKIN_BUDGET = 150


def _program() -> ir.Program:
    text = (HERE / "fixtures" / "constructs.loyalty").read_text()
    # the rate award (rounded up, multiplied), a discount rule of an exclusive group and the
    # check-in award get budgets that run out within the simulated months
    text = text.replace('excluding category "tobacco"\n    round up\n',
                        f'excluding category "tobacco"\n    round up\n    budget {POINTS_BUDGET} points\n')
    text = text.replace('discount 10%\n    group "promo"\n',
                        f'discount 10%\n    group "promo"\n    budget {MONEY_BUDGET_CENTS // 100} USD\n')
    text = text.replace("budget 1000000 points", f"budget {CHECKIN_BUDGET} points")
    assert text.count("budget") == 3
    sf, diags = parse_text(text, "shared_budget.loyalty")
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return program


@pytest.fixture(scope="module")
def shared_run(busy_population):
    program = _program()
    res = simulate(program, busy_population, customers=150, months=8, trials=1, seed=3, workers=1,
                   record=10**6)
    assert res.meta["engine"] == "kernel"  # the kernel spends the budgets, customer after customer in batch order
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    return program, res, start, end


def test_one_budget_for_all_customers_runs_out_on_the_same_purchase(shared_run):
    program, res, start, end = shared_run
    records = res.records
    # every customer of the population is in the record (the budget is shared by all of them)
    issued = sum(r["ledger"]["issued"] for r in records.values())
    assert issued == res.per_trial["program.points_issued"][0]
    problems, budgets = compare_records_together(program, records, start, end)
    assert problems == []
    # the budgets did run out: a points budget is spent to the point (points are cut to what is
    # left), a money budget of discounts to 0 or below (discounts are not cut; §10)
    assert budgets.remaining["base"] == 0
    assert budgets.remaining["checkin"] == 0
    assert budgets.remaining["lyon_coffee"] <= 0


def test_replaying_customers_one_by_one_would_not_agree(shared_run):
    # the same records replayed one customer at a time, each with the whole budget: customers
    # after the one who spent it would still earn, so the shared replay is what tests the budget
    from simulator.engine.interpreter_check import compare_records

    program, res, start, end = shared_run
    assert compare_records(program, res.records, start, end) != []


def test_the_documented_order_keeps_each_customers_own_order():
    records = {
        7: {"events": [{"kind": "signup", "day": 0}, {"kind": "purchase", "day": 0}, {"kind": "redeem", "day": 0},
                       {"kind": "purchase", "day": 2}]},
        3: {"events": [{"kind": "purchase", "day": 0}, {"kind": "birthday", "day": 2}, {"kind": "return", "day": 2}]},
    }
    # customer 3 is number 0, customer 7 number 1. Day 0: 7's signup, then purchases in
    # customer order (3, then 7 and its redemption after its purchase); day 2: 3's birthday
    # and return, then 7's purchase
    assert documented_order(records) == [1, 0, 1, 1, 0, 0, 1]
