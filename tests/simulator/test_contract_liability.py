"""The contract-liability roll-forward against hand-worked numbers (docs/accounting.md works the same case)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from simulator.accounting.contract_liability import point_value, rollforward


def hand_case(**over):
    # 100 sales of 10 USD, each earning 10 points: 100000 cents paid, 1000 points issued in month 1.
    # Month 2: 400 points redeemed; month 3: 400 more; month 4: the last 200 expire.
    args = dict(paid_cents=[100_000, 0, 0, 0], issued=[1000, 0, 0, 0], reversed_=[0, 0, 0, 0],
                redeemed=[0, 400, 400, 0], outstanding=[1000, 600, 200, 0],
                point_value_cents=Fraction(1), redemption_rate=Fraction(8, 10))
    args.update(over)
    return rollforward(**args)


def test_allocation_by_relative_standalone_selling_price():
    # a point is worth 0.01 USD and 20% of points are expected to expire (r = 0.8):
    # SSP of the points = 1000 x 1 cent x 0.8 = 800 cents; goods 100000 cents;
    # allocated to the points = 100000 x 800 / (100000 + 800) = 793.65 -> 794 cents deferred,
    # so 100000 - 794 = 99206 cents are revenue for the goods at the sale.
    rf = hand_case()
    assert rf.opening[0] == 0
    assert rf.deferred == [794, 0, 0, 0]
    assert rf.closing[0] == 794


def test_recognition_on_redemption_with_breakage_in_proportion():
    # expected redemptions E = 0.8 x 1000 = 800 points carry 794 cents.
    # Month 2: 400 of 800 expected redemptions: 794 x 400 / 800 = 397 cents leave the liability;
    #   recognized (the redeemed points' share) = 397 x 0.8 = 317.6 -> 318, breakage = 397 - 318 = 79.
    # Month 3: the last 400 expected redemptions take the remaining 397: again 318 + 79.
    # Month 4: the 200 expired points were the expected breakage: nothing left to recognize.
    rf = hand_case()
    assert rf.recognized == [0, 318, 318, 0]
    assert rf.breakage == [0, 79, 79, 0]
    assert rf.opening == [0, 794, 397, 0]
    assert rf.closing == [794, 397, 0, 0]


def test_identity_every_month():
    for rf in (hand_case(), hand_case(redeemed=[0, 100, 0, 0], outstanding=[1000, 900, 900, 0]),
               hand_case(reversed_=[0, 100, 0, 0], outstanding=[1000, 500, 100, 0])):
        for o, d, r, b, c in zip(rf.opening, rf.deferred, rf.recognized, rf.breakage, rf.closing):
            assert o + d - r - b == c


def test_more_expiry_than_expected_is_a_true_up():
    # Month 2: 100 redeemed: 794 x 100 / 800 = 99.25 -> 99 cents (recognized 99 x 0.8 = 79.2 -> 79,
    #   breakage 20); E = 700, liability 695.
    # Month 4: all 900 remaining points expire: the outstanding 0 < E = 700, so the 695 left are breakage.
    rf = hand_case(redeemed=[0, 100, 0, 0], outstanding=[1000, 900, 900, 0])
    assert rf.recognized == [0, 79, 0, 0]
    assert rf.breakage == [0, 20, 0, 695]
    assert rf.closing == [794, 695, 695, 0]


def test_returned_points_leave_at_carrying_value():
    # Month 2: a return takes back 100 points: 0.8 x 100 = 80 expected redemptions of 800 leave,
    #   794 x 80 / 800 = 79.4 -> 79 cents, netted into deferred (-79); E = 720, liability 715;
    #   then 400 redeemed: 715 x 400 / 720 = 397.2 -> 397 (recognized 318, breakage 79); E = 320, L = 318.
    rf = hand_case(reversed_=[0, 100, 0, 0], outstanding=[1000, 500, 100, 0])
    assert rf.deferred == [794, -79, 0, 0]
    assert rf.recognized[1] == 318 and rf.breakage[1] == 79
    assert rf.closing[1] == 318


def test_bad_rate_is_refused():
    with pytest.raises(ValueError):
        hand_case(redemption_rate=Fraction(3, 2))


def test_point_value_from_rewards(tmp_path):
    from rulelang import compile_source, load_file

    src = tmp_path / "p.loyalty"
    src.write_text('program "P" {\n  currency USD\n  point cost 0.004 USD\n'
                   '  earn base on purchase { award 1 point per 1 USD of net amount }\n'
                   '  reward a { price 100 points; worth 2 USD; costs us 1 USD }\n'
                   '  reward b { price 200 points; worth 3 USD; costs us 1 USD }\n}\n')
    sf, diags, _ = load_file(str(src))
    program, _ = compile_source(sf)
    # worth per point: 200 cents / 100 = 2 cents and 300 / 200 = 1.5 cents; mean 1.75 cents
    value, source = point_value(program)
    assert value == Fraction(7, 4)
    assert "rewards" in source
