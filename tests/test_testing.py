"""The test runner's pieces: givens -> customer, `when` -> events, `expect` -> failures with details."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from rulelang.syntax import ast
from rulelang.diagnostics import Span
from rulelang.tools.testing import Painter, TestReport, check_expectation, customer_from_givens, event_from_spec, events_from_specs, format_money, format_points, render_report_json, render_report_text, run_paths
from rulelang.run.trace import Result, RuleTrace, TierChange, TraceStep

USD = "USD"


def money(text: str) -> ast.Money:
    return ast.Money(Decimal(text), USD)


class FakeProgram:
    """Only what the expectation checks read from an ir.Program."""

    points_unit = "stars"
    currency = USD


def result(**overrides: object) -> Result:
    values: dict[str, object] = dict(
        points_unit="stars", currency=USD, start=dt.date(2027, 5, 4), end=dt.date(2027, 5, 4),
        lots=(), entries=(), trace=(), tier="Green", tier_history=(),
        issued=7, earned=7, redeemed=0, expired=0, reversed=0, outstanding=7, available=7, pending=0,
        discount_cents=0, perk_cents=0, reward_cents=0, voucher_cents=0, points_payment_cents=0,
        fired=frozenset({"base"}), points_by_rule={"base": 7},
    )
    values.update(overrides)
    return Result(**values)  # type: ignore[arg-type]


SPAN = Span("t.loyalty", 5, 3, 5, 20)


# ---------------------------------------------------------------- values


def test_money_and_points_are_written_the_way_a_marketer_reads_them() -> None:
    assert format_money(150, "USD") == "1.50 USD"
    assert format_money(5, "EUR") == "0.05 EUR"
    assert format_money(-1999, "USD") == "-19.99 USD"
    assert format_points(8, "stars") == "8 stars"
    assert format_points(1, "stars") == "1 star"
    assert format_points(0, "points") == "0 points"


# ---------------------------------------------------------------- givens


def test_givens_become_the_starting_customer() -> None:
    customer, diags = customer_from_givens((
        ast.Given("tier", value="Gold"),
        ast.Given("balance", value=Decimal(500)),
        ast.Given("attribute", name="vip", value=True),
        ast.Given("attribute", name="score", value=Decimal("2.5")),
        ast.Given("purchases", value=Decimal(9)),
        ast.Given("metric", name="spend", value=money("120")),
        ast.Given("birthday", value=(5, 4)),
        ast.Given("counter", name="nights", value=Decimal(3)),
    ), "t.loyalty")
    assert diags == []
    assert customer is not None
    assert customer.tier == "Gold"
    assert customer.balance == 500
    assert dict(customer.attributes) == {"vip": True, "score": Fraction(5, 2)}
    assert customer.purchases == 9
    assert customer.metric == 12000  # 120 USD in cents
    assert customer.birthday == (5, 4)
    assert dict(customer.counters) == {"nights": 3}


def test_no_givens_means_the_interpreter_default_customer() -> None:
    assert customer_from_givens((), "t.loyalty") == (None, [])


def test_a_fractional_balance_is_reported_at_its_line() -> None:
    span = Span("t.loyalty", 3, 3, 3, 20)
    customer, diags = customer_from_givens((ast.Given("balance", value=Decimal("2.5"), span=span),), "t.loyalty")
    assert [d.code for d in diags] == ["RL012"]
    assert diags[0].span == span


# ---------------------------------------------------------------- events


def test_a_purchase_line_becomes_an_interpreter_event() -> None:
    spec = ast.EventSpec(
        "purchase", dt.datetime(2027, 5, 5, 9, 30), amount=money("20"),
        fields=(("category", ast.Literal("shoes")), ("channel", ast.Literal("online")),
                ("shipping", ast.Literal(money("4.99"))), ("items", ast.Literal(Decimal(2))),
                ("id", ast.Literal("A1"))),
    )
    event, diags = event_from_spec(spec)
    assert diags == [] and event is not None
    assert event.kind == "purchase"
    assert event.at == dt.datetime(2027, 5, 5, 9, 30)
    assert event.amount_cents == 2000
    assert event.id == "A1"
    assert dict(event.fields) == {"category": "shoes", "channel": "online", "shipping_cents": 499, "items": 2}


def test_referral_role_return_and_redeem_lines() -> None:
    at = dt.datetime(2027, 5, 6, 12, 0)
    referral, _ = event_from_spec(ast.EventSpec("referral", at, name="referee"))
    assert referral is not None and referral.fields["role"] == "referee"
    partial, _ = event_from_spec(ast.EventSpec("return", at, amount=money("3.00"), name="A1"))
    assert partial is not None and (partial.kind, partial.name, partial.amount_cents) == ("return", "A1", 300)
    redeem, _ = event_from_spec(ast.EventSpec("redeem", at, name="free_drink"))
    assert redeem is not None and (redeem.kind, redeem.name) == ("redeem", "free_drink")
    review, _ = event_from_spec(ast.EventSpec("review", at, fields=(("rating", ast.Literal(Decimal(5))),)))
    assert review is not None and review.fields["rating"] == Fraction(5)


def test_when_lines_out_of_time_order_are_reported_at_the_late_line() -> None:
    late = Span("t.loyalty", 7, 3, 7, 40)
    specs = (
        ast.EventSpec("purchase", dt.datetime(2027, 5, 4, 12), amount=money("1")),
        ast.EventSpec("purchase", dt.datetime(2027, 5, 3, 12), amount=money("1"), span=late),
    )
    _, diags = events_from_specs(specs)
    assert [(d.code, d.span) for d in diags] == [("RL501", late)]
    assert "2027-05-03 12:00 comes after 2027-05-04 12:00" in diags[0].message


# ---------------------------------------------------------------- expectations


def test_a_holding_expectation_gives_no_failure() -> None:
    assert check_expectation(ast.Expect("earned", 7), result(), FakeProgram()) is None  # type: ignore[arg-type]
    assert check_expectation(ast.Expect("balance", 7), result(), FakeProgram()) is None  # type: ignore[arg-type]
    assert check_expectation(ast.Expect("tier", "Green"), result(), FakeProgram()) is None  # type: ignore[arg-type]
    assert check_expectation(ast.Expect("fired", "base"), result(), FakeProgram()) is None  # type: ignore[arg-type]
    assert check_expectation(ast.Expect("fired", "promo", negated=True), result(),
                             FakeProgram()) is None  # type: ignore[arg-type]


def test_earned_failure_names_the_points_of_each_rule() -> None:
    failure = check_expectation(ast.Expect("earned", 8, span=SPAN), result(), FakeProgram())  # type: ignore[arg-type]
    assert failure is not None
    assert failure.message == "expected earned 8 stars, got 7 (rule base 7)"
    assert (failure.expected, failure.actual, failure.span) == (8, 7, SPAN)


def test_balance_failure_shows_the_ledger() -> None:
    r = result(issued=200, earned=0, redeemed=150, outstanding=50, available=50)
    failure = check_expectation(ast.Expect("balance", 120), r, FakeProgram())  # type: ignore[arg-type]
    assert failure is not None
    assert failure.message == ("expected balance 120 stars, got 50 "
                               "(issued 200, redeemed 150, expired 0, reversed 0, pending 0)")


def test_money_failures_are_in_the_programs_currency() -> None:
    r = result(reward_cents=150, perk_cents=30)
    failure = check_expectation(ast.Expect("cost", money("1.50")), r, FakeProgram())  # type: ignore[arg-type]
    assert failure is not None
    assert failure.message == ("expected cost 1.50 USD, got 1.80 USD (rewards 1.50 USD, perks 0.30 USD, "
                               "vouchers 0.00 USD, points paid 0.00 USD)")
    assert (failure.expected, failure.actual) == (150, 180)
    discount = check_expectation(ast.Expect("discount", money("3")), result(discount_cents=300),
                                 FakeProgram())  # type: ignore[arg-type]
    assert discount is None


def test_tier_failure_lists_the_tier_changes() -> None:
    r = result(tier="Green", tier_history=(TierChange(dt.date(2027, 5, 4), "Green", "Gold", "reached 500"),
                                           TierChange(dt.date(2028, 6, 1), "Gold", "Green", "review")))
    failure = check_expectation(ast.Expect("tier", "Gold"), r, FakeProgram())  # type: ignore[arg-type]
    assert failure is not None
    assert failure.message == ("expected tier Gold, got Green "
                               "(tier changes: 2027-05-04 Green -> Gold; 2028-06-01 Gold -> Green)")


def test_fired_failures_quote_the_trace() -> None:
    step = TraceStep(dt.date(2027, 1, 9), "purchase", "purchase 8.99 USD", rules=(
        RuleTrace("base", True, 8),
        RuleTrace("weekend_coffee", False, reason='condition false: category is "tea", needed == "coffee"'),
    ))
    r = result(trace=(step,), fired=frozenset({"base"}))
    failure = check_expectation(ast.Expect("fired", "weekend_coffee"), r, FakeProgram())  # type: ignore[arg-type]
    assert failure is not None
    assert failure.message == ('expected weekend_coffee to fire, but it did not (2027-01-09 purchase: '
                               'condition false: category is "tea", needed == "coffee")')
    unwanted = check_expectation(ast.Expect("fired", "base", negated=True), r, FakeProgram())  # type: ignore[arg-type]
    assert unwanted is not None
    assert unwanted.message == "expected base not to fire, but it fired (2027-01-09 purchase: fired, 8 points)"


# ---------------------------------------------------------------- whole files

PROGRAM = """program "Tiny" {
  points "points"
  currency USD
  earn base on purchase {
    award 1 point per 1 USD
  }
  expire points 12 months after earning
  returns reverse earned points; negative balance forbidden
}

