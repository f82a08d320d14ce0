"""Tests of the text parser: grammar, AST built for every construct, spans, errors."""

from __future__ import annotations

import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rulelang.syntax import ast
from rulelang.diagnostics import Span, render_text
from rulelang.syntax.parser import RESERVED_WORDS, build_parser, grammar_text, parse_expression, parse_text

FIXTURES = Path(__file__).parent / "fixtures"
PARSE_CASES = sorted((FIXTURES / "parse").glob("*.loyalty"))
IDENTITY = FIXTURES / "fmt" / "identity.loyalty"
D = Decimal


def usd(amount: str) -> ast.Money:
    return ast.Money(D(amount), "USD")


def parse_ok(source: str) -> ast.SourceFile:
    sf, diags = parse_text(source, "t.loyalty")
    assert diags == [], render_text(diags, {"t.loyalty": source})
    assert sf is not None
    return sf


def program_of(body: str, header: str = 'points "stars"\n  currency USD') -> ast.Program:
    sf = parse_ok(f'program "P" {{\n  {header}\n{body}\n}}\n')
    assert sf.program is not None
    return sf.program


def cond(text: str) -> ast.Expr:
    expr, diags = parse_expression(text, "c.yaml", 1, 1)
    assert diags == [] and expr is not None, diags
    return expr


# ---------------------------------------------------------------- grammar


def test_grammar_builds_in_strict_mode() -> None:
    pytest.importorskip("interegular")  # lark's strict mode needs it to check terminal collisions
    build_parser(strict=True)


def test_every_reserved_word_is_a_keyword_of_the_grammar() -> None:
    words = set(re.findall(r'"([a-z_]+)"', grammar_text()))
    assert RESERVED_WORDS <= words


@pytest.mark.parametrize("word", ["earn", "tier", "points", "review", "in", "true"])
def test_reserved_words_cannot_name_a_rule(word: str) -> None:
    sf, diags = parse_text(f'program "P" {{\n  earn {word} on purchase {{ award 1 points }}\n}}\n', "r.loyalty")
    assert sf is None
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("RL101", 2, 8)]
    assert f"reserved word `{word}`" in diags[0].message


def test_empty_and_tests_only_files() -> None:
    assert parse_ok("") == ast.SourceFile("t.loyalty", None, ())
    sf = parse_ok('# only tests here\ntest "t" {\n  when signup on 2027-05-01\n}\n')
    assert sf.program is None
    assert sf.tests == (ast.TestCase("t", events=(ast.EventSpec("signup", dt.datetime(2027, 5, 1, 12, 0)),)),)


# ---------------------------------------------------------------- header and declarations


def test_program_header_statements() -> None:
    p = program_of(
        "  point cost 0.004 USD; point value 0.01 USD\n  multipliers add\n  round nearest\n  pending 14 days",
    )
    assert p == ast.Program(
        "P", points_unit="stars", currency="USD", point_cost=usd("0.004"), point_value=usd("0.01"),
        stacking="add", rounding="nearest", pending_days=14,
    )
    # numbers keep their written digits
    assert str(p.point_cost.amount) == "0.004"  # type: ignore[union-attr]


def test_defaults_when_header_is_missing() -> None:
    assert parse_ok('program "Bare" {\n}\n').program == ast.Program("Bare")


def test_declarations() -> None:
    p = program_of(
        "  attribute vip: bool\n"
        "  event review { rating: number,\n    verified: bool }\n"
        "  event app_checkin\n"
        '  counter nights sums items on purchase when category == "room"\n'
        "  counter visits on purchase"
    )
    assert p.attributes == (ast.FieldDecl("vip", "bool"),)
    assert p.events == (
        ast.EventDecl("review", (ast.FieldDecl("rating", "number"), ast.FieldDecl("verified", "bool"))),
        ast.EventDecl("app_checkin"),
    )
    assert p.counters == (
        ast.CounterDecl("nights", "purchase", "items",
                        ast.Compare("==", ast.Ref(("category",)), ast.Literal("room"))),
        ast.CounterDecl("visits", "purchase"),
    )


# ---------------------------------------------------------------- earn rules


