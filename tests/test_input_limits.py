"""Bad input at the limits: each reproducer of the reliability findings (F1, F3-F11) gives a located
diagnostic and exit 1, never an internal error; the bounds themselves (rulelang/limits.py) are
tested at both sides. Fixtures in tests/fixtures/repro are copies of the reproducers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rulelang.check.checker import check
from rulelang.tools.cli import main
from rulelang.limits import MAX_DAYS, MAX_MONTHS, MAX_NESTING, MAX_NUMBER_DIGITS
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parent.parent
REPRO = ROOT / "tests" / "fixtures" / "repro"
COFFEE = str(ROOT / "rules" / "coffee.loyalty")
SHOP = str(ROOT / "rules" / "online_shop.loyalty")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out + err


def located(output: str, code: str) -> tuple[int, int]:
    """(line, column) of the first `file:line:col: error[CODE]` in the output."""
    match = re.search(rf":(\d+):(\d+): error\[{code}\]", output)
    assert match, output[:2000]
    return int(match.group(1)), int(match.group(2))


def codes(diags) -> set[str]:  # type: ignore[no-untyped-def]
    return {d.code for d in diags}


# ---------------------------------------------------------------- the reproducers


# (command, file, extra arguments, code, line, column); positions counted by hand in each file.
CASES = [
    # F1: line 3 is `  earn a on purchase when not not ...`; the first `not` is at column 27, each
    # takes 4 columns, and the 33rd (one more than MAX_NESTING levels) is at 27 + 32 * 4 = 155.
    ("check", "F01_not_487_deep.loyalty", (), "RL401", 3, 155),
    ("check", "F03_bigint_award.loyalty", (), "RL420", 4, 11),  # `    award 999...`
    ("explain", "F03_bigint_award.loyalty", ("--events", str(REPRO / "F03_events_purchase.yaml")), "RL420", 4, 11),
    ("check", "F03_bigint_pending.yaml", (), "RL420", 4, 12),  # `  pending: 999...`
    ("explain", COFFEE, ("--events", str(REPRO / "F03_events_amount_1e5000.yaml")), "RL420", 2, 48),
    ("explain", COFFEE, ("--events", str(REPRO / "F03_events_amount_1e999999999.yaml")), "RL420", 2, 48),
    ("convert", "F04_convert_unknown_test_field.loyalty", ("--to", "yaml"), "RL201", 9, 31),  # `colour`
    ("convert", "F04_convert_wrong_type_test_field.loyalty", ("--to", "yaml"), "RL202", 9, 33),  # the `7`
    ("convert", "F05_convert_del_char.loyalty", ("--to", "yaml"), "RL120", 8, 6),  # the test's name
    ("convert", "F05_convert_nel_char.loyalty", ("--to", "yaml"), "RL120", 9, 33),  # `"co\x85ffee"`
    ("convert", "F06_yaml_newline_test_name.yaml", ("--to", "text"), "RL120", 10, 11),
    ("fmt", "F07_fmt_unit_superscript.loyalty", ("--check",), "RL121", 2, 10),
    ("fmt", "F07_fmt_unit_two_words.loyalty", ("--check",), "RL121", 2, 10),
    ("convert", "F07_fmt_unit_two_words.loyalty", ("--to", "yaml"), "RL121", 2, 10),
    ("test", "F08_test_on_0001-01-01.loyalty", (), "RL422", 10, 3),  # `  when purchase ... on 0001-01-01`
    ("test", "F08_pending_1e9_days.loyalty", (), "RL423", 3, 3),  # `  pending 1000000000 days`
    ("test", "F08_expire_1e9_months.loyalty", (), "RL423", 3, 3),
    ("explain", COFFEE, ("--events", str(REPRO / "F08_events_0001.yaml")), "RL422", 2, 28),
    ("explain", COFFEE, ("--events", str(REPRO / "F09_events_time_overflow.yaml")), "RL012", 2, 46),
    ("explain", SHOP, ("--events", str(REPRO / "F10_events_infinity_field.yaml")), "RL012", 2, 57),
    # F11: the top mapping is level 1 and the first `[` (column 9) level 2, so level 33 is the
    # 32nd `[`, at column 9 + 31 = 40.
    ("explain", COFFEE, ("--events", str(REPRO / "F11_events_deep_nesting.yaml")), "RL421", 1, 40),
]


@pytest.mark.parametrize("command,name,extra,code,line,column", CASES,
                         ids=[f"{c[0]}-{Path(c[1]).name}-{c[3]}" for c in CASES])
def test_reproducer_gives_a_located_error(capsys: pytest.CaptureFixture[str], command: str, name: str,
                                          extra: tuple[str, ...], code: str, line: int, column: int) -> None:
    path = name if name.startswith("/") else str(REPRO / name)
    exit_code, output = run(capsys, command, path, *extra)
    assert exit_code == 1, output[:2000]
    assert "internal error" not in output
    assert located(output, code) == (line, column)


def test_a_negative_expectation_round_trips_between_the_forms(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    """F6: `earned: -1` in YAML is `expect earned -1 points` in text, and back to the same program."""
    source = (REPRO / "F06_yaml_negative_expectation.yaml").read_text(encoding="utf-8")
    original, diags = load_yaml(source, "n.yaml")
    assert original is not None, diags
    exit_code, text = run(capsys, "convert", str(REPRO / "F06_yaml_negative_expectation.yaml"), "--to", "text")
    assert exit_code == 0
    assert "expect earned -1 points" in text
    again, diags = parse_text(text, "n.loyalty")
    assert again is not None, diags
    assert again.tests == original.tests and again.program == original.program
    assert again.tests[0].expects[0].value == -1


# ---------------------------------------------------------------- nesting (MAX_NESTING)


def _nested_program(levels: int) -> str:
    """A rule whose condition has `levels` levels: levels - 1 `not`s around one comparison."""
    condition = "not " * (levels - 1) + 'category == "coffee"'
    return f'program "P" {{\n  currency USD\n  earn a on purchase when {condition} {{\n    award 1 points\n  }}\n}}\n'


def test_condition_nesting_limit_in_the_text_form() -> None:
    sf, diags = parse_text(_nested_program(MAX_NESTING), "ok.loyalty")
    assert sf is not None, diags
    assert "RL401" not in codes(check(sf))
    sf, diags = parse_text(_nested_program(MAX_NESTING + 1), "deep.loyalty")
    assert sf is None and codes(diags) == {"RL401"}
    # 1,000 levels: caught before the AST is built, not a RecursionError
    sf, diags = parse_text(_nested_program(1000), "deeper.loyalty")
    assert sf is None and codes(diags) == {"RL401"}


def test_condition_nesting_limit_in_the_yaml_form() -> None:
    def program(levels: int) -> str:
        condition = "not " * (levels - 1) + "items > 1"
        return ("program:\n  name: P\n  currency: USD\n  rules:\n    a:\n      on: purchase\n"
                f"      when: {condition}\n      actions:\n        - award: 1\n")

    sf, diags = load_yaml(program(MAX_NESTING), "ok.yaml")
    assert sf is not None, diags
    sf, diags = load_yaml(program(600), "deep.yaml")
    assert sf is None
    (diag,) = diags
    assert diag.code == "RL401"
    # `      when: ` is 12 columns: the condition starts at column 13 of line 7; the level over the
    # limit is the (MAX_NESTING + 1)th `not`, 4 columns each.
    assert (diag.span.line, diag.span.column) == (7, 13 + 4 * MAX_NESTING)


def test_yaml_nesting_and_recursive_aliases_in_rule_files() -> None:
    deep = "program:\n  name: P\n  rules: " + "[" * 100 + "]" * 100 + "\n"
    sf, diags = load_yaml(deep, "deep.yaml")
    assert sf is None and [d.code for d in diags] == ["RL421"]
    # the root mapping and `program:` are levels 1 and 2; `rules:` opens level 3 at column 10,
    # so level MAX_NESTING + 1 is the (MAX_NESTING - 1)th `[`.
    assert (diags[0].span.line, diags[0].span.column) == (3, 10 + MAX_NESTING - 2)
    cycle = "program: &p\n  name: P\n  rules: *p\n"
    sf, diags = load_yaml(cycle, "cycle.yaml")
    assert sf is None and [d.code for d in diags] == ["RL421"]
    assert (diags[0].span.line, diags[0].span.column) == (3, 10)


def test_check_of_a_folder_with_a_deeply_nested_yaml_file(capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("events: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    exit_code, output = run(capsys, "check", str(tmp_path))
    assert exit_code == 1 and "error[RL421]" in output and "internal error" not in output


# ---------------------------------------------------------------- numbers (MAX_NUMBER_DIGITS)


def test_number_digit_limit_in_the_text_form() -> None:
    def program(number: str) -> str:
        return f'program "P" {{\n  currency USD\n  earn a on purchase {{\n    award 1 points\n    priority {number}\n  }}\n}}\n'

    sf, diags = parse_text(program("9" * MAX_NUMBER_DIGITS), "ok.loyalty")
    assert sf is not None, diags
    sf, diags = parse_text(program("9" * (MAX_NUMBER_DIGITS + 1)), "long.loyalty")
    assert sf is None and [d.code for d in diags] == ["RL420"]
    assert (diags[0].span.line, diags[0].span.column) == (5, 14)  # `    priority ` is 13 columns
    sf, diags = parse_text(program("1_" + "0" * MAX_NUMBER_DIGITS), "underscores.loyalty")
    assert sf is None and [d.code for d in diags] == ["RL420"]  # 31 digits; `_` does not count


def test_number_digit_limit_in_the_yaml_form() -> None:
    def program(points: str) -> str:
        return ("program:\n  name: P\n  currency: USD\n  rules:\n    a:\n      on: purchase\n"
                f"      actions:\n        - award: {points}\n")

    sf, diags = load_yaml(program("1" * MAX_NUMBER_DIGITS), "ok.yaml")
    assert "RL420" not in codes(diags)
    for text in ("1" * (MAX_NUMBER_DIGITS + 1), "1" * 5000 + " points", "0." + "5" * (MAX_NUMBER_DIGITS + 1)):
        sf, diags = load_yaml(program(text), "long.yaml")
        assert sf is None and "RL420" in codes(diags), text[:40]


def test_events_amount_at_the_largest_amount(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The largest amount is MAX_MONEY_CENTS (10**12 cents = 10,000,000,000 USD): that much is read,
    one cent more is RL420."""
    ok = tmp_path / "ok.yaml"
    ok.write_text("events:\n  - {type: purchase, date: 2027-03-22, amount: 10000000000.00}\n", encoding="utf-8")
    exit_code, output = run(capsys, "explain", COFFEE, "--events", str(ok))
    assert exit_code == 0, output
    over = tmp_path / "over.yaml"
    over.write_text("events:\n  - {type: purchase, date: 2027-03-22, amount: 10000000000.01}\n", encoding="utf-8")
    exit_code, output = run(capsys, "explain", COFFEE, "--events", str(over))
    assert exit_code == 1 and located(output, "RL420") == (2, 48)


