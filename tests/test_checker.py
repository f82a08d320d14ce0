"""The checker: one test per diagnostic code, on ASTs built by hand with explicit spans,
plus a few end-to-end tests from text when the parser is available."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from rulelang.syntax import ast
from rulelang.check.checker import check
from rulelang.diagnostics import Diagnostic, Span

FILE = "t.loyalty"


def at(line: int, col: int = 3, width: int = 5) -> Span:
    return Span(FILE, line, col, line, col + width - 1)


def usd(amount: str, currency: str = "USD", span: Span | None = None) -> ast.Money:
    return ast.Money(D(amount), currency, span=span or at(1))


def ref(*path: str, span: Span | None = None) -> ast.Ref:
    return ast.Ref(tuple(path), span=span or at(1))


def lit(value: object, span: Span | None = None) -> ast.Literal:
    return ast.Literal(value, span=span or at(1))  # type: ignore[arg-type]


def cmp(op: str, left: ast.Expr, right: ast.Expr, span: Span | None = None) -> ast.Compare:
    return ast.Compare(op, left, right, span=span or at(1))  # type: ignore[arg-type]


def rate(points: str = "1", per: str = "1", span: Span | None = None, **kw: object) -> ast.Award:
    return ast.Award(D(points), per=usd(per), span=span or at(1), **kw)  # type: ignore[arg-type]


def fixed(points: str, span: Span | None = None, **kw: object) -> ast.Award:
    return ast.Award(D(points), span=span or at(1), **kw)  # type: ignore[arg-type]


def rule(name: str, line: int, event: str = "purchase", *actions: ast.Action, **kw: object) -> ast.EarnRule:
    if not actions:
        actions = (fixed("10", span=at(line + 1)),)
    return ast.EarnRule(name, event, actions=actions, span=at(line, 3, 20), **kw)  # type: ignore[arg-type]


# A program that is clean on its own: expiry (no RL304) and returns (no RL305).
SAFE = dict(
    expiry=(ast.Expiry("after_earning", months=12, span=at(90)),),
    returns=ast.ReturnPolicy(span=at(91)),
)


def program(*rules: ast.EarnRule, **kw: object) -> ast.Program:
    fields = dict(SAFE)
    fields.update(kw)
    return ast.Program("Test", points_unit="stars", rules=rules, span=at(1, 1, 30), **fields)  # type: ignore[arg-type]


def diags(p: ast.Program | None, *tests: ast.TestCase) -> list[Diagnostic]:
    return check(ast.SourceFile(FILE, p, tests=tests))


def codes(ds: list[Diagnostic]) -> list[str]:
    return [d.code for d in ds]


def only(ds: list[Diagnostic], code: str) -> list[Diagnostic]:
    return [d for d in ds if d.code == code]


def one(ds: list[Diagnostic], code: str) -> Diagnostic:
    found = only(ds, code)
    assert len(found) == 1, ds
    return found[0]


def tiers(*tiers: ast.Tier, metric: str = "spend", **kw: object) -> ast.TierSystem:
    return ast.TierSystem(metric, ast.TierWindow("lifetime"), tiers, span=at(50), **kw)  # type: ignore[arg-type]


def tier(name: str, threshold: str, line: int, **kw: object) -> ast.Tier:
    return ast.Tier(name, D(threshold), span=at(line), **kw)  # type: ignore[arg-type]


GOLD_TIERS = tiers(tier("Green", "0", 51), tier("Gold", "500", 52))


# ---------------------------------------------------------------- clean


def test_clean_program_has_no_diagnostics() -> None:
    p = program(
        rule("base", 3, "purchase", rate("1", "1", excluding=("gift_card",), unit="star")),
        rule(
            "weekend",
            6,
            "purchase",
            ast.Multiply(D("2"), span=at(7)),
            condition=ast.BoolOp(
                "and",
                (
                    ast.InList(ref("weekday"), (ref("sat"), ref("sun")), span=at(6)),
                    cmp("==", ref("category"), lit("coffee")),
                ),
                span=at(6),
            ),
        ),
        rule("bday", 9, "birthday", fixed("50")),
        rule("friend", 10, "referral", fixed("100", to="referrer"), fixed("50", to="referee")),
        tiers=GOLD_TIERS,
    )
    assert diags(p) == []


# ---------------------------------------------------------------- RL201


def test_rl201_unknown_field_with_did_you_mean() -> None:
    p = program(rule("r", 3, condition=cmp("==", ref("categry", span=at(3, 30, 7)), lit("coffee"))))
    d = one(diags(p), "RL201")
    assert (d.span.line, d.span.column) == (3, 30)
    assert d.severity == "error"
    assert "categry" in d.message
    assert d.hint == "did you mean `category`?"


def test_rl201_unknown_event_tier_attribute_unit() -> None:
    p = program(
        rule("a", 3, "purchse"),
        rule("b", 5, "purchase", condition=cmp("==", ref("tier"), ref("Goldd", span=at(5, 40)))),
        rule("c", 7, "purchase", condition=ref("customer", "vipp", span=at(7, 30))),
        rule("d", 9, "purchase", rate(unit="starz", span=at(10, 5))),
        tiers=GOLD_TIERS,
        attributes=(ast.FieldDecl("vip", "bool", span=at(2)),),
    )
    found = only(diags(p), "RL201")
    assert [(d.span.line, d.span.column) for d in found] == [(3, 3), (5, 40), (7, 30), (10, 5)]
    hints = [d.hint for d in found]
    assert hints == [
        "did you mean `purchase`?",
        "did you mean `Gold`?",
        "did you mean `vip`?",
        "did you mean `star`?",
    ]


def test_rl201_bare_word_suggests_quotes() -> None:
    p = program(rule("r", 3, condition=cmp("==", ref("category"), ref("coffee", span=at(3, 40)))))
    d = one(diags(p), "RL201")
    assert d.span.column == 40
    assert d.hint is not None and '"coffee"' in d.hint


def test_rl201_unknown_tier_measure_and_counter_event() -> None:
    p = program(
        rule("r", 3),
        counters=(ast.CounterDecl("nights", "stay", span=at(2)),),
        tiers=tiers(tier("Base", "0", 51), metric="nigths"),
    )
    found = only(diags(p), "RL201")
    assert [d.span.line for d in found] == [2, 50]
    assert found[1].hint == "did you mean `nights`?"


def test_rl201_in_tests() -> None:
    p = program(
        rule("base", 3, "purchase", rate()),
        tiers=GOLD_TIERS,
        rewards=(ast.Reward("free_drink", 150, span=at(60)),),
    )
    t = ast.TestCase(
        "t",
        givens=(ast.Given("tier", "Goldd", span=at(101)),),
        events=(
            ast.EventSpec("purchse", dt.datetime(2027, 5, 4), amount=usd("5"), span=at(102)),
            ast.EventSpec("redeem", dt.datetime(2027, 5, 5), name="free_drnk", span=at(103)),
            ast.EventSpec("use_perk", dt.datetime(2027, 5, 6), name="lounge", span=at(104)),
        ),
        expects=(
            ast.Expect("fired", "bse", span=at(105)),
            ast.Expect("tier", "Silver", span=at(106)),
        ),
        span=at(100),
    )
    found = only(diags(p, t), "RL201")
    assert [d.span.line for d in found] == [101, 102, 103, 104, 105, 106]
    assert found[0].hint == "did you mean `Gold`?"
    assert found[1].hint == "did you mean `purchase`?"
    assert found[2].hint == "did you mean `free_drink`?"
    assert found[3].hint == "the program has no perks"
    assert found[4].hint == "did you mean `base`?"


# ---------------------------------------------------------------- RL202


def test_rl202_type_errors() -> None:
    p = program(
        rule("a", 3, condition=cmp("==", ref("category"), lit(D(5)), span=at(3, 30))),
        rule("b", 5, condition=cmp(">", ref("amount"), lit(D(10)), span=at(5, 30))),
        rule("c", 7, condition=cmp("==", ref("tier"), lit("Gold"), span=at(7, 30))),
        rule("d", 9, condition=ast.InList(ref("category"), (lit("a"), lit(D(1), span=at(9, 50))), span=at(9, 30))),
        tiers=GOLD_TIERS,
    )
    found = only(diags(p), "RL202")
    assert [(d.span.line, d.span.column) for d in found] == [(3, 30), (5, 30), (7, 30), (9, 50)]
    assert "text" in found[0].message and "number" in found[0].message
    assert found[1].hint == "write the amount with its currency, e.g. `10 USD`"
    assert found[2].hint == "tier names are written without quotes: `tier == Gold`"


def test_rl202_percent_over_100_and_negative_points() -> None:
    p = program(
        rule("a", 3, "purchase", ast.Discount(percent=D(120), span=at(4, 5))),
        rule("b", 6, "purchase", fixed("-5", span=at(7, 5))),
        rule("c", 9, "purchase", ast.Cashback(D(150), span=at(10, 5))),
        point_value=usd("0.01"),
    )
    found = only(diags(p), "RL202")
    assert [(d.span.line, d.span.column) for d in found] == [(4, 5), (7, 5), (10, 5)]
    assert "120%" in found[0].message
    assert "negative" in found[1].message


def test_rl202_ordering_text_and_non_bool_condition() -> None:
    p = program(
        rule("a", 3, condition=cmp("<", ref("category"), lit("m"), span=at(3, 30))),
        rule("b", 5, condition=ref("category", span=at(5, 30))),
    )
    found = only(diags(p), "RL202")
    assert [d.span.line for d in found] == [3, 5]


# ---------------------------------------------------------------- RL203


def test_rl203_wrong_currency() -> None:
    p = program(
        rule("a", 3, condition=cmp(">=", ref("amount"), lit(usd("100", "EUR", span=at(3, 40))))),
        rule("b", 5, "purchase", ast.Perk("delivery", usd("4.99", "EUR", span=at(6, 30)), span=at(6))),
    )
    found = only(diags(p), "RL203")
    assert [(d.span.line, d.span.column) for d in found] == [(3, 40), (6, 30)]
    assert "EUR" in found[0].message and "USD" in found[0].message


# ---------------------------------------------------------------- RL204


def test_rl204_duplicates() -> None:
    p = program(
        rule("base", 3),
        rule("base", 5),
        tiers=tiers(tier("Green", "0", 51), tier("Green", "100", 52)),
        rewards=(ast.Reward("mug", 10, span=at(60)), ast.Reward("mug", 20, span=at(61))),
        events=(ast.EventDecl("review", span=at(20)), ast.EventDecl("review", span=at(21)), ast.EventDecl("purchase", span=at(22))),
        attributes=(ast.FieldDecl("vip", "bool", span=at(30)), ast.FieldDecl("vip", "string", span=at(31))),
    )
    found = only(diags(p), "RL204")
    assert sorted(d.span.line for d in found) == [5, 21, 22, 31, 52, 61]
    first = next(d for d in found if d.span.line == 5)
    assert "line 3" in first.message


# ---------------------------------------------------------------- RL205


def test_rl205_field_not_on_event() -> None:
    p = program(
        rule("a", 3, "birthday", condition=cmp("==", ref("category", span=at(3, 30)), lit("coffee"))),
        rule("b", 5, "purchase", condition=cmp("==", ref("rating", span=at(5, 30)), lit(D(5)))),
        rule("c", 7, "review", condition=cmp("==", ref("rating"), lit(D(5)))),
        events=(ast.EventDecl("review", (ast.FieldDecl("rating", "number"),), span=at(2)),),
    )
    found = only(diags(p), "RL205")
    assert [(d.span.line, d.span.column) for d in found] == [(3, 30), (5, 30)]
    assert "`review`" in found[1].message


# ---------------------------------------------------------------- RL206


def test_rl206_actions_not_valid_for_event() -> None:
    p = program(
        rule("a", 3, "signup", fixed("100", to="referrer", span=at(4, 5))),
        rule("b", 6, "birthday", ast.Discount(percent=D(10), span=at(7, 5))),
        rule("c", 9, "purchase", ast.Cashback(D(2), span=at(10, 5))),
        rule("d", 12, "birthday", rate(span=at(13, 5))),
    )
    found = only(diags(p), "RL206")
    assert [(d.span.line, d.span.column) for d in found] == [(4, 5), (7, 5), (10, 5), (13, 5)]
    assert found[2].hint == "add `point value 0.01 USD` to the program"


# ---------------------------------------------------------------- RL301


def test_rl301_thresholds() -> None:
    p = program(rule("r", 3), tiers=tiers(tier("Silver", "100", 51), tier("Gold", "1000", 52), tier("Bronze", "500", 53)))
    found = only(diags(p), "RL301")
    # Silver (100) as the base tier above 0: a warning; Bronze 500 after Gold 1000 decreases: an error
    assert [(d.span.line, d.severity) for d in found] == [(51, "warning"), (53, "error")]
    assert "below tier `Gold` (1000)" in found[1].message
    assert "move `Bronze` above `Gold`" in (found[1].hint or "")


def test_rl301_an_equal_threshold_stays_a_warning() -> None:
    p = program(rule("r", 3), tiers=tiers(tier("Base", "0", 51), tier("Gold", "500", 52), tier("Plus", "500", 53)))
    found = only(diags(p), "RL301")
    assert [(d.span.line, d.severity) for d in found] == [(53, "warning")]


# ---------------------------------------------------------------- RL302


def test_rl302_contradiction_and_window() -> None:
    both = ast.BoolOp(
        "and",
        (cmp(">", ref("amount"), lit(usd("10"))), cmp("<", ref("amount"), lit(usd("5")))),
        span=at(3, 30),
    )
    p = program(
        rule("mid", 3, condition=both),
        rule("late", 5, window=ast.DateWindow(dt.date(2027, 3, 31), dt.date(2027, 1, 1), span=at(6, 5))),
        rule("hour", 8, condition=cmp(">", ref("hour"), lit(D(23)), span=at(8, 30))),
        rule(
            "before",
            10,
            condition=cmp("<", ref("date"), lit(dt.date(2027, 1, 1)), span=at(10, 30)),
            window=ast.DateWindow(dt.date(2027, 2, 1), dt.date(2027, 2, 28), span=at(11)),
        ),
        rule("fine", 13, condition=cmp(">", ref("amount"), lit(usd("5")))),
    )
    found = only(diags(p), "RL302")
    assert [(d.span.line, d.span.column, d.severity) for d in found] == [
        (3, 30, "warning"),
        (6, 5, "error"),
        (8, 30, "warning"),
        (10, 30, "warning"),
    ]


def test_rl302_group_shadowed_and_unreachable_tier() -> None:
    p = program(
        rule("any", 3, "purchase", rate(), group="g"),
        rule("coffee", 5, "purchase", rate("2"), group="g", condition=cmp("==", ref("category"), lit("coffee"))),
        rule("vip", 7, "purchase", rate("3"), group="g", priority=5, condition=cmp("==", ref("category"), lit("x"))),
        tiers=tiers(tier("A", "0", 51), tier("B", "100", 52), tier("C", "100", 53)),
    )
    found = only(diags(p), "RL302")
    assert [d.span.line for d in found] == [5, 52]
    assert "`any`" in found[0].message
    assert "`C`" in found[1].message


# ---------------------------------------------------------------- RL303


def test_rl303_double_earn() -> None:
    p = program(
        rule("base", 3, "purchase", rate()),
        rule("coffee", 5, "purchase", rate("2"), condition=cmp("==", ref("category"), lit("coffee"))),
        rule("grouped1", 7, "birthday", fixed("5"), group="bd"),
        rule("grouped2", 9, "birthday", fixed("5"), group="bd", condition=ref("first_purchase")),
        rule("urgent", 11, "purchase", rate("3"), priority=2),
        rule("tea", 13, "purchase", rate("2"), condition=cmp("==", ref("category"), lit("tea"))),
        rule("bonus", 15, "purchase", fixed("100"), condition=cmp(">", ref("amount"), lit(usd("50")))),
    )
    ds = diags(p)
    found = only(ds, "RL303")
    # coffee overlaps base; tea overlaps base (one warning each); urgent has another
    # priority; bonus awards fixed points (stacking, not double earning).
    assert [d.span.line for d in found] == [5, 13]
    assert "`base` and `coffee`" in found[0].message
    assert found[0].severity == "warning"
    assert "group" in (found[0].hint or "")
    # grouped2 is on birthday, where first_purchase is not available.
    assert codes(ds).count("RL205") == 1


def test_rl303_not_when_conditions_exclusive_or_windows_disjoint() -> None:
    p = program(
        rule("coffee", 3, "purchase", rate("2"), condition=cmp("==", ref("category"), lit("coffee"))),
        rule("tea", 5, "purchase", rate("2"), condition=cmp("==", ref("category"), lit("tea"))),
    )
    assert only(diags(p), "RL303") == []
    p = program(
        rule("jan", 7, "purchase", rate(), window=ast.DateWindow(dt.date(2027, 1, 1), dt.date(2027, 1, 31))),
        rule("feb", 9, "purchase", rate(), window=ast.DateWindow(dt.date(2027, 2, 1), dt.date(2027, 2, 28))),
    )
    assert only(diags(p), "RL303") == []


# ---------------------------------------------------------------- RL304 / RL305


def test_rl304_unbounded_liability() -> None:
    p = program(rule("base", 3, "purchase", rate()), expiry=())
    d = one(diags(p), "RL304")
    assert (d.span.line, d.span.column, d.severity) == (1, 1, "warning")
    capped = program(
        rule("base", 3, "purchase", rate(), caps=(ast.Cap(500, "points", "month"),)), expiry=()
    )
    assert only(diags(capped), "RL304") == []


def test_rl305_returns() -> None:
    p = program(
        rule("base", 3, "purchase", rate()),
        rule("sorry", 5, "return", fixed("10", span=at(6, 5))),
        returns=None,
    )
    found = only(diags(p), "RL305")
    assert [(d.span.line, d.span.column) for d in found] == [(1, 1), (6, 5)]
    assert all(d.severity == "warning" for d in found)


# ---------------------------------------------------------------- RL401


def test_rl401_limits() -> None:
    deep: ast.Expr = cmp("==", ref("category"), lit("x"))
    for _ in range(40):
        deep = ast.Not(deep, span=at(3, 30))
    p = program(
        rule("deep", 3, condition=deep),
        rule("nth", 5, every_nth=5000),
        rule("streaky", 7, streak=ast.Streak(2000, "day", span=at(8))),
    )
    found = only(diags(p), "RL401")
    assert [d.span.line for d in found] == [3, 5, 8]
    many = program(*(rule(f"r{i}", 3 + i, "birthday") for i in range(1001)))
    assert "RL401" in codes(diags(many))


# ---------------------------------------------------------------- all at once


def test_every_problem_in_one_file_is_reported() -> None:
    p = program(
        rule("a", 3, "purchse"),
        rule("b", 5, condition=cmp("==", ref("tier"), lit("Gold"))),
        rule("b", 7, "purchase", ast.Perk("x", usd("1", "EUR"), span=at(8))),
        rule("c", 9, "birthday", ast.Discount(percent=D(10), span=at(10))),
        tiers=GOLD_TIERS,
    )
    ds = diags(p)
    assert sorted(set(codes(ds)) & {"RL201", "RL202", "RL203", "RL204", "RL206"}) == [
        "RL201", "RL202", "RL203", "RL204", "RL206",
    ]
    assert ds == sorted(ds, key=lambda d: (d.span.line, d.span.column, d.code))


def test_tests_only_file_and_no_spans_do_not_crash() -> None:
    t = ast.TestCase("x", expects=(ast.Expect("fired", "whatever"),))
    assert diags(None, t) == []
    bare = ast.Program("Bare", rules=(ast.EarnRule("r", "purchase", actions=(ast.Award(D(1), per=ast.Money(D(1), "EUR")),)),))
    ds = check(ast.SourceFile(FILE, bare))
    d = one(ds, "RL203")
    assert (d.span.file, d.span.line) == (FILE, 1)


def test_odd_values_become_diagnostics_not_tracebacks() -> None:
    p = program(rule("r", 3, condition=cmp("==", ref("category"), lit(object()))))
    ds = diags(p)
    assert codes(ds) == ["RL202"]


# ---------------------------------------------------------------- from text


TEXT = """\
program "Shop" {
  points "stars"
  currency USD
  earn base on purchase when categry == "coffee" {
    award 1 star per 1 USD
  }
  earn bday on birthday when amount > 10 USD {
    award 5 stars
  }
}
"""


def test_from_text_positions() -> None:
    parser = pytest.importorskip("rulelang.syntax.parser")
    sf, syntax = parser.parse_text(TEXT, "shop.loyalty")
    assert syntax == [] and sf is not None
    ds = check(sf)
    unknown = one(ds, "RL201")
    assert (unknown.span.line, unknown.span.column) == (4, 30)
    missing = one(ds, "RL205")
    assert (missing.span.line, missing.span.column) == (7, 30)


def test_mutated_programs_never_crash_the_checker() -> None:
    parser = pytest.importorskip("rulelang.syntax.parser")
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    from rulelang.check.compiler import compile_source

    source = """\