def test_rate_award_with_exclusions_and_rounding() -> None:
    p = program_of(
        "  earn base on purchase {\n"
        '    award 1 star per 1 USD of net amount excluding category "gift_card", "tobacco"\n'
        "    round down\n  }"
    )
    assert p.rules == (
        ast.EarnRule(
            "base", "purchase",
            actions=(ast.Award(D(1), usd("1"), "net", ("gift_card", "tobacco"), unit="star"),),
            rounding="down",
        ),
    )


def test_rule_with_every_modifier() -> None:
    p = program_of(
        '  earn weekend_coffee on purchase when weekday in [sat, sun] and category == "coffee" {\n'
        "    multiply 2x\n    priority 10; group \"promo\"\n    during 2027-01-01 .. 2027-03-31\n"
        "    cap 200 stars per customer per month\n    limit 1 times per customer per day\n"
        "    budget 100000 stars\n    every 10th purchase\n    streak 4 weeks\n  }"
    )
    assert p.rules[0] == ast.EarnRule(
        "weekend_coffee", "purchase",
        condition=ast.BoolOp("and", (
            ast.InList(ast.Ref(("weekday",)), (ast.Ref(("sat",)), ast.Ref(("sun",)))),
            ast.Compare("==", ast.Ref(("category",)), ast.Literal("coffee")),
        )),
        actions=(ast.Multiply(D(2)),),
        priority=10, group="promo",
        window=ast.DateWindow(dt.date(2027, 1, 1), dt.date(2027, 3, 31)),
        caps=(ast.Cap(200, "points", "month"), ast.Cap(1, "times", "day")),
        budget=ast.Budget(points=100000),
        every_nth=10,
        streak=ast.Streak(4, "week"),
    )


def test_other_actions() -> None:
    p = program_of(
        "  earn cash on purchase {\n"
        '    award 2% of gross amount excluding category "sale"\n'
        '    discount 10% of net amount excluding category "sale"\n'
        "    discount 5 USD\n    perk free_delivery costs 4.99 USD\n    budget 5000 USD\n  }\n"
        "  earn friend on referral { award 100 stars to referrer; award 50 stars to referee }\n"
        "  earn treat on birthday { award 50 stars }"
    )
    cash, friend, treat = p.rules
    assert cash.actions == (
        ast.Cashback(D(2), "gross", ("sale",)),
        ast.Discount(percent=D(10), excluding=("sale",)),
        ast.Discount(amount=usd("5")),
        ast.Perk("free_delivery", usd("4.99")),
    )
    assert cash.budget == ast.Budget(money=usd("5000"))
    assert friend.actions == (
        ast.Award(D(100), to="referrer", unit="stars"),
        ast.Award(D(50), to="referee", unit="stars"),
    )
    assert treat == ast.EarnRule("treat", "birthday", actions=(ast.Award(D(50), unit="stars"),))


def test_custom_event_named_review_and_event_fields() -> None:
    p = program_of(
        "  event review { rating: number }\n"
        "  earn reviewer on review when event.rating >= 4 { award 10 stars }"
    )
    assert p.rules[0].event == "review"
    assert p.rules[0].condition == ast.Compare(">=", ast.Ref(("event", "rating")), ast.Literal(D(4)))


# ---------------------------------------------------------------- tiers and lifecycle


def test_tiers() -> None:
    p = program_of(
        "  tiers by stars earned over rolling 12 months {\n"
        "    tier Green   from 0\n"
        "    tier Gold    from 500   { multiply 1.2x; stars never expire }\n"
        "    tier Reserve from 2500  { multiply 1.7x; discount 3%; perk free_refill costs 0.30 USD per use;"
        " perk lounge costs 5 USD per month; expire stars 24 months after earning }\n"
        "    review monthly; downgrade one step\n    grace 3 months\n    valid 12 months\n  }"
    )
    assert p.tiers == ast.TierSystem(
        "points",  # the unit word is the points metric
        ast.TierWindow("rolling", 12),
        (
            ast.Tier("Green", D(0)),
            ast.Tier("Gold", D(500), multiplier=D("1.2"), expiry=(ast.Expiry("never"),)),
            ast.Tier("Reserve", D(2500), multiplier=D("1.7"), discount=D(3),
                     expiry=(ast.Expiry("after_earning", months=24),),
                     perks=(ast.TierPerk("free_refill", usd("0.30"), "use"), ast.TierPerk("lounge", usd("5"), "month"))),
        ),
        review="monthly", downgrade="one_step", grace_months=3, validity_months=12,
    )


