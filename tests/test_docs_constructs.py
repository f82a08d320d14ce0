"""Every complete program in docs/yaml.md (a ```yaml block that starts with `program:`, after any
comment lines) and every ```loyalty block of docs/semantics.md loads, checks without errors and
passes its tests; and each construct of the language has such an example on both pages
(docs/language.md's examples are checked by tests/test_docs.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.tools.testing import run_tests

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGE = DOCS / "yaml.md"
SEMANTICS = DOCS / "semantics.md"
BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _programs() -> list[tuple[int, str]]:
    text = PAGE.read_text(encoding="utf-8")
    out = []
    for m in BLOCK.finditer(text):
        body = m.group(1)
        first = next((ln for ln in body.splitlines() if ln.strip() and not ln.startswith("#")), "")
        if first.startswith("program:"):
            out.append((text.count("\n", 0, m.start()) + 2, body))
    return out


PROGRAMS = _programs()


@pytest.mark.parametrize("line, body", PROGRAMS, ids=[f"yaml.md:{ln}" for ln, _ in PROGRAMS])
def test_each_yaml_program_checks_and_passes_its_tests(line: int, body: str) -> None:
    sf, diags = load_yaml(body, f"docs/yaml.md:{line}")
    assert sf is not None and not [d for d in diags if d.is_error], [d.message for d in diags]
    program, cdiags = compile_source(sf)
    assert program is not None and not [d for d in cdiags if d.is_error], [d.message for d in cdiags]
    outcomes = run_tests(sf, program)
    assert outcomes and all(o.passed for o in outcomes), [(o.name, o.failures) for o in outcomes if not o.passed]


# what each construct looks like in a complete YAML program (docs/yaml.md), one pattern each
CONSTRUCTS = {
    "balances beside the points": r"^\s+balances:",
    "returns that lower the tier metric": r"lower_metrics: true",
    "a tier lost at once on a return": r"on_return: lower_at_once",
    "line items": r"^\s+lines:",
    "an award on the lines of some categories": r"in: \[",
    "vouchers with a life": r"valid: \d+ (year|month|day)",
    "status dates": r"^\s+status: \{valid_through:",
    "activity": r"^\s+activity: \[",
    "a tier's own rate": r"^\s+award: \{points: [\d.]+, per:",
    "an expectation on one event": r"- event: \{",
    "a negative event expectation": r"- event: \{return: [^,]+, discount: -",
}


@pytest.mark.parametrize("construct", CONSTRUCTS)
def test_each_construct_has_a_complete_yaml_example(construct: str) -> None:
    pattern = re.compile(CONSTRUCTS[construct], re.MULTILINE)
    assert any(pattern.search(body) for _, body in PROGRAMS), construct


LOYALTY_BLOCK = re.compile(r"^```loyalty\n(.*?)^```", re.MULTILINE | re.DOTALL)
SEMANTICS_BLOCKS = [(SEMANTICS.read_text(encoding="utf-8").count("\n", 0, m.start()) + 2, m.group(1))
                    for m in LOYALTY_BLOCK.finditer(SEMANTICS.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("line, body", SEMANTICS_BLOCKS, ids=[f"semantics.md:{ln}" for ln, _ in SEMANTICS_BLOCKS])
def test_each_semantics_program_checks_and_passes_its_tests(line: int, body: str) -> None:
    sf, diags = parse_text(body, f"docs/semantics.md:{line}")
    assert sf is not None and not [d for d in diags if d.is_error], [d.message for d in diags]
    program, cdiags = compile_source(sf)
    assert program is not None and not [d for d in cdiags if d.is_error], [d.message for d in cdiags]
    outcomes = run_tests(sf, program)
    assert len(outcomes) >= 5 and all(o.passed for o in outcomes), [(o.name, o.failures) for o in outcomes]


TEXT_CONSTRUCTS = {
    "balances beside the points": r'^\s+balance "\w+" not redeemable',
    "returns that lower the tier metric": r"returns lower tier metric and counters",
    "a tier lost at once on a return": r"returns lower tier at once",
    "line items": r"\{ line \d",
    "an award on the lines of some categories": r'in category "',
    "vouchers with a life": r"voucher valid \d+ (year|month|day)",
    "status dates": r"status valid through",
    "activity": r"activity is ",
    "a tier's own rate": r"^\s{6}award [\d.]+ points per",
    "an expectation on one event": r'expect (purchase|return) (on|")',
    "vouchers in a test": r"expect vouchers issued",
}


@pytest.mark.parametrize("construct", TEXT_CONSTRUCTS)
def test_each_construct_has_a_checked_example_in_semantics(construct: str) -> None:
    pattern = re.compile(TEXT_CONSTRUCTS[construct], re.MULTILINE)
    assert any(pattern.search(body) for _, body in SEMANTICS_BLOCKS), construct
