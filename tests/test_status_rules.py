"""Status dates, `activity is ...` and tier earn rates in both forms: each misuse is a located
error with a hint, in the text form and in the YAML form (`loyalty check` exits 1), and the
interpreter counts the declared kinds of activity, worked out by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from rulelang import Event, run
from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from rulelang.tools.cli import main

HEAD = 'program "P" {\n  currency USD\n  earn base on purchase { award 1 point per 1 USD }\n'
TIERS = "  tiers by spend over calendar year {\n    tier Member from 0\n    tier Gold from 500 USD%s\n%s  }\n"

YAML_HEAD = """program:
  name: P
  currency: USD
  rules:
    base:
      on: purchase
      actions:
        - award: {points: 1, per: 1 USD}
"""
YAML_TIERS = """  tiers:
    by: spend
    over: calendar_year
    levels:
      Member: {from: 0}
      Gold: %s
%s"""

TEXT_CASES = {
    # (source, code, line, column): line and column where the error points
    "status in the qualification year": (
        HEAD + TIERS % ("", "    status valid through 01-31 of the qualification year\n") + "}\n", "RL270", 7, 5),
    "status before the qualification year": (
        HEAD + TIERS % ("", "    status valid through 12-31 2 years before the qualification year\n") + "}\n",
        "RL270", 7, 5),
    "status beside a review": (
        HEAD + TIERS % ("", "    review yearly\n    status valid through 01-31 of the next year\n") + "}\n",
        "RL271", 8, 5),
    "unknown activity": (
        HEAD + "  expire points after 18 months of inactivity\n  activity is purchase, visit\n}\n", "RL272", 5, 25),
    "activity without inactivity": (
        HEAD + "  expire points 12 months after earning\n  activity is redemption\n}\n", "RL273", 5, 3),
    "tier rate and multiplier": (
        HEAD + TIERS % (" { award 1.2 points per 1 USD; multiply 2x }", "") + "}\n", "RL274", 6, 30),
    "tier rate without a rate to replace": (
        'program "P" {\n  currency USD\n  earn w on purchase { award 5 points }\n'
        + TIERS % (" { award 1.2 points per 1 USD }", "") + "}\n", "RL274", 6, 30),
    "tier rate over different rates": (
        HEAD + '  earn coffee on purchase when category == "coffee" { award 3 points per 1 USD }\n'
        + TIERS % (" { award 1.2 points per 1 USD }", "") + "}\n", "RL274", 7, 30),
    "tier rate over a percentage": (
        'program "P" {\n  currency USD\n  point value 0.01 USD\n  earn cb on purchase { award 2% of net amount }\n'
        + TIERS % (" { award 1.2 points per 1 USD }", "") + "}\n", "RL274", 7, 30),
    "tier rate of zero": (
        HEAD + TIERS % (" { award 0 points per 1 USD }", "") + "}\n", "RL274", 6, 30),
}

YAML_CASES = {
    "status in the qualification year": (
        YAML_HEAD + YAML_TIERS % ("{from: 500 USD}", "    status: {valid_through: 01-31, years_after: 0}\n"),
        "RL270", 15, 49),
    "status beside a review": (
        YAML_HEAD + YAML_TIERS % ("{from: 500 USD}", "    review: yearly\n    status: {valid_through: 01-31, years_after: 1}\n"),
        "RL271", 16, 5),
    "unknown activity": (
        YAML_HEAD + "  expire: {inactivity: 18 months}\n  activity: [purchase, visit]\n", "RL272", 10, 24),
    "activity without inactivity": (
        YAML_HEAD + "  expire: {after_earning: 12 months}\n  activity: redemption\n", "RL273", 10, 3),
    "tier rate and multiplier": (
        YAML_HEAD + YAML_TIERS % ("{from: 500 USD, multiply: 2, award: {points: 1.2, per: 1 USD}}", ""),
        "RL274", 14, 42),
}


def _check(tmp_path: Path, name: str, text: str, capsys) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code = main(["check", str(path)])
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    return out.out + out.err


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_text_form_misuse_is_a_located_error_with_a_hint(tmp_path, capsys, case):
    text, code, line, column = TEXT_CASES[case]
    out = _check(tmp_path, "p.loyalty", text, capsys)
    assert f"p.loyalty:{line}:{column}: error[{code}]" in out, out
    assert "= hint:" in out.split(f"error[{code}]", 1)[1].split("\n\n")[0]


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_yaml_form_misuse_is_a_located_error_with_a_hint(tmp_path, capsys, case):
    text, code, line, column = YAML_CASES[case]
    out = _check(tmp_path, "p.yaml", text, capsys)
    assert f"p.yaml:{line}:{column}: error[{code}]" in out, out
    assert "= hint:" in out.split(f"error[{code}]", 1)[1].split("\n\n")[0]


def test_a_status_date_too_far_away_is_too_long(tmp_path, capsys):
    out = _check(tmp_path, "p.loyalty",
                 HEAD + TIERS % ("", "    status valid through 01-31 101 years after the qualification year\n") + "}\n",
                 capsys)
    assert "p.loyalty:7:5: error[RL423]" in out


# ---------------------------------------------------------------- what counts as activity (interpreter)

ACTIVITY = (HEAD.replace("award 1 point per 1 USD", 'award 1 point per 1 USD excluding category "gift_card"')
            + "  earn bday on birthday { award 10 points }\n"
            "  expire points after 2 months of inactivity\n%s}\n")


def _run(activity: str, until: dt.date):
    sf, diags = parse_text(ACTIVITY % activity, "a.loyalty")
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    events = [Event("purchase", dt.date(2027, 1, 10), 5000),  # 50 points; the clock starts on 2027-01-09
              Event("purchase", dt.date(2027, 2, 20), 2000, fields={"category": "gift_card"}),  # earns 0
              Event("birthday", dt.date(2027, 3, 5))]  # 10 points
    return run(program, events, until=until)


@pytest.mark.parametrize("activity, last, due", [
    # default: a purchase (the gift card one counts) or any earning event (the birthday)
    ("", dt.date(2027, 3, 5), dt.date(2027, 5, 5)),
    # purchases only: the gift card purchase of 2027-02-20 is the last; the birthday is not
    ("  activity is purchase\n", dt.date(2027, 2, 20), dt.date(2027, 4, 20)),
    # earning only: the gift card purchase earned nothing; the birthday earned 10
    ("  activity is any earning event\n", dt.date(2027, 3, 5), dt.date(2027, 5, 5)),
    # redemptions only: none, so the clock stays at the day before the first event
    ("  activity is redemption\n", dt.date(2027, 1, 9), dt.date(2027, 3, 9)),
])
def test_the_declared_kinds_of_activity_move_the_inactivity_clock(activity, last, due):
    # 60 points in all; they expire together 2 months after the last activity
    before = _run(activity, due - dt.timedelta(days=1))
    after = _run(activity, due)
    assert (before.expired, before.balance) == (0, 60)
    assert (after.expired, after.balance) == (60, 0)
    assert last + dt.timedelta(days=1) <= due


def test_the_yaml_guide_example_checks_and_its_test_passes(tmp_path, capsys):
    text = (Path(__file__).resolve().parent.parent / "docs" / "yaml.md").read_text(encoding="utf-8")
    start = text.index("```yaml\nprogram:\n  name: Status Club")
    block = text[start + len("```yaml\n"):text.index("```", start + 8)]
    path = tmp_path / "status.yaml"
    path.write_text(block, encoding="utf-8")
    assert main(["check", str(path)]) == 0
    assert main(["test", str(path)]) == 0
    assert "1 passed, 0 failed" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["status.loyalty", "status_step.loyalty"])
def test_fmt_and_convert_keep_status_dates_activity_and_tier_rates(name):
    from rulelang.syntax.formatter import format_source
    from rulelang.syntax.yaml_loader import load_yaml
    from rulelang.syntax.yaml_writer import to_yaml

    path = Path(__file__).resolve().parent / "simulator" / "fixtures" / name
    text = path.read_text(encoding="utf-8")
    sf, diags = parse_text(text, str(path))
    assert sf is not None and not [d for d in diags if d.is_error]
    ts = sf.program.tiers
    assert ts.status_through is not None and sf.program.activity and any(t.rate for t in ts.tiers)
    assert format_source(sf) == text  # the fixtures are written in canonical form
    back, diags = load_yaml(to_yaml(sf), "back.yaml")
    assert back is not None and not [d for d in diags if d.is_error], diags
    assert back.program == sf.program
    assert compile_source(back)[0] == compile_source(sf)[0]