test "ten dollars earn ten points" {
  when purchase 10 USD on 2027-05-04
  expect earned 10 points
}

test "a wrong expectation fails" {
  when purchase 10 USD on 2027-05-04
  expect earned 11 points
}
"""


def test_run_paths_counts_passes_and_failures(tmp_path: Path) -> None:
    (tmp_path / "tiny.loyalty").write_text(PROGRAM)
    report = run_paths([str(tmp_path)])
    assert (report.passed, report.failed, report.file_errors) == (1, 1, 0)
    text = render_report_text(report)
    lines = text.splitlines()
    assert "PASS ten dollars earn ten points" in lines
    path = tmp_path / "tiny.loyalty"
    assert f"FAIL a wrong expectation fails ({path}:16)" in lines  # its `test` line is line 16 of PROGRAM
    assert any(line.endswith("expected earned 11 points, got 10 (rule base 10)") for line in lines)
    assert lines[-2:] == [f"{path}: 1 passed, 1 failed", "1 passed, 1 failed"]
    doc = json.loads(render_report_json(report))
    assert (doc["passed"], doc["failed"]) == (1, 1)
    statuses = [t["status"] for t in doc["files"][0]["tests"]]
    assert statuses == ["pass", "fail"]


def test_run_filter_and_sibling_test_file(tmp_path: Path) -> None:
    program, tests = PROGRAM.split('\ntest "ten', 1)
    (tmp_path / "tiny.loyalty").write_text(program)
    (tmp_path / "tiny.test.loyalty").write_text('test "ten' + tests)
    report = run_paths([str(tmp_path / "tiny.loyalty")], re.compile("ten dollars"))
    assert (report.passed, report.failed) == (1, 0)
    assert report.files[-1].program_path == str(tmp_path / "tiny.loyalty")


def test_a_tests_only_file_without_its_program_is_a_file_error(tmp_path: Path) -> None:
    (tmp_path / "lonely.test.loyalty").write_text('test "x" {\n  when signup on 2027-01-01\n  expect earned 0 points\n}\n')
    report = run_paths([str(tmp_path)])
    assert report.file_errors == 1 and not report.ok
    assert [d.code for d in report.files[0].diagnostics] == ["RL004"]


def test_colours_only_when_asked() -> None:
    assert Painter(False).red("FAIL") == "FAIL"
    assert Painter(True).red("FAIL") == "\x1b[31mFAIL\x1b[0m"
    assert isinstance(TestReport().ok, bool)


def test_a_test_naming_an_unknown_reward_or_perk_is_located_with_a_suggestion(tmp_path, capsys):
    from rulelang.tools.cli import main

    src = tmp_path / "p.loyalty"
    src.write_text('program "P" {\n  points "pts"\n  currency USD\n  earn base on purchase { award 1 point per 1 USD }\n'
                   '  reward cup { price 10 points; worth 1 USD }\n}\n'
                   'test "t" {\n  when purchase 10 USD on 2027-01-02\n  when redeem cupp on 2027-01-03\n'
                   '  when use perk lounge on 2027-01-03\n  expect balance 0 points\n}\n')
    assert main(["test", str(src)]) == 1
    captured = capsys.readouterr()
    err = captured.out + captured.err
    assert f"{src}:9:3: error[RL201]: unknown reward `cupp`" in err and "did you mean `cup`?" in err
    assert f"{src}:10:3: error[RL201]: unknown perk `lounge`" in err and "the program has no perks" in err
