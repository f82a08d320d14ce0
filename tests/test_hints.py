"""Hints lead to a right program: each common slip gets its own located error, and the text the
hint tells the user to write, put in place of the slip, checks clean.

Every case names the slip (`wrong`), the code, the line and column worked out by hand from the
source text below (columns are 1-based; the arithmetic is in the comment of each case), and,
where the hint gives a concrete replacement, that replacement (`right`): the test asserts the
hint shows it in backticks and that the program with it checks without errors.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rulelang.check.checker import check
from rulelang.diagnostics import Diagnostic
from rulelang.syntax.loader import load_file
from rulelang.syntax.parser import parse_text
from rulelang.syntax.formatter import format_source

ROOT = Path(__file__).resolve().parent.parent

TEXT = """\
program "Shop" {
  points "points"
  currency USD
  point value 0.01 USD

  earn base on purchase {
    award 1 point per 1 USD
  }
  expire points 12 months after earning
  returns reverse earned points
  negative balance forbidden
  reward mug {
    price 100 points
    worth 5 USD
  }
}
"""

YAML = """\
program:
  name: Shop
  points: points
  currency: USD
  point_value: 0.01 USD
  rules:
    base:
      on: purchase
      actions:
        - award: {points: 1, per: 1 USD}
  expire:
    - {after_earning: 12 months}
  returns: {reverse: true, negative_balance: forbidden}
  rewards:
    mug:
      price: 100
      worth: 5 USD
