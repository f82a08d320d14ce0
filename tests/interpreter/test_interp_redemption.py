"""Redemption (docs/semantics.md §8): rewards, pay with points, automatic conversion."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from ir_builders import D, Customer, event, per_usd, program, purchase, redeem, rule, run
from rulelang import ir


def _notes(result, kind: str) -> list[tuple[str, ...]]:
    return [s.notes for s in result.trace if s.kind == kind]


def test_reward_burns_its_price_and_costs_what_it_costs_us() -> None:
    p = program(rewards=(ir.Reward(name="free_drink", price=150, worth_cents=500, cost_cents=150),))
    result = run(p, [redeem("2027-06-01", "free_drink"), redeem("2027-06-02", "free_drink")], Customer(balance=200))
    # first: 200 - 150 = 50 left, cost 1.50 USD; second refused, nothing burned
    assert (result.redeemed, result.outstanding, result.reward_cents, result.cost_cents) == (150, 50, 150, 150)
    assert _notes(result, "redeem")[1] == ("refused: free_drink needs 150 points, 50 available",)


def _pay_program(points: int = 100, cents: int = 100, minimum: int = 500, share: int = 50) -> ir.Program:
    return program(rule("base", per_usd(1)), pay_with_points=ir.PayWithPoints(points=points, cents=cents, minimum_balance=minimum, max_share=F(share)),
                   point_cost_cents=F(2, 5))


def test_pay_with_points() -> None:
    # balance 600 + 10 earned = 610. Pay 5 USD: 500 x 100 / 100 = 500 points; 610 >= 500 minimum;
    # 5 USD <= 50% of the 10 USD basket. Cost 500 x 0.4 cent = 200 cents. 610 - 500 = 110 left
    events = [purchase("2027-06-02", "10"), event("pay", "2027-06-02", usd="5")]
    result = run(_pay_program(), events, Customer(balance=600))
    assert (result.redeemed, result.outstanding, result.points_payment_cents, result.cost_cents) == (500, 110, 200, 200)


@pytest.mark.parametrize("balance, pay, why", [
    (600, "6", "refused: 6.00 USD is more than 50% of the basket (10.00 USD)"),
    (400, "1", "refused: balance below the minimum of 500 points (410 available)"),
])
def test_pay_with_points_refusals(balance: int, pay: str, why: str) -> None:
    events = [purchase("2027-06-02", "10"), event("pay", "2027-06-02", usd=pay)]
    result = run(_pay_program(), events, Customer(balance=balance))
    assert result.redeemed == 0
    assert _notes(result, "pay") == [(why,)]


def test_pay_with_points_needs_enough_points_and_rounds_up() -> None:
    # 100 points = 3 USD: paying 1 USD needs ceil(100 x 100 / 300) = ceil(33.3) = 34 points
    p = _pay_program(points=100, cents=300, minimum=0, share=100)
    assert run(p, [event("pay", "2027-06-02", usd="1")], Customer(balance=40)).redeemed == 34
    refused = run(p, [event("pay", "2027-06-02", usd="1")], Customer(balance=33))
    assert refused.redeemed == 0
    assert _notes(refused, "pay") == [("refused: paying 1.00 USD needs 34 points, 33 available",)]


def test_pay_without_a_purchase_that_day_is_refused_when_the_share_is_limited() -> None:
    result = run(_pay_program(minimum=0), [event("pay", "2027-06-02", usd="1")], Customer(balance=600))
    assert result.redeemed == 0


def test_quarterly_conversion_with_remainder() -> None:
    conv = ir.Conversion(points=150, voucher_cents=500, period="quarter")
    p = program(rule("base", per_usd(1)), conversion=conv)
    # 400 points by 2027-03-31; on 2027-04-01 floor(400 / 150) = 2 vouchers (300 points, 2 x 5.00 USD); 100 roll over.
    # 2027-05-01 is no quarter start: nothing more
    result = run(p, [purchase("2027-02-10", "400")], until=D("2027-05-01"))
    assert (result.redeemed, result.outstanding, result.voucher_cents, result.cost_cents) == (300, 100, 1000, 1000)
    assert [e.date for e in result.entries if e.kind == "voucher"] == [D("2027-04-01")]
    # with 60 more points in April, 160 are converted on 07-01 into one voucher; 10 roll over
    result = run(p, [purchase("2027-02-10", "400"), purchase("2027-04-20", "60")], until=D("2027-07-01"))
    assert (result.redeemed, result.outstanding, result.voucher_cents) == (450, 10, 1500)


def test_conversion_uses_available_points_only() -> None:
    p = program(rule("base", per_usd(1)), conversion=ir.Conversion(points=100, voucher_cents=100, period="month"), pending_days=10)
    # 150 earned 2027-01-25 are pending until 02-04: nothing converted on 02-01; on 03-01 one voucher
    assert run(p, [purchase("2027-01-25", "150")], until=D("2027-02-01")).redeemed == 0
    assert run(p, [purchase("2027-01-25", "150")], until=D("2027-03-01")).redeemed == 100
