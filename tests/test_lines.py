"""Line items: a purchase's lines in tests (text and YAML), events files, the checker, the
compiler, the reference interpreter, `explain`, fmt and convert; numbers worked out by hand
from docs/semantics.md §3.1 (exclusions and awards per quantity per line, discounts and
shipping shared over the lines in whole cents, `any line`, `in category`)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from rulelang import Event, Line, ir, run
from rulelang.check.compiler import compile_source, program_hash
from rulelang.run.earning import shares
from rulelang.syntax import ast
from rulelang.syntax.formatter import format_source
from rulelang.syntax.loader import load_file
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.explain import explain, load_events
from rulelang.tools.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent

GROCER = '''program "Grocer" {
  points "points"
  currency EUR
  earn base on purchase {
    award 1 point per 1 EUR excluding category "tobacco", "gift_card"
  }
  earn coffee_bonus on purchase when any line category == "coffee" {
    award 20 points
  }
  earn fuel on purchase {
    award 1 point per 2 litres in category "fuel"
  }
  earn app on purchase when channel == "app" {
    discount 10% excluding category "tobacco"
  }
}
'''


def compiled(text: str, path: str = "g.loyalty") -> tuple[ast.SourceFile, ir.Program]:
    sf, diags = parse_text(text, path)
    assert sf is not None, [d.message for d in diags]
    prog, diags = compile_source(sf)
    assert prog is not None, [d.message for d in diags if d.is_error]
    return sf, prog


def errors(text: str, path: str = "g.loyalty") -> list[tuple[str, int]]:
    if path.endswith(".yaml"):
        sf, diags = load_yaml(text, path)
    else:
        sf, diags = parse_text(text, path)
    if sf is not None:
        _, more = compile_source(sf)
        diags = list(diags) + list(more)
    return [(d.code, d.span.line) for d in diags if d.is_error]


def earned(prog: ir.Program, *lines: Line, **fields: object) -> int:
    amount = sum(line.amount_cents for line in lines) + int(fields.get("shipping_cents", 0))  # type: ignore[arg-type]
    quantity = sum(line.quantity for line in lines)
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=amount, fields={**fields, "quantity": quantity},
               id="A1", lines=lines)
    return run(prog, [ev]).earned


# ---------------------------------------------------------------- the interpreter, by hand


def test_exclusions_and_quantity_apply_per_line() -> None:
    _, prog = compiled(GROCER)
    # base: fuel 12.00 + coffee 3.50 + grocery 4.00 = 19.50 (tobacco excluded) -> 19; coffee line: 20;
    # fuel line 45 litres / 2 = 22.5 -> 22 (the grocery line's 3 units are not litres of fuel)
    assert earned(prog, Line(1200, "fuel", 45), Line(350, "coffee"), Line(899, "tobacco"),
                  Line(400, "grocery", 3)) == 19 + 20 + 22  # with the grocery line's 4.00: 19.50 EUR -> 19


def test_a_purchase_without_lines_is_one_line() -> None:
    _, prog = compiled(GROCER)
    # 10.00 EUR coffee: base 10, coffee_bonus 20 (the one line is coffee), no fuel line: 0
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=1000, fields={"category": "coffee"})
    assert run(prog, [ev]).earned == 30
    # 50.00 EUR of fuel, 30 litres, no lines: base 50, fuel 30 / 2 = 15
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=5000, fields={"category": "fuel", "quantity": 30})
    assert run(prog, [ev]).earned == 65
    # tobacco without lines: excluded as before
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=5000, fields={"category": "tobacco"})
    assert run(prog, [ev]).earned == 0


def test_a_discount_is_shared_over_the_lines_in_whole_cents() -> None:
    _, prog = compiled(GROCER)
    # app: 10% of the lines not tobacco, (6.00 + 4.00) x 10% = 1.00 EUR; shared by amount (6 : 4 : 10):
    # coffee floor(100 x 6/20) = 30, grocery floor(100 x 10/20) - 30 = 20, tobacco 100 - 50 = 50 cents.
    # base: 5.70 + 3.80 = 9.50 -> 9; coffee_bonus 20: 29
    result = run(prog, [Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=2000,
                              fields={"channel": "app"}, lines=(Line(600, "coffee"), Line(400, "grocery"),
                                                                 Line(1000, "tobacco")))])
    assert result.earned == 29
    assert result.discount_cents == 100


def test_shares_are_whole_cents_that_add_up() -> None:
    # 100 over 6 : 4 : 10 -> 30, 20, 50; 10 over 1 : 1 : 1 -> floor(10/3) = 3, floor(20/3) - 3 = 3, 10 - 6 = 4
    assert shares(100, [600, 400, 1000]) == [30, 20, 50]
    assert shares(10, [1, 1, 1]) == [3, 3, 4]
    assert shares(7, [0, 0]) == [0, 7]  # no amounts: all on the last line


def test_gross_awards_share_the_shipping_over_the_lines() -> None:
    _, prog = compiled('program "G" {\n  points "points"\n  currency EUR\n'
                       '  earn gross on purchase {\n    award 1 point per 1 EUR of gross amount excluding category "tobacco"\n'
                       '  }\n}\n')
    # shipping 4.00 shared 10 : 30: grocery floor(400 x 10/40) = 100, tobacco 300; gross base 10.00 + 1.00 = 11 points
    assert earned(prog, Line(1000, "grocery"), Line(3000, "tobacco"), shipping_cents=400) == 11


def test_any_line_with_an_amount_and_the_trace() -> None:
    _, prog = compiled('program "G" {\n  points "points"\n  currency EUR\n'
                       '  earn big_coffee on purchase when any line (category == "coffee" and amount >= 5.00 EUR) {\n'
                       '    award 25 points\n  }\n}\n')
    assert earned(prog, Line(650, "coffee"), Line(300, "grocery")) == 25
    assert earned(prog, Line(320, "coffee"), Line(900, "grocery")) == 0  # the grocery line is not coffee
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=320, lines=(Line(320, "coffee"),))
    [step] = run(prog, [ev]).trace
    [rule] = step.rules
    assert "no line has" in str(rule.reason) and '"coffee"' in str(rule.reason)


def test_sku_is_a_line_field() -> None:
    _, prog = compiled('program "G" {\n  points "points"\n  currency EUR\n'
                       '  earn latte on purchase when any line sku == "LATTE" {\n    award 5 points\n  }\n}\n')
    assert earned(prog, Line(350, "coffee", 0, "LATTE")) == 5
    assert earned(prog, Line(350, "coffee", 0, "ESPRESSO")) == 0


def test_a_multiplier_on_some_lines() -> None:
    _, prog = compiled('program "G" {\n  points "points"\n  currency EUR\n'
                       '  earn base on purchase {\n    award 1 point per 1 EUR excluding category "tobacco"\n'
                       '    award 1 point per 2 litres in category "fuel"\n  }\n'
                       '  earn double on purchase {\n    multiply 2x in category "coffee", "fuel"\n  }\n}\n')
    # R = 10 + 6 + 20 (money) + 40 / 2 (litres) = 56 -> base 56; on the coffee and fuel lines
    # 6 + 20 + 20 = 46, doubled: bonus 46. 102.
    assert earned(prog, Line(1000, "grocery"), Line(600, "coffee"), Line(2000, "fuel", 40), Line(900, "tobacco")) == 102
    # a purchase without lines is one line: coffee 7.50 -> 7.5 x (2 - 1) = 7.5: 7 + 7 = 14; grocery: no bonus
    assert earned(prog, Line(750, "coffee")) == 14
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=750, fields={"category": "grocery"})
    assert run(prog, [ev]).earned == 7


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_a_tier_multiplier_on_some_lines_is_refused(form: str) -> None:
    if form == "text":
        text = ('program "G" {\n  points "points"\n  currency EUR\n  tiers by spend over lifetime {\n'
                '    tier Base from 0\n    tier Gold from 100 { multiply 2x in category "coffee" }\n  }\n}\n')
        assert ("RL255", 6) in errors(text)
    else:
        text = ('program:\n  name: G\n  points: points\n  currency: EUR\n  rules:\n    r:\n      on: signup\n'
                '      actions:\n        - multiply: {factor: 2, in: [coffee]}\n')
        assert ("RL255", 9) in errors(text, "g.yaml")


# ---------------------------------------------------------------- tests, both forms

RECEIPT_TEST = '''
# base 12.00 + 3.50 = 15.50 -> 15; coffee 20; fuel 45 / 2 = 22.5 -> 22: 57
test "receipt" {
  when purchase on 2027-05-04 { line 12.00 EUR category "fuel" quantity 45; line 3.50 EUR category "coffee"; line 8.99 EUR category "tobacco" }
  expect earned 57 points
}
'''


def test_a_test_with_lines_passes_in_both_forms_and_round_trips() -> None:
    sf, prog = compiled(GROCER + RECEIPT_TEST)
    assert [o.passed for o in run_tests(sf, prog)] == [True]
    formatted = format_source(sf)
    again, _ = parse_text(formatted, "g.loyalty")
    assert again is not None and format_source(again) == formatted
    assert ('when purchase on 2027-05-04 { line 12.00 EUR category "fuel" quantity 45; line 3.50 EUR category '
            '"coffee"; line 8.99 EUR category "tobacco" }') in formatted
    yaml_text = to_yaml(sf)
    assert "lines:" in yaml_text and "{amount: 12.00 EUR, category: fuel, quantity: 45}" in yaml_text
    ysf, diags = load_yaml(yaml_text, "g.yaml")
    assert ysf is not None and not [d for d in diags if d.is_error]
    yprog, _ = compile_source(ysf)
    assert yprog == prog and program_hash(yprog) == program_hash(prog)
    assert [o.passed for o in run_tests(ysf, yprog)] == [True]
    [event] = ysf.tests[0].events
    assert [str(line.amount.amount) for line in event.lines] == ["12.00", "3.50", "8.99"]  # type: ignore[union-attr]


def test_a_program_without_lines_keeps_its_hash_fields() -> None:
    # `in category` is a field added to RateAward and QuantityAward: absent, it leaves the hash alone
    plain = ir.RateAward(rate=Fraction(1, 100), base="net")
    from rulelang.check.compiler import _canonical
    assert "only" not in _canonical(plain)
    assert "only" in _canonical(ir.RateAward(rate=Fraction(1, 100), base="net", only=frozenset({"fuel"})))


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_bad_lines_are_located_errors_with_hints(form: str) -> None:
    text = GROCER + '''
test "bad" {
  when purchase on 2027-05-04 { line category "coffee" }
  when purchase 20.00 EUR on 2027-05-05 { line 12.00 EUR category "fuel"; line 3.50 EUR category "coffee" }
  when purchase on 2027-05-06 { line 3.00 EUR colour "red"; line 2.00 EUR quantity 2.5 }
  expect earned 0 points
}
'''
    if form == "text":
        found = errors(text)
        at = {key: text.splitlines().index(line) + 1 for key, line in (
            ("no amount", '  when purchase on 2027-05-04 { line category "coffee" }'),
            ("total", '  when purchase 20.00 EUR on 2027-05-05 { line 12.00 EUR category "fuel"; line 3.50 EUR '
                      'category "coffee" }'),
            ("fields", '  when purchase on 2027-05-06 { line 3.00 EUR colour "red"; line 2.00 EUR quantity 2.5 }'))}
        assert found == [("RL250", at["no amount"]), ("RL251", at["total"]), ("RL254", at["fields"]),
                         ("RL254", at["fields"])]
    else:
        sf, _ = parse_text(text.replace('line category "coffee"', 'line 1.00 EUR category "coffee"'), "g.loyalty")
        yaml_text = to_yaml(sf)
        yaml_text = yaml_text.replace("{amount: 1.00 EUR, category: coffee}", "{category: coffee}")
        found = errors(yaml_text.replace(", colour: red", ""), "g.yaml")
        codes = [c for c, _ in found]
        assert codes == ["RL250", "RL251", "RL254"]
        lines = yaml_text.splitlines()
        assert "{category: coffee}" in lines[found[0][1] - 1]
        assert "quantity: 2.5" in lines[found[2][1] - 1]


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_a_line_condition_on_a_field_a_line_does_not_have(form: str) -> None:
    rule = ('program "G" {\n  points "points"\n  currency EUR\n'
            '  earn c on purchase when any line (category == "coffee" and channel == "app") {\n    award 2 points\n  }\n'
            '  earn r on return when any line category == "coffee" {\n    award 2 points\n  }\n'
            '  earn f on purchase {\n    award 50 points in category "fuel"\n  }\n}\n')
    if form == "text":
        assert errors(rule) == [("RL252", 4), ("RL253", 7), ("RL255", 11)]
    else:
        yaml_text = ('program:\n  name: G\n  points: points\n  currency: EUR\n  rules:\n'
                     '    c:\n      on: purchase\n      when: any line (category == "coffee" and channel == "app")\n'
                     '      actions:\n        - award: 2\n'
                     '    r:\n      on: return\n      when: any line category == "coffee"\n'
                     '      actions:\n        - award: 2\n'
                     '    f:\n      on: purchase\n      actions:\n        - award: {points: 50, in: [fuel]}\n')
        rows = yaml_text.splitlines()
        at = [rows.index(r) + 1 for r in ('      when: any line (category == "coffee" and channel == "app")',
                                           '      when: any line category == "coffee"',
                                           '        - award: {points: 50, in: [fuel]}')]
        assert errors(yaml_text, "g.yaml") == [("RL252", at[0]), ("RL253", at[1]), ("RL255", at[2])]


def test_any_line_and_in_category_convert_both_ways() -> None:
    sf, prog = compiled(GROCER)
    yaml_text = to_yaml(sf)
    assert 'when: any line category == "coffee"' in yaml_text and "in: [fuel]" in yaml_text
    ysf, _ = load_yaml(yaml_text, "g.yaml")
    assert format_source(ysf) == format_source(sf)


# ---------------------------------------------------------------- events files and explain


def test_an_events_file_with_lines_and_explain() -> None:
    _, prog = compiled(GROCER)
    text = ("events:\n"
            "  - {type: purchase, date: 2027-05-04, id: A1, lines: [{amount: 12.00, category: fuel, quantity: 45},"
            " {amount: 3.50, category: coffee}, {amount: 8.99, category: tobacco}]}\n")
    ef, diags = load_events(text, "ev.yaml", prog)
    assert ef is not None, [d.message for d in diags]
    [event] = ef.events
    assert event.amount_cents == 1200 + 350 + 899 and event.fields["quantity"] == 45
    result = explain(prog, ef)
    assert result.earned == 57  # as the test above
    trace = " ".join(str(step) for step in result.trace)
    assert "15.50 EUR on 2 of 3 lines" in trace and "45 litres on 1 of 3 lines" in trace


@pytest.mark.parametrize("line, code", [
    ("{category: coffee}", "RL250"),
    ("{amount: 3.50, category: coffee}], amount: 9.00, x: [1", "RL251"),
])
def test_bad_lines_in_an_events_file(line: str, code: str) -> None:
    _, prog = compiled(GROCER)
    text = f"events:\n  - {{type: purchase, date: 2027-05-04, lines: [{line}]}}\n".replace(", x: [1]", "")
    ef, diags = load_events(text, "ev.yaml", prog)
    assert ef is None
    [d] = [d for d in diags if d.is_error]
    assert d.code == code and d.span.line == 2 and d.hint


# ---------------------------------------------------------------- the example


def test_the_grocery_week_events_file() -> None:
    # worked out in the comments of rules/events/grocery_week.yaml: earned 76 + 17 + 16 + 30 + 40 = 179;
    # 400 opening + 179 = 579 issued = 500 redeemed (the end-of-May voucher) + 17 reversed (return of A2)
    # + 62 outstanding
    sf, _, _ = load_file(str(ROOT / "rules" / "grocery.loyalty"))
    prog, _ = compile_source(sf)
    path = ROOT / "rules" / "events" / "grocery_week.yaml"
    ef, diags = load_events(path.read_text(), str(path), prog)
    assert ef is not None, [d.message for d in diags]
    result = explain(prog, ef)
    assert (result.earned, result.issued, result.redeemed, result.reversed, result.outstanding) == (179, 579, 500, 17, 62)
    assert result.fired >= {"base", "fuel", "coffee_club"}


def test_the_grocery_example_passes_its_tests_in_both_forms(tmp_path: Path) -> None:
    sf, diags, _ = load_file(str(ROOT / "rules" / "grocery.loyalty"))
    assert sf is not None
    prog, diags = compile_source(sf)
    assert prog is not None and not [d for d in diags if d.is_error]
    outcomes = run_tests(sf, prog)
    assert len(outcomes) == 13 and all(o.passed for o in outcomes)
    ysf, _ = load_yaml(to_yaml(sf), "grocery.yaml")
    yprog, _ = compile_source(ysf)
    assert yprog == prog and all(o.passed for o in run_tests(ysf, yprog))