@pytest.mark.parametrize("text, window, downgrade", [
    ("calendar year", ast.TierWindow("calendar_year"), "to base"),
    ("lifetime", ast.TierWindow("lifetime"), "to qualified"),
    ("rolling 1 month", ast.TierWindow("rolling", 1), "never"),
])
def test_tier_windows_and_downgrades(text: str, window: ast.TierWindow, downgrade: str) -> None:
    p = program_of(f"  tiers by spend over {text} {{\n    tier Base from 0\n"
                   f"    tier Silver from 10000 RUB {{ discount 3% }}\n    downgrade {downgrade}\n  }}")
    assert p.tiers is not None
    assert p.tiers.window == window
    assert p.tiers.metric == "spend"
    assert p.tiers.downgrade == downgrade.replace(" ", "_")
    assert p.tiers.tiers[1] == ast.Tier("Silver", D(10000), ast.Money(D(10000), "RUB"), discount=D(3))


def test_expiry_returns_and_redemption() -> None:
    p = program_of(
        "  expire stars 6 months after earning at end of month\n"
        "  expire stars after 18 months of inactivity\n"
        "  expire stars on 2027-12-31\n  expire stars yearly on 12-31\n"
        "  returns reverse earned stars; negative balance allowed\n"
        "  reward free_drink { price 150 stars; worth 5 USD; costs us 1.50 USD }\n"
        "  pay with points { 100 stars = 1 USD; minimum balance 500 stars; at most 50% of basket }\n"
        "  convert every 150 points into a 5 USD voucher at end of quarter"
    )
    assert p.expiry == (
        ast.Expiry("after_earning", months=6, end_of_month=True),
        ast.Expiry("inactivity", months=18),
        ast.Expiry("fixed_date", date=dt.date(2027, 12, 31)),
        ast.Expiry("yearly", month_day=(12, 31)),
    )
    assert p.returns == ast.ReturnPolicy(True, "allowed")
    assert p.rewards == (ast.Reward("free_drink", 150, usd("5"), usd("1.50")),)
    assert p.pay_with_points == ast.PayWithPoints(100, usd("1"), 500, D(50))
    assert p.conversion == ast.Conversion(150, usd("5"), "quarter")


def test_negative_balance_without_returns_reverses_nothing() -> None:
    assert program_of("  negative balance forbidden").returns == ast.ReturnPolicy(False, "forbidden")


# ---------------------------------------------------------------- tests


def test_test_blocks() -> None:
    sf = parse_ok(
        'program "P" {\n  points "stars"\n}\n'
        'test "everything" {\n'
        "  given tier Gold\n  given balance 500 stars\n  given attribute vip = true\n  given purchases 9\n"
        "  given spend 120 USD\n  given stars 300\n  given counter nights = 3\n  given birthday 05-04\n"
        '  when purchase 7.40 USD category "coffee" channel "app" on 2027-05-04 at 09:30\n'
        '  when return of "A1" amount 10 USD on 2027-05-10\n'
        "  when referral as referrer on 2027-05-06\n"
        "  when review rating 5 on 2027-05-07\n"
        "  when redeem free_drink on 2027-06-01\n"
        "  when pay 5 USD with points on 2027-06-02\n"
        "  when use perk free_refill on 2027-06-03\n"
        "  until 2028-06-01\n"
        "  expect earned 8 stars\n  expect available 8 / pending 0\n  expect tier Gold\n"
        "  expect discount 3.00 USD\n  expect cost 1.50 USD\n"
        "  expect fired weekend_coffee\n  expect not fired birthday_treat\n"
        "}\n"
    )
    noon = dt.time(12, 0)
    assert sf.tests == (ast.TestCase(
        "everything",
        givens=(
            ast.Given("tier", None, "Gold"),
            ast.Given("balance", None, D(500)),
            ast.Given("attribute", "vip", True),
            ast.Given("purchases", None, D(9)),
            ast.Given("metric", "spend", usd("120")),
            ast.Given("metric", "points", D(300)),
            ast.Given("counter", "nights", D(3)),
            ast.Given("birthday", None, (5, 4)),
        ),
        events=(
            ast.EventSpec("purchase", dt.datetime(2027, 5, 4, 9, 30), usd("7.40"),
                          fields=(("category", ast.Literal("coffee")), ("channel", ast.Literal("app")))),
            ast.EventSpec("return", dt.datetime.combine(dt.date(2027, 5, 10), noon), usd("10"), "A1"),
            ast.EventSpec("referral", dt.datetime.combine(dt.date(2027, 5, 6), noon),
                          fields=(("role", ast.Literal("referrer")),)),
            ast.EventSpec("review", dt.datetime.combine(dt.date(2027, 5, 7), noon),
                          fields=(("rating", ast.Literal(D(5))),)),
            ast.EventSpec("redeem", dt.datetime.combine(dt.date(2027, 6, 1), noon), name="free_drink"),
            ast.EventSpec("pay", dt.datetime.combine(dt.date(2027, 6, 2), noon), usd("5")),
            ast.EventSpec("use_perk", dt.datetime.combine(dt.date(2027, 6, 3), noon), name="free_refill"),
        ),
        expects=(
            ast.Expect("earned", 8), ast.Expect("available", 8), ast.Expect("pending", 0),
            ast.Expect("tier", "Gold"), ast.Expect("discount", usd("3.00")), ast.Expect("cost", usd("1.50")),
            ast.Expect("fired", "weekend_coffee"), ast.Expect("fired", "birthday_treat", negated=True),
        ),
        until=dt.date(2028, 6, 1),
    ),)