program "Fuzz" {
  points "stars"
  currency USD
  attribute vip: bool
  event review { rating: number }
  earn base on purchase when category == "coffee" and customer.vip { award 1 star per 1 USD }
  earn five on review when rating >= 5 { award 10 stars }
  tiers by points over rolling 12 months { tier Green from 0; tier Gold from 500 { multiply 1.2x } }
  expire stars 6 months after earning
}
"""
    words = ["purchase", "birthday", "tier", "Gold", "amount", "10 USD", "5 EUR", '"x"', "sat", "-1",
             "150%", "to referrer", "and", "not", "==", "<", "[1, \"a\"]", "rating", "2027-01-01", ""]
    tokens = source.split(" ")

    @hypothesis.settings(max_examples=60, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(st.tuples(st.integers(0, len(tokens) - 1), st.sampled_from(words)), min_size=1, max_size=3))
    def run(edits: list[tuple[int, str]]) -> None:
        mutated = list(tokens)
        for index, word in edits:
            mutated[index] = word
        sf, _ = parser.parse_text(" ".join(mutated), "fuzz.loyalty")
        if sf is None:
            return
        program, ds = compile_source(sf)
        assert "RL999" not in codes(ds)
        assert (program is None) == any(d.is_error for d in ds)

    run()


def _error_pages() -> list[str]:
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "docs" / "errors"
    return sorted(str(p) for p in root.glob("RL[234]*.md"))


@pytest.mark.parametrize("page", _error_pages(), ids=lambda p: p.rsplit("/", 1)[-1])
def test_each_error_page_example_triggers_its_code(page: str) -> None:
    """The first ```loyalty example of docs/errors/RLxxx.md produces RLxxx (fragments
    are wrapped in a small program)."""
    import re

    parser = pytest.importorskip("rulelang.syntax.parser")
    code = page.rsplit("/", 1)[-1][:-3]
    with open(page, encoding="utf-8") as fh:
        page_text = fh.read()
    index = open(page.rsplit("/", 1)[0] + "/README.md", encoding="utf-8").read()
    if re.search(rf"^\| {code} \| \w+ \| simulating \|", index, re.M):
        # a code of `loyalty simulate` (the population against the program): no `check` gives it;
        # tests/test_line_attributes.py triggers RL258 and RL259
        return
    blocks = re.findall(r"```loyalty\n(.*?)```", page_text, re.S)
    if not blocks:  # a code of the YAML form only: its first ```yaml example is a rule file
        from rulelang.syntax.yaml_loader import load_yaml

        yaml_blocks = re.findall(r"```yaml\n(.*?)```", page_text, re.S)
        assert yaml_blocks, f"{code}: no example"
        sf, found = load_yaml(yaml_blocks[0], f"{code}.yaml")
        assert code in codes(found if sf is None else check(sf))
        return
    source = blocks[0]
    if 'program "' not in source:
        source = 'program "Doc" {\n  points "stars"\n  currency USD\n' + source + "}\n"
    sf, syntax = parser.parse_text(source, f"{code}.loyalty")
    if code in codes(syntax):  # a limit the reader enforces (RL420): no AST is built
        assert sf is None
        return
    assert sf is not None, syntax
    found = codes(check(sf))
    if code not in found and sf.tests:  # a code the run of a test reports (RL264): run the example's tests
        from rulelang.check.compiler import compile_source
        from rulelang.tools.testing import run_tests

        program, _ = compile_source(sf)
        assert program is not None
        found = [d.code for o in run_tests(sf, program) for d in o.diagnostics]
    assert code in found
