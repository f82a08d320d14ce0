"""Points lifecycle (docs/semantics.md §6-§7): pending, expiry, burn order, returns."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from ir_builders import D, Customer, event, per_usd, program, purchase, redeem, ret, rule, run, fixed
from rulelang import ir


def _reward(price: int, cost_cents: int = 0) -> ir.Reward:
    return ir.Reward(name="gift", price=price, worth_cents=None, cost_cents=cost_cents)


# ---------------------------------------------------------------- pending


def test_pending_points_mature_after_n_days() -> None:
    # earned 2027-05-01, pending 14 days -> spendable from 2027-05-15
    p = program(rule("base", per_usd(1)), pending_days=14, rewards=(_reward(10),))
    events = [purchase("2027-05-01", "10"), redeem("2027-05-14", "gift"), redeem("2027-05-15", "gift")]
    result = run(p, events)
    notes = [s.notes for s in result.trace if s.kind == "redeem"]
    assert notes[0] == ("refused: gift needs 10 points, 0 available (10 pending)",)
    assert result.redeemed == 10
    assert result.lots[0].available_on == D("2027-05-15")


def test_pending_and_available_totals_at_the_end() -> None:
    p = program(rule("base", per_usd(1)), pending_days=14)
    early = run(p, [purchase("2027-05-01", "10")], until=D("2027-05-14"))
    assert (early.pending, early.available, early.outstanding) == (10, 0, 10)
    late = run(p, [purchase("2027-05-01", "10")], until=D("2027-05-15"))
    assert (late.pending, late.available) == (0, 10)


def test_opening_balance_is_spendable_and_not_earned() -> None:
    p = program(rule("base", per_usd(1)), pending_days=30, rewards=(_reward(100),))
    result = run(p, [redeem("2027-05-01", "gift")], Customer(balance=150))
    assert (result.issued, result.earned, result.redeemed, result.outstanding) == (150, 0, 100, 50)
    assert result.lots[0].rule == "opening balance"
    assert result.lots[0].earned_on == D("2027-04-30")


# ---------------------------------------------------------------- expiry


def _expire(*policies: ir.Expiry, **kw: object) -> ir.Program:
    return program(rule("base", per_usd(1)), expiry=policies, **kw)


@pytest.mark.parametrize("earned, months, last_day_kept, expiry_day", [
    ("2027-01-10", 6, "2027-07-09", "2027-07-10"),  # same day of month
    ("2027-01-31", 6, "2027-07-30", "2027-07-31"),
    ("2027-03-31", 6, "2027-09-29", "2027-09-30"),  # Sep has 30 days: clamped
    ("2027-08-31", 6, "2028-02-28", "2028-02-29"),  # 2028 is a leap year
    ("2027-01-31", 1, "2027-02-27", "2027-02-28"),
])
def test_expiry_n_months_after_earning(earned: str, months: int, last_day_kept: str, expiry_day: str) -> None:
    p = _expire(ir.Expiry(kind="after_earning", months=months))
    kept = run(p, [purchase(earned, "10")], until=D(last_day_kept))
    gone = run(p, [purchase(earned, "10")], until=D(expiry_day))
    assert (kept.expired, kept.outstanding) == (0, 10)
    assert (gone.expired, gone.outstanding) == (10, 0)
    assert [e.date for e in gone.entries if e.kind == "expire"] == [D(expiry_day)]


def test_expiry_at_end_of_month() -> None:
    # earned in May 2027, 6 months -> November; end of November -> expires at the start of 2027-12-01
    p = _expire(ir.Expiry(kind="after_earning", months=6, end_of_month=True))
    assert run(p, [purchase("2027-05-10", "10")], until=D("2027-11-30")).expired == 0
    assert run(p, [purchase("2027-05-10", "10")], until=D("2027-12-01")).expired == 10


def test_a_lot_expiring_today_is_gone_before_todays_events() -> None:
    p = _expire(ir.Expiry(kind="after_earning", months=1), rewards=(_reward(10),))
    result = run(p, [purchase("2027-01-10", "10"), redeem("2027-02-10", "gift")])
    assert (result.expired, result.redeemed) == (10, 0)


def test_inactivity_expiry() -> None:
    # last activity 2027-06-15 (an earning purchase) -> all expire on 2028-12-15 (18 months later).
    # A signup that earns nothing is not activity.
    p = _expire(ir.Expiry(kind="inactivity", months=18))
    events = [purchase("2027-01-15", "10"), purchase("2027-06-15", "10"), event("signup", "2028-01-01")]
    assert run(p, events, until=D("2028-12-14")).expired == 0
    gone = run(p, events, until=D("2028-12-15"))
    assert (gone.expired, gone.outstanding) == (20, 0)


def test_fixed_date_expiry_spares_lots_earned_that_day() -> None:
    # everything earned before 2027-12-31 expires that day; the lot earned on 12-31 itself survives
    p = _expire(ir.Expiry(kind="fixed_date", date=D("2027-12-31")))
    result = run(p, [purchase("2027-06-01", "10"), purchase("2027-12-31", "5")], until=D("2028-01-05"))
    assert (result.expired, result.outstanding) == (10, 5)


def test_yearly_expiry() -> None:
    # lot of 2027-06-01 expires 2027-12-31; lot of 2027-12-31 expires on 2028-12-31
    p = _expire(ir.Expiry(kind="yearly", month_day=(12, 31)))
    events = [purchase("2027-06-01", "10"), purchase("2027-12-31", "5")]
    assert run(p, events, until=D("2028-12-30")).expired == 10
    assert run(p, events, until=D("2028-12-31")).expired == 15


def test_several_policies_take_the_earliest() -> None:
    # 12 months after earning (2028-03-01) vs fixed 2027-12-31 -> 2027-12-31
    p = _expire(ir.Expiry(kind="after_earning", months=12), ir.Expiry(kind="fixed_date", date=D("2027-12-31")))
    result = run(p, [purchase("2027-03-01", "10")], until=D("2027-12-31"))
    assert result.expired == 10


# ---------------------------------------------------------------- burn order


def test_redemption_burns_oldest_first() -> None:
    p = program(rule("base", per_usd(1)), rewards=(_reward(25),))
    events = [purchase("2027-01-01", "10"), purchase("2027-01-05", "20"), purchase("2027-01-10", "30"),
              redeem("2027-01-20", "gift")]
    result = run(p, events)
    # lot 1 (10) fully, lot 2: 15 of 20; lot 3 untouched
    assert [(lot.redeemed, lot.remaining) for lot in result.lots] == [(10, 0), (15, 5), (0, 30)]
    assert result.outstanding == 35


# ---------------------------------------------------------------- returns


def _returns(negative: bool, reverse: bool = True, **kw: object) -> ir.Program:
    return program(rule("base", per_usd(1)), returns=ir.ReturnPolicy(reverse=reverse, negative_balance=negative), **kw)


def test_full_return_reverses_what_the_order_earned() -> None:
    p = _returns(False)
    result = run(p, [purchase("2027-01-01", "20", id="A1"), purchase("2027-01-02", "10"), ret("2027-01-03", "A1")])
    assert (result.issued, result.reversed, result.outstanding) == (30, 20, 10)
    assert result.lots[0].reversed == 20


def test_partial_returns_are_proportional_and_rounded_down() -> None:
    # order A1: 20 USD -> 20 points. Return 7.50: floor(20 x 750 / 2000) = floor(7.5) = 7.
    # Return 12.50 more: floor(20 x 1250 / 2000) = floor(12.5) = 12 (19 reversed in all)
    p = _returns(False)
    result = run(p, [purchase("2027-01-01", "20", id="A1"), ret("2027-01-02", "A1", "7.50"),
                     ret("2027-01-03", "A1", "12.50")])
    assert result.reversed == 19
    assert result.outstanding == 1


def _spent_order_events() -> list:
    # lot 1: 10 (01-01), lot 2 = order A1: 20 (01-02), lot 3: 5 (01-03); the reward burns 10 + 15 (oldest first)
    return [purchase("2027-01-01", "10"), purchase("2027-01-02", "20", id="A1"), purchase("2027-01-03", "5"),
            redeem("2027-01-04", "gift"), ret("2027-01-05", "A1"), purchase("2027-01-06", "15")]


def test_return_with_negative_balance_forbidden() -> None:
    # reverse 20: A1's own lot holds 5, then newest first: lot 3 holds 5, lot 1 holds 0 -> only 10 reversed.
    # Then 15 more earned. issued 50 = redeemed 25 + expired 0 + reversed 10 + outstanding 15
    result = run(_returns(False, rewards=(_reward(25),)), _spent_order_events())
    assert (result.issued, result.redeemed, result.reversed, result.outstanding) == (50, 25, 10, 15)
    assert [lot.reversed for lot in result.lots] == [0, 5, 5, 0]


def test_return_with_negative_balance_allowed_and_repaid_later() -> None:
    # reverse all 20: 10 from lots (as above) and 10 below zero; the next lot (15) repays the 10 first.
    # issued 50 = redeemed 25 + expired 0 + reversed 20 + outstanding 5
    p = _returns(True, rewards=(_reward(25),))
    result = run(p, _spent_order_events())
    assert (result.issued, result.redeemed, result.reversed, result.outstanding) == (50, 25, 20, 5)
    assert (result.lots[3].repaid, result.lots[3].remaining) == (10, 5)
    before_repaid = run(p, _spent_order_events()[:-1])
    assert (before_repaid.outstanding, before_repaid.available) == (-10, -10)


def test_return_reverses_the_tier_bonus_of_the_order_too() -> None:
    tiers = ir.TierSystem(metric="spend", window="lifetime", window_months=None, tiers=(ir.Tier(name="Gold", threshold=F(0), multiplier=F(2), discount_percent=None, expiry=None, perks=()),),
                          review="never", downgrade="never", grace_months=0, validity_months=0)
    p = _returns(False, tiers=tiers)
    # 10 USD: base 10 + tier bonus 10 = 20; returning the whole order reverses both lots
    result = run(p, [purchase("2027-01-01", "10", id="A1"), ret("2027-01-02", "A1")])
    assert (result.earned, result.reversed, result.outstanding) == (20, 20, 0)


def test_without_a_returns_policy_nothing_is_reversed() -> None:
    p = _returns(False, reverse=False)
    result = run(p, [purchase("2027-01-01", "20", id="A1"), ret("2027-01-02", "A1")])
    assert (result.reversed, result.outstanding) == (0, 20)


def test_returns_do_not_claw_back_discounts() -> None:
    from ir_builders import discount_pct
    p = program(rule("sale", discount_pct("10")), rule("base", per_usd(1)),
                returns=ir.ReturnPolicy(reverse=True, negative_balance=False))
    # 20 USD - 2.00 discount = 18 points; full return reverses 18, the 2.00 discount stays given
    result = run(p, [purchase("2027-01-01", "20", id="A1"), ret("2027-01-02", "A1")])
    assert (result.reversed, result.discount_cents) == (18, 200)


def test_lots_of_other_orders_expire_even_while_pending() -> None:
    p = _expire_pending()
    # pending 60 days, expiry 1 month after earning: the lot expires on 02-01 before it was ever spendable
    result = run(p, [purchase("2027-01-01", "10")], until=D("2027-02-01"))
    assert (result.expired, result.pending, result.available) == (10, 0, 0)


def _expire_pending() -> ir.Program:
    return program(rule("base", per_usd(1)), pending_days=60, expiry=(ir.Expiry(kind="after_earning", months=1),))


def test_fixed_awards_are_lots_with_the_event_id() -> None:
    p = program(rule("visit", fixed(5)))
    result = run(p, [purchase("2027-01-01", "1", id="X9")])
    assert (result.lots[0].event_id, result.lots[0].rule, result.lots[0].points) == ("X9", "visit", 5)
