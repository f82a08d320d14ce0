"""Returns undo what the purchase moved (docs/semantics.md §5, §6): the refunded discount share,
`returns lower tier metric and counters`, `returns lower tier at once | keep tier until review`,
`tiers by spend before | after discounts`, from the text and YAML forms through the checker,
tests, events files and `explain`. Every figure is worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rulelang import Event, ir, run
from rulelang.check.compiler import compile_source
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.cli import main
from rulelang.tools.explain import explain, load_events

ROOT = Path(__file__).resolve().parent.parent


def card(tiers_extra: str = "", program_extra: str = "  returns lower tier metric and counters\n",
         basis: str = "", window: str = "lifetime", tests: str = "") -> str:
    """A cumulative discount card in USD: Silver 3% from 100 USD, Gold 5% from 300 USD; a
    counter of visits and one of items; 1 point per USD."""
    return (
        'program "Card" {\n  currency USD\n'
        "  counter visits on purchase\n  counter things sums items on purchase\n"
        "  earn pts on purchase {\n    award 1 point per 1 USD\n  }\n"
        "  earn silver_card on purchase when tier == Silver {\n    discount 3%\n  }\n"
        "  earn gold_card on purchase when tier == Gold {\n    discount 5%\n  }\n"
        f"  tiers by spend{basis} over {window} {{\n    tier Basic from 0\n    tier Silver from 100 USD\n"
        f"    tier Gold from 300 USD\n{tiers_extra}  }}\n"
        "  expire points 12 months after earning\n  returns reverse earned points\n  negative balance forbidden\n"
        f"{program_extra}}}\n{tests}"
    )


def compiled(text: str, name: str = "card.loyalty") -> ir.Program:
    sf, diags = parse_text(text, name)
    assert sf is not None, [d.message for d in diags]
    prog, diags = compile_source(sf)
    assert prog is not None, [d.message for d in diags if d.is_error]
    return prog


def codes(text: str, name: str = "card.loyalty") -> list[str]:
    sf, diags = parse_text(text, name)
    if sf is None:
        return [d.code for d in diags]
    _, diags = compile_source(sf)
    return [d.code for d in diags if d.is_error]


def noon(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12, 0))


def buy(day: str, usd: int, id: str | None = None, items: int | None = None) -> Event:
    fields = {"items": items} if items is not None else {}
    return Event("purchase", noon(day), amount_cents=usd * 100, id=id, fields=fields)


def give_back(day: str, order: str, usd: int | None = None) -> Event:
    return Event("return", noon(day), amount_cents=None if usd is None else usd * 100, name=order)


# ---------------------------------------------------------------- the refunded discount share


def test_the_discount_share_of_a_partial_return_is_refunded_without_any_returns_statement() -> None:
    prog = compiled(card(program_extra=""))
    # 150 USD -> Silver. 200 USD at 3%: 6.00 discount. A quarter (50 of 200) comes back:
    # 600 x 50 / 200 = 150 cents refunded; the discount that stays given is 4.50 USD.
    res = run(prog, [buy("2027-03-01", 150), buy("2027-03-02", 200, "B"), give_back("2027-03-03", "B", 50)])
    assert res.discount_cents == 600
    assert res.discount_refunded_cents == 150
    assert res.net_discount_cents == 450
    assert res.total_cost_cents == 450  # no rewards, perks or vouchers
    # without `returns lower ...` spend stays 150 + 194 = 344 USD: Gold
    assert res.tier == "Gold"


def test_two_partial_returns_refund_with_the_floor_rule_and_never_more_than_given() -> None:
    prog = compiled(card())
    # 150 USD -> Silver; 333 USD at 3% = 9.99 USD. Returns of 111 USD twice and then the rest:
    # floor(999 x 111 / 333) = 333 each; the last return (the rest, no amount) takes 999 - 666 = 333.
    res = run(prog, [buy("2027-03-01", 150), buy("2027-03-02", 333, "B"), give_back("2027-03-03", "B", 111),
                     give_back("2027-03-04", "B", 111), give_back("2027-03-05", "B")])
    assert res.discount_refunded_cents == 999
    assert res.net_discount_cents == 0


# ---------------------------------------------------------------- the metric, counters, purchase count


def test_a_full_return_takes_back_the_spend_and_the_tier_keeps_until_review_by_default() -> None:
    prog = compiled(card())
    # 350 USD -> Gold (spend 350). Full return: spend 0. Default: Gold kept (no review).
    # Next 100 USD get Gold's 5% = 5.00; spend 0 + 95 = 95 USD.
    res = run(prog, [buy("2027-03-01", 350, "A"), give_back("2027-03-02", "A"), buy("2027-03-03", 100)])
    assert res.tier == "Gold"
    assert res.discount_cents == 500
    # points: 350 earned, all reversed; 95 on the last purchase (net base after the discount)
    assert (res.earned, res.reversed, res.outstanding) == (350 + 95, 350, 95)


def test_lower_tier_at_once_gives_the_next_purchase_the_step_the_metric_now_earns() -> None:
    prog = compiled(card("    returns lower tier at once\n"))
    # 350 USD -> Gold. Return 200 of 350: spend 350 - floor(35000 x 200/350) = 350 - 200 = 150 USD
    # -> Silver at once. Next 100 USD at Silver's 3% = 3.00 USD; spend 150 + 97 = 247: still Silver.
    res = run(prog, [buy("2027-03-01", 350, "A"), give_back("2027-03-02", "A", 200), buy("2027-03-03", 100)])
    assert res.tier == "Silver"
    assert res.discount_cents == 300
    assert [(h.date.isoformat(), h.to_tier) for h in res.tier_history] == [
        ("2027-03-01", "Gold"), ("2027-03-02", "Silver")]
    assert "silver_card" in res.fired and "gold_card" not in res.fired


def test_keep_tier_until_review_lets_the_monthly_review_decide_on_the_lowered_metric() -> None:
    prog = compiled(card("    review monthly\n    downgrade to qualified\n    returns keep tier until review\n"))
    # 350 USD on 03-01 -> Gold; return 300 on 03-10: spend 50. Gold kept in March; the review
    # on 04-01 reads 50 USD -> Basic (to qualified).
    res = run(prog, [buy("2027-03-01", 350, "A"), give_back("2027-03-10", "A", 300)], until=dt.date(2027, 4, 1))
    assert [(h.date.isoformat(), h.to_tier) for h in res.tier_history] == [
        ("2027-03-01", "Gold"), ("2027-04-01", "Basic")]


def test_without_lower_the_review_still_sees_the_returned_spend() -> None:
    prog = compiled(card("    review monthly\n    downgrade to qualified\n", program_extra=""))
    # the same purchase and return, but returns do not lower spend: 350 USD stays, Gold stays
    res = run(prog, [buy("2027-03-01", 350, "A"), give_back("2027-03-10", "A", 300)], until=dt.date(2027, 4, 1))
    assert res.tier == "Gold"


def test_spend_before_discounts_counts_the_basket_and_the_return_takes_back_its_share() -> None:
    prog = compiled(card("    returns lower tier at once\n", basis=" before discounts"))
    # 150 USD -> Silver. 150 USD at 3% = 4.50 discount; spend before discounts 150 + 150 = 300 -> Gold
    # (after discounts it would be 295.50: Silver). Return 10 of 150: spend 300 - 10 = 290 -> Silver.
    res = run(prog, [buy("2027-03-01", 150), buy("2027-03-02", 150, "B")])
    assert res.tier == "Gold"
    res = run(prog, [buy("2027-03-01", 150), buy("2027-03-02", 150, "B"), give_back("2027-03-03", "B", 10)])
    assert res.tier == "Silver"
    after = compiled(card("    returns lower tier at once\n", basis=" after discounts"))
    assert run(after, [buy("2027-03-01", 150), buy("2027-03-02", 150, "B")]).tier == "Silver"


def test_a_return_after_the_calendar_year_ended_lowers_nothing_of_the_new_year() -> None:
    prog = compiled(card("    returns lower tier at once\n", window="calendar year"))
    # 2027-12-20: 320 USD -> Gold; 2028-01-01 the window restarts at 0 (Gold kept: no review).
    # 2028-01-02: 150 USD at Gold's 5% -> spend 142.50 (2028). The return of the 2027 order on
    # 2028-01-05 lowers its December bucket, outside the 2028 window: the metric of the window
    # does not fall, so the tier stays Gold (a review would decide).
    res = run(prog, [buy("2027-12-20", 320, "A"), buy("2028-01-02", 150), give_back("2028-01-05", "A")])
    assert res.tier == "Gold"
    # returning the 2028 order instead takes its 142.50 back: 0 -> Basic
    res = run(prog, [buy("2027-12-20", 320, "A"), buy("2028-01-02", 150, "B"), give_back("2028-01-05", "B")])
    assert res.tier == "Basic"


def test_counters_and_the_purchase_count_fall_by_the_returned_share() -> None:
    text = ('program "Visits" {\n  currency USD\n  counter visits on purchase\n'
            "  counter things sums items on purchase\n"
            "  earn fifth on purchase when purchases >= 2 {\n    award 10 points\n  }\n"
            "  tiers by things over lifetime {\n    tier Basic from 0\n    tier Gold from 5\n"
            "    returns lower tier at once\n  }\n"
            "  returns reverse earned points\n  negative balance forbidden\n"
            "  returns lower tier metric and counters\n}\n")
    prog = compiled(text)
    # A: 4 items, B: 3 items -> things 7 (Gold), purchases 2. B half returned: things
    # 7 - floor(3 x 1/2) = 6 (Gold), purchases stay 2 (a partial return is still a purchase).
    # A returned whole: things 2 -> Basic, purchases 1. The next purchase reads purchases = 1 < 2:
    # `fifth` does not fire; the one before (third purchase) would have.
    res = run(prog, [buy("2027-03-01", 40, "A", items=4), buy("2027-03-02", 30, "B", items=3),
                     give_back("2027-03-03", "B", 15), give_back("2027-03-04", "A"),
                     buy("2027-03-05", 10, items=1)])
    assert res.tier == "Basic"
    assert "fifth" not in res.fired
    # the same without the full return: purchases 2 -> `fifth` fires on the third purchase (10 points)
    res = run(prog, [buy("2027-03-01", 40, "A", items=4), buy("2027-03-02", 30, "B", items=3),
                     give_back("2027-03-03", "B", 15), buy("2027-03-05", 10, items=1)])
    assert res.tier == "Gold" and res.earned == 10


def test_a_points_metric_falls_by_the_returned_share_of_the_points_the_purchase_earned() -> None:
    text = ('program "P" {\n  currency USD\n  earn pts on purchase {\n    award 2 points per 1 USD\n  }\n'
            "  tiers by points over lifetime {\n    tier Basic from 0\n    tier Gold from 300\n"
            "    returns lower tier at once\n  }\n  expire points 12 months after earning\n"
            "  returns reverse earned points\n  negative balance forbidden\n"
            "  returns lower tier metric and counters\n}\n")
    prog = compiled(text)
    # 160 USD -> 320 points -> Gold. Return 20 of 160: points metric 320 - floor(320 x 20/160) = 280
    # < 300 -> Basic at once; 40 points reversed.
    res = run(prog, [buy("2027-03-01", 160, "A"), give_back("2027-03-02", "A", 20)])
    assert (res.tier, res.reversed, res.outstanding) == ("Basic", 40, 280)


# ---------------------------------------------------------------- forms, fmt, convert, tests


def test_text_and_yaml_give_the_same_ir_and_fmt_is_stable() -> None:
    text = card("    returns lower tier at once\n", basis=" before discounts")
    sf, _ = parse_text(text, "card.loyalty")
    prog = compiled(text)
    assert prog.tiers is not None and prog.tiers.spend_before_discounts
    assert prog.tiers.on_return == "lower_at_once" and prog.returns.lower_metrics and prog.returns.reverse
    formatted = format_source(sf)
    assert "tiers by spend before discounts over lifetime {" in formatted
    assert "    returns lower tier at once\n" in formatted
    assert "  returns lower tier metric and counters\n" in formatted
    assert format_source(parse_text(formatted, "card.loyalty")[0]) == formatted
    yaml_text = to_yaml(sf)
    assert "spend: before_discounts" in yaml_text and "on_return: lower_at_once" in yaml_text
    assert "lower_metrics: true" in yaml_text
    ysf, diags = load_yaml(yaml_text, "card.yaml")
    assert ysf is not None, [d.message for d in diags]
    yprog, _ = compile_source(ysf)
    assert yprog == prog


def test_lower_without_reverse_round_trips() -> None:
    text = card(program_extra="").replace(
        "  returns reverse earned points\n  negative balance forbidden\n", "  returns lower tier metric and counters\n")
    prog = compiled(text)
    assert prog.returns == ir.ReturnPolicy(reverse=False, negative_balance=False, lower_metrics=True)
    sf, _ = parse_text(text, "card.loyalty")
    ysf, _ = load_yaml(to_yaml(sf), "card.yaml")
    assert compile_source(ysf)[0] == prog
    assert "negative balance" not in format_source(sf)


def test_policies_that_cannot_apply_are_errors_in_both_forms() -> None:
    # before discounts on tiers by visits; lower at once without returns that lower the metric
    bad_basis = card(basis=" before discounts").replace("tiers by spend before discounts", "tiers by visits before discounts")
    assert "RL242" in codes(bad_basis)
    no_lower = card("    returns lower tier at once\n", program_extra="")
    assert codes(no_lower) == ["RL242"]
    sf, _ = parse_text(no_lower, "card.loyalty")
    ysf, _ = load_yaml(to_yaml(sf), "card.yaml")
    _, diags = compile_source(ysf)
    assert [d.code for d in diags if d.is_error] == ["RL242"]
    wrong = to_yaml(parse_text(card("    returns lower tier at once\n"), "card.loyalty")[0]).replace(
        "on_return: lower_at_once", "on_return: lower_later")
    ysf, diags = load_yaml(wrong, "card.yaml")
    located = [d for d in diags if d.is_error]
    assert located and located[0].span.line > 1 and "lower_at_once" in (located[0].hint or "")


TEST_TOO_MUCH = '''
test "too much" {
  when purchase 100 USD id "A" on 2027-03-01
  when return of "A" amount 60 USD on 2027-03-02
  when return of "A" amount 50 USD on 2027-03-03
}
'''


def test_returns_larger_than_the_purchase_in_a_test_are_located_in_both_forms() -> None:
    text = card(tests=TEST_TOO_MUCH)
    sf, _ = parse_text(text, "card.loyalty")
    _, diags = compile_source(sf)
    errors = [d for d in diags if d.is_error]
    assert [d.code for d in errors] == ["RL241"]
    assert errors[0].span.line == text.splitlines().index('  when return of "A" amount 50 USD on 2027-03-03') + 1
    assert "40 USD" in errors[0].message  # 100 - 60 left to return
    ysf, _ = load_yaml(to_yaml(sf), "card.yaml")
    _, ydiags = compile_source(ysf)
    assert [d.code for d in ydiags if d.is_error] == ["RL241"]


def test_a_return_of_an_unknown_order_in_a_test_is_rl240() -> None:
    text = card(tests='test "x" {\n  when purchase 100 USD id "A" on 2027-03-01\n  when return of "B" on 2027-03-02\n}\n')
    assert codes(text) == ["RL240"]


def test_events_file_returns_are_checked_and_explain_shows_what_the_return_undid(tmp_path: Path) -> None:
    prog = compiled(card("    returns lower tier at once\n"))
    bad = ("events:\n  - {type: purchase, date: 2027-03-01, amount: 100 USD, id: A}\n"
           "  - {type: return, date: 2027-03-02, order: A, amount: 120 USD}\n"
           "  - {type: return, date: 2027-03-03, order: Z}\n")
    ev, diags = load_events(bad, "ev.yaml", prog)
    assert ev is None
    assert [(d.code, d.span.line) for d in diags] == [("RL241", 3), ("RL240", 4)]
    good = ("events:\n  - {type: purchase, date: 2027-03-01, amount: 350 USD, id: A}\n"
            "  - {type: purchase, date: 2027-03-02, amount: 100 USD, id: B}\n"
            "  - {type: return, date: 2027-03-03, order: B, amount: 50 USD}\n")
    ev, diags = load_events(good, "ev.yaml", prog)
    assert ev is not None, [d.message for d in diags]
    out = explain(prog, ev)
    text = out if isinstance(out, str) else str(out)
    # B: Gold's 5% of 100 = 5.00; half returned: 2.50 refunded; spend 350 + 95 - floor(9500/2) = 397.50
    assert "refunded 2.50 USD of the 5.00 USD discount" in text
    assert "47.50 USD of spend" in text


def test_loyalty_test_runs_the_style_card_examples() -> None:
    assert main(["test", str(ROOT / "rules" / "fashion_discount.loyalty")]) == 0
