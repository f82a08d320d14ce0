"""End to end: programs written as text, parsed, compiled, and run through the interpreter."""

from __future__ import annotations


import pytest

from ir_builders import D, Customer, event, purchase, redeem, ret, run

parser = pytest.importorskip("rulelang.syntax.parser")
compiler = pytest.importorskip("rulelang.check.compiler")


def compile_text(text: str):
    sf, diags = parser.parse_text(text, "test.loyalty")
    assert sf is not None, diags
    program, diags = compiler.compile_source(sf)
    assert program is not None, [d for d in diags if d.is_error]
    return program


COFFEE = """
program "Bean Club" {
  points "stars"
  currency USD
  point cost 0.004 USD

  earn base on purchase {
    award 1 star per 1 USD of net amount excluding category "gift_card"
    round down
  }
  earn weekend_coffee on purchase when weekday in [sat, sun] and category == "coffee" {
    multiply 2x
    during 2027-01-01 .. 2027-03-31
    cap 200 stars per customer per month
  }
  earn birthday_treat on birthday { award 50 stars }
  earn bring_a_friend on referral { award 100 stars to referrer; award 50 stars to referee }

  tiers by stars earned over rolling 12 months {
    tier Green   from 0
    tier Gold    from 500  { multiply 1.2x; stars never expire }
    tier Reserve from 2500 { multiply 1.7x; perk free_refill costs 0.30 USD per use }
    review monthly; downgrade one step
  }

  expire stars 6 months after earning at end of month
  returns reverse earned stars; negative balance forbidden
  reward free_drink { price 150 stars; worth 5 USD; costs us 1.50 USD }
}
"""


@pytest.fixture(scope="module")
def coffee():
    return compile_text(COFFEE)


def test_gold_member_earns_1_2_stars_per_dollar(coffee) -> None:
    # 7.4 -> base 7, Gold bonus floor(7.4 x 0.2 = 1.48) = 1 -> 8
    result = run(coffee, [purchase("2027-05-04 09:30", "7.40", category="coffee")], Customer(tier="Gold"))
    assert result.earned == 8
    assert "weekend_coffee" not in result.fired


def test_weekend_coffee_in_the_campaign_with_its_cap(coffee) -> None:
    # Saturday 2027-01-09, 150 USD coffee: base 150, campaign bonus floor(150 x 1) = 150.
    # Sunday 2027-01-10, 100 USD: base 100, bonus min(100, 200 - 150) = 50.  Total 450.
    events = [purchase("2027-01-09", "150", category="coffee"), purchase("2027-01-10", "100", category="coffee")]
    result = run(coffee, events)
    assert result.earned == 150 + 150 + 100 + 50
    assert result.points_by_rule == {"base": 250, "weekend_coffee": 200}


def test_reaching_gold_then_a_drink_and_a_return(coffee) -> None:
    # 520 USD -> 520 stars -> Gold. Redeem free drink: 150 stars, 1.50 USD.
    # Return 260 USD of the order: floor(520 x 26000 / 52000) = 260 reversed.
    events = [purchase("2027-05-04", "520", id="A1", category="beans"), redeem("2027-05-05", "free_drink"),
              ret("2027-05-06", "A1", "260")]
    result = run(coffee, events)
    assert result.tier == "Gold"
    assert (result.issued, result.redeemed, result.reversed, result.outstanding) == (520, 150, 260, 110)
    assert result.cost_cents == 150


def test_green_stars_expire_at_the_start_of_the_seventh_month(coffee) -> None:
    # earned 2027-05-04 (Green): May + 6 months = November; expires at the start of 2027-12-01
    events = [purchase("2027-05-04", "10"), event("birthday", "2027-05-20")]
    assert run(coffee, events, until=D("2027-11-30")).expired == 0
    assert run(coffee, events, until=D("2027-12-01")).expired == 60


def test_referral_from_text(coffee) -> None:
    assert run(coffee, [event("referral", "2027-05-06", role="referee")]).earned == 50
    assert run(coffee, [event("referral", "2027-05-06", role="referrer")]).earned == 100


def test_gold_drops_one_step_when_the_window_empties(coffee) -> None:
    # Gold reached on 2027-05-04 with 600 stars; the rolling 12 months still see them until April 2028.
    # The 2028-06-01 review looks at June 2027 .. May 2028 (as of 2028-05-31): 0 stars -> Green.
    events = [purchase("2027-05-04", "600")]
    assert run(coffee, events, until=D("2028-05-31")).tier == "Gold"
    assert run(coffee, events, until=D("2028-06-01")).tier == "Green"
    # Gold stars never expire while the customer is Gold; once Green, the old lot's date has passed:
    # the lot of 2027-05-04 (due 2027-12-01) expires at the next calendar work, 2028-06-02
    assert run(coffee, events, until=D("2028-06-01")).expired == 0
    assert run(coffee, events, until=D("2028-06-02")).expired == 600


def test_custom_event_and_counter_from_text() -> None:
    program = compile_text("""
program "Reviews" {
  points "points"
  currency EUR
  event review { rating: number, photo: bool }
  earn review_bonus on review when rating >= 4 {
    award 50 points
    limit 2 times per customer per month
  }
  expire points 12 months after earning
  returns reverse earned points; negative balance forbidden
}
""")
    events = [event("review", f"2027-03-0{d}", rating=r, photo=False) for d, r in ((1, 5), (2, 3), (3, 4), (4, 5))]
    result = run(program, events)
    # 5 -> 50; 3 -> condition false; 4 -> 50; 5 -> limit 2 per month reached
    assert result.earned == 100
    assert [r.reason for s in result.trace if s.kind == "review" for r in s.rules] == [
        None, "condition false: rating is 3, needed >= 4", None, "limit 2 per month reached"]