# ---------------------------------------------------------------- calendar (MIN_DATE, MAX_DATE, MAX_MONTHS, MAX_DAYS)


def _calendar_program(pending: int, months: int, day: str) -> str:
    return f"""program "P" {{
  currency USD
  pending {pending} days
  expire points {months} months after earning
  earn a on purchase {{
    award 1 points per 1 USD of net amount
  }}
}}

test "one purchase" {{
  when purchase 10 USD on {day}
  expect earned 10 points
}}
"""


@pytest.mark.parametrize("day", ["1900-01-01", "2199-12-31"])
def test_runs_at_the_calendar_bounds_do_not_overflow(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                     day: str) -> None:
    """The longest pending period and expiry, on the first and the last day allowed: the test runs
    (10 USD at 1 point per USD earns 10 points)."""
    path = tmp_path / "edge.loyalty"
    path.write_text(_calendar_program(MAX_DAYS, MAX_MONTHS, day), encoding="utf-8")
    exit_code, output = run(capsys, "test", str(path))
    assert exit_code == 0, output
    assert "1 passed, 0 failed" in output


@pytest.mark.parametrize("pending,months,day,code,line", [
    (MAX_DAYS + 1, MAX_MONTHS, "2027-01-01", "RL423", 3),
    (MAX_DAYS, MAX_MONTHS + 1, "2027-01-01", "RL423", 4),
    (0, 12, "1899-12-31", "RL422", 11),
    (0, 12, "2200-01-01", "RL422", 11),
])
def test_calendar_bounds_are_errors_one_past_them(pending: int, months: int, day: str, code: str,
                                                  line: int) -> None:
    sf, diags = parse_text(_calendar_program(pending, months, day), "edge.loyalty")
    assert sf is not None, diags
    errors = [d for d in check(sf) if d.is_error]
    assert [(d.code, d.span.line) for d in errors] == [(code, line)]


def test_dates_in_rules_and_conditions_are_bounded() -> None:
    source = """program "P" {
  currency USD
  earn a on purchase when date > 0001-01-01 {
    award 1 points
    during 2027-01-01 .. 9999-12-31
  }
  expire points on 9999-12-31
}
"""
    sf, diags = parse_text(source, "dates.loyalty")
    assert sf is not None, diags
    errors = sorted((d.code, d.span.line) for d in check(sf) if d.is_error)
    assert errors == [("RL422", 3), ("RL422", 5), ("RL422", 7)]


def test_events_dates_at_the_bounds(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for day, expected in (("1900-01-01", 0), ("2199-12-31", 0), ("1899-12-31", 1), ("2200-01-01", 1)):
        path = tmp_path / f"{day}.yaml"
        path.write_text(f"events:\n  - {{type: purchase, date: {day}, amount: 4.50}}\n", encoding="utf-8")
        exit_code, output = run(capsys, "explain", COFFEE, "--events", str(path))
        assert exit_code == expected, (day, output)
        if expected:
            assert located(output, "RL422") == (2, 28)
