"""The `loyalty` command line: exit codes, output formats, and no tracebacks for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from rulelang.tools import cli
from rulelang.tools.cli import main
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parent.parent

CLEAN = """program "Tiny" {
  points "points"
  currency USD
  earn base on purchase {
    award 1 point per 1 USD
  }
  expire points 12 months after earning
  returns reverse earned points; negative balance forbidden
}

test "ten dollars earn ten points" {
  when purchase 10 USD on 2027-05-04
  expect earned 10 points
}
"""

FAILING_TEST = """
test "a wrong expectation fails" {
  when purchase 10 USD on 2027-05-04
  expect earned 11 points
}
"""

# `categry` is line 5, column 30: an unknown field.
BAD_NAME = """program "Tiny" {
  points "points"
  currency USD
  expire points 12 months after earning
  earn base on purchase when categry == "coffee" {
    award 1 point per 1 USD
  }
}
"""

# the same program as CLEAN, badly laid out
UGLY = """program "Tiny" {
points "points"; currency USD
  earn base on purchase {     award 1 point per 1 USD
  }
      expire points 12 months after earning
  returns reverse earned points; negative balance forbidden
}
"""

BROKEN_SYNTAX = 'program "Tiny" {\n  points "points"\n  earn base on purchase {\n    award 1 point per\n'


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.fixture(autouse=True)
def _plain_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOYALTY_DEBUG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")


# ---------------------------------------------------------------- check


def test_check_clean_file_exits_0_with_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "tiny.loyalty", CLEAN)
    code, out, _ = run(capsys, "check", path)
    assert code == 0
    assert out.splitlines()[-1].startswith("checked 1 file: 0 errors, ")


def test_check_reports_error_with_location_caret_and_hint(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.loyalty", BAD_NAME)
    code, out, _ = run(capsys, "check", path)
    assert code == 1
    assert f"{path}:5:30: error[RL201]" in out
    assert "   5 |   earn base on purchase when categry" in out
    assert "^" in out and "category" in out  # did-you-mean hint
    assert "checked 1 file: 1 error," in out


def test_check_json_has_counts_and_ranges(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "rules/bad.loyalty", BAD_NAME)
    write(tmp_path, "rules/tiny.loyalty", CLEAN)
    code, out, _ = run(capsys, "check", str(tmp_path / "rules"), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert doc["format_version"] == "1.0"
    assert doc["valid"] is False
    assert doc["error_count"] == 1
    assert isinstance(doc["warning_count"], int)
    assert [f["path"] for f in doc["files"]] == [bad, str(tmp_path / "rules" / "tiny.loyalty")]
    assert [f["valid"] for f in doc["files"]] == [False, True]
    errors = [d for d in doc["diagnostics"] if d["severity"] == "error"]
    assert errors[0]["code"] == "RL201"
    assert errors[0]["range"]["filename"] == bad
    assert errors[0]["range"]["start"] == {"line": 5, "column": 30}


def test_check_github_annotations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "bad.loyalty", BAD_NAME)
    code, out, _ = run(capsys, "check", path, "--format", "github")
    assert code == 1
    assert any(line.startswith(f"::error file={path},line=5,col=30") for line in out.splitlines())


def test_check_max_errors_hides_the_rest_but_counts_them(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    a = write(tmp_path, "a.loyalty", BAD_NAME)
    b = write(tmp_path, "b.loyalty", BAD_NAME)
    code, out, _ = run(capsys, "check", a, b, "--max-errors", "1")
    assert code == 1
    assert out.count("error[RL201]") == 1
    assert "... and 1 more error not shown" in out
    assert "checked 2 files: 2 errors," in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check")[0] == 2  # no PATH
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys)[0] == 2
    assert run(capsys, "check", "x.loyalty", "--format", "xml")[0] == 2
    assert run(capsys, "check", "x.loyalty", "--max-errors", "0")[0] == 2
    assert run(capsys, "test", "x", "--run", "(")[0] == 2
    assert run(capsys, "explain", "x.loyalty", "--events", "e.yaml", "--until", "2027-13-01")[0] == 2
    assert run(capsys, "convert", "x.loyalty")[0] == 2  # --to is required
    assert run(capsys, "fmt", "x.loyalty", "--check", "--write")[0] == 2


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "check" in out and "exit codes" in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("loyalty ")


# ---------------------------------------------------------------- bad input never shows a traceback


def test_broken_inputs_are_diagnostics_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = write(tmp_path, "broken.loyalty", BROKEN_SYNTAX)
    binary = tmp_path / "binary.loyalty"
    binary.write_bytes(b"program \xff\xfe {")
    garbage_yaml = write(tmp_path, "garbage.yaml", "program: [unclosed\n  - : :\n")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    wrong_type = write(tmp_path, "notes.txt", "hello")
    for argv in (
        ["check", broken], ["check", str(binary)], ["check", garbage_yaml], ["check", str(empty_dir)],
        ["check", str(tmp_path / "missing.loyalty")], ["check", wrong_type],
        ["fmt", broken], ["fmt", "--check", str(binary)],
        ["test", broken], ["test", garbage_yaml],
        ["convert", broken, "--to", "yaml"], ["convert", str(binary), "--to", "text"],
        ["explain", broken, "--events", broken],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 1, argv
        assert "error" in out + err, argv
    code, out, _ = run(capsys, "check", str(binary))
    assert "RL002" in out
    code, out, _ = run(capsys, "check", str(empty_dir))
    assert "RL005" in out
    code, out, _ = run(capsys, "check", wrong_type)
    assert "RL003" in out


def test_an_internal_error_exits_3_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "tiny.loyalty", CLEAN)

    def explode(sf: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "check", explode)
    code, _, err = run(capsys, "check", path)
    assert code == 3
    assert err.startswith("internal error: RuntimeError: boom")
    assert "please report" in err


# ---------------------------------------------------------------- fmt


def test_fmt_check_then_write_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "ugly.loyalty", UGLY)
    code, out, _ = run(capsys, "fmt", "--check", path)
    assert code == 1
    assert f"would reformat {path}" in out
    assert Path(path).read_text() == UGLY  # --check never writes

    code, out, _ = run(capsys, "fmt", "--diff", path)
    assert code == 0
    assert out.startswith(f"--- {path} (original)")
    assert Path(path).read_text() == UGLY

    code, out, _ = run(capsys, "fmt", path)
    assert code == 0 and f"reformatted {path}" in out
    formatted = Path(path).read_text()
    sf, diags = parse_text(UGLY, path)
    assert sf is not None and formatted == format_source(sf)

    code, out, _ = run(capsys, "fmt", "--check", path)
    assert code == 0
    assert "0 files would be reformatted, 1 already formatted" in out


def test_fmt_never_writes_a_file_with_syntax_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "broken.loyalty", BROKEN_SYNTAX)
    code, _, err = run(capsys, "fmt", path)
    assert code == 1
    assert f"{path}:" in err and "error[RL1" in err
    assert Path(path).read_text() == BROKEN_SYNTAX


def test_fmt_skips_yaml_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "tiny.yaml", "tests: []\n")
    code, _, err = run(capsys, "fmt", path)
    assert code == 0 and f"skipped {path}" in err


# ---------------------------------------------------------------- test


def test_test_command_counts_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "tiny.loyalty", CLEAN + FAILING_TEST)
    code, out, _ = run(capsys, "test", path)
    assert code == 1
    lines = out.splitlines()
    assert "PASS ten dollars earn ten points" in lines
    # the file is named without -v: CLEAN is 14 lines, FAILING_TEST opens with a blank line (15), so
    # its `test` line is 16; the per-file summary comes before the total
    assert f"FAIL a wrong expectation fails ({path}:16)" in lines
    assert lines[-2] == f"{path}: 1 passed, 1 failed"
    assert any(line.startswith(f"  {path}:18:") and line.endswith(": expected earned 11 points, got 10 (rule base 10)")
               for line in lines)
    assert lines[-1] == "1 passed, 1 failed"

    code, out, _ = run(capsys, "test", path, "--run", "^ten")
    assert code == 0 and out.splitlines()[-1] == "1 passed, 0 failed"

    code, out, _ = run(capsys, "test", path, "--format", "json")
    doc = json.loads(out)
    assert (code, doc["passed"], doc["failed"]) == (1, 1, 1)
    failure = doc["files"][0]["tests"][1]["failures"][0]
    assert (failure["kind"], failure["expected"], failure["actual"]) == ("earned", 11, 10)

    code, out, _ = run(capsys, "test", path, "--format", "github")
    assert code == 1
    assert f"::error file={path},line=18," in out
    assert ",title=FAIL a wrong expectation fails::expected earned 11 points" in out
    assert out.splitlines()[-1] == "1 passed, 1 failed"


def test_verbose_shows_the_trace_of_failing_tests(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "tiny.loyalty", CLEAN + FAILING_TEST)
    code, out, _ = run(capsys, "test", "-v", path)
    assert code == 1
    assert out.splitlines()[0] == path
    assert "base" in out.split(f"FAIL a wrong expectation fails ({path}:16)", 1)[1]


# ---------------------------------------------------------------- explain

EVENTS = """customer:
  balance: 5
