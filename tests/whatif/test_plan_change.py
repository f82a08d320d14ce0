"""`loyalty plan --base REV` / `plan BASE..HEAD` in a real temporary git repository: the files
the change touches, each program's own population, errors in the comment, one exit code."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rulelang.tools.cli import main
from whatif_helpers import FIXTURES

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

RUN = ["--customers", "150", "--months", "2", "--trials", "1", "--seed", "3", "--workers", "1"]
BIRTHDAY = (FIXTURES / "birthday.loyalty").read_text(encoding="utf-8")
CALM = (FIXTURES / "calm.yaml").read_text(encoding="utf-8")
# a YAML program: checked and listed like a text one
GIFT_YAML = """program:
  name: Gift Club
  currency: USD
  rules:
    base:
      on: purchase
      actions:
        - award: {points: 1, per: 1 USD}
"""


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=repo,
                          capture_output=True, text=True, check=True)
    return proc.stdout


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two programs (text and YAML), the text one with its own population by convention."""
    (tmp_path / "rules" / "data" / "birthday").mkdir(parents=True)
    (tmp_path / "rules" / "birthday.loyalty").write_text(BIRTHDAY)
    (tmp_path / "rules" / "data" / "birthday" / "population.yaml").write_text(CALM)
    (tmp_path / "rules" / "gift.yaml").write_text(GIFT_YAML)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "the programs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CI", "true")  # no progress bar
    return tmp_path


def plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["plan", *argv, "--detailed-exitcode", "--out", "plan.json", "--markdown", "plan.md", *RUN])
    capsys.readouterr()
    return code, json.loads(Path("plan.json").read_text()), Path("plan.md").read_text()


def files(doc: dict) -> list[tuple[str, str, str]]:
    return [(f["path"], f["change"], f["kind"]) for f in doc["files"]]