"""


@dataclass(frozen=True)
class Slip:
    name: str
    form: str  # "loyalty" | "yaml"
    line: str  # the line of the base program the slip replaces (its whole text, without the indentation)
    wrong: str  # what the user wrote instead
    code: str
    at: tuple[int, int]  # line, column of the error, worked out by hand
    right: tuple[str, ...] = ()  # replacements the hint gives; each must check clean


SLIPS = [
    # `    award 3 percent of net amount`: award 5-9, 3 at 11, percent 13-19, `of` at 21.
    Slip("percent word with a base", "loyalty", "award 1 point per 1 USD", "award 3 percent of net amount",
         "RL130", (7, 21), ("award 3% of net amount",)),
    # `    award 3 points of net amount`: points 13-18, `of` at 20.
    Slip("fixed award with a base", "loyalty", "award 1 point per 1 USD", "award 3 points of net amount",
         "RL130", (7, 20), ("award 3 points per 1 USD of net amount", "award 3% of net amount", "award 3 points")),
    # `    award 5 points excluding category "gift"`: points 13-18, `excluding` at 20.
    Slip("fixed award with exclusions", "loyalty", "award 1 point per 1 USD", 'award 5 points excluding category "gift"',
         "RL130", (7, 20), ('award 5 points per 1 USD excluding category "gift"', "award 5 points")),
    # the award starts at column 5 (four spaces of indentation).
    Slip("percent word", "loyalty", "award 1 point per 1 USD", "award 3 percent", "RL201", (7, 5),
         ("award 3% of net amount",)),
    # `    award 3 % of net amount`: the number at 11.
    Slip("space before %", "loyalty", "award 1 point per 1 USD", "award 3 % of net amount", "RL101", (7, 11),
         ("3%",)),
    # `    award -200 points`: `-` at 11.
    Slip("negative award", "loyalty", "award 1 point per 1 USD", "award -200 points", "RL132", (7, 11),
         ("award 200 ...",)),
    # `    worth $1.50`: worth 5-9, `$` at 11.
    Slip("dollar sign", "loyalty", "worth 5 USD", "worth $1.50", "RL131", (14, 11), ("1.50 USD",)),
    Slip("dollar sign after, decimal comma", "loyalty", "worth 5 USD", "worth 1,50$", "RL131", (14, 11), ("1.50 USD",)),
    # `  points “points”`: points 3-8, the quote at 10.
    Slip("curly double quotes", "loyalty", 'points "points"', "points “points”", "RL101", (2, 10), ('"points"',)),
    Slip("curly single quotes", "loyalty", 'points "points"', "points ‘points’", "RL101", (2, 10), ('"points"',)),
    # `  points "points”`: the straight `"` at 10 opens a text the curly quote does not close.
    Slip("curly closing quote", "loyalty", 'points "points"', 'points "points”', "RL102", (2, 10)),
    # `    worth 1,50 USD`: the amount at 11.
    Slip("decimal comma", "loyalty", "worth 5 USD", "worth 1,50 USD", "RL103", (14, 11), ("1.50 USD",)),
    Slip("thousands comma", "loyalty", "price 100 points", "price 1,500 points", "RL103", (13, 11), ("1_500",)),
    Slip("lower-case currency", "loyalty", "worth 5 USD", "worth 1.50 usd", "RL131", (14, 11), ("1.50 USD",)),
    # `  currency usd`: currency 3-10, the code at 12.
    Slip("lower-case currency code", "loyalty", "currency USD", "currency usd", "RL101", (3, 12), ("USD",)),
    # `    award 1 point per 1 usd`: point 13-17, `per` at 19.
    Slip("lower-case currency read as a quantity", "loyalty", "award 1 point per 1 USD", "award 1 point per 1 usd",
         "RL131", (7, 19), ("per 1 USD",)),
    # a second line in the rule (line 8): `    during 01/01/2027 .. 2027-03-31`: during 5-10, the date at 12.
    Slip("date with slashes", "loyalty", "award 1 point per 1 USD",
         "award 1 point per 1 USD\n    during 01/01/2027 .. 2027-03-31", "RL103", (8, 12), ("2027-01-01",)),
    Slip("date day first with dots", "loyalty", "award 1 point per 1 USD",
         "award 1 point per 1 USD\n    during 31.01.2027 .. 2027-03-31", "RL103", (8, 12), ("2027-01-31",)),
    # `  expire points after 6 months`: the statement from column 3.
    Slip("expiry without a start", "loyalty", "expire points 12 months after earning", "expire points after 6 months",
         "RL101", (9, 3), ("expire points 6 months after earning", "expire points after 6 months of inactivity")),
    # `    price 0` is line 13, column 5; the reward it belongs to starts on line 12.
    Slip("price zero", "loyalty", "price 100 points", "price 0", "RL202", (13, 5)),

    # YAML: `        - award: {points: 3, of: net}`: `-` at 9, award 11-16, `{` 18, points 19-25, 3 at 27, `of` at 30.
    Slip("yaml fixed award with a base", "yaml", "- award: {points: 1, per: 1 USD}", "- award: {points: 3, of: net}",
         "RL130", (10, 30), ("{percent: 3}",)),
    # `        - award: 3 percent`: the award at 11.
    Slip("yaml percent word", "yaml", "- award: {points: 1, per: 1 USD}", "- award: 3 percent", "RL201", (10, 11),
         ("award: 3%",)),
    # `        - award: {points: 1, per: 1 usd}`: `{points: 1, ` 18-29, per 30-33, the value at 35.
    Slip("yaml lower-case currency read as a quantity", "yaml", "- award: {points: 1, per: 1 USD}",
         "- award: {points: 1, per: 1 usd}", "RL131", (10, 35), ("per: 1 USD",)),
    # `  currency: usd`: currency 3-11, the value at 13.
    Slip("yaml lower-case currency code", "yaml", "currency: USD", "currency: usd", "RL202", (4, 13), ("USD",)),
    # `      worth: $1.50`: worth 7-12, the value at 14.
    Slip("yaml dollar sign", "yaml", "worth: 5 USD", "worth: $1.50", "RL131", (17, 14), ("1.50 USD",)),
    Slip("yaml decimal comma", "yaml", "worth: 5 USD", "worth: 1,50 USD", "RL103", (17, 14), ("1.50 USD",)),
    Slip("yaml lower-case currency", "yaml", "worth: 5 USD", "worth: 1.50 usd", "RL131", (17, 14), ("1.50 USD",)),
    # `  points: “points”`: points 3-9, the value at 11.
    Slip("yaml curly quotes", "yaml", "points: points", "points: “points”", "RL202", (3, 11), ("points",)),
    # a second line under the rule (line 9): `      during: 01/01/2027 .. 2027-03-31`: the value at 15.
    Slip("yaml date with slashes", "yaml", "on: purchase", "on: purchase\n      during: 01/01/2027 .. 2027-03-31",
         "RL103", (9, 15), ("2027-01-01",)),
    # `      price: 0`: the `price` key at 7 of line 16 (the reward's name is on line 15).
    Slip("yaml price zero", "yaml", "price: 100", "price: 0", "RL202", (16, 7)),
    # `    - {after: 12 months}` (line 12): the dash at 5, `{` at 7, the key `after` at 8; one error, not a
    # second "needs exactly one of" for the same slip.
    Slip("yaml expiry key `after`", "yaml", "- {after_earning: 12 months}", "- {after: 12 months}", "RL201", (12, 8),
         ("- after_earning: 12 months",)),
    # `        - award: -200`: the award at 11.
    Slip("yaml negative award", "yaml", "- award: {points: 1, per: 1 USD}", "- award: -200", "RL202", (10, 11),
         ("200",)),
]


def _program(slip: Slip, replacement: str) -> str:
    base = TEXT if slip.form == "loyalty" else YAML
    assert base.count(slip.line) == 1, slip.line
    return base.replace(slip.line, replacement)


def _errors(source: str, form: str, tmp_path: Path) -> list[Diagnostic]:
    path = tmp_path / f"p.{form}"
    path.write_text(source, encoding="utf-8")
    sf, diags, _ = load_file(str(path))
    found = list(diags) + (check(sf) if sf is not None else [])
    return [d for d in found if d.is_error]


def _snippets(hint: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", hint))


@pytest.mark.parametrize("form", ["loyalty", "yaml"])
def test_the_base_programs_check_clean(form: str, tmp_path: Path) -> None:
    assert _errors(TEXT if form == "loyalty" else YAML, form, tmp_path) == []


@pytest.mark.parametrize("slip", SLIPS, ids=[s.name for s in SLIPS])
def test_a_slip_is_located_and_its_hint_leads_to_a_right_program(slip: Slip, tmp_path: Path) -> None:
    errors = _errors(_program(slip, slip.wrong), slip.form, tmp_path)
    assert errors, f"{slip.name}: accepted"
    first = errors[0]
    assert (first.code, first.span.line, first.span.column) == (slip.code, *slip.at), \
        f"{first.span.line}:{first.span.column} {first.code} {first.message}"
    assert first.hint, f"{slip.name}: no hint"
    for right in slip.right:
        assert right in _snippets(first.hint) or f"`{right}`" in first.hint or right in first.hint, \
            f"{slip.name}: the hint does not say `{right}`: {first.hint}"


def _apply(slip: Slip, right: str) -> str:
    """The slip's line with the hint's replacement: a whole statement replaces the statement,
    a fragment (`3%`, `1.50 USD`) replaces the part of the slip it corrects."""
    fragments = {
        "3%": ("3 %", "3%"), "1.50 USD": (None, "1.50 USD"),
        '"points"': (None, '"points"'), "1_500": ("1,500", "1_500"), "per 1 USD": ("per 1 usd", "per 1 USD"),
        "2027-01-01": ("01/01/2027", "2027-01-01"), "2027-01-31": ("31.01.2027", "2027-01-31"),
        "{percent: 3}": ("{points: 3, of: net}", "{percent: 3}"), "award: 3%": ("award: 3 percent", "award: 3%"),
        "per: 1 USD": ("per: 1 usd", "per: 1 USD"), "points": ("“points”", "points"), "200": ("-200", "200"),
        "award 200 ...": ("-200", "200"), "USD": ("usd", "USD"),
    }
    if right not in fragments:
        return _program(slip, right)
    old, new = fragments[right]
    if old is None:  # the value after the key word
        key = slip.wrong.split()[0]
        return _program(slip, f"{key} {new}")
    assert old in slip.wrong, (old, slip.wrong)
    return _program(slip, slip.wrong.replace(old, new))


CASES = [(s, r) for s in SLIPS for r in s.right]


@pytest.mark.parametrize("slip,right", CASES, ids=[f"{s.name}: {r}" for s, r in CASES])
def test_following_the_hint_checks_clean(slip: Slip, right: str, tmp_path: Path) -> None:
    fixed = _apply(slip, right)
    errors = _errors(fixed, slip.form, tmp_path)
    assert errors == [], f"{fixed}\n" + "\n".join(f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in errors)


def test_a_date_that_reads_two_ways_gets_both_readings(tmp_path: Path) -> None:
    slip = Slip("", "loyalty", "award 1 point per 1 USD", "award 1 point per 1 USD\n    during 02/03/2027 .. 2027-03-31",
                "RL103", (8, 12))
    (error,) = _errors(_program(slip, slip.wrong), "loyalty", tmp_path)
    # 02/03/2027: 2 March (day first) or 3 February (month first)
    assert {"2027-03-02", "2027-02-03"} <= _snippets(error.hint or "")


def test_a_condition_after_an_action_is_moved_to_the_rule(tmp_path: Path) -> None:
    # `    award 1 point per 1 USD when amount > 5 USD`: per 19-21, 1 at 23, USD 25-27, `when` at 29.
    source = TEXT.replace("award 1 point per 1 USD", "award 1 point per 1 USD when amount > 5 USD")
    (error,) = _errors(source, "loyalty", tmp_path)
    assert (error.code, error.span.line, error.span.column) == ("RL101", 7, 29)
    right = "earn base on purchase when amount > 5 USD {"
    assert right in _snippets(error.hint or "")
    assert _errors(TEXT.replace("earn base on purchase {", right), "loyalty", tmp_path) == []


def test_yaml_tabs_are_named_at_the_tab(tmp_path: Path) -> None:
    source = YAML.replace("  currency: USD", "\tcurrency: USD")  # line 4, the tab at column 1
    (error,) = _errors(source, "yaml", tmp_path)
    assert (error.code, error.span.line, error.span.column) == ("RL100", 4, 1)
    assert "tab" in error.message and "spaces" in (error.hint or "")
    indented = YAML.replace("    base:", "  \tbase:")  # line 7, two spaces then the tab at column 3
    (error,) = _errors(indented, "yaml", tmp_path)
    assert (error.code, error.span.line, error.span.column) == ("RL100", 7, 3)
    assert _errors(YAML.replace("  currency: USD", "  currency: USD"), "yaml", tmp_path) == []


@pytest.mark.parametrize("statement", [
    "award 1 point per 1 USD of net amount", "award 1 point per 1 USD of gross amount",
    'award 1 point per 1 USD excluding category "gift"', "award 50 points to referrer",
    "discount 10% of net amount", 'discount 10% excluding category "gift"', "cap 10 points per customer per month",
    "limit 1 time per customer per day",
])
def test_fmt_keeps_every_word_that_changes_the_meaning(statement: str) -> None:
    """The canonical form may drop a default (`of net amount` after a rate), never a word that
    changes what the statement does; reading it back gives the same program."""
    event = "referral" if "referrer" in statement else "purchase"
    source = TEXT.replace("earn base on purchase {\n    award 1 point per 1 USD",
                          f"earn base on {event} {{\n    award 1 point\n    {statement}")
    sf, diags = parse_text(source, "t.loyalty")
    assert sf is not None, diags
    again, diags = parse_text(format_source(sf), "t.loyalty")
    assert again is not None, diags
    assert again.program.rules == sf.program.rules  # type: ignore[union-attr]


@pytest.mark.parametrize("form,wrong", [("loyalty", "award 3 points of net amount"), ("yaml", "worth: $1.50")])
def test_the_command_line_exits_1_with_the_location_and_no_traceback(form: str, wrong: str, tmp_path: Path) -> None:
    slip = next(s for s in SLIPS if s.wrong == wrong)
    path = tmp_path / f"p.{form}"
    path.write_text(_program(slip, wrong), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "rulelang", "check", str(path)], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 1, run.stdout + run.stderr
    assert f"{path}:{slip.at[0]}:{slip.at[1]}: error[{slip.code}]" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


VOUCHERS = """\
program "Grocer" {
  points "points"
  currency EUR
  earn base on purchase {
    award 1 point per 1 EUR
  }
  expire points 12 months after earning
  returns reverse earned points
  negative balance forbidden
  convert every 500 points into a 5 EUR voucher valid 2 years at end of quarter
  reward coupon {
    price 100 points
    voucher 2 EUR valid 1 year
  }
}
"""


def test_a_validity_after_the_schedule_is_moved_before_it(tmp_path: Path) -> None:
    right = "convert every 500 points into a 5 EUR voucher valid 2 years at end of quarter"
    wrong = "convert every 500 points into a 5 EUR voucher at end of quarter valid 2 years"
    assert _errors(VOUCHERS, "loyalty", tmp_path) == []
    # line 10: two spaces, then `convert ... quarter` is 63 characters (columns 3-65), a space, `valid` at 67
    (error,) = _errors(VOUCHERS.replace(right, wrong), "loyalty", tmp_path)
    assert (error.code, error.span.line, error.span.column) == ("RL101", 10, 67)
    assert right in _snippets(error.hint or "")


def test_a_reward_voucher_without_a_validity_is_told_how_to_give_one(tmp_path: Path) -> None:
    # line 13: four spaces, `voucher` (columns 5-11), a space, `2 EUR` from column 13
    (error,) = _errors(VOUCHERS.replace("voucher 2 EUR valid 1 year", "voucher 2 EUR"), "loyalty", tmp_path)
    assert (error.code, error.span.line, error.span.column) == ("RL101", 13, 13)
    assert "voucher 2 EUR valid 1 year" in _snippets(error.hint or "")


def test_a_mistyped_expiry_key_is_one_error(tmp_path: Path) -> None:
    errors = _errors(YAML.replace("- {after_earning: 12 months}", "- {after: 12 months}"), "yaml", tmp_path)
    assert [e.code for e in errors] == ["RL201"]
    # an expiry with no kind at all still says which keys make one
    errors = _errors(YAML.replace("- {after_earning: 12 months}", "- {at_end_of_month: true}"), "yaml", tmp_path)
    assert [e.code for e in errors] == ["RL202"] and "after_earning" in errors[0].message