events:
  - {type: purchase, date: 2027-05-04, time: "09:30", amount: 7.40, id: A1}
  - {type: purchase, date: 2027-05-05, amount: "2.60 USD"}
"""


def test_explain_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write(tmp_path, "tiny.loyalty", CLEAN)
    events = write(tmp_path, "events.yaml", EVENTS)
    code, out, _ = run(capsys, "explain", program, "--events", events)
    assert code == 0 and "base" in out
    code, out, _ = run(capsys, "explain", program, "--events", events, "--format", "json")
    assert code == 0
    totals = json.loads(out)["totals"]
    # opening lot 5; 7.40 USD -> floor(7.4) = 7; 2.60 USD -> floor(2.6) = 2
    assert totals["earned"] == 9
    assert totals["issued"] == 14
    assert totals["outstanding"] == 14


def test_explain_reports_bad_events_at_their_line_and_column(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    program = write(tmp_path, "tiny.loyalty", CLEAN)
    events = write(tmp_path, "events.yaml", (
        "customer:\n"
        "  balanse: 5\n"                                              # line 2: unknown key
        "events:\n"
        "  - {type: purchase, date: 2027-05-04, amount: 7.405}\n"    # line 4: fraction of a cent
        "  - {type: purchace, date: 2027-05-05, amount: 1}\n"        # line 5: unknown event type
        "  - {type: purchase, date: 2027-02-30, amount: 1}\n"        # line 6: no such date
    ))
    code, _, err = run(capsys, "explain", program, "--events", events)
    assert code == 1
    assert f"{events}:2:3: error[RL011]: unknown key `balanse` in customer" in err
    assert "did you mean `balance`?" in err
    assert f"{events}:4:48: error[RL012]" in err
    assert f"{events}:5:12: error[RL011]: unknown event type `purchace`" in err
    assert f"{events}:6:28: error[RL012]" in err


def test_explain_names_a_key_written_for_type(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write(tmp_path, "tiny.loyalty", CLEAN)
    events = write(tmp_path, "events.yaml", (
        "events:\n"
        "  - {kind: purchase, date: 2027-05-04, amount: 7.40}\n"    # line 2: `kind` at column 6 (after "  - {")
        "  - {date: 2027-05-05, amount: 1}\n"                      # line 3: no type at all
    ))
    code, _, err = run(capsys, "explain", program, "--events", events)
    assert code == 1
    assert f"{events}:2:6: error[RL013]: event 1 has no `type` (`kind` is not a key of an event)" in err
    assert "write `type: purchase`" in err
    assert f"{events}:3:5: error[RL013]: event 2 has no `type`\n" in err


def test_explain_yaml_syntax_error_and_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write(tmp_path, "tiny.loyalty", CLEAN)
    events = write(tmp_path, "events.yaml", "events:\n  - {type: purchase, date: 2027-05-04\n")
    code, _, err = run(capsys, "explain", program, "--events", events)
    assert code == 1 and "error[RL010]" in err
    events = write(tmp_path, "order.yaml", (
        "events:\n"
        "  - {type: purchase, date: 2027-05-04, amount: 1}\n"
        "  - {type: purchase, date: 2027-05-03, amount: 1}\n"
    ))
    code, _, err = run(capsys, "explain", program, "--events", events)
    assert code == 1 and f"{events}:3:5: error[RL501]: events out of order" in err


def test_explain_reads_json_events_and_a_customer_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write(tmp_path, "tiny.loyalty", CLEAN)
    events = write(tmp_path, "events.json", json.dumps(
        {"events": [{"type": "purchase", "date": "2027-05-04", "amount": 3}]}))
    customer = write(tmp_path, "customer.yaml", "balance: 10\n")
    code, out, _ = run(capsys, "explain", program, "--events", events, "--customer", customer, "--format", "json")
    assert code == 0
    totals = json.loads(out)["totals"]
    assert (totals["earned"], totals["issued"]) == (3, 13)


# ---------------------------------------------------------------- convert


def test_convert_to_yaml_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = write(tmp_path, "tiny.loyalty", CLEAN)
    code, out, _ = run(capsys, "convert", program, "--to", "yaml")
    assert code == 0
    from_yaml, diags = load_yaml(out, "tiny.yaml")
    original, _ = parse_text(CLEAN, program)
    assert not [d for d in diags if d.is_error]
    assert from_yaml is not None and original is not None
    assert from_yaml.program == original.program and from_yaml.tests == original.tests

    yaml_path = str(tmp_path / "tiny.yaml")
    code, _, err = run(capsys, "convert", program, "--to", "yaml", "-o", yaml_path)
    assert code == 0 and f"wrote {yaml_path}" in err
    code, out, _ = run(capsys, "convert", yaml_path, "--to", "text")
    assert code == 0
    assert out == format_source(original)


# ---------------------------------------------------------------- colours and plugins


class _Tty:
    def isatty(self) -> bool:
        return True


def test_colours_only_on_a_terminal_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert cli.color_enabled(_Tty())  # type: ignore[arg-type]
    assert not cli.color_enabled(sys.stdout)  # captured by pytest: not a terminal
    monkeypatch.setenv("CI", "true")
    assert not cli.color_enabled(_Tty())  # type: ignore[arg-type]
    monkeypatch.delenv("CI")
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli.color_enabled(_Tty())  # type: ignore[arg-type]


def test_plugin_commands_register_through_the_seam(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    plugin = types.ModuleType("fake_plugin_cli")

    def register(subparsers: object) -> None:
        p = subparsers.add_parser("simulate")  # type: ignore[attr-defined]
        p.add_argument("program")
        p.set_defaults(func=lambda args: print(f"simulating {args.program}") or 0)

    plugin.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_plugin_cli", plugin)
    monkeypatch.setattr(cli, "PLUGIN_MODULES", {"fake_plugin_cli": ("simulate",)})
    code, out, _ = run(capsys, "simulate", "x.loyalty")
    assert (code, out) == (0, "simulating x.loyalty\n")
    monkeypatch.setattr(cli, "PLUGIN_MODULES", {"no_such_plugin_module": ("simulate",)})
    assert run(capsys, "check", "--help")[0] == 0  # a missing plugin is simply not offered


def test_a_plugin_that_fails_to_load_offers_its_commands_as_unavailable(capsys, monkeypatch) -> None:
    from rulelang.tools import cli

    broken = types.ModuleType("broken_plugin_cli")

    def register(subparsers: object) -> None:
        raise AttributeError("'function' object has no attribute '__mro__'")

    broken.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "broken_plugin_cli", broken)
    monkeypatch.setattr(cli, "PLUGIN_MODULES", {"broken_plugin_cli": ("fit", "replay")})
    for command in ("fit", "replay"):
        code, _, err = run(capsys, command, "data.csv")
        assert code == 3  # an installation fault, not the user's mistake
        assert f"`loyalty {command}` is unavailable" in err and "AttributeError" in err
    assert run(capsys, "check", "--help")[0] == 0


# ---------------------------------------------------------------- a real process


def test_python_dash_m_rulelang_in_a_subprocess(tmp_path: Path) -> None:
    clean = write(tmp_path, "tiny.loyalty", CLEAN)
    bad = write(tmp_path, "bad.loyalty", BAD_NAME)
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-m", "rulelang", "check", clean], capture_output=True, text=True,
                        env=env, cwd=ROOT, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "checked 1 file: 0 errors" in ok.stdout
    failed = subprocess.run([sys.executable, "-m", "rulelang", "check", bad, "--format", "json"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["error_count"] == 1
    assert "Traceback" not in failed.stdout + failed.stderr
    usage = subprocess.run([sys.executable, "-m", "rulelang", "nonsense"], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=120)
    assert usage.returncode == 2 and "usage: loyalty" in usage.stderr


# ---------------------------------------------------------------- the README's first command


@pytest.mark.skipif(not (ROOT / "rules" / "coffee.loyalty").exists(), reason="example programs not present")
def test_readme_commands_work_on_the_examples(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, out, _ = run(capsys, "check", "rules")
    assert code == 0, out
    code, out, err = run(capsys, "explain", "rules/coffee.loyalty", "--events", "rules/events/coffee_week.yaml",
                         "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    # worked out in the comments of rules/events/coffee_week.yaml:
    # earned 4 + 0 + 6 + 50 + 100 + 24 + 8 = 192; 140 opening + 192 = 332 issued;
    # 150 redeemed (free_drink), 4 reversed (return of A1): 332 - 150 - 4 = 178 outstanding.
    assert doc["totals"]["earned"] == 192
    assert doc["totals"]["issued"] == 332
    assert doc["totals"]["redeemed"] == 150
    assert doc["totals"]["reversed"] == 4
    assert doc["totals"]["outstanding"] == 178
    assert doc["costs_cents"]["reward"] == 150


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```\n")[1::2]][:2]
    assert blocks[0].startswith("pip install . && loyalty simulate rules/coffee.loyalty")
    words = blocks[0].split()
    for path in (w for w in words if w.startswith("rules/")):  # the files it names are bundled
        assert (ROOT / path).is_file(), path
    assert blocks[1] == 'pip install ".[test]" && pytest'
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install ".[test]" && pytest' in ci
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_the_readme_example_program_passes_its_test(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    example = next(b for b in readme.split("```")[1::2] if b.lstrip().startswith("program"))
    path = write(tmp_path, "readme.loyalty", example.lstrip("\n"))
    code, out, _ = run(capsys, "test", path)
    assert code == 0, out
    assert out.splitlines()[-1] == "1 passed, 0 failed"


# ---------------------------------------------------------------- finding and reading files


def test_discover_finds_rule_files_and_skips_the_rest(tmp_path: Path) -> None:
    from rulelang.syntax.loader import discover

    write(tmp_path, "rules/a.loyalty", CLEAN)
    write(tmp_path, "rules/b.yaml", "program:\n  name: B\n")
    write(tmp_path, "rules/b_test.yaml", "tests: []\n")
    write(tmp_path, "rules/populations/default.yaml", "segments: []\n")
    write(tmp_path, "rules/crowd.yaml", "segments:\n  - {name: x, share: 1}\n")
    write(tmp_path, "rules/events/week.yaml", "events:\n  - {type: purchase, date: 2027-01-01, amount: 1}\n")
    write(tmp_path, "rules/one_customer.yml", "customer: {balance: 1}\nevents: []\n")
    write(tmp_path, "rules/.hidden/c.loyalty", CLEAN)
    write(tmp_path, "rules/notes.txt", "not a rule file")
    files, diags = discover([str(tmp_path / "rules")])
    assert diags == []
    assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == [
        "rules/a.loyalty", "rules/b.yaml", "rules/b_test.yaml"]
    files, diags = discover([str(tmp_path / "rules" / "a.loyalty"), str(tmp_path / "rules"),
                             str(tmp_path / "nowhere")])
    assert len(files) == 3  # a.loyalty once
    assert [d.code for d in diags] == ["RL001"]


def test_sibling_test_files_bind_to_their_program(tmp_path: Path) -> None:
    from rulelang.syntax.loader import load_with_program, sibling_test_files

    program = write(tmp_path, "tiny.loyalty", CLEAN.split("\ntest ")[0])
    tests = write(tmp_path, "tiny.test.loyalty", "test " + CLEAN.split("\ntest ")[1])
    assert sibling_test_files(program) == [tests]
    loaded = load_with_program(tests)
    assert loaded.program_path == program and loaded.borrows_program
    assert loaded.source is not None and loaded.source.program is not None
    assert [t.name for t in loaded.source.tests] == ["ten dollars earn ten points"]


def test_load_file_reads_utf8_with_bom_and_crlf(tmp_path: Path) -> None:
    from rulelang.syntax.loader import load_file

    path = tmp_path / "tiny.loyalty"
    path.write_bytes(b"\xef\xbb\xbf" + CLEAN.replace("\n", "\r\n").encode())
    sf, diags, text = load_file(str(path))
    assert sf is not None and not [d for d in diags if d.is_error]
    assert text == CLEAN


def test_fmt_dash_formats_stdin_to_stdout(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(UGLY))
    code, out, _ = run(capsys, "fmt", "-")
    sf, _ = parse_text(UGLY, "<stdin>")
    assert sf is not None
    assert (code, out) == (0, format_source(sf))
    monkeypatch.setattr(sys, "stdin", io.StringIO(UGLY))
    assert run(capsys, "fmt", "--check", "-")[0] == 1
