"""The compiler: exact units worked out by hand from docs/semantics.md, evaluation order,
defaults, hashing; ASTs built by hand (and from text when the parser is available)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal as D
from fractions import Fraction

import pytest

from rulelang.syntax import ast
from rulelang import ir
from rulelang.check.compiler import compile_program, compile_source, program_hash
from rulelang.diagnostics import Span


def usd(amount: str, currency: str = "USD") -> ast.Money:
    return ast.Money(D(amount), currency)


def ref(*path: str) -> ast.Ref:
    return ast.Ref(tuple(path))


def lit(value: object) -> ast.Literal:
    return ast.Literal(value)  # type: ignore[arg-type]


def prog(*rules: ast.EarnRule, **kw: object) -> ast.Program:
    return ast.Program("P", points_unit="stars", rules=rules, **kw)  # type: ignore[arg-type]


def one_rule(*actions: ast.Action, event: str = "purchase", **kw: object) -> ir.Rule:
    p = compile_program(prog(ast.EarnRule("r", event, actions=actions, **kw)))  # type: ignore[arg-type]
    return p.rules[0]


# ---------------------------------------------------------------- actions and units


def test_award_per_usd_is_a_fraction_of_points_per_cent() -> None:
    # 1 star per 1 USD = 1 star per 100 cents = 1/100 star per cent.
    r = one_rule(ast.Award(D(1), per=usd("1"), excluding=("gift_card",), unit="star"))
    assert r.actions == (ir.RateAward(Fraction(1, 100), "net", frozenset({"gift_card"})),)
    # 5 miles per 2.50 USD = 5 / 250 = 1/50 mile per cent.
    r = one_rule(ast.Award(D(5), per=usd("2.50"), base="gross"))
    assert r.actions == (ir.RateAward(Fraction(1, 50), "gross"),)


def test_cashback_uses_point_value() -> None:
    # 2% of net with points worth 0.01 USD = 1 cent: 0.02 / 1 = 1/50 point per cent.
    p = compile_program(prog(ast.EarnRule("cb", "purchase", actions=(ast.Cashback(D(2)),)), point_value=usd("0.01")))
    assert p.rules[0].actions == (ir.RateAward(Fraction(1, 50), "net"),)
    assert p.point_value_cents == Fraction(1)
    # 5% with points worth 0.05 USD = 5 cents: 0.05 / 5 = 1/100 point per cent.
    p = compile_program(prog(ast.EarnRule("cb", "purchase", actions=(ast.Cashback(D(5)),)), point_value=usd("0.05")))
    assert p.rules[0].actions[0] == ir.RateAward(Fraction(1, 100), "net")


def test_multiplier_discount_perk_fixed() -> None:
    r = one_rule(
        ast.Multiply(D("1.2")),
        ast.Discount(percent=D(10), excluding=("sale",)),
        ast.Discount(amount=usd("5")),
        ast.Perk("free_delivery", usd("4.99")),
        ast.Award(D(50)),
    )
    assert r.actions == (
        ir.Multiplier(Fraction(6, 5)),
        ir.DiscountAction(Fraction(10), None, "net", frozenset({"sale"})),
        ir.DiscountAction(None, 500, "net"),
        ir.PerkAction("free_delivery", 499),
        ir.FixedAward(50, "customer"),
    )


def test_referral_sides() -> None:
    r = one_rule(ast.Award(D(100), to="referrer"), ast.Award(D(50), to="referee"), event="referral")
    assert r.actions == (ir.FixedAward(100, "referrer"), ir.FixedAward(50, "referee"))


def test_rule_modifiers() -> None:
    r = one_rule(
        ast.Award(D(1), per=usd("1")),
        rounding="nearest",
        priority=3,
        group="g",
        window=ast.DateWindow(dt.date(2027, 1, 1), dt.date(2027, 3, 31)),
        caps=(ast.Cap(200, "points", "month"), ast.Cap(1, "times", "day")),
        budget=ast.Budget(money=usd("5000")),
        every_nth=10,
        streak=ast.Streak(4, "week"),
    )
    assert (r.rounding, r.priority, r.group) == ("nearest", 3, "g")
    assert (r.start, r.end) == (dt.date(2027, 1, 1), dt.date(2027, 3, 31))
    assert r.caps == (ir.Cap(200, "points", "month"), ir.Cap(1, "times", "day"))
    assert r.budget == ir.Budget(None, 500_000)
    assert (r.every_nth, r.streak) == (10, ir.Streak(4, "week"))


# ---------------------------------------------------------------- conditions


def test_conditions_become_typed_ir() -> None:
    cond = ast.BoolOp(
        "and",
        (
            ast.InList(ref("weekday"), (ref("sat"), ref("sun"))),
            ast.Compare("==", ref("category"), lit("coffee")),
            ast.Compare(">", ref("amount"), lit(usd("10.50"))),
            ast.Compare(">=", ref("tier"), ref("Gold")),
            ast.Not(ref("customer", "vip")),
            ast.Compare("<=", ref("hour"), lit(D("9.5"))),
            ast.Compare("<", ref("date"), lit(dt.date(2027, 6, 1))),
        ),
    )
    tiers = ast.TierSystem(
        "points", ast.TierWindow("lifetime"), (ast.Tier("Green", D(0)), ast.Tier("Gold", D(500)))
    )
    p = compile_program(
        prog(
            ast.EarnRule("r", "purchase", condition=cond, actions=(ast.Award(D(1)),)),
            tiers=tiers,
            attributes=(ast.FieldDecl("vip", "bool"),),
        )
    )
    assert p.rules[0].condition == ir.And(
        (
            ir.InSet(ir.Field("weekday", "weekday"), frozenset({5, 6})),
            ir.Cmp("==", ir.Field("category", "string"), ir.Const("coffee", "string")),
            ir.Cmp(">", ir.Field("amount", "money"), ir.Const(1050, "money")),
            ir.Cmp(">=", ir.Field("tier", "tier"), ir.Const(1, "tier")),
            ir.Not(ir.Field("customer.vip", "bool")),
            ir.Cmp("<=", ir.Field("hour", "number"), ir.Const(Fraction(19, 2), "number")),
            ir.Cmp("<", ir.Field("date", "date"), ir.Const(dt.date(2027, 6, 1), "date")),
        )
    )


def test_custom_event_fields_and_counters() -> None:
    review = ast.EventDecl("review", (ast.FieldDecl("rating", "number"), ast.FieldDecl("verified", "bool")))
    rule = ast.EarnRule(
        "five_stars",
        "review",
        condition=ast.BoolOp(
            "or", (ast.Compare("==", ref("rating"), lit(D(5))), ref("event", "verified"))
        ),
        actions=(ast.Award(D(10)),),
    )
    counters = (
        ast.CounterDecl("nights", "purchase", sums="items", condition=ast.Compare("==", ref("category"), lit("room"))),
        ast.CounterDecl("reviews", "review"),
        ast.CounterDecl("stars_given", "review", sums="rating"),
    )
    p = compile_program(prog(rule, events=(review,), counters=counters))
    assert p.events == (ir.EventType("review", (("rating", "number"), ("verified", "bool"))),)
    assert p.rules[0].condition == ir.Or(
        (
            ir.Cmp("==", ir.Field("event.rating", "number"), ir.Const(Fraction(5), "number")),
            ir.Field("event.verified", "bool"),
        )
    )
    assert p.counters == (
        ir.Counter(
            "nights", "purchase", "items",
            ir.Cmp("==", ir.Field("category", "string"), ir.Const("room", "string")),
        ),
        ir.Counter("reviews", "review", None, None),
        ir.Counter("stars_given", "review", "event.rating", None),
    )


# ---------------------------------------------------------------- order and defaults


def test_rules_in_evaluation_order_with_source_order_and_line() -> None:
    rules = (
        ast.EarnRule("a", "purchase", actions=(ast.Award(D(1)),), span=Span("f", 3, 3, 3, 10)),
        ast.EarnRule("b", "purchase", actions=(ast.Award(D(1)),), priority=5, span=Span("f", 6, 3, 6, 10)),
        ast.EarnRule("c", "purchase", actions=(ast.Award(D(1)),), span=Span("f", 9, 3, 9, 10)),
        ast.EarnRule("d", "purchase", actions=(ast.Award(D(1)),), priority=5, span=Span("f", 12, 3, 12, 10)),
    )
    p = compile_program(prog(*rules, rounding="up"))
    assert [(r.name, r.order, r.line) for r in p.rules] == [("b", 1, 6), ("d", 3, 12), ("a", 0, 3), ("c", 2, 9)]
    assert {r.rounding for r in p.rules} == {"up"}


def test_program_defaults() -> None:
    p = compile_program(prog())
    assert p.point_cost_cents == 0
    assert p.point_value_cents is None
    assert (p.stacking, p.rounding, p.pending_days) == ("multiply", "down", 0)
    assert p.returns == ir.ReturnPolicy(reverse=False, negative_balance=False)
    assert (p.tiers, p.pay_with_points, p.conversion) == (None, None, None)


def test_header_lifecycle_and_redemption() -> None:
    p = compile_program(
        prog(
            point_cost=usd("0.004"),
            stacking="add",
            pending_days=14,
            expiry=(
                ast.Expiry("after_earning", months=6, end_of_month=True),
                ast.Expiry("yearly", month_day=(12, 31)),
            ),
            returns=ast.ReturnPolicy(True, "allowed"),
            rewards=(
                ast.Reward("free_drink", 150, worth=usd("5"), cost=usd("1.50")),
                ast.Reward("pastry", 150),
                ast.Reward("odd", 3),
            ),
            pay_with_points=ast.PayWithPoints(100, usd("1"), minimum_balance=500, max_share=D(50)),
            conversion=ast.Conversion(500, usd("5"), "quarter"),
        )
    )
    # 0.004 USD = 0.4 cents = 2/5 cent.
    assert p.point_cost_cents == Fraction(2, 5)
    assert (p.stacking, p.pending_days) == ("add", 14)
    assert p.expiry == (ir.Expiry("after_earning", 6, True), ir.Expiry("yearly", month_day=(12, 31)))
    assert p.returns == ir.ReturnPolicy(reverse=True, negative_balance=True)
    # pastry: 150 x 2/5 = 60 cents; odd: 3 x 2/5 = 1.2 cents -> nearest 1 cent.
    assert p.rewards == (
        ir.Reward("free_drink", 150, 500, 150),
        ir.Reward("pastry", 150, None, 60),
        ir.Reward("odd", 3, None, 1),
    )
    assert p.pay_with_points == ir.PayWithPoints(100, 100, 500, Fraction(50))
    assert p.conversion == ir.Conversion(500, 500, "quarter")


def test_tiers_thresholds_in_metric_units_and_sorted() -> None:
    spend = ast.TierSystem(
        "spend",
        ast.TierWindow("rolling", 12),
        (
            ast.Tier("Base", D(0)),
            ast.Tier("Gold", D(30000), threshold_money=usd("30000", "RUB"), discount=D(5)),
            ast.Tier("Silver", D(10000), threshold_money=usd("10000", "RUB"), discount=D(3)),
            ast.Tier(
                "Vip",
                D(100000),
                multiplier=D("1.5"),
                expiry=(ast.Expiry("never"),),
                perks=(ast.TierPerk("lounge", usd("5", "RUB"), "month"),),
            ),
        ),
        review="yearly",
        downgrade="one_step",
        grace_months=3,
        validity_months=12,
    )
    cond = ast.Compare("==", ref("tier"), ref("Gold"))
    p = compile_program(
        prog(ast.EarnRule("r", "purchase", condition=cond, actions=(ast.Award(D(1)),)), currency="RUB", tiers=spend)
    )
    ts = p.tiers
    assert ts is not None
    # 10000 RUB -> 1_000_000 cents; a threshold written without currency is in RUB too.
    assert [(t.name, t.threshold) for t in ts.tiers] == [
        ("Base", 0), ("Silver", 1_000_000), ("Gold", 3_000_000), ("Vip", 10_000_000),
    ]
    assert ts.tiers[1].discount_percent == Fraction(3)
    assert ts.tiers[3].multiplier == Fraction(3, 2)
    assert ts.tiers[3].expiry == (ir.Expiry("never"),)
    assert ts.tiers[0].expiry is None
    assert ts.tiers[3].perks == (ir.TierPerk("lounge", 500, "month"),)
    assert (ts.metric, ts.window, ts.window_months) == ("spend", "rolling", 12)
    assert (ts.review, ts.downgrade, ts.grace_months, ts.validity_months) == ("yearly", "one_step", 3, 12)
    # `tier == Gold` refers to Gold's index after sorting by threshold.
    assert p.rules[0].condition == ir.Cmp("==", ir.Field("tier", "tier"), ir.Const(2, "tier"))


def test_points_tiers_keep_their_unit() -> None:
    ts = ast.TierSystem("points", ast.TierWindow("calendar_year"), (ast.Tier("G", D(0)), ast.Tier("R", D("2500"))))
    p = compile_program(prog(tiers=ts))
    assert p.tiers is not None and [t.threshold for t in p.tiers.tiers] == [0, 2500]


# ---------------------------------------------------------------- compile_source, equality, hashing


def test_compile_source_returns_none_on_errors_and_never_raises() -> None:
    bad = prog(ast.EarnRule("r", "purchse", actions=(ast.Award(D(1)),)))
    program, diags = compile_source(ast.SourceFile("f", bad))
    assert program is None
    assert [d.code for d in diags if d.is_error] == ["RL201"]
    program, diags = compile_source(ast.SourceFile("f", None))
    assert program is None and diags == []


def test_compile_source_ok_with_warnings() -> None:
    good = prog(ast.EarnRule("r", "purchase", actions=(ast.Award(D(1), per=usd("1")),)))
    program, diags = compile_source(ast.SourceFile("f", good))
    assert program is not None
    assert {d.code for d in diags} == {"RL304", "RL305"}


def _sample() -> ir.Program:
    rules = (
        ast.EarnRule(
            "base", "purchase",
            condition=ast.InList(ref("category"), (lit("a"), lit("b"), lit("c"), lit("d"))),
            actions=(ast.Award(D(1), per=usd("1"), excluding=("x", "y", "z", "gift")),),
        ),
    )
    return compile_program(prog(*rules))


def test_ir_is_hashable_and_equal_for_equal_asts() -> None:
    a, b = _sample(), _sample()
    assert a == b and hash(a) == hash(b)
    assert program_hash(a) == program_hash(b)
    assert len(program_hash(a)) == 64
    other = compile_program(prog(ast.EarnRule("base", "purchase", actions=(ast.Award(D(2), per=usd("1")),))))
    assert program_hash(other) != program_hash(a)


def test_program_hash_does_not_depend_on_hash_seed() -> None:
    code = (
        "import sys; sys.path.insert(0, '.');"
        "from tests.test_compiler import _sample;"
        "from rulelang.check.compiler import program_hash; print(program_hash(_sample()))"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    hashes = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
        hashes.add(out.stdout.strip())
    assert hashes == {program_hash(_sample())}


# ---------------------------------------------------------------- from text


def test_text_program_compiles() -> None:
    parser = pytest.importorskip("rulelang.syntax.parser")
    text = """\