# ---------------------------------------------------------------- conditions


def test_condition_precedence_and_grouping() -> None:
    a = ast.Compare("==", ast.Ref(("a",)), ast.Literal(D(1)))
    b = ast.Ref(("customer", "vip"))
    c = ast.InList(ast.Ref(("c",)), (ast.Literal("x"),), negated=True)
    assert cond('a == 1 or customer.vip and c not in ["x"]') == ast.BoolOp("or", (a, ast.BoolOp("and", (b, c))))
    assert cond('(a == 1 or customer.vip) and c not in ["x"]') == ast.BoolOp("and", (ast.BoolOp("or", (a, b)), c))
    assert cond("not a == 1") == ast.Not(a)
    assert cond("a == 1 and customer.vip and a == 1") == ast.BoolOp("and", (a, b, a))
    assert cond("tier >= Gold") == ast.Compare(">=", ast.Ref(("tier",)), ast.Ref(("Gold",)))
    assert cond("amount > 10.00 USD") == ast.Compare(">", ast.Ref(("amount",)), ast.Literal(usd("10.00")))
    assert cond("date <= 2027-12-31") == ast.Compare("<=", ast.Ref(("date",)), ast.Literal(dt.date(2027, 12, 31)))
    assert cond("first_purchase") == ast.Ref(("first_purchase",))
    assert cond("verified != false") == ast.Compare("!=", ast.Ref(("verified",)), ast.Literal(False))


def test_condition_may_continue_on_the_next_line() -> None:
    p = program_of('  earn a on purchase when category in ["a",\n      "b"] and\n      hour < 10\n  {\n    award 1 points\n  }')
    assert p.rules[0].condition == ast.BoolOp("and", (
        ast.InList(ast.Ref(("category",)), (ast.Literal("a"), ast.Literal("b"))),
        ast.Compare("<", ast.Ref(("hour",)), ast.Literal(D(10))),
    ))


def test_strings_with_escapes() -> None:
    assert cond(r'category == "say \"hi\" \\ bye"').right == ast.Literal('say "hi" \\ bye')  # type: ignore[union-attr]


# ---------------------------------------------------------------- spans and comments


def test_spans_point_at_the_source() -> None:
    src = 'program "P" {\n  earn base on purchase {\n    award 1 point per 1 USD\n  }\n}\n'
    sf = parse_ok(src)
    assert sf.program is not None
    rule = sf.program.rules[0]
    assert rule.span == Span("t.loyalty", 2, 3, 4, 3)
    award = rule.actions[0]
    assert award.span == Span("t.loyalty", 3, 5, 3, 27)
    assert award.per is not None and award.per.span == Span("t.loyalty", 3, 23, 3, 27)  # type: ignore[union-attr]
    assert sf.program.span == Span("t.loyalty", 1, 1, 5, 1)


def test_comments_are_collected_but_not_inside_strings() -> None:
    sf = parse_ok('# top\nprogram "P #1" {  # brace\n  currency USD # money\n}\n# end\n')
    assert [(c.text, c.line, c.span.column) for c in sf.comments] == [
        ("# top", 1, 1), ("# brace", 2, 19), ("# money", 3, 16), ("# end", 5, 1)]
    assert sf.program is not None and sf.program.name == "P #1"


