"""Line attributes: a program's own product attributes on a purchase's lines (`line attribute
brand: string`), in both forms, the checker (RL252, RL254, RL256, RL257, RL202), the compiler, the
reference interpreter, tests, events files, `explain`, fmt and convert, and the population's
attribute model (RL258); numbers worked out by hand from docs/semantics.md §3.1."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from pathlib import Path

import pytest

from rulelang import Event, Line, ir, run
from rulelang.check.compiler import compile_source, program_hash
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.explain import explain, load_events
from rulelang.tools.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent
OWN_BRAND = ROOT / "tests" / "simulator" / "fixtures" / "own_brand.loyalty"

SHOP = '''program "Shop" {
  points "points"
  currency EUR
  line attribute brand: string
  line attribute organic: bool
  line attribute size: number
  line attribute deposit: money
  earn base on purchase {
    award 1 point per 1 EUR
  }
  earn own on purchase when any line (brand == "Own" and organic == true) {
    award 30 points
  }
  earn packs on purchase when any line (size >= 2.5 or deposit > 0.10 EUR) {
    award 4 points
  }
}
'''


def compiled(text: str, path: str = "s.loyalty"):
    sf, diags = (load_yaml if path.endswith(".yaml") else parse_text)(text, path)
    assert sf is not None, [d.message for d in diags]
    prog, diags = compile_source(sf)
    assert prog is not None, [d.message for d in diags if d.is_error]
    return sf, prog


def errors(text: str, path: str = "s.loyalty") -> list[tuple[str, int]]:
    sf, diags = (load_yaml if path.endswith(".yaml") else parse_text)(text, path)
    if sf is not None:
        _, more = compile_source(sf)
        diags = list(diags) + list(more)
    return [(d.code, d.span.line) for d in diags if d.is_error]


def diagnostics(text: str, path: str = "s.loyalty"):
    sf, diags = (load_yaml if path.endswith(".yaml") else parse_text)(text, path)
    assert sf is not None
    _, more = compile_source(sf)
    return [d for d in list(diags) + list(more) if d.is_error]


def earned(prog: ir.Program, *lines: Line) -> int:
    ev = Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=sum(x.amount_cents for x in lines),
               id="A1", lines=lines)
    return run(prog, [ev]).earned


# ---------------------------------------------------------------- the interpreter, by hand


def test_the_ir_holds_the_declared_attributes_beside_the_line_fields() -> None:
    _, prog = compiled(SHOP)
    assert prog.line_attributes == (("brand", "string"), ("organic", "bool"), ("size", "number"), ("deposit", "money"))
    assert prog.line_fields() == {"amount": "money", "category": "string", "quantity": "number", "sku": "string",
                                  "brand": "string", "organic": "bool", "size": "number", "deposit": "money"}


def test_any_line_reads_the_attributes_of_one_line() -> None:
    _, prog = compiled(SHOP)
    own = Line(350, "coffee", attributes=(("brand", "Own"), ("organic", True)))
    # base 3.50 -> 3; own: one line is Own and organic -> 30. 33.
    assert earned(prog, own) == 33
    # Own on one line, organic on another: no one line has both. base 3.50 + 2.00 = 5.50 -> 5.
    assert earned(prog, Line(350, attributes=(("brand", "Own"),)), Line(200, attributes=(("organic", True),))) == 5
    # packs: size 2.5 >= 2.5 -> 4; base 1.00 -> 1. 5. A deposit of 0.10 EUR is not > 0.10: base 1.
    assert earned(prog, Line(100, attributes=(("size", Fraction(5, 2)),))) == 5
    assert earned(prog, Line(100, attributes=(("deposit", 10),))) == 1
    assert earned(prog, Line(100, attributes=(("deposit", 11),))) == 5


def test_a_line_without_an_attribute_reads_its_default() -> None:
    _, prog = compiled(SHOP + '''
test "defaults" {
  when purchase on 2027-05-04 { line 4.00 EUR category "grocery" }
  expect earned 4 points
  expect not fired own
  expect not fired packs
}
''')
    # no brand (equals no text), not organic, size 0, deposit 0: base 4.00 -> 4 only
    assert earned(prog, Line(400, "grocery")) == 4
    negated = compiled(SHOP.replace('when any line (brand == "Own" and organic == true)',
                                    'when any line (brand != "Own" and not organic == true)'))[1]
    assert earned(negated, Line(400, "grocery")) == 4 + 30  # `!=` a missing text holds, `not false` holds


def test_the_own_brand_fixture_passes_its_hand_worked_tests() -> None:
    from rulelang.syntax.loader import load_file
    sf, diags, _ = load_file(str(OWN_BRAND))
    prog, _ = compile_source(sf)
    outcomes = run_tests(sf, prog)
    assert len(outcomes) == 6 and all(o.passed for o in outcomes), [o for o in outcomes if not o.passed]


# ---------------------------------------------------------------- both forms, fmt, convert

RECEIPT = '''
test "an own organic line" {
  when purchase on 2027-05-04 { line 3.50 EUR category "coffee" brand "Own" organic true; line 2.00 EUR size 3 deposit 0.25 EUR }
  expect earned 39 points
}
'''
# base 5.50 -> 5; own 30; packs: size 3 >= 2.5 -> 4. 39.


def test_a_test_with_attributes_passes_in_both_forms_and_round_trips() -> None:
    sf, prog = compiled(SHOP + RECEIPT)
    assert [o.passed for o in run_tests(sf, prog)] == [True]
    formatted = format_source(sf)
    assert "  line attribute brand: string\n  line attribute organic: bool\n" in formatted
    assert 'line 3.50 EUR category "coffee" brand "Own" organic true; line 2.00 EUR size 3 deposit 0.25 EUR' in formatted
    again, _ = parse_text(formatted, "s.loyalty")
    assert again is not None and format_source(again) == formatted
    yaml_text = to_yaml(sf)
    assert "  line_attributes:\n    brand: string\n    organic: bool\n    size: number\n    deposit: money\n" in yaml_text
    assert "{amount: 3.50 EUR, category: coffee, brand: Own, organic: true}" in yaml_text
    assert "{amount: 2.00 EUR, size: 3, deposit: 0.25 EUR}" in yaml_text
    ysf, yprog = compiled(yaml_text, "s.yaml")
    assert yprog == prog and program_hash(yprog) == program_hash(prog)
    assert [o.passed for o in run_tests(ysf, yprog)] == [True]
    assert format_source(ysf) == formatted


def test_a_program_without_line_attributes_keeps_its_hash() -> None:
    from rulelang.check.compiler import _canonical
    _, prog = compiled('program "P" {\n  currency EUR\n  earn b on purchase {\n    award 1 point per 1 EUR\n  }\n}\n')
    assert prog.line_attributes == () and "line_attributes" not in _canonical(prog)


# ---------------------------------------------------------------- the checker


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_a_line_attribute_that_cannot_be_declared(form: str) -> None:
    text = ('program "P" {\n  currency EUR\n  line attribute sku: string\n  line attribute made: date\n'
            '  line attribute brand: string\n  line attribute brand: bool\n}\n')
    if form == "text":
        found = diagnostics(text)
        assert [(d.code, d.span.line) for d in found] == [("RL256", 3), ("RL256", 4), ("RL204", 6)]
    else:
        yaml_text = ("program:\n  name: P\n  currency: EUR\n  line_attributes:\n    sku: string\n    made: date\n"
                     "    brand: string\n")
        found = diagnostics(yaml_text, "p.yaml")
        assert [(d.code, d.span.line) for d in found] == [("RL256", 5), ("RL256", 6)]
    assert "a line's own field" in found[0].message and "`line attribute brand: string`" in (found[0].hint or "")
    assert "not `date`" in found[1].message


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_a_line_attribute_outside_any_line_and_a_misspelt_one(form: str) -> None:
    text = ('program "P" {\n  currency EUR\n  line attribute brand: string\n  event review { rating: number }\n'
            '  earn a on purchase when brand == "Own" {\n    award 1 point\n  }\n'
            '  earn b on review when brand == "Own" {\n    award 1 point\n  }\n'
            '  earn c on purchase when any line brnd == "Own" {\n    award 1 point\n  }\n'
            '  earn d on purchase when any line brand == 3 {\n    award 1 point\n  }\n}\n')
    if form == "yaml":
        sf, _ = parse_text(text, "p.loyalty")
        text = to_yaml(sf)
        lines = [i + 1 for i, r in enumerate(text.splitlines()) if r.startswith("      when:")]
        assert len(lines) == 4
    else:
        lines = [5, 8, 11, 14]
    found = diagnostics(text, "p.yaml" if form == "yaml" else "p.loyalty")
    assert [(d.code, d.span.line) for d in found] == [("RL257", lines[0]), ("RL257", lines[1]),
                                                      ("RL252", lines[2]), ("RL202", lines[3])]
    assert "`any line brand == ...`" in (found[0].hint or "")
    assert "on purchase" in (found[1].hint or "")
    assert found[2].hint == "did you mean `brand`?"
    assert "`brand`" in found[2].message  # the attributes are named among what a line reads


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_bad_attribute_values_in_a_test(form: str) -> None:
    text = SHOP + '''
test "bad" {
  when purchase on 2027-05-04 { line 3.00 EUR brnd "Own"; line 2.00 EUR organic "yes" }
  expect earned 0 points
}
'''
    if form == "yaml":
        sf, _ = parse_text(text, "s.loyalty")
        text = to_yaml(sf)
    found = diagnostics(text, "s.yaml" if form == "yaml" else "s.loyalty")
    assert [d.code for d in found] == ["RL254", "RL202"]
    assert found[0].hint == "did you mean `brand`?"
    assert "`organic` of a line is" in found[1].message
    rows = text.splitlines()
    assert "brnd" in rows[found[0].span.line - 1] and "organic" in rows[found[1].span.line - 1]


def test_a_line_field_unknown_in_a_program_without_attributes_says_how_to_declare_one() -> None:
    text = ('program "P" {\n  currency EUR\n}\n'
            'test "t" {\n  when purchase on 2027-05-04 { line 3.00 EUR colour "red" }\n  expect earned 0 points\n}\n')
    [d] = diagnostics(text)
    assert d.code == "RL254" and "`line attribute colour: string`" in (d.hint or "")


# ---------------------------------------------------------------- events files and explain


def test_an_events_file_gives_attributes_and_explain_shows_them() -> None:
    _, prog = compiled(SHOP)
    text = ("events:\n"
            "  - {type: purchase, date: 2027-05-04, lines: [{amount: 3.50, category: coffee, brand: Own, organic: true},"
            " {amount: 2.00, size: 2, deposit: 0.05}]}\n"
            "  - {type: purchase, date: 2027-05-05, lines: [{amount: 3.50, brand: Own, organic: false}]}\n")
    ef, diags = load_events(text, "ev.yaml", prog)
    assert ef is not None, [d.message for d in diags]
    first = ef.events[0]
    assert first.lines[1].attributes == (("size", Fraction(2)), ("deposit", 5))
    result = explain(prog, ef)
    # first: base 5.50 -> 5, own 30 (size 2 < 2.5, deposit 0.05 <= 0.10: no packs); second: base 3
    assert result.earned == 5 + 30 + 3
    trace = "\n".join(str(step) for step in result.trace)
    assert 'line 3.50 EUR category "coffee" brand "Own" organic true' in trace
    assert 'organic false' in trace and "no line has" in trace


@pytest.mark.parametrize("line, code, hint", [
    ("{amount: 3.50, brnd: Own}", "RL011", "did you mean `brand`?"),
    ("{amount: 3.50, organic: maybe}", "RL012", "write true or false"),
    ("{amount: 3.50, deposit: 0.255}", None, None),
])
def test_bad_attributes_in_an_events_file(line: str, code: str | None, hint: str | None) -> None:
    _, prog = compiled(SHOP)
    text = f"events:\n  - {{type: purchase, date: 2027-05-04, lines: [{line}]}}\n"
    ef, diags = load_events(text, "ev.yaml", prog)
    assert ef is None
    [d] = [d for d in diags if d.is_error]
    assert d.span.line == 2 and d.hint
    if code is not None:
        assert d.code == code and d.hint == hint
    else:
        assert "cent" in d.message  # a deposit in fractions of a cent


# ---------------------------------------------------------------- the population's model


def test_the_population_checks_its_attributes_against_the_program() -> None:
    from simulator.engine.line_attributes import check_population_attributes
    from simulator.model.population import load_population
    _, prog = compiled(SHOP)
    text = (ROOT / "tests" / "simulator" / "fixtures" / "brands.yaml").read_text()
    pop, diags = load_population(text, "brands.yaml")
    assert pop is not None and check_population_attributes(prog, pop) == []
    bad = text.replace("organic: {true: 0.3, false: 0.7}", "organc: {true: 0.3, false: 0.7}").replace(
        "size: {1: 0.6", "size: {one: 0.6").replace("deposit: {0.25: 0.6", "deposit: {0.255: 0.6")
    pop, _ = load_population(bad, "brands.yaml")
    found = check_population_attributes(prog, pop)
    rows = bad.splitlines()
    assert [d.code for d in found] == ["RL258"] * 3
    assert [m for m in (d.message for d in found)] == [
        "`one` is not a number value of line attribute `size`",
        "segment `busy`, category `coffee`: the program has no line attribute `organc`",
        "`0.255` is not a money value of line attribute `deposit`"]
    assert found[1].hint == "did you mean `organic`?"
    assert all(d.span.file == "brands.yaml" and d.span.line for d in found)
    assert "one" in rows[found[0].span.line - 1] and "0.255" in rows[found[2].span.line - 1]
    # a program without line attributes reads none of them: nothing to refuse
    _, plain = compiled('program "P" {\n  currency EUR\n  earn b on purchase {\n    award 1 point per 1 EUR\n  }\n}\n')
    assert check_population_attributes(plain, pop) == []


# ---------------------------------------------------------------- `discount ... in category`

PRODUCE = '''program "Market" {
  points "points"
  currency EUR
  earn base on purchase {
    award 1 point per 1 EUR
  }
  earn produce_week on purchase {
    discount 10% in category "produce", "bakery"
  }
  earn fish_friday on purchase when weekday == fri {
    discount 5 EUR in category "fish"
  }
}
'''


def _discount(prog: ir.Program, *lines: Line, day: int = 4, **fields: object) -> tuple[int, int]:
    ev = Event("purchase", dt.datetime(2027, 6, day, 12), amount_cents=sum(x.amount_cents for x in lines),
               fields=fields, id="A1", lines=lines)
    res = run(prog, [ev])
    return res.discount_cents, res.earned


def test_a_discount_on_the_lines_of_some_categories() -> None:
    _, prog = compiled(PRODUCE)
    [rule] = [r for r in prog.rules if r.name == "produce_week"]
    assert rule.actions == (ir.DiscountAction(percent=Fraction(10), fixed_cents=None, base="net",
                                              only=frozenset({"produce", "bakery"})),)
    # 2027-06-04 is a Friday. produce 3.00 + bakery 2.00 = 5.00 EUR x 10% = 0.50 EUR; the fish line
    # 4.00 EUR: 5 EUR off, at most the fish lines' 4.00; the meat line 6.00 gets nothing.
    # Discounts 0.50 + 4.00 = 4.50 EUR; base 15.00 - 4.50 = 10.50 -> 10 points.
    lines = (Line(300, "produce"), Line(200, "bakery"), Line(400, "fish"), Line(600, "meat"))
    assert _discount(prog, *lines) == (450, 10)
    # on Thursday the fish discount does not fire: 0.50 off; base 14.50 -> 14
    assert _discount(prog, *lines, day=3) == (50, 14)
    # a purchase without lines is one line: discounted when its category is one of them
    ev = Event("purchase", dt.datetime(2027, 6, 3, 12), amount_cents=2000, fields={"category": "produce"}, id="P")
    assert run(prog, [ev]).discount_cents == 200
    ev = Event("purchase", dt.datetime(2027, 6, 3, 12), amount_cents=2000, fields={"category": "meat"}, id="M")
    assert run(prog, [ev]).discount_cents == 0


def test_a_discount_in_category_in_both_forms_and_back() -> None:
    sf, prog = compiled(PRODUCE)
    formatted = format_source(sf)
    assert '    discount 10% in category "produce", "bakery"\n' in formatted
    assert '    discount 5 EUR in category "fish"\n' in formatted
    yaml_text = to_yaml(sf)
    assert "- discount: {percent: 10, in: [produce, bakery]}" in yaml_text
    assert "- discount: {amount: 5 EUR, in: [fish]}" in yaml_text
    ysf, yprog = compiled(yaml_text, "m.yaml")
    assert yprog == prog and program_hash(yprog) == program_hash(prog)
    assert format_source(ysf) == formatted
    # with `of` and `excluding`, in the order the grammar reads them
    text = PRODUCE.replace('discount 10% in category "produce", "bakery"',
                           'discount 10% of gross amount in category "produce" excluding category "sale"')
    sf2, prog2 = compiled(text)
    assert 'discount 10% of gross amount in category "produce" excluding category "sale"' in format_source(sf2)
    [rule] = [r for r in prog2.rules if r.name == "produce_week"]
    assert rule.actions[0].only == frozenset({"produce"}) and rule.actions[0].excluding == frozenset({"sale"})


def test_a_program_whose_discounts_pick_no_lines_keeps_its_hash() -> None:
    from rulelang.check.compiler import _canonical
    assert "only" not in _canonical(ir.DiscountAction(percent=Fraction(10), fixed_cents=None))


@pytest.mark.parametrize("form", ["text", "yaml"])
def test_a_discount_in_category_on_an_event_without_lines_is_refused(form: str) -> None:
    text = PRODUCE.replace("earn fish_friday on purchase when weekday == fri", "earn fish_friday on signup")
    if form == "yaml":
        sf, _ = parse_text(text, "m.loyalty")
        text = to_yaml(sf)
    found = diagnostics(text, "m.yaml" if form == "yaml" else "m.loyalty")
    assert [d.code for d in found] == ["RL206"]
    assert "fish" in text.splitlines()[found[0].span.line - 1]


# ---------------------------------------------------------------- the simulator's fit warning


def test_a_rule_on_an_attribute_the_population_never_draws_is_warned_about() -> None:
    from rulelang.syntax.loader import load_file
    from simulator.model.fit_warnings import fit_warnings, observed_from_run
    from simulator.model.population import load_population
    from simulator.trials.montecarlo import simulate
    sf, _, _ = load_file(str(OWN_BRAND))
    prog, _ = compile_source(sf)
    text = OWN_BRAND.read_text()
    fixtures = ROOT / "tests" / "simulator" / "fixtures"
    found = {}
    for name in ("baskets.yaml", "brands.yaml"):
        pop, _ = load_population((fixtures / name).read_text(), name)
        res = simulate(prog, pop, customers=20, months=1, trials=1, seed=1, workers=1)
        found[name] = [d for d in fit_warnings(prog, observed_from_run(res, pop), sf, text, str(OWN_BRAND))
                       if d.code == "RL259"]
    # the baskets population draws no attribute: the four rules that read one are warned about,
    # each at its rule; the brands population draws all four: no warning
    rows = text.splitlines()
    assert [(d.severity, rows[d.span.line - 1].split()[1]) for d in found["baskets.yaml"]] == [
        ("warning", "own_brand"), ("warning", "organic_coffee"), ("warning", "big_pack"), ("warning", "big_pack"),
        ("warning", "bottles"), ("warning", "bottles")]
    assert "reads line attribute `brand`, which population `baskets test population` never draws: every " \
           "simulated line has no text there" in found["baskets.yaml"][0].message
    assert found["brands.yaml"] == []


def test_a_replay_warns_that_a_transaction_carries_no_line_attributes() -> None:
    from types import SimpleNamespace
    from simulator.history.feed import needed_warnings
    _, prog = compiled(SHOP)
    none = SimpleNamespace(category=None, channel=None, store=None, items=None, quantity=None, customer_table={})
    [lines] = [d for d in needed_warnings(prog, none, "t.csv", True) if "lines" in d.message]
    assert lines.code == "RL881" and lines.severity == "warning"
    assert "without line attributes (each reads its default: no text, false, 0)" in lines.message
    _, plain = compiled(SHOP.replace('brand == "Own" and organic == true', 'category == "coffee"')
                        .replace("size >= 2.5 or deposit > 0.10 EUR", "quantity > 1"))
    [lines] = [d for d in needed_warnings(plain, none, "t.csv", True) if "lines" in d.message]
    assert "line attributes" not in lines.message
