"""Every diagnostic code the product can emit has a page in docs/errors/ and a row in its index.

The codes are found the way a reader would find them: every quoted `"RLnnn"` (or
`'RLnnn'`) in the source of `rulelang/` and `simulator/`, whether written in a
`Diagnostic(...)` call or as a named constant (`OUT_OF_ORDER = "RL501"`). A new code
added without its page, or without its row in docs/errors/README.md, fails here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = (ROOT / "rulelang", ROOT / "simulator")
PAGES = ROOT / "docs" / "errors"
INDEX = PAGES / "README.md"

QUOTED_CODE = re.compile(r"""["'](RL\d{3})["']""")
# A code put together at run time would escape the scan above.
BUILT_CODE = re.compile(r"""f["']RL\{|["']RL["']\s*[+%]|["']RL%|["']RL\{""")
TITLE = re.compile(r"^# (RL\d{3}) — \S.*$")
SEVERITY = re.compile(r"^\*\*Severity:\*\* (.+)$", re.M)
ROW = re.compile(r"^\|\s*(RL\d{3})\s*\|(.*)\|\s*$")
LINK = re.compile(r"\[[^\]]*\]\(([^)]+)\)")


def _source_files() -> list[Path]:
    files: list[Path] = []
    for directory in SOURCE_DIRS:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    return files


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:  # a binary file
        return None
    return data.decode("utf-8", errors="replace")


def emitted_codes() -> dict[str, list[str]]:
    """Code -> the source files (relative paths) that mention it in quotes."""
    found: dict[str, list[str]] = {}
    for path in _source_files():
        text = _text(path)
        if text is None:
            continue
        for code in sorted(set(QUOTED_CODE.findall(text))):
            found.setdefault(code, []).append(str(path.relative_to(ROOT)))
    return found


@dataclass(frozen=True)
class IndexRow:
    code: str
    severity: str
    stage: str
    meaning: str
    link: str


def index_rows() -> list[IndexRow]:
    rows: list[IndexRow] = []
    for line in INDEX.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in match.group(2).split("|")]
        assert len(cells) == 4, f"index row of {match.group(1)} needs severity | stage | meaning | page: {line}"
        link = LINK.search(cells[3])
        rows.append(IndexRow(match.group(1), cells[0], cells[1], cells[2], link.group(1) if link else ""))
    return rows


def page_codes() -> list[str]:
    return sorted(p.stem for p in PAGES.glob("RL*.md"))


# ---------------------------------------------------------------- the scan itself


def test_the_scan_finds_codes_of_every_stage() -> None:
    """Guards the scan: if the source moved, an empty result must not pass silently."""
    codes = emitted_codes()
    for known in ("RL001", "RL010", "RL101", "RL201", "RL501", "RL601", "RL999"):
        assert known in codes, f"{known} not found in {', '.join(str(d) for d in SOURCE_DIRS)}"


def test_no_code_is_put_together_at_run_time() -> None:
    """Codes are written out in full, so the scan (and a reader's grep) sees every one."""
    built = []
    for path in _source_files():
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if BUILT_CODE.search(line):
                built.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not built, "write diagnostic codes in full (\"RL123\"):\n" + "\n".join(built)


# ---------------------------------------------------------------- pages and index


def test_every_emitted_code_has_a_page() -> None:
    missing = {code: where for code, where in emitted_codes().items() if not (PAGES / f"{code}.md").is_file()}
    assert not missing, "codes without a page in docs/errors/:\n" + "\n".join(
        f"  {code} (used in {', '.join(where)})" for code, where in sorted(missing.items()))


def test_every_emitted_code_is_in_the_index() -> None:
    listed = {row.code for row in index_rows()}
    missing = sorted(set(emitted_codes()) - listed)
    assert not missing, f"codes missing from docs/errors/README.md: {', '.join(missing)}"


def test_every_page_is_in_the_index_and_every_row_has_its_page() -> None:
    rows = index_rows()
    listed = [row.code for row in rows]
    assert len(listed) == len(set(listed)), f"codes listed twice: {sorted({c for c in listed if listed.count(c) > 1})}"
    assert listed == sorted(listed), "keep the index in code order"
    assert sorted(set(page_codes()) - set(listed)) == [], "pages missing from the index"
    for row in rows:
        assert row.link == f"{row.code}.md", f"{row.code}: the index links to {row.link!r}"
        assert (PAGES / row.link).is_file(), f"{row.code}: no page {row.link}"
        assert row.severity and row.stage and row.meaning, f"{row.code}: empty cell in the index"


def test_every_page_documents_a_code_the_product_emits() -> None:
    stale = sorted(set(page_codes()) - set(emitted_codes()))
    assert not stale, f"pages for codes no source emits: {', '.join(stale)}"


def test_pages_follow_the_format() -> None:
    """`# RLnnn — short name`, a severity that agrees with the index, and how to fix it."""
    severities = {row.code: row.severity for row in index_rows()}
    problems: list[str] = []
    for code in page_codes():
        text = (PAGES / f"{code}.md").read_text(encoding="utf-8")
        title = TITLE.match(text.splitlines()[0] if text else "")
        if not title or title.group(1) != code:
            problems.append(f"{code}: the first line must be `# {code} — short name`")
        severity = SEVERITY.search(text)
        if not severity:
            problems.append(f"{code}: no `**Severity:** ...` line")
        elif code in severities:
            words = set(re.findall(r"warning|error", severities[code]))
            if not words or not words <= set(re.findall(r"warning|error", severity.group(1))):
                problems.append(f"{code}: severity {severity.group(1)!r} does not match the index "
                                f"({severities[code]!r})")
        if "## How to fix" not in text:
            problems.append(f"{code}: no `## How to fix` section")
    assert not problems, "\n".join(problems)


def test_a_long_source_line_is_shown_cut_around_the_span() -> None:
    from rulelang.diagnostics import Diagnostic, Span, render_text

    line = "".join(chr(ord("a") + i % 26) for i in range(500))
    d = Diagnostic("RL001", "error", "here", Span("f.loyalty", 1, 200, 1, 202))
    out = render_text([d], {"f.loyalty": line + "\n"}).splitlines()
    # 120 characters from column 180 (20 before the span), with … on both sides
    assert out[1] == "   1 | …" + line[179:299] + "…"
    assert out[2] == " " * len("   1 | …") + " " * 20 + "^^^"
    assert line[199:202] == out[1][len("   1 | …") + 20:len("   1 | …") + 23]
