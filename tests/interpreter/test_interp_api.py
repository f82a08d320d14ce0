"""The interpreter's API: errors as diagnostics, JSON and text output, and the ledger identity on random streams."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction as F

import pytest
from hypothesis import given, settings, strategies as st

from ir_builders import D, Customer, Event, event, fixed, per_usd, program, purchase, redeem, rule, run
from rulelang import ir
from rulelang.diagnostics import EvaluationError


def _code(excinfo: pytest.ExceptionInfo) -> str:
    return excinfo.value.diagnostics[0].code


def test_events_out_of_order_are_an_error() -> None:
    with pytest.raises(EvaluationError) as excinfo:
        run(program(), [purchase("2027-01-02", "1"), purchase("2027-01-01", "1")])
    assert _code(excinfo) == "RL501"
    assert "out of order" in excinfo.value.diagnostics[0].message


def test_unknown_names_are_errors_with_hints() -> None:
    p = program(rewards=(ir.Reward(name="free_drink", price=10, worth_cents=None, cost_cents=0),))
    with pytest.raises(EvaluationError) as excinfo:
        run(p, [redeem("2027-01-01", "free_drnk")])
    assert _code(excinfo) == "RL503"
    assert excinfo.value.diagnostics[0].hint == "did you mean `free_drink`?"
    with pytest.raises(EvaluationError) as excinfo:
        run(p, [event("purchse", "2027-01-01")])
    assert _code(excinfo) == "RL502"
    assert excinfo.value.diagnostics[0].hint == "did you mean `purchase`?"
    with pytest.raises(EvaluationError):
        run(p, [purchase("2027-01-01", "1")], Customer(tier="Gold"))


def test_bad_events_are_errors() -> None:
    with pytest.raises(EvaluationError) as excinfo:
        run(program(), [Event("purchase", dt.datetime(2027, 1, 1))])
    assert _code(excinfo) == "RL505"
    with pytest.raises(EvaluationError) as excinfo:
        run(program(), [])
    assert _code(excinfo) == "RL504"


def test_a_date_without_time_is_noon() -> None:
    e = Event("purchase", D("2027-01-01"), amount_cents=100)
    assert e.at == dt.datetime(2027, 1, 1, 12, 0)


def test_no_events_but_until_runs_the_calendar() -> None:
    p = program(expiry=(ir.Expiry(kind="fixed_date", date=D("2027-12-31")),))
    result = run(p, [], Customer(balance=50), until=D("2027-12-31"))
    assert (result.issued, result.earned, result.expired) == (50, 0, 50)


def test_json_and_text_output() -> None:
    p = program(rule("base", per_usd(1)), rule("coffee", fixed(5), when=ir.Cmp(
        op="==", left=ir.Field(name="category", type="string"), right=ir.Const(value="coffee", type="string"))), rewards=(ir.Reward(name="mug", price=5, worth_cents=None, cost_cents=250),))
    result = run(p, [purchase("2027-05-04 09:30", "7.40", category="tea", id="A1"), redeem("2027-05-05", "mug")])
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["totals"]["issued"] == 7
    assert doc["costs_cents"]["cost"] == 250
    assert doc["trace"][0]["rules"][1]["reason"] == 'condition false: category is "tea", needed == "coffee"'
    assert doc["lots"][0]["event_id"] == "A1"
    text = result.render_text()
    assert "2027-05-04 09:30  purchase 7.40 USD category \"tea\" id \"A1\"" in text
    assert "+ base    7 points" in text
    assert "- coffee  condition false" in text
    assert "issued 7 = redeemed 5 + expired 0 + reversed 0 + outstanding 2" in text


def test_cost_excludes_discounts_total_cost_includes_them() -> None:
    from ir_builders import discount_usd
    p = program(rule("sale", discount_usd("1")), rewards=(ir.Reward(name="mug", price=0, worth_cents=None, cost_cents=250),))
    result = run(p, [purchase("2027-01-01", "10"), redeem("2027-01-01", "mug")])
    assert (result.discount_cents, result.cost_cents, result.total_cost_cents) == (100, 250, 350)


# ---------------------------------------------------------------- ledger identity on random streams


def _rich_program(negative: bool) -> ir.Program:
    tiers = ir.TierSystem(metric="spend", window="rolling", window_months=2, tiers=(
        ir.Tier(name="Green", threshold=F(0), multiplier=None, discount_percent=None, expiry=None, perks=()),
        ir.Tier(name="Gold", threshold=F(5000), multiplier=F("1.5"), discount_percent=F(5), expiry=(ir.Expiry(kind="after_earning", months=3),), perks=())),
        review="monthly", downgrade="one_step", grace_months=1, validity_months=0)
    return program(
        rule("base", per_usd(1), rounding="nearest"),
        rule("double", ir.Multiplier(factor=F(2)), when=ir.Cmp(op="==", left=ir.Field(name="category", type="string"), right=ir.Const(value="a", type="string")),
             caps=(ir.Cap(limit=30, unit="points", period="week"),)),
        rule("bonus", fixed(7), every_nth=3),
        rule("weekly", fixed(11), streak=ir.Streak(length=2, period="week")),
        tiers=tiers, pending_days=5, expiry=(ir.Expiry(kind="after_earning", months=1),
                                            ir.Expiry(kind="inactivity", months=2)),
        returns=ir.ReturnPolicy(reverse=True, negative_balance=negative), rewards=(ir.Reward(name="gift", price=40, worth_cents=None, cost_cents=100),),
        pay_with_points=ir.PayWithPoints(points=10, cents=100, minimum_balance=0, max_share=F(100)), conversion=ir.Conversion(points=60, voucher_cents=300, period="month"),
        point_cost_cents=F(1, 3),
    )


@st.composite
def _streams(draw: st.DrawFn) -> tuple[list[Event], int]:
    day = dt.datetime(2027, 1, 1, 12)
    events: list[Event] = []
    orders: list[str] = []
    for i in range(draw(st.integers(1, 25))):
        day += dt.timedelta(days=draw(st.integers(0, 20)))
        kind = draw(st.sampled_from(["purchase", "purchase", "purchase", "return", "redeem", "pay"]))
        if kind == "purchase":
            orders.append(f"O{i}")
            events.append(Event("purchase", day, amount_cents=draw(st.integers(0, 9000)),
                                fields={"category": draw(st.sampled_from(["a", "b"]))}, id=f"O{i}"))
        elif kind == "return" and orders:
            partial = draw(st.one_of(st.none(), st.integers(0, 9000)))
            events.append(Event("return", day, amount_cents=partial, name=draw(st.sampled_from(orders))))
        elif kind == "redeem":
            events.append(Event("redeem", day, name="gift"))
        elif kind == "pay":
            events.append(Event("pay", day, amount_cents=draw(st.integers(1, 500))))
    if not events:
        events.append(Event("purchase", day, amount_cents=100))
    return events, draw(st.integers(0, 100))


@settings(max_examples=100, deadline=None)
@given(_streams(), st.booleans())
def test_ledger_identity_holds_on_random_streams(stream: tuple[list[Event], int], negative: bool) -> None:
    events, balance = stream
    until = events[-1].date + dt.timedelta(days=70)
    result = run(_rich_program(negative), events, Customer(balance=balance), until=until)  # checks every step
    assert result.issued == result.redeemed + result.expired + result.reversed + result.outstanding
    assert result.outstanding == result.available + result.pending
    assert result.issued == sum(lot.points for lot in result.lots)
    assert result.earned == sum(result.points_by_rule.values())
    for lot in result.lots:
        assert lot.points == lot.redeemed + lot.expired + lot.reversed + lot.repaid + lot.remaining
        assert min(lot.redeemed, lot.expired, lot.reversed, lot.repaid, lot.remaining) >= 0
    if not negative:
        assert result.outstanding >= 0
    # the same input gives the same result (deterministic)
    again = run(_rich_program(negative), events, Customer(balance=balance), until=until)
    assert again.to_json() == result.to_json()
