"""The largest opening balance a customers file may give (rulelang.limits.MAX_OPENING_BALANCE):
held exactly in the lot buckets and the ledger at the bound, refused one point above it."""

from __future__ import annotations

import argparse

import fit_formulas as ff  # noqa: F401  (installs simulator.fit when absent)
from base_helpers import load, one_trial, population, write_customers
from rulelang.check.compiler import compile_source
from rulelang.limits import MAX_OPENING_BALANCE
from rulelang.syntax.parser import parse_text
from simulator.simulate_command import register

# expiry by earn month keeps a ring of lot buckets, where the opening lot lands
EXPIRING = """program "Test" {
  points "points"
  currency USD
  point cost 0.01 USD
  earn base on purchase { award 1 point per 1 USD of net amount }
  expire points 2 months after earning
}
"""
# customers silent for 20 years after 5 repeat purchases in their first week: BG/NBD P(alive)
# = 2.4e-8 with a = 2, b = 100000 (see test_customer_base_runs), so nobody buys or redeems
BG = "    purchase: {r: 0.5, alpha: 5}\n    dropout: {a: 2, b: 100000}\n"


def _program():
    sf, diags = parse_text(EXPIRING, "test.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, more = compile_source(sf)
    assert program is not None, [d.message for d in more]
    return program


def _dead_with_balance(tmp_path, n: int, balance: int):
    cols = {"id": [f"c{i}" for i in range(n)], "segment": ["main"] * n, "frequency": [5] * n,
            "recency": [1] * n, "age": [1040] * n, "mean_spend": [20] * n, "spend_count": [6] * n,
            "balance": [balance] * n}
    write_customers(tmp_path / "customers.csv", cols)
    return population(tmp_path, BG)


def test_the_bound_is_what_is_left_of_2_to_the_53_after_a_century_of_largest_purchases():
    # 2**53 = 9,007,199,254,740,992; 36,600 days × 1e11 points = 3,660,000,000,000,000
    assert MAX_OPENING_BALANCE == 9_007_199_254_740_992 - 3_660_000_000_000_000 == 5_347_199_254_740_992


def test_balances_at_the_bound_are_held_and_expire_exactly(tmp_path):
    """Three customers at the bound: 16,041,597,764,222,976 points open (beyond 2**53 and 2**31
    alike), all of them expire on 1 March (third month), none is left outstanding."""
    pop = load(_dead_with_balance(tmp_path, 3, MAX_OPENING_BALANCE))
    res = one_trial(pop, 3, months=4, program=_program())
    total = 3 * 5_347_199_254_740_992
    assert total == 16_041_597_764_222_976
    assert res.totals["program.points_opening"] == total
    mon = res.monthly
    assert int(mon["program.points_issued"].sum()) == 0
    assert [int(v) for v in mon["program.points_outstanding"]] == [total, total, 0, 0]
    assert [int(v) for v in mon["program.points_expired"]] == [0, 0, total, 0]
    assert res.totals["ledger_identity_max_abs_error"] == 0


def test_one_point_above_the_bound_is_a_located_error(tmp_path, capsys):
    pop = _dead_with_balance(tmp_path, 2, MAX_OPENING_BALANCE + 1)
    parser = argparse.ArgumentParser(prog="loyalty")
    register(parser.add_subparsers())
    args = parser.parse_args(["simulate", "rules/coffee.loyalty", "--population", str(pop), "--months", "1",
                              "--trials", "1", "--workers", "1"])
    assert args.handler(args) == 1
    err = capsys.readouterr().err
    # the balance is the 8th column: `c0,main,5,1,1040,20,6,` is 22 characters before it
    assert "customers.csv:2:23: error[RL643]" in err, err
    assert f"more than {MAX_OPENING_BALANCE:,}" in err and "Traceback" not in err
