"""Tests of the formatter: golden outputs, comments, idempotence, parse(format(x)) == x."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from rulelang.syntax import ast
from rulelang.syntax.formatter import expr_to_text, format_source
from rulelang.syntax.nodes import NODE_TYPES, NODES
from rulelang.syntax.parser import parse_expression, parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml

FMT = Path(__file__).parent / "fixtures" / "fmt"
INPUTS = sorted(p for p in FMT.glob("*.loyalty") if not p.name.endswith(".expected.loyalty"))
D = Decimal


def parse_ok(source: str, path: str = "t.loyalty") -> ast.SourceFile:
    sf, diags = parse_text(source, path)
    assert diags == [] and sf is not None, diags
    return sf


def assert_stable(source: str) -> str:
    """Format, check idempotence and that the AST is unchanged; return the output."""
    sf = parse_ok(source)
    out = format_source(sf)
    again = parse_ok(out)
    assert again.program == sf.program
    assert again.tests == sf.tests
    assert sorted(c.text for c in again.comments) == sorted(c.text for c in sf.comments)
    assert format_source(again) == out
    return out


@pytest.mark.parametrize("case", INPUTS, ids=lambda p: p.stem)
def test_golden_format(case: Path) -> None:
    expected_file = case.with_name(case.stem + ".expected.loyalty")
    expected = expected_file.read_text() if expected_file.exists() else case.read_text()
    assert format_source(parse_ok(case.read_text(), case.name)) == expected


@pytest.mark.parametrize("case", INPUTS, ids=lambda p: p.stem)
def test_format_is_idempotent_and_keeps_the_ast(case: Path) -> None:
    assert_stable(case.read_text())


def test_identity_file_formats_to_itself() -> None:
    text = (FMT / "identity.loyalty").read_text()
    assert format_source(parse_ok(text)) == text


def test_header_is_reordered_and_written_defaults_kept() -> None:
    # `round down` is the default, but the author wrote it: fmt moves it into the header order
    # (points, currency, ..., round, pending) and keeps it
    src = 'program "P" {\n  pending 1 day\n  round down\n  currency EUR\n  points "miles"\n}\n'
    assert assert_stable(src) == 'program "P" {\n  points "miles"\n  currency EUR\n  round down\n  pending 1 day\n}\n'


def test_statements_that_restate_a_default_are_kept_where_written() -> None:
    src = ('program "P" {\n  points "points"\n  currency EUR\n  multipliers multiply\n  round down\n'
           '  pending 0 days\n\n  earn base on purchase {\n    award 5 points\n    priority 0\n  }\n\n'
           '  tiers by points over lifetime {\n    tier Base from 0\n    tier Gold from 100\n'
           '    review never\n    downgrade never\n    grace 0 months\n    valid 0 months\n  }\n}\n')
    assert assert_stable(src) == src
    # what was not written is not added
    bare = 'program "P" {\n  currency EUR\n}\n'
    assert assert_stable(bare) == bare


def test_comments_follow_their_statement() -> None:
    src = (
        'program "P" {\n'
        "  pending 2 days  # settle first\n"
        "  # the currency\n"
        "  currency EUR\n"
        "  earn a on purchase { award 1 point }  # one-liner\n"
        "  # last words\n"
        "}\n"
    )
    assert assert_stable(src) == (
        'program "P" {\n'
        "  # the currency\n"
        "  currency EUR\n"
        "  pending 2 days  # settle first\n"
        "\n"
        "  earn a on purchase {\n"
        "    award 1 point\n"
        "  }  # one-liner\n"
        "  # last words\n"
        "}\n"
    )


def test_format_of_an_ast_built_by_hand() -> None:
    program = ast.Program(
        "Shop", points_unit="stars", currency="EUR",
        rules=(ast.EarnRule("base", "purchase",
                            condition=ast.Compare(">", ast.Ref(("amount",)), ast.Literal(ast.Money(D("5.00"), "EUR"))),
                            actions=(ast.Award(D(1), ast.Money(D(1), "EUR"), unit="star"),),
                            caps=(ast.Cap(1, "times", "day"),), every_nth=3),),
        expiry=(ast.Expiry("after_earning", months=1),),
        returns=ast.ReturnPolicy(True, "forbidden"),
    )
    test = ast.TestCase("t", events=(ast.EventSpec("purchase", dt.datetime(2027, 1, 2, 8, 5), ast.Money(D(9), "EUR")),),
                        expects=(ast.Expect("earned", 9),))
    text = format_source(ast.SourceFile("x.loyalty", program, (test,)))
    assert text == (
        'program "Shop" {\n'
        '  points "stars"\n'
        "  currency EUR\n"
        "\n"
        "  earn base on purchase when amount > 5.00 EUR {\n"
        "    award 1 star per 1 EUR of net amount\n"
        "    limit 1 time per customer per day\n"
        "    every 3rd purchase\n"
        "  }\n"
        "\n"
        "  expire stars 1 month after earning\n"
        "  returns reverse earned stars\n"
        "  negative balance forbidden\n"
        "}\n"
        "\n"
        'test "t" {\n'
        "  when purchase 9 EUR on 2027-01-02 at 08:05\n"
        "  expect earned 9 stars\n"
        "}\n"
    )
    again = parse_ok(text)
    assert again.program == program and again.tests == (test,)


def test_tests_only_file() -> None:
    # a tests-only file does not know its program's points word, so none is added (`points`
    # would be wrong, RL430, in a program that counts stars); a word written is kept
    src = '# tests for shop.loyalty\ntest "a" { when signup on 2027-01-01; expect balance 0; expect earned 0 stars }\n'
    assert assert_stable(src) == ('# tests for shop.loyalty\ntest "a" {\n  when signup on 2027-01-01\n'
                                  '  expect balance 0\n  expect earned 0 stars\n}\n')


@pytest.mark.parametrize("text, expected", [
    ("a == 1 or b and c", "a == 1 or b and c"),
    ("(a == 1 or b) and c", "(a == 1 or b) and c"),
    ("(a and b) and c", "(a and b) and c"),
    ("a or (b and c)", "a or b and c"),
    ("not (a or b)", "not (a or b)"),
    ("not not a", "not not a"),
    ("not (a == 1)", "not a == 1"),
    ("(a == 1) == true", "(a == 1) == true"),
    ('category not in ["x","y"] and weekday in [ sat, sun, ]', 'category not in ["x", "y"] and weekday in [sat, sun]'),
    ("customer.vip and event.rating>=4 and amount >= 10.50 USD", "customer.vip and event.rating >= 4 and amount >= 10.50 USD"),
    ("date < 2027-01-01 or hour != 12", "date < 2027-01-01 or hour != 12"),
    (r'name == "quote \" and \\ backslash"', r'name == "quote \" and \\ backslash"'),
])
def test_expression_text_round_trips(text: str, expected: str) -> None:
    expr, diags = parse_expression(text, "e", 1, 1)
    assert not diags and expr is not None
    printed = expr_to_text(expr)
    assert printed == expected
    again, _ = parse_expression(printed, "e", 1, 1)
    assert again == expr


def test_ordinals() -> None:
    body = 'program "P" {\n  earn a on purchase {\n    award 1 points\n    every %s purchase\n  }\n}\n'
    for n, word in [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"), (13, "13th"),
                    (21, "21st"), (22, "22nd"), (101, "101st"), (111, "111th")]:
        out = format_source(parse_ok(body % f"{n}th"))
        assert f"every {word} purchase" in out


# ---------------------------------------------------------------- property: mutations that still parse


def _tokens(src: str) -> list[str]:
    return re.findall(r'"[^"\n]*"|#[^\n]*|\d[\w.:%-]*|[A-Za-z_]\w*|\.\.|==|!=|<=|>=|\n|\S', src)


IDENTITY_TOKENS = _tokens((FMT / "identity.loyalty").read_text())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 3))
def test_format_is_stable_on_mutated_programs(rnd: random.Random, edits: int) -> None:
    tokens = list(IDENTITY_TOKENS)
    for _ in range(edits):
        i = rnd.randrange(len(tokens))
        op = rnd.choice(["delete", "duplicate", "newline", "comment"])
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "newline":
            tokens.insert(i, "\n")
        else:
            tokens.insert(i, "# note\n")
    src = " ".join(tokens)
    sf, diags = parse_text(src, "m.loyalty")
    if sf is None:
        return
    out = format_source(sf)
    again = parse_ok(out)
    assert again.program == sf.program and again.tests == sf.tests
    assert format_source(again) == out
    assert len(again.comments) == len(sf.comments)
    # the YAML path: what the text parser read, the YAML writer writes and the loader reads back
    back, diags = load_yaml(to_yaml(sf), "m.yaml")
    assert back is not None and not [d for d in diags if d.is_error], diags
    assert back.program == sf.program and back.tests == sf.tests


def test_the_mutated_seed_holds_every_node_type() -> None:
    """The seed of the mutation test is a program with every construct: every AST node type."""
    sf = parse_ok((FMT / "identity.loyalty").read_text())
    seen: set[type] = set()
    stack: list[object] = [sf]
    while stack:
        item = stack.pop()
        if type(item) in NODES:
            seen.add(type(item))
            stack.extend(getattr(item, f.name) for f in dataclasses.fields(item))  # type: ignore[arg-type]
        elif isinstance(item, tuple):
            stack.extend(item)
    assert seen == set(NODE_TYPES)


def test_convert_keeps_written_defaults_both_ways() -> None:
    src = ('program "P" {\n  points "points"\n  currency EUR\n  round down\n\n  earn base on purchase {\n'
           '    award 5 points\n    priority 0\n  }\n\n  tiers by points over lifetime {\n    tier Base from 0\n'
           '    tier Gold from 100\n    review never\n  }\n}\n')
    yaml_text = to_yaml(parse_ok(src))
    for line in ("  points: points", "  round: down", "      priority: 0", "    review: never"):
        assert line in yaml_text.splitlines(), line
    back, diags = load_yaml(yaml_text, "p.yaml")
    assert back is not None and not [d for d in diags if d.is_error]
    assert format_source(back) == src
    # a YAML file without them gets none added
    plain = to_yaml(parse_ok('program "P" {\n  currency EUR\n}\n'))
    assert plain == "program:\n  name: P\n  currency: EUR\n"