def test_parse_expression_positions_are_shifted_into_the_yaml_file() -> None:
    expr, diags = parse_expression('weekday in [sat, sun] and\n  category == "coffee"', "p.yaml", 7, 11)
    assert diags == [] and isinstance(expr, ast.BoolOp)
    assert expr.span == Span("p.yaml", 7, 11, 8, 22)  # first line shifted by 10 columns, the next is not
    assert expr.items[0].span == Span("p.yaml", 7, 11, 7, 31)
    assert expr.items[1].span == Span("p.yaml", 8, 3, 8, 22)
    _, diags = parse_expression("amount > 5 USD and", "p.yaml", 3, 9)
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("RL101", 3, 27)]
    assert diags[0].message == "expected a condition after `and`, got the end of the condition"
    _, diags = parse_expression("date == 2027-02-30", "p.yaml", 4, 5)
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("RL103", 4, 13)]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("case", PARSE_CASES, ids=lambda p: p.stem)
def test_golden_errors(case: Path) -> None:
    src = case.read_text()
    sf, diags = parse_text(src, case.name)
    assert sf is None
    expected = case.with_suffix("").with_suffix(".expected.txt").read_text()
    assert render_text(diags, {case.name: src}) + "\n" == expected


def test_messages_never_show_grammar_names() -> None:
    for case in PARSE_CASES:
        _, diags = parse_text(case.read_text(), case.name)
        for d in diags:
            text = f"{d.message} {d.hint or ''}"
            assert not re.search(r"__ANON|RBRACE|LBRACE|_NL|\bNAME\b|STRING|NUMBER|\$END", text), text


def test_several_errors_are_reported_in_one_run() -> None:
    _, diags = parse_text((FIXTURES / "parse" / "several_errors.loyalty").read_text(), "s.loyalty")
    assert [(d.code, d.span.line) for d in diags] == [
        ("RL101", 3), ("RL101", 6), ("RL101", 9), ("RL103", 11), ("RL103", 12)]


# ---------------------------------------------------------------- robustness


def _tokens(src: str) -> list[str]:
    return re.findall(r'"[^"\n]*"|\d[\w.:%-]*|[A-Za-z_]\w*|\.\.|==|!=|<=|>=|\n|\S', src)


IDENTITY_TOKENS = _tokens(IDENTITY.read_text())
PIECES = st.sampled_from(list('{}[]();,.:="#%\n \t\\') + [
    "program ", "earn ", "award ", "tier ", "test ", "when ", "and ", "2027-", "1.5", " USD", "2x", "x"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(PIECES, st.characters()), max_size=60).map("".join))
def test_random_text_never_raises(text: str) -> None:
    sf, diags = parse_text(text, "r.loyalty")
    assert (sf is None) == bool(diags)
    expr, diags = parse_expression(text, "r.yaml", 2, 5)
    assert (expr is None) == bool(diags)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 4))
def test_mutated_programs_never_raise(rnd: random.Random, edits: int) -> None:
    tokens = list(IDENTITY_TOKENS)
    for _ in range(edits):
        i = rnd.randrange(len(tokens))
        op = rnd.choice(["delete", "insert", "swap", "duplicate"])
        if op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, rnd.choice(tokens))
        elif op == "swap":
            j = rnd.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens.insert(i, tokens[i])
    src = " ".join(tokens)
    sf, diags = parse_text(src, "m.loyalty")
    assert (sf is None) == bool(diags)
    for d in diags:
        # syntax errors, and the parse-stage value errors of status dates (RL270) and activity kinds (RL272)
        assert d.code in {"RL101", "RL102", "RL103", "RL270", "RL272"}
        assert d.span.line >= 1 and d.span.column >= 1


def test_empty_condition_and_byte_order_mark() -> None:
    expr, diags = parse_expression("  ", "c.yaml", 4, 9)
    assert expr is None and [(d.code, d.span.line, d.span.column, d.message) for d in diags] == [
        ("RL101", 4, 9, "the condition is empty")]
    sf = parse_ok('\ufeffprogram "P" {\r\n\tcurrency EUR\r\n}\r\n')
    assert sf.program is not None and sf.program.currency == "EUR"
    assert sf.program.span.line == 1 and sf.program.span.column == 1
