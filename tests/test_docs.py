"""Every ```loyalty example in docs/language.md is valid (and its tests pass);
every deliberate mistake gives the diagnostic the page says it gives.

Block kinds (the convention is stated at the top of docs/language.md):
  ```loyalty               a complete file
  ```loyalty fragment      statements wrapped in the page's frame program
  ```loyalty error RLnnn   a complete file that must produce diagnostic RLnnn
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rulelang.check.checker import check
from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from rulelang.tools.testing import run_tests

DOCS = Path(__file__).resolve().parent.parent / "docs"
LANGUAGE = DOCS / "language.md"

FRAME_HEAD = 'program "Doc" {\n  currency USD\n  point value 0.01 USD\n  event app_checkin\n\n'
FRAME_TAIL = "}\n"
FENCE = re.compile(r"^```(\S*)[ \t]*(.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced example: its kind, the code, and the line where the code starts."""

    kind: str  # "complete" | "fragment" | "error"
    code: str
    line: int
    expected_code: str | None = None


def _blocks(path: Path) -> list[Block]:
    """Fenced ```loyalty blocks at the top level of a Markdown page (indented fences are prose)."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        language, info = match.group(1), match.group(2).split()
        start = i + 1
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            i += 1
        code = "\n".join(lines[start:i]) + "\n"
        i += 1
        if language != "loyalty":
            continue
        if not info:
            blocks.append(Block("complete", code, start + 1))
        elif info[0] == "fragment":
            blocks.append(Block("fragment", code, start + 1))
        elif info[0] == "error" and len(info) == 2:
            blocks.append(Block("error", code, start + 1, info[1]))
        else:
            blocks.append(Block("unknown:" + " ".join(info), code, start + 1))
    return blocks


BLOCKS = _blocks(LANGUAGE)


def _ids(blocks: list[Block]) -> list[str]:
    return [f"language.md:{b.line}" for b in blocks]


def _source(block: Block) -> str:
    if block.kind == "fragment":
        body = "".join("  " + line + "\n" if line.strip() else "\n" for line in block.code.splitlines())
        return FRAME_HEAD + body + FRAME_TAIL
    return block.code


def _describe(diags: list) -> str:
    return "\n".join(f"{d.span.line}:{d.span.column}: {d.severity}[{d.code}] {d.message}" for d in diags)


def test_page_has_examples_of_every_kind() -> None:
    kinds = [b.kind for b in BLOCKS]
    assert kinds.count("complete") >= 5
    assert kinds.count("fragment") >= 5
    assert kinds.count("error") >= 5
    assert all(k in ("complete", "fragment", "error") for k in kinds), kinds


def test_fragment_frame_is_valid_on_its_own() -> None:
    sf, diags = parse_text(FRAME_HEAD + FRAME_TAIL, "frame.loyalty")
    assert sf is not None and not [d for d in diags if d.is_error], _describe(diags)
    assert not [d for d in check(sf) if d.is_error]


GOOD = [b for b in BLOCKS if b.kind in ("complete", "fragment")]


@pytest.mark.parametrize("block", GOOD, ids=_ids(GOOD))
def test_example_parses_and_checks(block: Block) -> None:
    sf, diags = parse_text(_source(block), f"language.md:{block.line}")
    errors = [d for d in diags if d.is_error]
    assert sf is not None and not errors, _describe(errors) + "\n" + _source(block)
    found = check(sf)
    errors = [d for d in found if d.is_error]
    assert not errors, _describe(errors) + "\n" + _source(block)
    if block.kind == "complete":  # whole programs are meant to be copied: not even a warning
        assert not found, _describe(found)


WITH_TESTS = [b for b in BLOCKS if b.kind == "complete" and re.search(r'^test "', b.code, re.MULTILINE)]


@pytest.mark.parametrize("block", WITH_TESTS, ids=_ids(WITH_TESTS))
def test_example_tests_pass(block: Block) -> None:
    sf, _ = parse_text(block.code, f"language.md:{block.line}")
    assert sf is not None
    program, diags = compile_source(sf)
    assert program is not None, _describe(diags)
    outcomes = run_tests(sf, program)
    assert outcomes
    failing = {o.name: [f.message for f in o.failures] + [d.message for d in o.diagnostics]
               for o in outcomes if not o.passed}
    assert not failing, failing


MISTAKES = [b for b in BLOCKS if b.kind == "error"]


@pytest.mark.parametrize("block", MISTAKES, ids=_ids(MISTAKES))
def test_mistake_gives_the_documented_diagnostic(block: Block) -> None:
    sf, diags = parse_text(block.code, f"language.md:{block.line}")
    if sf is not None:
        diags = list(diags) + check(sf)
    codes = {d.code for d in diags if d.is_error}
    assert codes == {block.expected_code}, _describe(diags)  # the one mistake the page talks about
    for d in diags:  # located in the example, with a line and a column
        assert d.span.line >= 1 and d.span.column >= 1


def test_every_documented_error_code_has_a_page() -> None:
    """The page links docs/errors/; each code it shows an example for has its own page."""
    errors_dir = DOCS / "errors"
    missing = [b.expected_code for b in MISTAKES if not (errors_dir / f"{b.expected_code}.md").exists()]
    assert not missing, missing


# ---------------------------------------------------------------- docs/semantics.md
# The reference mostly shows templates (`earn NAME on EVENT [when CONDITION]`), which
# are not meant to parse. Its two concrete examples are checked here: the redemption
# statements (inside a frame that counts in stars) and the test showing every
# given / when / expect form (as a tests-only file, like a sibling NAME.test.loyalty).

SEMANTICS = DOCS / "semantics.md"
STARS_FRAME_HEAD = 'program "Doc" {\n  points "stars"\n  currency USD\n'


def _plain_blocks(path: Path) -> list[tuple[int, str]]:
    """(line, code) of every fenced block of a page."""
    out: list[tuple[int, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            out.append((start + 1, "\n".join(lines[start:i]) + "\n"))
        i += 1
    return out


def _semantics_block(first_word: str) -> tuple[int, str]:
    found = [(line, code) for line, code in _plain_blocks(SEMANTICS) if code.lstrip().startswith(first_word)]
    assert len(found) == 1, f"expected one block starting with {first_word!r} in semantics.md"
    return found[0]


def test_semantics_redemption_example_parses_and_checks() -> None:
    line, code = _semantics_block("reward ")
    source = STARS_FRAME_HEAD + code + FRAME_TAIL
    sf, diags = parse_text(source, f"semantics.md:{line}")
    assert sf is not None and not [d for d in diags if d.is_error], _describe(diags)
    assert not [d for d in check(sf) if d.is_error]
    assert sf.program is not None and sf.program.rewards and sf.program.pay_with_points and sf.program.conversion


def test_semantics_test_example_parses() -> None:
    line, code = _semantics_block("test ")
    sf, diags = parse_text(code, f"semantics.md:{line}")
    assert sf is not None and not [d for d in diags if d.is_error], _describe(diags)
    assert sf.program is None and len(sf.tests) == 1
    case = sf.tests[0]
    assert len(case.givens) == 7 and len(case.events) == 10 and case.until is not None
