"""Earn rules (docs/semantics.md §4): each expected number is worked out by hand in a comment."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from ir_builders import (
    Customer, cap, discount_pct, discount_usd, eq, event, fixed, mult, per_usd, program, purchase,
    reason, rule, rule_trace, run, points_of, among, field, const,
)
from rulelang import ir
from rulelang.run.interpreter import BudgetState


# ---------------------------------------------------------------- rounding


def _gold(rounding: str) -> ir.Program:
    """1 point per USD, a Gold tier multiplying by 1.2x, program rounding `rounding`."""
    tiers = ir.TierSystem("spend", "lifetime", None, (
        ir.Tier("Green", F(0), None, None, None, ()),
        ir.Tier("Gold", F(50000), F("1.2"), None, None, ()),
    ), "never", "never", 0, 0)
    return program(rule("base", per_usd(1), rounding=rounding), rounding=rounding, tiers=tiers)


@pytest.mark.parametrize("mode, expected", [
    # raw = 740 cents x 1/100 = 7.4; tier bonus raw = 7.4 x 0.2 = 1.48
    ("down", 7 + 1),  # floor 7.4 = 7, floor 1.48 = 1
    ("up", 8 + 2),  # ceil 7.4 = 8, ceil 1.48 = 2
    ("nearest", 7 + 1),  # floor(7.9) = 7, floor(1.98) = 1
])
def test_rounding_modes_on_7_40_at_1_2x(mode: str, expected: int) -> None:
    result = run(_gold(mode), [purchase("2027-05-04", "7.40")], Customer(tier="Gold"))
    assert result.earned == expected


def test_nearest_rounds_half_up() -> None:
    # 7.50 USD x 1/USD = 7.5 -> floor(7.5 + 0.5) = 8; 7.49 -> floor(7.99) = 7
    p = program(rule("base", per_usd(1), rounding="nearest"))
    result = run(p, [purchase("2027-05-04", "7.50"), purchase("2027-05-04", "7.49")])
    assert [points_of(result, 0, "base"), points_of(result, 1, "base")] == [8, 7]


def test_each_rule_rounds_its_own_points() -> None:
    # base (down): floor(7.4) = 7; bonus 1.5x (up): ceil(7.4 x 0.5 = 3.7) = 4; total 11
    p = program(rule("base", per_usd(1), rounding="down"), rule("boost", mult("1.5"), rounding="up"))
    result = run(p, [purchase("2027-05-04", "7.40")])
    assert (points_of(result, 0, "base"), points_of(result, 0, "boost"), result.earned) == (7, 4, 11)


# ---------------------------------------------------------------- stacking


def _stack(stacking: str, tier_factor: str | None = None) -> tuple[ir.Program, Customer | None]:
    tiers = None
    customer = None
    if tier_factor:
        tiers = ir.TierSystem("spend", "lifetime", None, (
            ir.Tier("Base", F(0), F(tier_factor), None, None, ()),), "never", "never", 0, 0)
        customer = Customer(tier="Base")
    p = program(rule("base", per_usd(1)), rule("double", mult("2")), rule("triple", mult("3")),
                stacking=stacking, tiers=tiers)
    return p, customer


def test_multipliers_multiply() -> None:
    # R = 10.5; double: floor(10.5 x 1 x (2-1)) = 10; triple: floor(10.5 x 2 x (3-1)) = 42; base floor(10.5) = 10
    p, c = _stack("multiply")
    result = run(p, [purchase("2027-05-04", "10.50")], c)
    assert [points_of(result, 0, n) for n in ("base", "double", "triple")] == [10, 10, 42]
    assert result.earned == 62


def test_multipliers_add() -> None:
    # double: floor(10.5 x 1) = 10; triple: floor(10.5 x 2) = 21; base 10 -> 41
    p, c = _stack("add")
    result = run(p, [purchase("2027-05-04", "10.50")], c)
    assert [points_of(result, 0, n) for n in ("base", "double", "triple")] == [10, 10, 21]
    assert result.earned == 41


def test_tier_multiplier_comes_first_when_multiplying() -> None:
    # tier 1.5x first: floor(10.5 x 0.5 = 5.25) = 5; double: floor(10.5 x 1.5 x 1 = 15.75) = 15;
    # triple: floor(10.5 x 1.5 x 2 x 2 = 63) = 63; base 10 -> 93
    p, c = _stack("multiply", "1.5")
    result = run(p, [purchase("2027-05-04", "10.50")], c)
    assert points_of(result, 0, "tier Base") == 5
    assert [points_of(result, 0, n) for n in ("base", "double", "triple")] == [10, 15, 63]
    assert result.earned == 93
    assert result.points_by_rule["tier Base"] == 5


# ---------------------------------------------------------------- order, groups


def test_exclusive_group_and_priority() -> None:
    # promo_b has the higher priority, so it is the first candidate and takes the group
    p = program(rule("promo_a", fixed(10), group="promo"), rule("promo_b", fixed(20), group="promo", priority=5))
    result = run(p, [purchase("2027-05-04", "1")])
    assert [r.rule for r in result.trace[0].rules] == ["promo_b", "promo_a"]
    assert reason(result, 0, "promo_a") == 'group "promo" already fired by promo_b'
    assert result.earned == 20
    assert result.fired == {"promo_b"}


@pytest.mark.parametrize("first_priority, expected", [
    # 10 USD basket; discounts 8 USD and 5 USD capped at 10 USD together, in candidate order
    (5, {"eight": 800, "five": 200}),  # eight first: 8.00, then five gets the 2.00 left
    (-5, {"eight": 500, "five": 500}),  # five first: 5.00, then eight gets 5.00
])
def test_priority_decides_which_discount_is_cut(first_priority: int, expected: dict[str, int]) -> None:
    p = program(rule("eight", discount_usd("8"), priority=first_priority), rule("five", discount_usd("5")))
    result = run(p, [purchase("2027-05-04", "10")])
    booked = {e.name: e.cents for e in result.entries if e.kind == "discount"}
    assert booked == expected
    assert result.discount_cents == 1000


# ---------------------------------------------------------------- caps, limits, budgets


def test_cap_per_month_resets_at_the_month_boundary() -> None:
    # 150 (0 used) -> 150; then min(150, 200-150) = 50; then 0 left: capped; Feb: 150 again. 350 in all.
    p = program(rule("bonus", fixed(150), caps=(cap(200, "month"),)))
    days = ["2027-01-10", "2027-01-20", "2027-01-25", "2027-02-01"]
    result = run(p, [purchase(d, "1") for d in days])
    assert [points_of(result, i, "bonus") for i in range(4)] == [150, 50, 0, 150]
    assert reason(result, 2, "bonus") == "cap 200 points per month reached (200 used)"
    assert result.earned == 350


def test_cap_per_day_and_per_week_starting_monday() -> None:
    # day cap 10: 8, then min(8, 2) = 2, next day 8 -> 18
    p = program(rule("base", per_usd(1), caps=(cap(10, "day"),)))
    result = run(p, [purchase("2027-01-05", "8"), purchase("2027-01-05", "8"), purchase("2027-01-06", "8")])
    assert result.earned == 18
    # week cap 10: Sun 2027-01-03 -> 8; Mon 01-04 starts a new week -> 8; Tue 01-05 -> min(8, 2) = 2
    p = program(rule("base", per_usd(1), caps=(cap(10, "week"),)))
    result = run(p, [purchase("2027-01-03", "8"), purchase("2027-01-04", "8"), purchase("2027-01-05", "8")])
    assert [points_of(result, i, "base") for i in range(3)] == [8, 8, 2]


def test_the_smallest_cap_wins() -> None:
    # caps 100/day and 120/month, 70 a purchase: 70; min(70, 30, 50) = 30; next day min(70, 100, 20) = 20
    p = program(rule("bonus", fixed(70), caps=(cap(100, "day"), cap(120, "month"))))
    result = run(p, [purchase("2027-01-05", "1"), purchase("2027-01-05", "1"), purchase("2027-01-06", "1")])
    assert [points_of(result, i, "bonus") for i in range(3)] == [70, 30, 20]


def test_limit_times_per_day() -> None:
    p = program(rule("visit", fixed(5), caps=(cap(1, "day", "times"),)))
    result = run(p, [purchase("2027-01-05", "1"), purchase("2027-01-05", "1"), purchase("2027-01-06", "1")])
    assert reason(result, 1, "visit") == "limit 1 per day reached"
    assert result.earned == 10  # 5 + 0 + 5


def test_points_budget_is_shared_across_customers() -> None:
    # budget 100: 40, 40, then min(40, 20) = 20; the next customer finds it exhausted
    p = program(rule("launch", fixed(40), budget=ir.Budget(100, None)))
    budgets = BudgetState()
    first = run(p, [purchase(f"2027-01-0{d}", "1") for d in (1, 2, 3)], budgets=budgets)
    assert first.earned == 100
    second = run(p, [purchase("2027-01-04", "1")], budgets=budgets)
    assert second.earned == 0
    assert reason(second, 0, "launch") == "budget exhausted"
    assert budgets.remaining["launch"] == 0


def test_money_budget_counts_points_at_point_cost() -> None:
    # point cost 0.5 cent; budget 1.00 USD; 150 points cost 75 cents -> 25 cents left;
    # then floor(25 / 0.5) = 50 points; then nothing is left
    p = program(rule("launch", fixed(150), budget=ir.Budget(None, 100)), point_cost_cents=F(1, 2))
    result = run(p, [purchase(f"2027-01-0{d}", "1") for d in (1, 2, 3)])
    assert [points_of(result, i, "launch") for i in range(3)] == [150, 50, 0]
    assert reason(result, 2, "launch") == "budget exhausted"


# ---------------------------------------------------------------- punch cards and streaks


def test_every_nth_counts_matching_purchases_only() -> None:
    # coffee #1, tea (not matching, not counted), coffee #2, coffee #3 -> fires on the third coffee
    p = program(rule("third", fixed(30), when=eq("category", "coffee"), every_nth=3))
    cats = ["coffee", "tea", "coffee", "coffee"]
    result = run(p, [purchase("2027-01-05", "1", category=c) for c in cats])
    assert reason(result, 2, "third") == "every 3rd purchase: this is number 2"
    assert points_of(result, 3, "third") == 30
    assert result.earned == 30


def test_every_nth_starts_from_given_purchases() -> None:
    # 9 purchases before: this one is the 10th
    p = program(rule("tenth", fixed(100), every_nth=10))
    result = run(p, [purchase("2027-01-05", "1")], Customer(purchases=9))
    assert result.earned == 100


def test_streak_of_three_weeks_then_restarts() -> None:
    # Mondays: 2027-01-04, 01-11, 01-18, 01-25; a week runs Monday..Sunday
    p = program(rule("streak3", fixed(100), streak=ir.Streak(3, "week")))
    days = ["2027-01-04", "2027-01-06", "2027-01-12", "2027-01-18", "2027-01-19", "2027-01-25", "2027-02-08"]
    result = run(p, [purchase(d, "1") for d in days])
    assert [reason(result, i, "streak3") for i in range(len(days))] == [
        "streak 3 weeks: 1 of 3",
        "streak 3 weeks: 1 of 3",  # same week: no progress
        "streak 3 weeks: 2 of 3",
        None,  # third consecutive week: fires
        "streak 3 weeks: completed this week already",
        "streak 3 weeks: 1 of 3",  # a new streak starts
        "streak 3 weeks: 1 of 3",  # the week of 02-01 had no purchase: starts over
    ]
    assert result.earned == 100


def test_streak_of_days() -> None:
    p = program(rule("daily", fixed(7), streak=ir.Streak(2, "day")))
    result = run(p, [purchase(d, "1") for d in ("2027-01-04", "2027-01-05", "2027-01-07", "2027-01-08")])
    # 04 (1 of 2), 05 (fires), 07 (gap: 1 of 2), 08 (fires)
    assert result.earned == 14


# ---------------------------------------------------------------- bases, discounts, cashback


def test_discount_then_net_base() -> None:
    # 25.99 USD incl. 4.99 shipping: goods 21.00; 10% discount = 2.10; net = 18.90 -> 18 points
    p = program(rule("sale", discount_pct("10")), rule("base", per_usd(1)))
    result = run(p, [purchase("2027-01-05", "25.99", shipping="4.99")])
    assert result.discount_cents == 210
    assert result.earned == 18


def test_gross_base_ignores_discount_and_shipping() -> None:
    # gross 25.99 -> 25 points whatever the discount
    p = program(rule("sale", discount_pct("10")), rule("base", per_usd(1, base="gross")))
    result = run(p, [purchase("2027-01-05", "25.99", shipping="4.99")])
    assert result.earned == 25


@pytest.mark.parametrize("mode, expected", [("down", 210), ("up", 211), ("nearest", 211)])
def test_discount_rounds_to_the_cent_by_the_rule_mode(mode: str, expected: int) -> None:
    # 10% of 21.05 USD = 210.5 cents
    p = program(rule("sale", discount_pct("10"), rounding=mode))
    assert run(p, [purchase("2027-01-05", "21.05")]).discount_cents == expected


def test_fixed_discount_is_at_most_the_base() -> None:
    p = program(rule("fiver", discount_usd("5")))
    assert run(p, [purchase("2027-01-05", "3")]).discount_cents == 300


def test_cashback_percent_in_points_of_point_value() -> None:
    # 2% of 12.34 USD = 24.68 cents; at 1 cent a point -> 24.68 points -> 24
    rate = F(2, 100) / F(1)
    p = program(rule("cashback", ir.RateAward(rate, "net")))
    assert run(p, [purchase("2027-01-05", "12.34")]).earned == 24
    # at 0.5 cent a point: 24.68 / 0.5 = 49.36 -> 49
    rate = F(2, 100) / F(1, 2)
    p = program(rule("cashback", ir.RateAward(rate, "net")), point_value_cents=F(1, 2))
    assert run(p, [purchase("2027-01-05", "12.34")]).earned == 49


def test_excluding_category_makes_the_base_zero() -> None:
    p = program(rule("base", per_usd(1, excluding=("gift_card",))),
                rule("sale", discount_pct("10", excluding=("gift_card",))))
    result = run(p, [purchase("2027-01-05", "50", category="gift_card"), purchase("2027-01-06", "50", category="toys")])
    # gift card: base 0, discount 0 (the rule still fires, with 0 points); toys: 5.00 off, 45 points
    assert rule_trace(result, 0, "base").fired and points_of(result, 0, "base") == 0
    assert points_of(result, 1, "base") == 45
    assert result.discount_cents == 500


# ---------------------------------------------------------------- windows and conditions


def test_campaign_window_is_inclusive() -> None:
    p = program(rule("q1", fixed(10), during=("2027-01-01", "2027-03-31")))
    days = ["2026-12-31", "2027-01-01", "2027-03-31", "2027-04-01"]
    result = run(p, [purchase(d, "1") for d in days])
    assert [points_of(result, i, "q1") for i in range(4)] == [0, 10, 10, 0]
    assert reason(result, 0, "q1") == "outside campaign window 2027-01-01..2027-03-31"


def test_condition_trace_names_the_values_read() -> None:
    weekend = among("weekday", {5, 6}, "weekday")
    p = program(rule("weekend_coffee", mult("2"), when=ir.And((weekend, eq("category", "coffee")))))
    # 2027-05-04 is a Tuesday; 2027-05-08 a Saturday
    result = run(p, [purchase("2027-05-04", "5", category="coffee"), purchase("2027-05-08", "5", category="tea")])
    assert reason(result, 0, "weekend_coffee") == "condition false: weekday is tue, needed in [sat, sun]"
    assert reason(result, 1, "weekend_coffee") == 'condition false: category is "tea", needed == "coffee"'


def test_conditions_read_the_state_before_the_event() -> None:
    # first_purchase is true on the first purchase only; purchases counts earlier purchases
    p = program(rule("welcome", fixed(50), when=ir.Cmp("==", field("first_purchase", "bool"), const(True, "bool"))),
                rule("loyal", fixed(5), when=eq("purchases", F(2), "number", ">=")))
    result = run(p, [purchase(f"2027-01-0{d}", "1") for d in (1, 2, 3)])
    assert [points_of(result, i, "welcome") for i in range(3)] == [50, 0, 0]
    assert [points_of(result, i, "loyal") for i in range(3)] == [0, 0, 5]


def test_missing_attribute_equals_nothing() -> None:
    vip = ir.Cmp("==", field("customer.vip", "bool"), const(True, "bool"))
    p = program(rule("vip", fixed(10), when=vip), attributes=(("vip", "bool"),))
    assert run(p, [purchase("2027-01-01", "1")]).earned == 0
    assert run(p, [purchase("2027-01-01", "1")], Customer(attributes={"vip": True})).earned == 10


# ---------------------------------------------------------------- other events


def test_birthday_signup_and_days_from_birthday() -> None:
    near = eq("days_from_birthday", F(7), "number", "<=")
    p = program(rule("birthday_treat", fixed(50), event="birthday"), rule("welcome", fixed(200), event="signup"),
                rule("birthday_week", fixed(3), when=near))
    events = [event("signup", "2027-05-01"), event("birthday", "2027-05-04"),
              purchase("2027-05-10", "1"),  # 6 days after 05-04
              purchase("2027-05-12", "1")]  # 8 days after
    result = run(p, events, Customer(birthday=(5, 4)))
    assert result.earned == 200 + 50 + 3
    assert reason(result, 3, "birthday_week") == "condition false: days_from_birthday is 8, needed <= 7"


def test_referral_awards_each_side() -> None:
    p = program(rule("bring_a_friend", fixed(100, "referrer"), fixed(50, "referee"), event="referral"),
                rule("referrer_only", fixed(7, "referrer"), event="referral"),
                rule("any_referral", fixed(10), event="referral"))
    as_referrer = run(p, [event("referral", "2027-05-06", role="referrer")])
    assert as_referrer.earned == 100 + 7 + 10
    as_referee = run(p, [event("referral", "2027-05-06", role="referee")])
    assert as_referee.earned == 50 + 10  # referrer_only does not fire for the referee
    assert reason(as_referee, 0, "referrer_only") == "awards only the referrer; this event's role is referee"
    assert as_referee.fired == {"bring_a_friend", "any_referral"}


def test_custom_event_with_field_condition() -> None:
    good = ir.And((eq("event.rating", F(4), "number", ">="),
                   ir.Cmp("==", field("event.verified", "bool"), const(True, "bool"))))
    p = program(rule("review_bonus", fixed(25), event="review", when=good),
                events=(ir.EventType("review", (("rating", "number"), ("verified", "bool"))),))
    result = run(p, [event("review", "2027-05-07", rating=5, verified=True),
                     event("review", "2027-05-08", rating=3, verified=True)])
    assert result.earned == 25
    assert reason(result, 1, "review_bonus") == "condition false: rating is 3, needed >= 4"


def test_rule_perk_costs_when_it_fires() -> None:
    free_delivery = ir.PerkAction("free_delivery", 499)
    p = program(rule("big_basket", free_delivery, when=eq("amount", 5000, "money", ">=")))
    result = run(p, [purchase("2027-01-05", "60"), purchase("2027-01-06", "20")])
    assert result.perk_cents == 499
    assert result.cost_cents == 499
    assert reason(result, 1, "big_basket") == "condition false: amount is 20.00 USD, needed >= 50.00 USD"
