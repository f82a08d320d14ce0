"""The YAML form: loading to the AST, located errors, writing back, and the JSON Schema."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rulelang.syntax import ast
from rulelang.diagnostics import Diagnostic
from rulelang.syntax.parser import parse_expression, parse_text
from rulelang.syntax.yaml_loader import ACTION_KEYS, AWARD_KEYS, DISCOUNT_KEYS, EXPECT_KEYS, EXPIRE_KEYS, LEVEL_KEYS, PROGRAM_KEYS, RULE_KEYS, TEST_KEYS, TIERS_KEYS, load_yaml
from rulelang.syntax.yaml_writer import expr_to_text, to_yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "yaml"
SCHEMA_PATH = ROOT / "rulelang" / "syntax" / "schema" / "rulelang.schema.json"
RULE_TEXT_FILES = sorted(p for p in (ROOT / "rules").glob("*.loyalty"))
NOON = dt.time(12, 0)


def load_ok(source: str, path: str = "t.yaml") -> ast.SourceFile:
    sf, diags = load_yaml(source, path)
    assert sf is not None and not diags, "\n".join(f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in diags)
    return sf


def load_errors(source: str) -> list[Diagnostic]:
    sf, diags = load_yaml(source, "t.yaml")
    assert sf is None and diags
    return diags


def where(d: Diagnostic) -> tuple[str, int, int]:
    return (d.code, d.span.line, d.span.column)


def program_yaml(body: str) -> str:
    """A program with a name and `body` (already indented by 2) under it."""
    return "program:\n  name: T\n" + body


def one_rule(rule_body: str) -> ast.EarnRule:
    sf = load_ok(program_yaml("  rules:\n    r:\n      on: purchase\n" + rule_body))
    assert sf.program is not None
    return sf.program.rules[0]


def action(text: str) -> ast.Action:
    return one_rule(f"      actions:\n        - {text}\n").actions[0]


# ---------------------------------------------------------------- same AST as the text form


def test_the_text_twin_gives_the_same_ast() -> None:
    text, diags = parse_text((FIXTURES / "coffee.loyalty").read_text(), "coffee.loyalty")
    assert text is not None and not diags
    from_yaml = load_ok((FIXTURES / "coffee.yaml").read_text(), "coffee.yaml")
    assert from_yaml.program == text.program
    assert from_yaml.tests == text.tests


def test_the_fixture_compiles_and_its_tests_pass_in_both_files() -> None:
    from rulelang.check.compiler import compile_source
    from rulelang.tools.testing import run_tests

    sf = load_ok((FIXTURES / "coffee.yaml").read_text(), "coffee.yaml")
    program, diags = compile_source(sf)
    assert program is not None and not [d for d in diags if d.is_error]
    sibling = load_ok((FIXTURES / "coffee_test.yaml").read_text(), "coffee_test.yaml")
    outcomes = run_tests(sf, program) + run_tests(sibling, program)
    assert len(outcomes) == 3
    assert [o.name for o in outcomes if not o.passed] == []


@pytest.mark.parametrize("path", RULE_TEXT_FILES, ids=lambda p: p.name)
def test_every_example_survives_text_to_yaml_and_back(path: Path) -> None:
    text, diags = parse_text(path.read_text(), str(path))
    assert text is not None, diags
    back = load_ok(to_yaml(text), str(path))
    assert back.program == text.program and back.tests == text.tests


def test_header_and_declarations_by_hand() -> None:
    sf = load_ok(program_yaml(
        "  points: stars\n"
        "  currency: EUR\n"
        "  point_cost: 0.004 EUR\n"
        "  point_value: 0.010 EUR\n"
        "  multipliers: add\n"
        "  round: nearest\n"
        "  pending: 14 days\n"
        "  attributes: {vip: bool, region: string}\n"
        "  events:\n"
        "    review: {rating: number}\n"
        "    app_checkin: {}\n"
        "  counters:\n"
        "    visits: {on: purchase}\n"
    ))
    assert sf.program == ast.Program(
        "T", points_unit="stars", currency="EUR",
        point_cost=ast.Money(Decimal("0.004"), "EUR"), point_value=ast.Money(Decimal("0.010"), "EUR"),
        stacking="add", rounding="nearest", pending_days=14,
        events=(ast.EventDecl("review", (ast.FieldDecl("rating", "number"),)), ast.EventDecl("app_checkin")),
        attributes=(ast.FieldDecl("vip", "bool"), ast.FieldDecl("region", "string")),
        counters=(ast.CounterDecl("visits", "purchase"),),
    )
    # digits are kept as written, not rounded through a float
    assert str(sf.program.point_value.amount) == "0.010"  # type: ignore[union-attr]
    assert sf.tests == () and sf.path == "t.yaml"


def test_a_rule_with_every_modifier_by_hand() -> None:
    rule = one_rule(
        '      when: weekday in [sat, sun] and category == "coffee"\n'
        "      actions:\n"
        "        - award: {points: 1, unit: star, per: 1.50 USD, of: gross, excluding: [gift_card, tobacco]}\n"
        "        - multiply: 1.5x\n"
        "      round: up\n"
        "      priority: 10\n"
        "      group: promo\n"
        "      during: 2027-01-01 .. 2027-03-31\n"
        "      cap: {points: 200, per: month}\n"
        "      limit: [{times: 1, per: day}]\n"
        "      budget: 100000\n"
        "      every: 10th\n"
        "      streak: 4 weeks\n"
    )
    assert rule == ast.EarnRule(
        "r", "purchase",
        condition=ast.BoolOp("and", (
            ast.InList(ast.Ref(("weekday",)), (ast.Ref(("sat",)), ast.Ref(("sun",)))),
            ast.Compare("==", ast.Ref(("category",)), ast.Literal("coffee")),
        )),
        actions=(
            ast.Award(Decimal(1), ast.Money(Decimal("1.50"), "USD"), "gross", ("gift_card", "tobacco"), unit="star"),
            ast.Multiply(Decimal("1.5")),
        ),
        rounding="up", priority=10, group="promo",
        window=ast.DateWindow(dt.date(2027, 1, 1), dt.date(2027, 3, 31)),
        caps=(ast.Cap(200, "points", "month"), ast.Cap(1, "times", "day")),
        budget=ast.Budget(points=100000), every_nth=10, streak=ast.Streak(4, "week"),
    )


@pytest.mark.parametrize("short, long", [
    ("award: 50", "award: {points: 50}"),
    ("award: 50 stars", "award: {points: 50, unit: stars}"),
    ("award: 2%", "award: {percent: 2}"),
    ("multiply: 2x", "multiply: 2"),
    ("discount: 10%", "discount: {percent: 10}"),
    ("discount: 5 USD", "discount: {amount: 5 USD}"),
])
def test_action_shorthands_equal_their_long_forms(short: str, long: str) -> None:
    assert action(short) == action(long)


def test_actions_by_hand() -> None:
    assert action("award: {points: 100, to: referrer}") == ast.Award(Decimal(100), to="referrer")
    assert action("award: {percent: 2.5, excluding: shipping}") == ast.Cashback(Decimal("2.5"), excluding=("shipping",))
    assert action("discount: {percent: 10, of: gross, excluding: [sale]}") == \
        ast.Discount(percent=Decimal(10), base="gross", excluding=("sale",))
    assert action("perk: {name: free_delivery, costs: 4.99 USD}") == \
        ast.Perk("free_delivery", ast.Money(Decimal("4.99"), "USD"))


def test_window_as_a_mapping_equals_the_string_form() -> None:
    as_text = one_rule("      actions: [{multiply: 2}]\n      during: 2027-01-01 .. 2027-03-31\n")
    as_map = one_rule("      actions: [{multiply: 2}]\n      during: {from: 2027-01-01, to: 2027-03-31}\n")
    assert as_text == as_map


def test_tiers_lifecycle_and_redemption_by_hand() -> None:
    sf = load_ok(program_yaml(
        "  points: stars\n"
        "  currency: RUB\n"
        "  tiers:\n"
        "    by: star\n"
        "    over: calendar_year\n"
        "    levels:\n"
        "      Base: {from: 0}\n"
        "      Silver: {from: 10000 RUB, discount: 3%, expire: never}\n"
        "      Gold:\n"
        "        from: 20000\n"
        "        multiply: 1.2\n"
        "        expire: {after_earning: 24 months}\n"
        "        perks:\n"
        "          - {name: lounge, costs: 500 RUB, per: month}\n"
        "    review: quarterly\n"
        "    downgrade: to qualified\n"
        "    grace: 3\n"
        "    valid: 12 months\n"
        "  expire:\n"
        "    - {after_earning: 6 months, at_end_of_month: true}\n"
        "    - inactivity: 18 months\n"
        "    - on: 2027-12-31\n"
        "    - yearly_on: 02-29\n"
        "  returns: {negative_balance: allowed}\n"
        "  rewards:\n"
        "    mug: {price: 300, worth: 500 RUB}\n"
        "  pay_with_points: {points: 1, worth: 1 RUB, at_most: 30%}\n"
        "  convert: {every: 1000, into: 100 RUB, at_end_of: year}\n"
    ))
    p = sf.program
    assert p is not None
    assert p.tiers == ast.TierSystem(
        "points", ast.TierWindow("calendar_year"),
        (
            ast.Tier("Base", Decimal(0)),
            ast.Tier("Silver", Decimal(10000), ast.Money(Decimal(10000), "RUB"), discount=Decimal(3),
                     expiry=(ast.Expiry("never"),)),
            ast.Tier("Gold", Decimal(20000), multiplier=Decimal("1.2"), expiry=(ast.Expiry("after_earning", months=24),),
                     perks=(ast.TierPerk("lounge", ast.Money(Decimal(500), "RUB"), "month"),)),
        ),
        review="quarterly", downgrade="to_qualified", grace_months=3, validity_months=12,
    )
    assert p.expiry == (
        ast.Expiry("after_earning", months=6, end_of_month=True),
        ast.Expiry("inactivity", months=18),
        ast.Expiry("fixed_date", date=dt.date(2027, 12, 31)),
        ast.Expiry("yearly", month_day=(2, 29)),
    )
    assert p.returns == ast.ReturnPolicy(True, "allowed")
    assert p.rewards == (ast.Reward("mug", 300, ast.Money(Decimal(500), "RUB")),)
    assert p.pay_with_points == ast.PayWithPoints(1, ast.Money(Decimal(1), "RUB"), 0, Decimal(30))
    assert p.conversion == ast.Conversion(1000, ast.Money(Decimal(100), "RUB"), "year")


def test_tests_by_hand() -> None:
    sf = load_ok(
        "tests:\n"
        "  - name: every kind of given, event and expectation\n"
        "    given:\n"
        "      - tier: Gold\n"
        "      - balance: 500\n"
        "      - attribute: {vip: true, region: \"NO\"}\n"
        "      - spend: 120 USD\n"
        "      - nights: 4\n"
        "      - birthday: 05-04\n"
        "      - counter: {visits: 3}\n"
        "    when:\n"
        "      - purchase: 7.40 USD\n"
        "        category: coffee\n"
        "        items: 2\n"
        "        store: 0042\n"
        "        on: 2027-05-04 at 09:30\n"
        "      - return: A1\n"
        "        amount: 3 USD\n"
        "        on: 2027-05-05\n"
        "      - referral: referee\n"
        "        on: 2027-05-06\n"
        "      - review:\n"
        "        rating: 5\n"
        "        verified: true\n"
        "        on: 2027-05-07\n"
        "      - redeem: free_drink\n"
        "        on: 2027-05-08\n"
        "      - pay: 5 USD\n"
        "        on: 2027-05-09\n"
        "      - use_perk: free_refill\n"
        "        on: 2027-05-10\n"
        "    until: 2027-06-01\n"
        "    expect:\n"
        "      earned: 8\n"
        "      tier: Gold\n"
        "      cost: 1.50 USD\n"
        "      fired: [a, b]\n"
        "      not_fired: c\n"
    )
    assert sf.program is None
    usd = lambda amount: ast.Money(Decimal(amount), "USD")  # noqa: E731
    assert sf.tests == (ast.TestCase(
        "every kind of given, event and expectation",
        givens=(
            ast.Given("tier", value="Gold"),
            ast.Given("balance", value=Decimal(500)),
            ast.Given("attribute", "vip", True),
            ast.Given("attribute", "region", "NO"),
            ast.Given("metric", "spend", usd("120")),
            ast.Given("metric", "nights", Decimal(4)),
            ast.Given("birthday", value=(5, 4)),
            ast.Given("counter", "visits", Decimal(3)),
        ),
        events=(
            ast.EventSpec("purchase", dt.datetime(2027, 5, 4, 9, 30), usd("7.40"), fields=(
                ("category", ast.Literal("coffee")), ("items", ast.Literal(Decimal(2))), ("store", ast.Literal("0042")))),
            ast.EventSpec("return", dt.datetime.combine(dt.date(2027, 5, 5), NOON), usd("3"), "A1"),
            ast.EventSpec("referral", dt.datetime.combine(dt.date(2027, 5, 6), NOON),
                          fields=(("role", ast.Literal("referee")),)),
            ast.EventSpec("review", dt.datetime.combine(dt.date(2027, 5, 7), NOON),
                          fields=(("rating", ast.Literal(Decimal(5))), ("verified", ast.Literal(True)))),
            ast.EventSpec("redeem", dt.datetime.combine(dt.date(2027, 5, 8), NOON), name="free_drink"),
            ast.EventSpec("pay", dt.datetime.combine(dt.date(2027, 5, 9), NOON), usd("5")),
            ast.EventSpec("use_perk", dt.datetime.combine(dt.date(2027, 5, 10), NOON), name="free_refill"),
        ),
        expects=(
            ast.Expect("earned", 8), ast.Expect("tier", "Gold"), ast.Expect("cost", usd("1.50")),
            ast.Expect("fired", "a"), ast.Expect("fired", "b"), ast.Expect("fired", "c", negated=True),
        ),
        until=dt.date(2027, 6, 1),
    ),)


def test_given_points_metric_uses_the_program_unit() -> None:
    sf = load_ok(program_yaml("  points: stars\n") + "tests:\n  - name: x\n    given: {stars: 300}\n")
    assert sf.tests[0].givens == (ast.Given("metric", "points", Decimal(300)),)


@pytest.mark.parametrize("source", ["", "# only a comment\n", "---\n"])
def test_an_empty_file_is_an_empty_source_file(source: str) -> None:
    assert load_ok(source) == ast.SourceFile("t.yaml", None)


def test_keys_are_text_even_when_yaml_1_1_would_read_a_boolean() -> None:
    rule = one_rule("      actions: [{award: 1}]\n")  # the key `on:` is the word `on`
    assert rule.event == "purchase"


# ---------------------------------------------------------------- located errors


def test_unknown_key_is_located_with_a_suggestion() -> None:
    source = program_yaml("  rules:\n    r:\n      on: purchase\n      actions: [{award: 1}]\n      priorty: 3\n")
    [d] = load_errors(source)
    # line 7 is `      priorty: 3`: the key starts after 6 spaces
    assert where(d) == ("RL201", 7, 7)
    assert d.hint == "did you mean `priority`?"
    assert (d.span.end_line, d.span.end_column) == (7, 13)


def test_unknown_top_level_key() -> None:
    [d] = load_errors("programme:\n  name: x\n")
    assert where(d) == ("RL201", 1, 1) and d.hint == "did you mean `program`?"


def test_wrong_type_names_the_expected_type() -> None:
    source = program_yaml("  rules:\n    r:\n      on: purchase\n      actions: [{award: 1}]\n      priority: high\n")
    [d] = load_errors(source)
    # `      priority: high`: 6 spaces + `priority: ` (10 chars) -> the value at column 17
    assert where(d) == ("RL202", 7, 17)
    assert "must be a whole number" in d.message and "`high`" in d.message


def test_money_without_currency() -> None:
    [d] = load_errors(program_yaml("  point_cost: 0.004\n"))
    assert where(d) == ("RL202", 3, 15) and "needs a currency" in d.message and d.hint and "0.004 USD" in d.hint


def test_plain_no_where_text_is_expected_is_refused() -> None:
    source = (
        "tests:\n"
        "  - name: Norway\n"
        "    when:\n"
        "      - purchase: 5 USD\n"
        "        category: NO\n"
        "        on: 2027-05-04\n"
    )
    [d] = load_errors(source)
    # `        category: NO`: 8 spaces + `category: ` (10 chars) -> column 19
    assert where(d) == ("RL110", 5, 19)
    assert d.message == "ambiguous YAML value `NO`: quote it"
    assert load_ok(source.replace("NO", '"NO"')).tests[0].events[0].fields == (("category", ast.Literal("NO")),)


@pytest.mark.parametrize("word", ["yes", "No", "ON", "off", "y", "N"])
def test_every_yaml_1_1_yes_no_word_is_refused(word: str) -> None:
    [d] = load_errors(program_yaml(f"  rules:\n    r:\n      on: purchase\n      actions: [{{award: 1}}]\n"
                                   f"      group: {word}\n"))
    assert where(d) == ("RL110", 7, 14)


def test_ambiguous_words_in_a_list_and_where_a_boolean_is_expected() -> None:
    diags = load_errors(program_yaml(
        "  rules:\n    r:\n      on: purchase\n      actions: [{award: {points: 1, per: 1 USD, excluding: [gift, off]}}]\n"
        "  expire: [{after_earning: 6 months, at_end_of_month: yes}]\n"))
    # line 6: `      actions: [{award: {points: 1, excluding: [gift, off]}}]`: `[` at 16, `{award: ` to 24,
    # `{points: 1, ` to 36, `excluding: ` to 47, `[gift, ` to 54 -> `off` at column 55
    # line 7: `  expire: [{after_earning: 6 months, at_end_of_month: yes}]`: `[` at 11,
    # `{after_earning: 6 months, ` to 36, `at_end_of_month: ` to 54 -> `yes` at column 55
    assert [where(d) for d in diags] == [("RL110", 6, 67), ("RL110", 7, 55)]


def test_true_where_text_is_expected_is_a_type_error() -> None:
    [d] = load_errors(program_yaml("  points: true\n"))
    assert where(d) == ("RL202", 3, 11)


def test_bad_condition_in_a_double_quoted_scalar() -> None:
    source = program_yaml(
        "  rules:\n"
        "    r:\n"
        "      on: purchase\n"
        '      when: "category == \\"tea\\" and and"\n'
        "      actions: [{award: 1}]\n")
    [d] = load_errors(source)
    # line 6: `      when: "category == \"tea\" and and"`; the quote is at column 13, so the
    # condition starts at 14; `category == \"tea\" and ` is 24 characters as written
    # (`category == ` 12, `\"tea\"` 7, ` and ` 5), so the second `and` starts at 14 + 24 = 38.
    assert where(d)[1:] == (6, 38)
    assert d.code.startswith("RL1")


def test_bad_condition_in_a_single_quoted_scalar() -> None:
    source = program_yaml("  rules:\n    r:\n      on: purchase\n      when: 'amount > > 5 USD'\n"
                          "      actions: [{award: 1}]\n")
    [d] = load_errors(source)
    # `      when: 'amount > > 5 USD'`: quote at 13, text from 14, second `>` at 14 + 9 = 23
    assert where(d)[1:] == (6, 23)


def test_bad_condition_in_a_block_scalar() -> None:
    source = program_yaml(
        "  rules:\n"
        "    r:\n"
        "      on: purchase\n"
        "      when: |\n"
        '        category == "coffee"\n'
        "          and amount >> 5 USD\n"
        "      actions: [{award: 1}]\n")
    [d] = load_errors(source)
    # the block starts on line 7; line 8 is `          and amount >> 5 USD`:
    # 10 spaces + `and amount >` (12 chars) -> the second `>` is at column 23
    assert where(d)[1:] == (8, 23)


def test_condition_spans_point_into_the_yaml_file() -> None:
    rule = one_rule("      when: |\n        amount > 5 USD\n          and category == \"tea\"\n      actions: [{award: 1}]\n")
    cond = rule.condition
    assert isinstance(cond, ast.BoolOp)
    first, second = cond.items
    assert isinstance(first, ast.Compare) and isinstance(second, ast.Compare)
    # line 7: `        amount > 5 USD` -> `amount` at column 9
    assert (first.left.span.line, first.left.span.column) == (7, 9)
    # line 8: `          and category == "tea"` -> `category` at 15, `"tea"` at 27..31
    assert (second.left.span.line, second.left.span.column) == (8, 15)
    assert (second.right.span.line, second.right.span.column, second.right.span.end_column) == (8, 27, 31)


def test_yaml_syntax_error_is_rl100_at_the_mark() -> None:
    [d] = load_errors("program:\n  name: x\n  rules: [unclosed\n")
    assert d.code == "RL100" and d.span.line == 4


def test_tabs_are_a_syntax_error() -> None:
    [d] = load_errors("program:\n\tname: x\n")
    assert where(d) == ("RL100", 2, 1)


def test_duplicate_keys_and_duplicate_names() -> None:
    diags = load_errors(program_yaml(
        "  rules:\n"
        "    r:\n"
        "      on: purchase\n"
        "      on: return\n"
        "      actions: [{award: 1}]\n"
        "    r:\n"
        "      on: purchase\n"
        "      actions: [{award: 1}]\n"))
    assert [where(d) for d in diags] == [("RL100", 6, 7), ("RL204", 8, 5)]
    assert "first at line 5" in diags[0].message


def test_impossible_dates_and_missing_keys() -> None:
    diags = load_errors(program_yaml("  rules:\n    r:\n      on: purchase\n      during: 2027-02-30 .. 2027-03-31\n"))
    codes = [where(d) for d in diags]
    assert ("RL103", 6, 15) in codes
    assert any(d.code == "RL202" and "needs `actions`" in d.message for d in diags)


def test_foreign_tags_are_refused() -> None:
    [d] = load_errors("program: !!python/object/apply:os.system ['true']\n")
    assert where(d) == ("RL202", 1, 10) and "not supported" in d.message


def test_errors_are_reported_together_in_file_order() -> None:
    diags = load_errors(program_yaml("  round: sideways\n  currency: usd\n  colour: red\n"))
    assert [where(d) for d in diags] == [("RL202", 3, 10), ("RL202", 4, 13), ("RL201", 5, 3)]


# ---------------------------------------------------------------- writing YAML


def test_to_yaml_round_trips_the_fixture_and_is_canonical() -> None:
    sf = load_ok((FIXTURES / "coffee.yaml").read_text(), "coffee.yaml")
    text = to_yaml(sf)
    assert text == (FIXTURES / "coffee.canonical.yaml").read_text()
    again = load_ok(text, "coffee.yaml")
    assert again.program == sf.program and again.tests == sf.tests
    assert to_yaml(again) == text


def test_tests_only_files_round_trip() -> None:
    sf = load_ok((FIXTURES / "coffee_test.yaml").read_text())
    assert sf.program is None and len(sf.tests) == 2
    assert load_ok(to_yaml(sf)).tests == sf.tests


@pytest.mark.parametrize("text", ["NO", "yes", "true", "123", "0042", "7.40 USD", "2027-05-04", "a: b", "gift card",
                                  "#tag", "it's", 'say "hi"', "", " padded ", "null", "~", "- dash", "ünïcode"])
def test_awkward_strings_survive_writing(text: str) -> None:
    usd = ast.Money(Decimal(5), "USD")
    original = ast.SourceFile("t.yaml", ast.Program(
        text or "x",
        rules=(ast.EarnRule("r", "purchase", ast.Compare("==", ast.Ref(("category",)), ast.Literal(text)),
                            (ast.Award(Decimal(1), per=ast.Money(Decimal(1), "USD"), excluding=(text,)),), group=text),),
    ), (ast.TestCase(text, (ast.Given("attribute", "a", text),),
                     (ast.EventSpec("purchase", dt.datetime(2027, 5, 4, 12), usd, fields=(
                         ("category", ast.Literal(text)), ("id", ast.Literal(text)))),
                      ast.EventSpec("review", dt.datetime(2027, 5, 4, 13), fields=(("note", ast.Literal(text)),)),
                      ast.EventSpec("return", dt.datetime(2027, 5, 5, 12), name=text)),),))
    back = load_ok(to_yaml(original))
    assert back.program == original.program and back.tests == original.tests


def test_names_that_yaml_1_1_would_misread_survive_as_keys_and_values() -> None:
    names = ("null", "on", "No", "y", "True_", "off")
    rules = tuple(ast.EarnRule(n, "purchase", actions=(ast.Multiply(Decimal(2)),), group=n) for n in names)
    tiers = ast.TierSystem("points", ast.TierWindow("lifetime"), tuple(ast.Tier(n, Decimal(i)) for i, n in enumerate(names)))
    original = ast.SourceFile("t.yaml", ast.Program("p", rules=rules, tiers=tiers), (
        ast.TestCase("t", (ast.Given("tier", value="No"),), (
            ast.EventSpec("redeem", dt.datetime(2027, 1, 1, 12), name="off"),), (ast.Expect("fired", "null"),)),))
    back = load_ok(to_yaml(original))
    assert back.program == original.program and back.tests == original.tests


def test_expr_to_text_keeps_structure_and_precedence() -> None:
    a = ast.Compare("==", ast.Ref(("category",)), ast.Literal("a"))
    b = ast.Compare(">", ast.Ref(("amount",)), ast.Literal(ast.Money(Decimal("5.00"), "USD")))
    c = ast.InList(ast.Ref(("weekday",)), (ast.Ref(("sat",)), ast.Ref(("sun",))), negated=True)
    d = ast.Ref(("customer", "vip"))
    cases = {
        ast.BoolOp("or", (a, ast.BoolOp("and", (b, c)))): 'category == "a" or amount > 5.00 USD and weekday not in [sat, sun]',
        ast.BoolOp("and", (ast.BoolOp("or", (a, b)), c)): '(category == "a" or amount > 5.00 USD) and weekday not in [sat, sun]',
        ast.Not(ast.BoolOp("or", (a, d))): 'not (category == "a" or customer.vip)',
        ast.BoolOp("and", (ast.Not(a), ast.Not(ast.Not(d)))): 'not category == "a" and not not customer.vip',
        ast.Compare("<=", ast.Ref(("date",)), ast.Literal(dt.date(2027, 1, 31))): "date <= 2027-01-31",
        ast.Compare("==", ast.Ref(("note",)), ast.Literal('say "hi" \\ bye')): 'note == "say \\"hi\\" \\\\ bye"',
        ast.InList(ast.Ref(("hour",)), (ast.Literal(Decimal("7")), ast.Literal(True))): "hour in [7, true]",
    }
    for expr, text in cases.items():
        assert expr_to_text(expr) == text
        parsed, diags = parse_expression(text, "t", 1, 1)
        assert not diags and parsed == expr


_ATOMS = st.one_of(
    st.sampled_from([("category",), ("amount",), ("weekday",), ("customer", "vip"), ("event", "rating"), ("sat",)])
    .map(ast.Ref),
    st.text(st.sampled_from('ab "\\#:'), max_size=5).map(ast.Literal),
    st.decimals(min_value=0, max_value=10**6, places=2).map(ast.Literal),
    st.booleans().map(ast.Literal),
    st.dates().map(ast.Literal),
    st.decimals(min_value=0, max_value=999, places=2).map(lambda d: ast.Literal(ast.Money(d, "USD"))),
)
_COMPARISONS = st.one_of(
    st.builds(ast.Compare, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), _ATOMS, _ATOMS),
    st.builds(ast.InList, _ATOMS, st.lists(_ATOMS, max_size=3).map(tuple), st.booleans()),
    _ATOMS,
)
_EXPRESSIONS = st.recursive(_COMPARISONS, lambda inner: st.one_of(
    st.builds(ast.Not, inner),
    st.builds(ast.BoolOp, st.sampled_from(["and", "or"]), st.lists(inner, min_size=2, max_size=3).map(tuple)),
), max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(_EXPRESSIONS)
def test_expr_to_text_reads_back_as_the_same_condition(expr: ast.Expr) -> None:
    text = expr_to_text(expr)
    parsed, diags = parse_expression(text, "t", 1, 1)
    assert not diags and parsed == expr, text
    rule = ast.EarnRule("r", "purchase", expr, (ast.Multiply(Decimal(2)),))
    back = load_ok(to_yaml(ast.SourceFile("t.yaml", ast.Program("p", rules=(rule,)))))
    assert back.program is not None and back.program.rules[0].condition == expr


# ---------------------------------------------------------------- never raises


SEED = (FIXTURES / "coffee.yaml").read_text()
SEED_LINES = SEED.splitlines(keepends=True)
# pieces of YAML (and of nonsense) to splice into a valid file
YAML_BITS = st.sampled_from(["- ", ": ", "{", "}", "[", "]", ",", "\n", "  ", "\t", "'", '"', "|", ">", "&a ", "*a",
                             "!!str ", "!x ", "NO", "yes", "~", "#", "..", "2027-13-45", "1.5", "USD", "on", "when",
                             "---\n", "? ", "<<: ", "\\", "\x00", "é"])


@st.composite
def mutated_yaml(draw: st.DrawFn) -> str:
    lines = list(SEED_LINES)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "chars"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "insert":
            lines.insert(i, "".join(draw(st.lists(YAML_BITS, max_size=6))) + "\n")
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            bit = "".join(draw(st.lists(YAML_BITS, min_size=1, max_size=3)))
            cut = draw(st.integers(0, 3))
            lines[i] = line[:k] + bit + line[k + cut:]
    return "".join(lines)


def _check_never_raises(source: str) -> None:
    sf, diags = load_yaml(source, "m.yaml")
    assert isinstance(diags, list) and all(isinstance(d, Diagnostic) for d in diags)
    assert (sf is None) == any(d.is_error for d in diags)
    for d in diags:
        assert d.span.line >= 1 and d.span.column >= 1 and "internal" not in d.message
    if sf is not None:
        back = load_ok(to_yaml(sf), "m.yaml")
        assert back.program == sf.program and back.tests == sf.tests


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_yaml())
def test_mutated_yaml_never_raises(source: str) -> None:
    _check_never_raises(source)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_text_never_raises(source: str) -> None:
    _check_never_raises(source)


# ---------------------------------------------------------------- JSON Schema


def json_view(node: yaml.Node | None, depth: int = 0) -> Any:
    """What an editor sees (YAML 1.2 core schema): keys as text, dates as text."""
    if node is None or depth > 50:
        return None
    if isinstance(node, yaml.MappingNode):
        return {str(k.value): json_view(v, depth + 1) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [json_view(v, depth + 1) for v in node.value]
    text = node.value
    if node.style is not None:
        return text
    if text in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return text.lower() == "true"
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?", text):
        return float(text)
    return text


SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())


def _resolve(ref: str) -> dict[str, Any]:
    assert ref.startswith("#/definitions/")
    return SCHEMA["definitions"][ref.split("/")[-1]]


_TYPES = {
    "object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool), "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def validate(value: Any, schema: dict[str, Any] | bool, path: str = "$") -> list[str]:
    """The subset of draft-07 the schema uses."""
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: not allowed"]
    if "$ref" in schema:
        return validate(value, _resolve(schema["$ref"]), path)
    errors: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_TYPES[t](value) for t in types):
            return [f"{path}: expected {types}, got {value!r}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "minimum" in schema and _TYPES["number"](value) and value < schema["minimum"]:
        errors.append(f"{path}: below {schema['minimum']}")
    if "oneOf" in schema:
        if sum(not validate(value, s, path) for s in schema["oneOf"]) != 1:
            errors.append(f"{path}: {value!r} matches not exactly one choice")
    if "anyOf" in schema and not any(not validate(value, s, path) for s in schema["anyOf"]):
        errors.append(f"{path}: {value!r} matches no choice: " + "; ".join(
            e for s in schema["anyOf"] for e in validate(value, s, path)))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        if not schema.get("minProperties", 0) <= len(value) <= schema.get("maxProperties", 10**9):
            errors.append(f"{path}: wrong number of keys")
        for key, item in value.items():
            if "propertyNames" in schema:
                errors += validate(key, schema["propertyNames"], f"{path}.<{key}>")
            if key in props:
                errors += validate(item, props[key], f"{path}.{key}")
            elif "additionalProperties" in schema:
                errors += validate(item, schema["additionalProperties"], f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: too few items")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += validate(item, schema["items"], f"{path}[{i}]")
    return errors


YAML_FIXTURES = sorted(FIXTURES.glob("*.yaml")) + sorted((ROOT / "rules").glob("*.yaml"))


@pytest.mark.parametrize("path", YAML_FIXTURES, ids=lambda p: p.name)
def test_yaml_files_validate_against_the_schema(path: Path) -> None:
    doc = json_view(yaml.compose(path.read_text(), Loader=yaml.SafeLoader))
    assert validate(doc, SCHEMA) == []


def test_converted_examples_validate_against_the_schema() -> None:
    for path in RULE_TEXT_FILES:
        sf, _ = parse_text(path.read_text(), str(path))
        assert sf is not None
        assert validate(json_view(yaml.compose(to_yaml(sf), Loader=yaml.SafeLoader)), SCHEMA) == [], path.name


def test_the_schema_rejects_what_the_loader_rejects() -> None:
    bad = ["program: {name: x, colour: red}", "program: {name: x, round: sideways}",
           "program: {name: x, rules: {r: {on: purchase, actions: [{award: 1, multiply: 2}]}}}",
           "program: {name: x, point_cost: 0.004}", "tests: [{name: x, expect: [{earnd: 1}]}]"]
    for source in bad:
        assert validate(json_view(yaml.compose(source, Loader=yaml.SafeLoader)), SCHEMA), source
        assert load_yaml(source, "t.yaml")[0] is None, source


def _schema_nodes(schema: Any, path: str = "$") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if not isinstance(schema, dict):
        return out
    out.append((path, schema))
    for key in ("properties", "definitions"):
        for name, sub in schema.get(key, {}).items():
            out += _schema_nodes(sub, f"{path}.{name}")
    for key in ("items", "additionalProperties", "propertyNames"):
        out += _schema_nodes(schema.get(key), f"{path}/{key}")
    for key in ("oneOf", "anyOf"):
        for i, sub in enumerate(schema.get(key, [])):
            out += _schema_nodes(sub, f"{path}/{key}{i}")
    return out


OPEN_OBJECTS = ("$.tests/items.when/items", "$.tests/items.given/anyOf0", "$.tests/items.given/anyOf1/items",
                # an expectation on one event begins with the event's kind, a custom event's too
                "$.tests/items.expect/anyOf0.event", "$.tests/items.expect/anyOf1/items.event")


def test_the_schema_is_draft_07_and_describes_everything() -> None:
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    for path, node in _schema_nodes(SCHEMA):
        assert node.get("description"), f"{path} has no description"
        # open on purpose: an event's custom fields, and `given` words naming a tier metric
        if "properties" in node and path not in OPEN_OBJECTS:
            assert node.get("additionalProperties") is False, f"{path} allows unknown keys"
        assert "enum" not in node, f"{path}: write enums as oneOf of const + description"
    assert "pattern" not in SCHEMA["definitions"]["condition"]


def test_the_schema_lists_the_keys_the_loader_reads() -> None:
    props = lambda node: list(node["properties"])  # noqa: E731
    program = SCHEMA["properties"]["program"]
    rule = program["properties"]["rules"]["additionalProperties"]
    action_item = rule["properties"]["actions"]["items"]
    tiers = program["properties"]["tiers"]
    test = SCHEMA["properties"]["tests"]["items"]
    expect_item = test["properties"]["expect"]["anyOf"][0]
    assert props(program) == list(PROGRAM_KEYS)
    assert props(rule) == list(RULE_KEYS)
    assert props(action_item) == list(ACTION_KEYS)
    assert props(action_item["properties"]["award"]["anyOf"][0]) == list(AWARD_KEYS)
    assert props(action_item["properties"]["discount"]["anyOf"][0]) == list(DISCOUNT_KEYS)
    assert props(tiers) == list(TIERS_KEYS)
    assert props(tiers["properties"]["levels"]["additionalProperties"]) == list(LEVEL_KEYS)
    expiry = program["properties"]["expire"]["anyOf"][0]["anyOf"][1]
    assert props(expiry) == list(EXPIRE_KEYS)
    assert props(test) == list(TEST_KEYS)
    assert props(expect_item) == list(EXPECT_KEYS)


# ---------------------------------------------------------------- docs


def test_the_complete_example_in_the_docs_loads_and_checks() -> None:
    from rulelang.check.checker import check

    text = (ROOT / "docs" / "yaml.md").read_text()
    block = re.search(r"## A complete example\n\n```yaml\n(.*?)```", text, re.S)
    assert block is not None
    sf = load_ok(block.group(1), "docs/yaml.md")
    assert [d for d in check(sf) if d.is_error] == []
    assert validate(json_view(yaml.compose(block.group(1), Loader=yaml.SafeLoader)), SCHEMA) == []
