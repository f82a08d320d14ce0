"""`loyalty check --strict` (warnings fail CI), decreasing tier thresholds (RL301 error) and empty
rule files (RL140), in text, JSON and GitHub output and in both forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulelang.tools.cli import main

ROOT = Path(__file__).resolve().parent.parent

# a clean program but for one warning: the base tier starts at 100, not 0 (RL301, line 10)
WARNS = """program "Tiny" {
  points "points"
  currency USD
  earn base on purchase {
    award 1 point per 1 USD
  }
  expire points 12 months after earning
  returns reverse earned points; negative balance forbidden
  tiers by points over calendar year {
    tier Base from 100
    tier Gold from 500
  }
}
"""

SWAPPED = WARNS.replace("tier Base from 100", "tier Base from 0").replace(
    "    tier Gold from 500\n", "    tier Reserve from 2500\n    tier Gold from 500\n")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_warning_passes_without_strict_and_fails_with_it(capsys, tmp_path: Path) -> None:
    path = tmp_path / "tiny.loyalty"
    path.write_text(WARNS)
    code, out, _ = run(capsys, "check", str(path))
    assert code == 0
    assert f"{path}:10:5: warning[RL301]" in out
    assert out.rstrip().endswith("checked 1 file: 0 errors, 1 warning")
    code, out, _ = run(capsys, "check", "--strict", str(path))
    assert code == 1
    assert out.rstrip().endswith("checked 1 file: 0 errors, 1 warning (--strict: warnings count as errors)")


def test_strict_in_json_and_github(capsys, tmp_path: Path) -> None:
    path = tmp_path / "tiny.loyalty"
    path.write_text(WARNS)
    code, out, _ = run(capsys, "check", "--strict", "--format", "json", str(path))
    doc = json.loads(out)
    assert code == 1
    assert (doc["valid"], doc["strict"], doc["error_count"], doc["warning_count"]) == (False, True, 0, 1)
    assert doc["files"][0]["valid"] is False
    assert [d["severity"] for d in doc["diagnostics"]] == ["warning"]  # what it is; --strict makes it fail
    code, out, _ = run(capsys, "check", "--format", "json", str(path))
    doc = json.loads(out)
    assert (code, doc["valid"], doc["strict"], doc["files"][0]["valid"]) == (0, True, False, True)
    code, out, _ = run(capsys, "check", "--strict", "--format", "github", str(path))
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith(f"::error file={path},line=10,col=5,")
    assert "(a warning; --strict makes it an error)" in lines[0]
    assert lines[1] == "checked 1 file: 0 errors, 1 warning (--strict: warnings count as errors)"
    code, out, _ = run(capsys, "check", "--format", "github", str(path))
    assert (code, out.splitlines()[0].split(" ")[0]) == (0, "::warning")


def test_strict_on_a_clean_file_passes(capsys) -> None:
    code, out, _ = run(capsys, "check", "--strict", str(ROOT / "rules" / "coffee.loyalty"))
    assert (code, out.strip()) == (0, "checked 1 file: 0 errors, 0 warnings")


def test_a_decreasing_threshold_is_an_error_in_both_forms(capsys, tmp_path: Path) -> None:
    text = tmp_path / "swapped.loyalty"
    text.write_text(SWAPPED)
    code, out, _ = run(capsys, "check", str(text))
    # lines: 9 tiers, 10 Base, 11 Reserve from 2500, 12 Gold from 500: 500 < 2500
    assert code == 1
    assert f"{text}:12:5: error[RL301]: tier `Gold` starts at 500, below tier `Reserve` (2500)" in out
    assert "move `Gold` above `Reserve`" in out
    yaml_path = tmp_path / "swapped.yaml"
    ordered = tmp_path / "ordered.loyalty"
    ordered.write_text(SWAPPED.replace("from 2500", "from 400"))  # 0, 400, 500: in order
    assert run(capsys, "convert", str(ordered), "--to", "yaml", "-o", str(yaml_path))[0] == 0
    assert run(capsys, "check", str(yaml_path))[0] == 0
    yaml_text = yaml_path.read_text()
    assert yaml_text.count("from: 500") == 1
    yaml_path.write_text(yaml_text.replace("from: 500", "from: 300"))  # Gold 300 after Reserve 400
    code, out, _ = run(capsys, "check", "--format", "json", str(yaml_path))
    doc = json.loads(out)
    found = [(d["code"], d["severity"], d["summary"]) for d in doc["diagnostics"]]
    assert code == 1
    assert found == [("RL301", "error", "tier `Gold` starts at 300, below tier `Reserve` (400) listed before it")]
    line = next(i for i, t in enumerate(yaml_path.read_text().splitlines(), 1) if t.strip() == "Gold:")
    assert doc["diagnostics"][0]["range"]["start"]["line"] == line


def test_a_shipped_fixture_with_tiers_out_of_order_fails_check(capsys) -> None:
    path = ROOT / "tests" / "fixtures" / "repro" / "tiers_out_of_order.loyalty"
    code, out, _ = run(capsys, "check", str(path))
    # Reserve from 300 (line 33) after Gold from 500
    assert code == 1 and ":33:5: error[RL301]" in out


@pytest.mark.parametrize("name,text,only_comments", [
    ("empty.loyalty", "", False),
    ("blank.loyalty", "\n  \n\n", False),
    ("comments.loyalty", "# the summer programme goes here\n\n# later\n", True),
    ("empty.yaml", "", False),
    ("comments.yaml", "# nothing yet\n", True),
    ("mapping.yml", "{}\n", False),
])
def test_an_empty_rule_file_is_an_error(capsys, tmp_path: Path, name: str, text: str, only_comments: bool) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, out, _ = run(capsys, "check", str(path))
    what = "no program and no tests, only comments" if only_comments else "no program and no tests"
    assert code == 1
    assert f"{path}:1:1: error[RL140]: {path} is empty: {what}" in out
    assert "= hint: write the program" in out and "or delete the file" in out
    assert out.rstrip().endswith("checked 1 file: 1 error, 0 warnings")
    assert run(capsys, "test", str(path))[0] == 1


def test_an_empty_file_in_a_directory_is_found(capsys, tmp_path: Path) -> None:
    (tmp_path / "coffee.loyalty").write_text((ROOT / "rules" / "coffee.loyalty").read_text())
    (tmp_path / "draft.loyalty").write_text("# to do\n")
    code, out, _ = run(capsys, "check", "--format", "json", str(tmp_path))
    doc = json.loads(out)
    assert code == 1
    assert [(f["path"].rsplit("/", 1)[1], f["valid"]) for f in doc["files"]] == [("coffee.loyalty", True),
                                                                                  ("draft.loyalty", False)]
    assert [d["code"] for d in doc["diagnostics"]] == ["RL140"]
