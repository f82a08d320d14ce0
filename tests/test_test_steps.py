"""Tests that check each step: expectations on one event, a counter, the tier metric, the state
at a date; `given counter` for the counter tiers go by; points words; bad input in both forms.

Every expected value below is worked out by hand from the program CAFE (docs/semantics.md §4):
  base        1 star per 1 USD of net amount (amount - discounts), rounded down
  big_basket  10% discount on a purchase of 20 USD or more
  tiers by visits (a counter of purchases) over lifetime: Green from 0, Gold from 3 (multiply 2x);
  the tier's multiplier is the tier held when the event starts; the upgrade comes after it (§4.2 step 11).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rulelang.tools.cli import main
from rulelang.tools.testing import TestReport, render_report_json, render_report_text, run_paths

CAFE = '''program "Cafe" {
  points "stars"
  currency USD
  counter visits on purchase
  earn base on purchase {
    award 1 star per 1 USD
  }
  earn big_basket on purchase when amount >= 20 USD {
    discount 10%
  }
  tiers by visits over lifetime {
    tier Green from 0
    tier Gold from 3 {
      multiply 2x
    }
  }
  returns reverse earned stars
  negative balance forbidden
  reward cookie {
    price 10 stars
    worth 2 USD
    costs us 0.50 USD
  }
}
'''

CAFE_YAML = '''program:
  name: Cafe
  points: stars
  currency: USD
  counters:
    visits:
      on: purchase
  rules:
    base:
      on: purchase
      actions:
        - award: {points: 1, unit: star, per: 1 USD}
    big_basket:
      on: purchase
      when: amount >= 20 USD
      actions:
        - discount: {percent: 10}
  tiers:
    by: visits
    over: lifetime
    levels:
      Green:
        from: 0
      Gold:
        from: 3
        multiply: 2x
  returns:
    reverse: true
    negative_balance: forbidden
  rewards:
    cookie:
      price: 10
      worth: 2 USD
      costs_us: 0.50 USD
'''

# given visits 1. A1 (10 USD, Green): 10 stars; visits 2.
# B2 (30 USD, Green): discount 10% = 3.00 USD, net 27 USD -> 27 stars; visits 3 -> Gold at once.
# 05-06 (5 USD, Gold 2x): 5 + bonus 5 = 10 stars; visits 4.   cookie on 05-07: 10 stars, costs 0.50 USD.
# Totals: earned 10 + 27 + 10 = 47; balance on 05-06 = 47; at the end 47 - 10 = 37.
STEPS = '''
test "each step" {
  given counter visits = 1
  when purchase 10 USD id "A1" on 2027-05-04 at 09:00
  when purchase 30 USD id "B2" on 2027-05-04 at 12:30
  when purchase 5 USD on 2027-05-06
  when redeem cookie on 2027-05-07
  expect purchase "A1" earned 10 stars
  expect purchase on 2027-05-04 at 12:30 earned 27 stars / discount 3.00 USD
  expect purchase on 2027-05-06 earned 10 stars
  expect redeem on 2027-05-07 redeemed 10 stars / cost 0.50 USD
  expect tier Gold on 2027-05-04
  expect counter visits 3 on 2027-05-04
  expect balance 47 stars on 2027-05-06
  expect earned 47 stars / redeemed 10 stars / balance 37 stars
  expect counter visits 4
  expect metric 4
  expect visits 4
}

test "a return takes back what its purchase earned" {
  when purchase 10 USD id "A1" on 2027-05-04
  when return of "A1" on 2027-05-08
  expect return "A1" reversed 10 stars
  expect purchase "A1" earned 10 stars
  expect balance 10 stars on 2027-05-07
  expect balance 0 stars
}
'''

STEPS_YAML = '''tests:
  - name: each step
    given:
      - counter: {visits: 1}
    when:
      - purchase: 10 USD
        id: A1
        on: 2027-05-04 at 09:00
      - purchase: 30 USD
        id: B2
        on: 2027-05-04 at 12:30
      - purchase: 5 USD
        on: 2027-05-06
      - redeem: cookie
        on: 2027-05-07
    expect:
      - event: {purchase: A1, earned: 10 stars}
      - event: {purchase: on 2027-05-04 at 12:30, earned: 27, discount: 3.00 USD}
      - event: {purchase: on 2027-05-06, earned: 10}
      - event: {redeem: on 2027-05-07, redeemed: 10, cost: 0.50 USD}
      - tier: Gold on 2027-05-04
      - counter: {visits: 3 on 2027-05-04}
      - balance: 47 stars on 2027-05-06
      - earned: 47
      - redeemed: 10
      - balance: 37
      - counter: {visits: 4}
      - metric: 4
      - visits: 4
'''


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def report_of(tmp_path: Path, name: str, text: str) -> TestReport:
    return run_paths([write(tmp_path, name, text)])


def failures(report: TestReport) -> dict[str, list[str]]:
    return {o.name: [f.message for f in o.failures] for o in report.outcomes}


def errors(report: TestReport) -> list[tuple[str, int, int, str, str | None]]:
    return [(d.code, d.span.line, d.span.column, d.message, d.hint)
            for f in report.files for d in f.diagnostics if d.is_error]


# ---------------------------------------------------------------- passing, both forms


def test_each_step_passes_in_the_text_form(tmp_path: Path) -> None:
    report = report_of(tmp_path, "cafe.loyalty", CAFE + STEPS)
    assert errors(report) == [] and failures(report) == {"each step": [],
                                                         "a return takes back what its purchase earned": []}
    assert report.ok and (report.passed, report.failed) == (2, 0)


def test_each_step_passes_in_the_yaml_form(tmp_path: Path) -> None:
    report = report_of(tmp_path, "cafe.yaml", CAFE_YAML + STEPS_YAML)
    assert errors(report) == [] and failures(report) == {"each step": []}


def test_the_text_and_yaml_forms_give_the_same_tests(tmp_path: Path) -> None:
    from rulelang.syntax.parser import parse_text
    from rulelang.syntax.yaml_loader import load_yaml
    from rulelang.syntax.yaml_writer import to_yaml
    from rulelang.syntax.formatter import format_source
    text_sf, diags = parse_text(CAFE + STEPS, "cafe.loyalty")
    assert text_sf is not None and not diags
    yaml_sf, ydiags = load_yaml(CAFE_YAML + STEPS_YAML, "cafe.yaml")
    assert yaml_sf is not None and not [d for d in ydiags if d.is_error]
    assert yaml_sf.tests[0] == text_sf.tests[0]
    back, _ = load_yaml(to_yaml(text_sf), "cafe.yaml")  # convert to YAML and back
    assert back is not None and back.tests == text_sf.tests
    again, _ = parse_text(format_source(text_sf), "cafe.loyalty")  # fmt keeps every expectation
    assert again is not None and again.tests == text_sf.tests
    assert "expect purchase on 2027-05-04 at 12:30 earned 27 stars" in format_source(text_sf)


# ---------------------------------------------------------------- given counter


GOLD_AT_ONCE = '''
test "given counter sets the counter tiers go by" {
  given counter visits = 3
  when purchase 5 USD on 2027-05-04
  expect tier Gold on 2027-05-03
  expect purchase on 2027-05-04 earned 10 stars
  expect counter visits 4
}
'''


def test_given_counter_sets_the_tier_metric(tmp_path: Path) -> None:
    # 3 visits reach Gold before the first event: 5 USD earns 5 + bonus 5 = 10 stars
    report = report_of(tmp_path, "cafe.loyalty", CAFE + GOLD_AT_ONCE)
    assert errors(report) == [] and failures(report) == {"given counter sets the counter tiers go by": []}


def test_without_the_given_counter_the_same_purchase_earns_the_base_only(tmp_path: Path) -> None:
    # visits 0 -> Green: 5 USD earns 5 stars; visits 1 at the end
    report = report_of(tmp_path, "cafe.loyalty", CAFE + GOLD_AT_ONCE.replace("  given counter visits = 3\n", ""))
    assert failures(report) == {"given counter sets the counter tiers go by": [
        "expected tier Gold at the end of 2027-05-03, got Green (no tier changes)",
        "expected the purchase on 2027-05-04 12:00 to earn 10 stars, got 5 stars "
        "(rule base 5; big_basket: condition false: amount is 5.00 USD, needed >= 20.00 USD)",
        "expected counter visits 4, got 1 (after 1 event)",
    ]}


# ---------------------------------------------------------------- failing expectations


FAILING = '''
test "wrong on purpose" {
  given counter visits = 1
  when purchase 10 USD id "A1" on 2027-05-04 at 09:00
  when purchase 30 USD id "B2" on 2027-05-04 at 12:30
  when purchase 5 USD on 2027-05-06
  expect purchase "A1" earned 12 stars
  expect purchase "B2" discount 2.00 USD
  expect tier Green on 2027-05-04
  expect counter visits 5
  expect visits 9
  expect balance 40 stars on 2027-05-06
}
'''


def test_failing_expectations_report_expected_actual_and_the_event(tmp_path: Path) -> None:
    report = report_of(tmp_path, "cafe.loyalty", CAFE + FAILING)
    assert errors(report) == [] and not report.ok and (report.passed, report.failed) == (0, 1)
    assert failures(report) == {"wrong on purpose": [
        'expected the purchase on 2027-05-04 09:00 (id "A1") to earn 12 stars, got 10 stars '
        "(rule base 10; big_basket: condition false: amount is 10.00 USD, needed >= 20.00 USD)",
        # 10% of 30 USD = 3.00 USD; net 27 USD earns 27 stars; visits 3 reaches Gold
        'expected the purchase on 2027-05-04 12:30 (id "B2") to get a discount of 2.00 USD, got 3.00 USD '
        "(rule base 27; rule big_basket fired; tier Green -> Gold: reached visits 3 (needs 3))",
        "expected tier Green at the end of 2027-05-04, got Gold (tier changes: 2027-05-04 Green -> Gold)",
        "expected counter visits 5, got 4 (after 3 events)",
        "expected visits 9, got 4 (tier Gold)",
        "expected balance 40 stars at the end of 2027-05-06, got 47 stars "
        "(issued 47, redeemed 0, expired 0, reversed 0, pending 0)",
    ]}
    text = render_report_text(report)
    assert re.fullmatch(r"FAIL wrong on purpose \(.*cafe\.loyalty:26\)", text.splitlines()[0])  # CAFE is 24 lines, FAILING opens with a blank one
    assert re.search(r"cafe\.loyalty:31:24: expected the purchase on 2027-05-04 09:00", text)
    assert text.splitlines()[-1] == "0 passed, 1 failed"
    doc = render_report_json(report)
    assert '"expected": 1200' not in doc and '"expected": 12,' in doc and '"actual": 10' in doc


def test_the_cli_exits_1_on_a_failing_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cafe.loyalty", CAFE + FAILING)
    assert main(["test", path]) == 1
    out = capsys.readouterr().out
    assert "FAIL wrong on purpose" in out and "got 10 stars" in out and "Traceback" not in out


# ---------------------------------------------------------------- bad input, text form


def one_test(body: str) -> str:
    return CAFE + 'test "bad" {\n' + body + "}\n"


BASE = '''  when purchase 10 USD id "A1" on 2027-05-04 at 09:00
  when purchase 30 USD id "B2" on 2027-05-04 at 12:30
'''


@pytest.mark.parametrize("line, code, column, message, hint", [
    ("  expect purchase on 2027-05-05 earned 1 star\n", "RL431", 33,
     "the test has no purchase on 2027-05-05",
     'the test\'s purchases: 2027-05-04 at 09:00 (id "A1"); 2027-05-04 at 12:30 (id "B2")'),
    ('  expect purchase "A11" earned 10 stars\n', "RL431", 25, 'the test has no purchase "A11"', "did you mean `A1`?"),
    ("  expect signup on 2027-05-04 earned 0 stars\n", "RL431", 31, "the test has no signup on 2027-05-04",
     "add it: `when signup ... on DATE`, or expect on another event"),
    ("  expect purchase on 2027-05-04 earned 10 stars\n", "RL432", 33,
     "2 purchases on 2027-05-04 (at 09:00, 12:30): say which one",
     'add its time: `expect purchase on 2027-05-04 at 09:00 ...`, or name it by its id: `expect purchase "A1" ...`'),
    ('  expect purchase "A1" balance 10 stars\n', "RL433", 24, "`balance` is not something one event moves",
     "an event's expectations are earned, redeemed, reversed, discount, cost"),
    ("  expect counter visit 2\n", "RL201", 10, "unknown counter `visit` in `expect counter`", "did you mean `visits`?"),
    ("  expect earned 37 points\n", "RL430", 10, "`points` is not this program's word for points: it counts stars",
     "did you mean `stars`? write `37 stars`, or the number alone"),
    ('  expect purchase "A1" earned 1 point\n', "RL430", 24,
     "`point` is not this program's word for points: it counts stars",
     "did you mean `star`? write `1 star`, or the number alone"),
    ("  expect spend 40 USD\n", "RL201", 10, "tiers go by visits, not by spend", None),
])
def test_bad_step_expectations_are_located_errors(tmp_path: Path, line: str, code: str, column: int,
                                                  message: str, hint: str | None) -> None:
    report = report_of(tmp_path, "cafe.loyalty", one_test(BASE + line))
    found = errors(report)
    assert len(found) == 1, found
    got_code, got_line, got_column, got_message, got_hint = found[0]
    assert (got_code, got_line, got_column, got_message) == (code, 28, column, message)
    if hint is not None:
        assert got_hint == hint
    assert report.outcomes == [] and not report.ok


def test_a_given_on_an_unknown_counter_is_a_located_error(tmp_path: Path) -> None:
    report = report_of(tmp_path, "cafe.loyalty", one_test("  given counter visit = 2\n" + BASE))
    assert errors(report) == [("RL201", 26, 3, "unknown counter `visit`", "did you mean `visits`?")]


def test_the_cli_exits_1_on_a_bad_step_and_shows_where(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "cafe.loyalty", one_test(BASE + "  expect earned 37 points\n"))
    assert main(["check", path]) == 1
    err = capsys.readouterr()
    assert f"{path}:28:10: error[RL430]" in err.out + err.err and "Traceback" not in err.out + err.err


# ---------------------------------------------------------------- bad input, YAML form


YAML_BASE = '''tests:
  - name: bad
    when:
      - purchase: 10 USD
        id: A1
        on: 2027-05-04 at 09:00
      - purchase: 30 USD
        id: B2
        on: 2027-05-04 at 12:30
    expect:
'''


@pytest.mark.parametrize("line, code, column, message", [
    ("      - event: {purchase: on 2027-05-05, earned: 1}\n", "RL431", 42, "the test has no purchase on 2027-05-05"),
    ("      - event: {purchase: A2, earned: 1}\n", "RL431", 31, 'the test has no purchase "A2"'),
    ("      - event: {purchase: on 2027-05-04, earned: 10}\n", "RL432", 42,
     "2 purchases on 2027-05-04 (at 09:00, 12:30): say which one"),
    ("      - event: {purchase: A1, balance: 10}\n", "RL433", 31, "`balance` is not something one event moves"),
    ("      - counter: {visit: 2}\n", "RL201", 19, "unknown counter `visit` in `expect counter`"),
    ("      - earned: 37 points\n", "RL430", 9, "`points` is not this program's word for points: it counts stars"),
    ("      - earnd: 37\n", "RL201", 9, "unknown key `earnd` in `expect` of test `bad`"),
])
def test_bad_step_expectations_are_located_errors_in_yaml(tmp_path: Path, line: str, code: str, column: int,
                                                          message: str) -> None:
    report = report_of(tmp_path, "cafe.yaml", CAFE_YAML + YAML_BASE + line)
    found = errors(report)
    assert [(c, ln, col, m) for c, ln, col, m, _ in found] == [(code, 45, column, message)], found


def test_a_given_on_an_unknown_counter_is_a_located_error_in_yaml(tmp_path: Path) -> None:
    text = CAFE_YAML + YAML_BASE.replace("    when:\n", "    given:\n      - counter: {visit: 2}\n    when:\n") \
        + "      - earned: 37\n"
    found = errors(report_of(tmp_path, "cafe.yaml", text))
    assert [(c, ln, col, m, h) for c, ln, col, m, h in found] == [
        ("RL201", 38, 19, "unknown counter `visit`", "did you mean `visits`?")]


# ---------------------------------------------------------------- the tier metric by its word, both forms


SPEND = '''program "Shop" {
  points "points"
  currency USD
  earn base on purchase {
    award 1 point per 1 USD
  }
  tiers by spend over calendar year {
    tier Basic from 0
    tier Silver from 25 USD
  }
  expire points 12 months after earning
  returns reverse earned points; negative balance forbidden
}

# 10 USD + 17 USD = 27 USD of spend in 2027: Silver (from 25 USD) after the second purchase.
test "spend" {
  given spend 5 USD
  when purchase 10 USD on 2027-05-04
  when purchase 17 USD on 2027-06-01
  expect spend 15 USD on 2027-05-04
  expect tier Basic on 2027-05-31
  expect spend 32 USD
  expect metric 32 USD
  expect tier Silver
  expect earned 27 points
}
'''

SPEND_YAML_TESTS = '''tests:
  - name: spend
    given:
      - spend: 5 USD
    when:
      - purchase: 10 USD
        on: 2027-05-04
      - purchase: 17 USD
        on: 2027-06-01
    expect:
      - spend: 15 USD on 2027-05-04
      - tier: Basic on 2027-05-31
      - spend: 32 USD
      - metric: 32 USD
      - tier: Silver
      - earned: 27 points
'''


def test_the_spend_metric_by_its_word_in_both_forms(tmp_path: Path) -> None:
    # given 5 USD; +10 USD on 05-04 = 15 USD; +17 USD on 06-01 = 32 USD >= 25 USD: Silver
    assert failures(report_of(tmp_path, "shop.loyalty", SPEND)) == {"spend": []}
    (tmp_path / "shop.loyalty").write_text(SPEND.split("\n# 10 USD")[0] + "\n", encoding="utf-8")
    sibling = report_of(tmp_path, "shop_test.yaml", SPEND_YAML_TESTS)  # a tests-only file beside its program
    assert errors(sibling) == [] and failures(sibling) == {"spend": []}


def test_the_spend_metric_fails_with_money_in_the_message(tmp_path: Path) -> None:
    report = report_of(tmp_path, "shop.loyalty", SPEND.replace("expect spend 32 USD", "expect spend 30 USD"))
    assert failures(report) == {"spend": ["expected spend 30.00 USD, got 32.00 USD (tier Silver)"]}


def test_the_yaml_docs_tests_block_loads() -> None:
    from rulelang.syntax.yaml_loader import load_yaml
    text = (Path(__file__).resolve().parent.parent / "docs" / "yaml.md").read_text(encoding="utf-8")
    block = re.search(r"### Tests\n\n```yaml\n(.*?)```", text, re.S)
    assert block is not None
    sf, diags = load_yaml(block.group(1), "docs/yaml.md")
    assert sf is not None and [d for d in diags if d.is_error] == []
    kinds = [(x.kind, x.event, x.on is not None) for x in sf.tests[0].expects]
    assert ("counter", None, False) in kinds and ("metric", None, False) in kinds
    assert ("tier", None, True) in kinds and ("earned", "purchase", True) in kinds


def test_a_given_metric_wins_over_the_given_counter_for_the_tier(tmp_path: Path) -> None:
    # `given visits 3` is the metric (Gold at once); the counter starts at 1.
    # 5 USD in Gold: 5 + 5 = 10 stars; the counter goes 1 -> 2, the metric 3 -> 4.
    text = CAFE + '''
test "both" {
  given counter visits = 1
  given visits 3
  when purchase 5 USD on 2027-05-04
  expect purchase on 2027-05-04 earned 10 stars
  expect counter visits 2
  expect visits 4
}
'''
    assert failures(report_of(tmp_path, "cafe.loyalty", text)) == {"both": []}


@pytest.mark.parametrize("name, text", [
    ("cafe.loyalty", CAFE + 'test "t" {\n  given balance 500 points\n  when purchase 5 USD on 2027-05-04\n}\n'),
    ("cafe.yaml", CAFE_YAML + "tests:\n  - name: t\n    given:\n      - balance: 500 points\n"
                  "    when:\n      - purchase: 5 USD\n        on: 2027-05-04\n"),
])
def test_a_given_balance_in_another_points_word_is_an_error(tmp_path: Path, name: str, text: str) -> None:
    found = errors(report_of(tmp_path, name, text))
    line = 26 if name.endswith(".loyalty") else 38
    assert [(c, ln, m, h) for c, ln, _, m, h in found] == [
        ("RL430", line, "`points` is not this program's word for points: it counts stars",
         "did you mean `stars`? write `500 stars`, or the number alone")]


def test_a_given_balance_in_the_programs_word_passes_in_both_forms(tmp_path: Path) -> None:
    # 500 opening stars + 5 USD at 1 star per USD (Green) = 505 stars
    text = CAFE + 'test "t" {\n  given balance 500 stars\n  when purchase 5 USD on 2027-05-04\n  expect balance 505 stars\n}\n'
    assert failures(report_of(tmp_path, "cafe.loyalty", text)) == {"t": []}
    yaml_text = CAFE_YAML + ("tests:\n  - name: t\n    given:\n      - balance: 500 stars\n"
                             "    when:\n      - purchase: 5 USD\n        on: 2027-05-04\n    expect:\n      - balance: 505\n")
    assert failures(report_of(tmp_path, "cafe.yaml", yaml_text)) == {"t": []}


def test_converted_steps_are_valid_against_the_json_schema() -> None:
    import yaml
    from test_yaml import SCHEMA, json_view, validate  # the schema checker of the YAML tests
    from rulelang.syntax.parser import parse_text
    from rulelang.syntax.yaml_writer import to_yaml
    sf, _ = parse_text(CAFE + STEPS, "cafe.loyalty")
    assert sf is not None
    written = to_yaml(sf)
    assert "- metric: 4" in written and "- event: {purchase: A1, earned: 10}" in written
    assert validate(json_view(yaml.compose(written, Loader=yaml.SafeLoader)), SCHEMA) == []