def test_a_change_lists_every_program_and_exits_2(capsys, repo: Path) -> None:
    birthday = repo / "rules" / "birthday.loyalty"
    birthday.write_text(BIRTHDAY.replace("award 50 points", "award 80 points"))
    (repo / "rules" / "birthday.test.loyalty").write_text(
        'test "a birthday gift" {\n  when birthday on 2027-05-04\n  expect earned 80 points\n}\n')
    (repo / "rules" / "new.loyalty").write_text(BIRTHDAY.replace("Birthday Club", "New Club"))
    (repo / "rules" / "gift.yaml").unlink()
    (repo / "rules" / "data" / "birthday" / "population.yaml").write_text(CALM.replace("redeem: 0.5", "redeem: 0.4"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the change")
    code, doc, md = plan(capsys, "--base", "HEAD~1")
    # a changed, a test-only, an added and a removed program file; the population file is no program
    assert files(doc) == [("rules/birthday.loyalty", "changed", "program"),
                          ("rules/birthday.test.loyalty", "added", "tests"),
                          ("rules/gift.yaml", "removed", "program"),
                          ("rules/new.loyalty", "added", "program")]
    assert code == 2  # changes, no error
    changed = doc["files"][0]
    assert changed["population"] == "rules/data/birthday/population.yaml"  # the program's own, by convention
    assert changed["plan"]["changed"] is True
    assert [c["kind"] for c in changed["plan"]["diff"]["changes"]] == ["changed"]
    assert "birthday_gift" in md and "50 → 80 points" in md
    assert md.count("### Plan:") == 1  # one plan: the only program with an old and a new version
    assert "| `rules/gift.yaml` | removed | program removed |" in md
    assert "| `rules/new.loyalty` | added | new program: checks clean" in md
    assert f"Merge base `{git(repo, 'rev-parse', '--short', 'HEAD~1').strip()}`" in md
    assert "3 programs (1 changed, 1 added, 1 removed); 1 test file. Result: changes." in md


def test_a_comment_only_change_exits_0(capsys, repo: Path) -> None:
    birthday = repo / "rules" / "birthday.loyalty"
    birthday.write_text("# a comment only\n" + BIRTHDAY)
    code, doc, md = plan(capsys, "--base", "HEAD")  # the work tree against HEAD: nothing committed
    assert files(doc) == [("rules/birthday.loyalty", "changed", "program")]
    assert doc["files"][0]["plan"]["changed"] is False
    assert code == 0
    assert "Result: no change to any program." in md


def test_no_rule_file_changed(capsys, repo: Path) -> None:
    (repo / "README.md").write_text("notes\n")
    code, doc, md = plan(capsys, "--base", "HEAD")
    assert (code, doc["files"]) == (0, [])
    assert "No rule file changed." in md


def test_errors_are_in_the_comment_and_exit_1(capsys, repo: Path) -> None:
    bad = BIRTHDAY.replace("tier Member from 0", "tier Member from 0\n    tier Silver from 400")
    (repo / "rules" / "birthday.loyalty").write_text(bad)  # Gold 300 after Silver 400: a decrease
    (repo / "rules" / "empty.loyalty").write_text("# to do\n")
    code, doc, md = plan(capsys, "--base", "HEAD")
    assert code == 1
    assert files(doc) == [("rules/birthday.loyalty", "changed", "program"), ("rules/empty.loyalty", "added", "program")]
    assert [e["code"] for e in doc["files"][0]["errors"]] == ["RL301"]
    assert [e["code"] for e in doc["files"][1]["errors"]] == ["RL140"]
    assert doc["files"][0]["plan"] is None  # a program with errors is not simulated
    assert "### Errors" in md and "error[RL301]: tier `Gold` starts at 300, below tier `Silver` (400)" in md
    assert "rules/empty.loyalty:1:1: error[RL140]" in md
    assert "Result: **errors**" in md


def test_base_dot_dot_head_plans_commits_not_the_work_tree(capsys, repo: Path) -> None:
    (repo / "rules" / "gift.yaml").write_text(GIFT_YAML.replace("points: 1,", "points: 2,"))
    git(repo, "commit", "-qam", "double the gift points")
    (repo / "rules" / "birthday.loyalty").write_text(BIRTHDAY.replace("award 50 points", "award 80 points"))  # not committed
    code, doc, md = plan(capsys, "HEAD~1..HEAD")
    assert files(doc) == [("rules/gift.yaml", "changed", "program")]
    assert code == 2
    gift = doc["files"][0]
    # gift has no population of its own: the built-in one
    assert gift["population"] is None and "built-in" in md
    assert gift["plan"]["changed"] is True


def test_a_mapping_file_chooses_the_population(capsys, repo: Path) -> None:
    (repo / "ci").mkdir()
    (repo / "ci" / "calm.yaml").write_text(CALM)
    (repo / "ci" / "populations.yaml").write_text("populations:\n  rules/*.yaml: ci/calm.yaml\n")
    (repo / "rules" / "gift.yaml").write_text(GIFT_YAML.replace("points: 1,", "points: 2,"))
    code, doc, _ = plan(capsys, "--base", "HEAD", "--populations", "ci/populations.yaml")
    assert code == 2
    assert doc["files"][0]["population"] == "ci/calm.yaml"


def test_a_bad_mapping_file_is_located(capsys, repo: Path) -> None:
    Path("map.yaml").write_text("populations:\n  rules/*.yaml: ci/nothing.yaml\n")
    code = main(["plan", "--base", "HEAD", "--populations", "map.yaml", *RUN])
    err = capsys.readouterr().err
    assert code == 1
    assert "map.yaml:2:17: error[RL841]: no such population file: ci/nothing.yaml" in err


def test_an_unknown_base_is_rl840(capsys, repo: Path) -> None:
    code = main(["plan", "--base", "no-such-branch", *RUN])
    err = capsys.readouterr().err
    assert code == 1 and "error[RL840]" in err and "no-such-branch" in err


def test_plan_still_needs_two_programs_without_a_range(capsys, repo: Path) -> None:
    assert main(["plan", "rules/birthday.loyalty"]) == 2
    assert "give OLD and NEW, or BASE..HEAD, or --base REV" in capsys.readouterr().err


def test_a_renamed_program_is_planned_against_its_old_name(capsys, repo: Path) -> None:
    git(repo, "mv", "rules/birthday.loyalty", "rules/club.loyalty")
    (repo / "rules" / "club.loyalty").write_text(BIRTHDAY.replace("award 50 points", "award 80 points"))
    code, doc, md = plan(capsys, "--base", "HEAD")
    assert files(doc) == [("rules/club.loyalty", "renamed", "program")]
    assert doc["files"][0]["old_path"] == "rules/birthday.loyalty"
    assert code == 2 and doc["files"][0]["plan"]["changed"] is True
    assert "| `rules/club.loyalty` (was `rules/birthday.loyalty`) | renamed |" in md


def test_a_failed_guardrail_fails_the_whole_change(capsys, repo: Path) -> None:
    # 80 instead of 50 birthday points: points are issued on every purchase, so more than 1 point
    (repo / "rules" / "birthday.loyalty").write_text(BIRTHDAY.replace("award 50 points", "award 80 points"))
    Path("rails.yaml").write_text("version: 1\nguardrails:\n  - name: hardly any points\n    rule: points_issued <= 1\n")
    code, doc, md = plan(capsys, "--base", "HEAD", "--guardrails", "rails.yaml")
    assert code == 1
    assert doc["files"][0]["plan"]["guardrails_failed"] is True
    assert "**guardrail failed**" in md and "Result: **errors**" in md
