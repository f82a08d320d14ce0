"""The purchase `quantity` field and awards per quantity (`award 1 point per 2 litres`), from
the text and YAML forms through the checker, tests, events files and `explain`; numbers worked
out by hand from docs/semantics.md §4.2 (raw = rate × quantity, rounded by the rule's mode)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from rulelang import ir
from rulelang.check.compiler import compile_source
from rulelang.syntax import ast
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.cli import main
from rulelang.tools.explain import explain, load_events
from rulelang.tools.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent


def program(rules: str, tests: str = "") -> str:
    return f'program "Fuel" {{\n  points "points"\n  currency EUR\n{rules}}}\n{tests}'


FUEL_RULE = '  earn fuel on purchase {\n    award 1 point per 2 litres\n  }\n'


def compiled(text: str) -> tuple[ast.SourceFile, ir.Program]:
    sf, diags = parse_text(text, "fuel.loyalty")
    assert sf is not None, [d.message for d in diags]
    prog, diags = compile_source(sf)
    assert prog is not None, [d.message for d in diags if d.is_error]
    return sf, prog


def errors(text: str) -> list[tuple[str, str]]:
    sf, diags = parse_text(text, "fuel.loyalty")
    assert sf is not None, [d.message for d in diags]
    _, diags = compile_source(sf)
    return [(d.code, d.message) for d in diags if d.is_error]


def points_of(rules: str, when: str, points: int) -> bool:
    test = f'test "t" {{\n  when purchase {when} on 2027-03-01\n  expect earned {points} points\n}}\n'
    sf, prog = compiled(program(rules, test))
    return [o.passed for o in run_tests(sf, prog)] == [True]


def test_the_award_compiles_to_a_rate_per_unit_of_quantity() -> None:
    _, prog = compiled(program(FUEL_RULE))
    [action] = prog.rules[0].actions
    assert action == ir.QuantityAward(rate=Fraction(1, 2), unit="litres")


@pytest.mark.parametrize("rounding, points", [("down", 22), ("up", 23), ("nearest", 23)])
def test_45_litres_at_1_point_per_2_litres(rounding: str, points: int) -> None:
    # raw 45 / 2 = 22.5: down 22, up 23, nearest floor(22.5 + 0.5) = 23
    rules = f'  earn fuel on purchase {{\n    award 1 point per 2 litres\n    round {rounding}\n  }}\n'
    assert points_of(rules, '72.00 EUR quantity 45', points)
    assert not points_of(rules, '72.00 EUR quantity 45', points + 1)


def test_money_and_quantity_in_one_rule_round_once_on_the_sum() -> None:
    # 10.50 EUR x 1 per EUR = 10.5, 7 litres / 2 = 3.5: raw 14 (each rounded down alone: 10 + 3 = 13)
    rules = ('  earn fuel on purchase {\n    award 1 point per 1 EUR of net amount\n'
             '    award 1 point per 2 litres\n  }\n')
    assert points_of(rules, '10.50 EUR quantity 7', 14)


def test_a_multiplier_multiplies_the_quantity_points() -> None:
    # 30 litres / 2 = 15; `multiply 3x`: bonus 15 x (3 - 1) = 30; 45 in all
    rules = FUEL_RULE + '  earn promo on purchase when quantity >= 20 {\n    multiply 3x\n  }\n'
    assert points_of(rules, '50 EUR quantity 30', 45)
    # 19 litres: the condition is false, 19 / 2 = 9.5 -> 9
    assert points_of(rules, '50 EUR quantity 19', 9)


def test_an_excluded_category_earns_nothing_per_quantity() -> None:
    rules = '  earn fuel on purchase {\n    award 1 point per 2 litres excluding category "lpg"\n  }\n'
    assert points_of(rules, '30 EUR category "lpg" quantity 40', 0)
    assert points_of(rules, '30 EUR category "diesel" quantity 40', 20)


def test_a_purchase_without_quantity_has_quantity_0() -> None:
    rules = FUEL_RULE + '  earn none on purchase when quantity == 0 {\n    award 5 points\n  }\n'
    assert points_of(rules, '30 EUR', 5)


def test_the_checker_refuses_quantity_where_there_is_none() -> None:
    on_birthday = errors(program('  earn b on birthday {\n    award 1 point per 2 litres\n  }\n'))
    assert [c for c, _ in on_birthday] == ["RL206"]
    assert "`birthday` events have none" in on_birthday[0][1]
    on_signup = errors(program('  earn s on signup when quantity >= 20 {\n    award 5 points\n  }\n'))
    assert [c for c, _ in on_signup] == ["RL205"]
    per_zero = errors(program('  earn z on purchase {\n    award 1 point per 0 litres\n  }\n'))
    assert per_zero == [("RL202", "the quantity per which points are awarded must be more than 0 (got 0)")]
    gross = errors(program('  earn g on purchase {\n    award 1 point per 2 litres of gross amount\n  }\n'))
    assert [c for c, _ in gross] == ["RL206"]


def test_a_negative_quantity_in_a_test_is_an_error() -> None:
    text = ('program:\n  name: "F"\n  currency: EUR\n  rules:\n    fuel:\n      on: purchase\n      actions:\n'
            '        - award: {points: 1, per: 2 litres}\ntests:\n  - name: t\n    when:\n'
            '      - purchase: 10 EUR\n        quantity: -3\n        on: 2027-03-01\n    expect:\n      - earned: 0\n')
    sf, diags = load_yaml(text, "fuel.yaml")
    assert sf is not None, [d.message for d in diags]
    prog, _ = compile_source(sf)
    assert prog is not None
    [outcome] = run_tests(sf, prog)
    assert not outcome.passed
    [problem] = outcome.diagnostics
    assert (problem.code, problem.message, problem.span.line) == ("RL012", "quantity must be a whole number", 13)


def test_text_yaml_and_back_and_fmt_keep_the_award() -> None:
    text = program('  earn fuel on purchase when quantity >= 20 {\n'
                   '    award 1 point per 2.5 litres excluding category "lpg"\n  }\n')
    sf, _ = compiled(text)
    yaml_text = to_yaml(sf)
    assert "per: 2.5 litres" in yaml_text
    back, diags = load_yaml(yaml_text, "fuel.yaml")
    assert back is not None, [d.message for d in diags]
    [action] = back.program.rules[0].actions
    assert isinstance(action.per, ast.Quantity) and (action.per.value, action.per.unit) == (Fraction(5, 2), "litres")
    formatted = format_source(sf)
    assert "    award 1 point per 2.5 litres excluding category \"lpg\"\n" in formatted
    assert format_source(parse_text(formatted, "f.loyalty")[0]) == formatted
    # and a money `per` still reads as money in YAML
    money, _ = load_yaml(to_yaml(compiled(program('  earn m on purchase {\n    award 1 point per 1 EUR\n  }\n'))[0]),
                         "m.yaml")
    assert isinstance(money.program.rules[0].actions[0].per, ast.Money)


def test_convert_and_fmt_on_the_command_line(tmp_path: Path, capsys) -> None:
    src = tmp_path / "fuel.loyalty"
    src.write_text(program(FUEL_RULE, 'test "45 litres" {\n  when purchase 72.00 EUR quantity 45 on 2027-03-01\n'
                                      '  expect earned 22 points\n}\n'), encoding="utf-8")
    out = tmp_path / "fuel.yaml"
    assert main(["convert", str(src), "--to", "yaml", "-o", str(out)]) == 0
    assert "quantity: 45" in out.read_text() and "per: 2 litres" in out.read_text()
    assert main(["test", str(out)]) == 0
    canonical = tmp_path / "canonical.loyalty"
    canonical.write_text(format_source(parse_text(src.read_text(), str(src))[0]), encoding="utf-8")
    assert "award 1 point per 2 litres" in canonical.read_text()
    assert main(["fmt", "--check", str(canonical)]) == 0  # the canonical text is left as it is
    back = tmp_path / "back.loyalty"
    assert main(["convert", str(out), "--to", "text", "-o", str(back)]) == 0
    assert back.read_text() == canonical.read_text()


def test_an_events_file_gives_quantity_and_explain_shows_the_litres() -> None:
    _, prog = compiled(program(FUEL_RULE))
    events_text = ("events:\n  - {type: purchase, date: 2027-03-01, amount: 72.00, quantity: 45}\n"
                   "  - {type: purchase, date: 2027-03-02, amount: 20.00, quantity: 7}\n"
                   "  - {type: purchase, date: 2027-03-03, amount: 5.00}\n")
    ef, diags = load_events(events_text, "ev.yaml", prog)
    assert ef is not None, [d.message for d in diags]
    result = explain(prog, ef)
    assert result.earned == 22 + 3  # 45 / 2 = 22.5 -> 22; 7 / 2 = 3.5 -> 3; no quantity: 0
    text = " ".join(str(step) for step in result.trace)
    assert "45 litres x 0.5 per litre = 22.5 -> 22" in text
    bad, diags = load_events("events:\n  - {type: purchase, date: 2027-03-01, amount: 7, quantity: 2.5}\n",
                             "bad.yaml", prog)
    assert bad is None and [d.span.line for d in diags if d.is_error] == [2]
