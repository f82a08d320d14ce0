"""A tests-only file (`coffee.test.loyalty` beside `coffee.loyalty`) speaks its program's words:
`fmt` keeps them, `test` reads `given stars`, and `test` names each test's file without `-v`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rulelang.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent

# coffee counts "stars"; tiers go by stars over 12 months (Gold from 500, 1.2x); no `pay with points`.
SIBLING = """# tests kept beside the program
test "a Gold member earns 1.2 stars per dollar" {
  given tier Gold
  given balance 100 stars
  given stars 600
  when purchase 10 USD category "coffee" on 2027-05-04
  expect earned 12 stars  # 10 USD x 1.2 = 12
  expect stars 612
  expect balance 112 stars
}

test "a wrong expectation" {
  when purchase 10 USD category "coffee" on 2027-05-04
  expect earned 11 stars
}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def coffee(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "rules" / "coffee.loyalty", tmp_path / "coffee.loyalty")
    (tmp_path / "coffee.test.loyalty").write_text(SIBLING)
    return tmp_path


def test_fmt_check_accepts_a_formatted_tests_only_file(capsys, coffee: Path) -> None:
    code, out, _ = run(capsys, "fmt", "--check", str(coffee / "coffee.test.loyalty"))
    assert (code, out.strip()) == (0, "0 files would be reformatted, 1 already formatted")


def test_fmt_writes_the_programs_points_word(capsys, coffee: Path) -> None:
    path = coffee / "coffee.test.loyalty"
    path.write_text("test \"pay\" {\n    when pay 1 USD   with stars on 2027-05-04\n  expect stars 0\n}\n")
    assert run(capsys, "fmt", str(path))[0] == 0
    # only the layout changes: `stars` stays (it was rewritten to `points` before)
    assert path.read_text() == 'test "pay" {\n  when pay 1 USD with stars on 2027-05-04\n  expect stars 0\n}\n'


def test_a_tests_only_file_without_its_program_keeps_the_word_written(capsys, tmp_path: Path) -> None:
    path = tmp_path / "lonely.test.loyalty"
    path.write_text('test "pay" {\n  given balance 5 stars\n  expect balance 5 stars\n}\n')
    assert run(capsys, "fmt", "--check", str(path))[0] == 0


def test_given_stars_in_a_tests_only_file_sets_the_tier_metric(capsys, coffee: Path) -> None:
    code, out, _ = run(capsys, "test", str(coffee / "coffee.test.loyalty"))
    lines = out.splitlines()
    test_file = coffee / "coffee.test.loyalty"
    assert code == 1
    assert "PASS a Gold member earns 1.2 stars per dollar" in lines  # 600 + 12 = 612 stars
    # the failing test names its file and `test` line (line 12 of SIBLING) without -v
    assert f"FAIL a wrong expectation ({test_file}:12)" in lines
    assert lines[-2:] == [f"{test_file}: 1 passed, 1 failed", "1 passed, 1 failed"]


def test_each_file_gets_its_summary_line(capsys, coffee: Path) -> None:
    code, out, _ = run(capsys, "test", str(coffee))
    lines = out.splitlines()
    program_tests = (ROOT / "rules" / "coffee.loyalty").read_text().count('\ntest "')
    assert code == 1
    assert f"{coffee / 'coffee.loyalty'}: {program_tests} passed, 0 failed" in lines
    assert f"{coffee / 'coffee.test.loyalty'}: 1 passed, 1 failed" in lines
    assert lines[-1] == f"{program_tests + 1} passed, 1 failed"