program "Bean Club" {
  points "stars"
  currency USD
  point cost 0.004 USD
  earn base on purchase {
    award 1 star per 1 USD of net amount excluding category "gift_card"
  }
  earn weekend_coffee on purchase when weekday in [sat, sun] and category == "coffee" {
    multiply 2x
    during 2027-01-01 .. 2027-03-31
    cap 200 stars per customer per month
  }
  expire stars 6 months after earning at end of month
  returns reverse earned stars; negative balance forbidden
}
"""
    sf, syntax = parser.parse_text(text, "coffee.loyalty")
    assert syntax == [] and sf is not None
    program, diags = compile_source(sf)
    assert [d for d in diags if d.is_error] == []
    assert program is not None
    base, weekend = program.rules
    assert base.actions == (ir.RateAward(Fraction(1, 100), "net", frozenset({"gift_card"})),)
    assert base.line == 5 and weekend.line == 8
    assert weekend.condition == ir.And(
        (
            ir.InSet(ir.Field("weekday", "weekday"), frozenset({5, 6})),
            ir.Cmp("==", ir.Field("category", "string"), ir.Const("coffee", "string")),
        )
    )
    assert weekend.caps == (ir.Cap(200, "points", "month"),)


def test_source_line_is_not_part_of_equality_or_hash() -> None:
    def build(line: int) -> ir.Program:
        r = ast.EarnRule("r", "purchase", actions=(ast.Award(D(1)),), span=Span("f", line, 3, line, 9))
        return compile_program(prog(r))

    a, b = build(4), build(40)
    assert (a.rules[0].line, b.rules[0].line) == (4, 40)
    assert a == b and program_hash(a) == program_hash(b)


def test_text_and_yaml_twins_compile_to_equal_ir() -> None:
    parser = pytest.importorskip("rulelang.syntax.parser")
    yaml_writer = pytest.importorskip("rulelang.syntax.yaml_writer")
    yaml_loader = pytest.importorskip("rulelang.syntax.yaml_loader")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "rules", "coffee.loyalty")
    if not os.path.exists(path):
        pytest.skip("no example program")
    with open(path, encoding="utf-8") as fh:
        sf, _ = parser.parse_text(fh.read(), path)
    assert sf is not None
    twin, _ = yaml_loader.load_yaml(yaml_writer.to_yaml(sf), "coffee.yaml")
    assert twin is not None
    a, _ = compile_source(sf)
    b, _ = compile_source(twin)
    assert a is not None and a == b and program_hash(a) == program_hash(b)
