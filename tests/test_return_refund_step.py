"""What one return moved: the share of the purchase's discount it refunds is a negative discount,
written `expect return "S1" discount -75 RUB` in the text form and `discount: -75 RUB` in YAML
(docs/semantics.md §9); a total below zero stays an error.

Worked out by hand (docs/semantics.md §6, the share rule), program CARD below:
  12 000 RUB (Basic before it: no discount) reaches Silver (10 000 RUB); 5000 RUB as Silver: 3% = 150 RUB.
  Half the shoes come back (2500 of 5000 RUB): floor(150 x 2500 / 5000) = 75 RUB of the discount is
  refunded, so the return moved the discount by -75 RUB and 150 - 75 = 75 RUB stay given.
"""

from __future__ import annotations

from pathlib import Path

from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.testing import run_paths

CARD = '''program "Card" {
  currency RUB
  tiers by spend over lifetime {
    tier Basic from 0
    tier Silver from 10000 RUB {
      discount 3%
    }
  }
  returns lower tier metric and counters
}

test "the return refunds its share of the discount" {
  when purchase 12000 RUB on 2027-03-02
  when purchase 5000 RUB id "S1" on 2027-03-03
  when return of "S1" amount 2500 RUB on 2027-03-06
  expect purchase "S1" discount 150 RUB
  expect return "S1" discount DISCOUNT
  expect discount 75 RUB
}
'''


def _report(tmp_path: Path, text: str, name: str = "card.loyalty"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return run_paths([str(path)])


def _outcomes(report):
    return [(o.name, o.passed) for f in report.files for o in f.outcomes]


def test_a_return_moves_the_discount_by_minus_the_refunded_share(tmp_path: Path) -> None:
    report = _report(tmp_path, CARD.replace("DISCOUNT", "-75 RUB"))
    assert _outcomes(report) == [("the return refunds its share of the discount", True)]


def test_a_wrong_refund_fails_with_both_values(tmp_path: Path) -> None:
    report = _report(tmp_path, CARD.replace("DISCOUNT", "-70 RUB"))
    assert _outcomes(report) == [("the return refunds its share of the discount", False)]
    [outcome] = [o for f in report.files for o in f.outcomes]
    text = " ".join(f.message for f in outcome.failures)
    assert "-70.00 RUB" in text and "-75.00 RUB" in text


def test_the_negative_refund_round_trips_through_fmt_and_yaml(tmp_path: Path) -> None:
    text = CARD.replace("DISCOUNT", "-75 RUB")
    sf, diags = parse_text(text, "card.loyalty")
    assert sf is not None and not [d for d in diags if d.is_error]
    formatted = format_source(sf)
    assert 'expect return "S1" discount -75 RUB' in formatted
    yaml_text = to_yaml(sf)
    assert "discount: -75 RUB" in yaml_text
    ysf, ydiags = load_yaml(yaml_text, "card.yaml")
    assert ysf is not None and not [d for d in ydiags if d.is_error]
    assert _outcomes(_report(tmp_path, yaml_text, "card.yaml")) == [("the return refunds its share of the discount", True)]


def test_a_negative_total_discount_is_still_an_error(tmp_path: Path) -> None:
    report = _report(tmp_path, CARD.replace("DISCOUNT", "-75 RUB").replace("expect discount 75 RUB",
                                                                          "expect discount -75 RUB"))
    # a total discount given is never below zero: the file does not run, the error (RL132, a negative
    # number) is at the minus sign
    assert not _outcomes(report)
    errs = [(d.code, d.span.line, d.span.column) for f in report.files for d in f.diagnostics if d.is_error]
    assert errs == [("RL132", 18, 19)]
