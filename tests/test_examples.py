"""The example programs in rules/: they check clean, their tests pass, and the
text and YAML forms of each program mean the same thing (equal AST and IR)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from rulelang.syntax import ast
from rulelang.check.checker import check
from rulelang.check.compiler import compile_source
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.tools.testing import run_tests
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml

RULES = Path(__file__).resolve().parent.parent / "rules"
TEXT_FILES = sorted(p for p in RULES.glob("*.loyalty") if not p.name.endswith(".test.loyalty"))
YAML_FILES = sorted(RULES.glob("*.yaml"))
EXPECTED_PROGRAMS = {"coffee", "fashion_discount", "supermarket", "online_shop", "airline", "cosmetics"}
REQUIRED_TWINS = {"coffee", "online_shop"}
TEST_NAME = re.compile(r'^test\s+"((?:[^"\\]|\\.)*)"', re.MULTILINE)


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _errors(diags: list) -> list:
    return [d for d in diags if d.is_error]


def _describe(diags: list) -> str:
    return "\n".join(f"{d.span.file}:{d.span.line}:{d.span.column}: {d.severity}[{d.code}] {d.message}" for d in diags)


@cache
def _parse_text_file(path: Path) -> ast.SourceFile:
    sf, diags = parse_text(path.read_text(encoding="utf-8"), str(path))
    assert sf is not None and not _errors(diags), _describe(diags)
    return sf


@cache
def _load_yaml_file(path: Path) -> ast.SourceFile:
    sf, diags = load_yaml(path.read_text(encoding="utf-8"), str(path))
    assert sf is not None and not _errors(diags), _describe(diags)
    return sf


@cache
def _compile(sf: ast.SourceFile):
    program, diags = compile_source(sf)
    assert program is not None and not _errors(diags), _describe(diags)
    return program


def _test_cases() -> list[tuple[Path, str]]:
    """(file, test name) pairs, read with a plain regex so collection never depends on the parser."""
    cases = []
    for path in TEXT_FILES:
        for match in TEST_NAME.finditer(path.read_text(encoding="utf-8")):
            cases.append((path, match.group(1).replace('\\"', '"').replace("\\\\", "\\")))
    return cases


def test_all_six_programs_are_there() -> None:
    assert {p.stem for p in TEXT_FILES} >= EXPECTED_PROGRAMS
    assert {p.stem for p in YAML_FILES} >= REQUIRED_TWINS


@pytest.mark.parametrize("path", TEXT_FILES, ids=_ids(TEXT_FILES))
def test_every_program_has_tests(path: Path) -> None:
    assert len(_parse_text_file(path).tests) >= 8


@pytest.mark.parametrize("path", TEXT_FILES, ids=_ids(TEXT_FILES))
def test_text_program_checks_without_errors(path: Path) -> None:
    sf = _parse_text_file(path)
    assert sf.program is not None
    diags = check(sf)
    assert not _errors(diags), _describe(diags)


@pytest.mark.parametrize("path", TEXT_FILES, ids=_ids(TEXT_FILES))
def test_text_program_has_no_warnings(path: Path) -> None:
    """The examples are what people copy: they should not even raise a warning."""
    diags = check(_parse_text_file(path))
    assert not diags, _describe(diags)


@pytest.mark.parametrize("path", TEXT_FILES, ids=_ids(TEXT_FILES))
def test_text_program_is_formatted(path: Path) -> None:
    """`loyalty fmt --check rules` stays clean: the examples are in the canonical layout."""
    assert format_source(_parse_text_file(path)) == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", YAML_FILES, ids=_ids(YAML_FILES))
def test_yaml_program_checks_without_errors(path: Path) -> None:
    sf = _load_yaml_file(path)
    assert sf.program is not None
    diags = check(sf)
    assert not _errors(diags), _describe(diags)


CASES = _test_cases()


@pytest.mark.parametrize("path, name", CASES, ids=[f"{p.stem}: {n}" for p, n in CASES])
def test_example_test_passes(path: Path, name: str) -> None:
    sf = _parse_text_file(path)
    program = _compile(sf)
    outcomes = [o for o in run_tests(sf, program) if o.name == name]
    assert len(outcomes) == 1, f"test {name!r} not found once in {path.name}"
    outcome = outcomes[0]
    problems = [f.message for f in outcome.failures] + [d.message for d in outcome.diagnostics if d.is_error]
    assert outcome.passed, f"{path.name}: {name}\n" + "\n".join(problems)


@pytest.mark.parametrize("path", YAML_FILES, ids=_ids(YAML_FILES))
def test_yaml_tests_pass(path: Path) -> None:
    sf = _load_yaml_file(path)
    program = _compile(sf)
    outcomes = run_tests(sf, program)
    assert outcomes, f"{path.name} has no tests"
    failing = {o.name: [f.message for f in o.failures] + [d.message for d in o.diagnostics]
               for o in outcomes if not o.passed}
    assert not failing, failing


@pytest.mark.parametrize("path", YAML_FILES, ids=_ids(YAML_FILES))
def test_yaml_twin_equals_text_program(path: Path) -> None:
    text_path = path.with_suffix(".loyalty")
    assert text_path.exists(), f"{path.name} has no text twin {text_path.name}"
    text_sf = _parse_text_file(text_path)
    yaml_sf = _load_yaml_file(path)
    assert yaml_sf.program == text_sf.program
    assert yaml_sf.tests == text_sf.tests
    assert _compile(yaml_sf) == _compile(text_sf)


@pytest.mark.parametrize("path", TEXT_FILES, ids=_ids(TEXT_FILES))
def test_text_to_yaml_and_back_gives_the_same_program(path: Path) -> None:
    text_sf = _parse_text_file(path)
    source = to_yaml(text_sf)
    back, diags = load_yaml(source, str(path.with_suffix(".yaml")))
    assert back is not None and not _errors(diags), _describe(diags) + "\n" + source
    assert back.program == text_sf.program
    assert back.tests == text_sf.tests
    assert _compile(back) == _compile(text_sf)
