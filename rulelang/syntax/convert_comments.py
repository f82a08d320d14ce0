"""Comments across `loyalty convert`: text form -> YAML form and back, comments kept.

Takes: a parsed source file (and, from YAML, its source text). Gives: `to_yaml_keeping_comments(sf)`,
the canonical YAML with the text form's `#` comments, and `to_text_keeping_comments(sf, source)`, the
canonical text with the YAML file's comments.

How a comment finds its place: both forms of the program are parsed, and their ASTs (equal but for
the spans) are walked side by side, so that every node (and every statement the text parser records
in `statement_spans`) gives an anchor: where it starts in the text and on which line of the YAML.
A comment written after code on a line stays at the end of the line of the statement it follows; a
comment on a line of its own goes above the first statement after it (or at the end of the file).
The YAML file's `yaml-language-server` modeline is not carried into the text form.
"""

from __future__ import annotations

import bisect
import dataclasses
import re

import yaml

from rulelang.diagnostics import Span
from rulelang.syntax import ast
from rulelang.syntax.formatter import format_source
from rulelang.syntax.yaml_writer import to_yaml

__all__ = ["to_yaml_keeping_comments", "to_text_keeping_comments", "yaml_comments"]

MODELINE = "# yaml-language-server:"

Anchor = tuple[int, int, int]  # (text line, text column, YAML line)


def to_yaml_keeping_comments(sf: ast.SourceFile) -> str:
    """The canonical YAML of `sf` (from the text form) with its comments placed beside the
    statements they were written next to."""
    plain = to_yaml(sf)
    if not sf.comments:
        return plain
    from rulelang.syntax.yaml_loader import load_yaml

    other, _ = load_yaml(plain, sf.path)
    lines = plain.rstrip("\n").split("\n")
    anchors = _anchors(sf, other, lines) if other is not None else []
    above: dict[int, list[str]] = {}
    after: dict[int, str] = {}
    tail: list[str] = []
    for comment in sorted(sf.comments, key=lambda c: (c.line, c.span.column)):
        column = comment.span.column if comment.span.line else 0
        same_line = [a for a in anchors if a[0] == comment.line and a[1] < column]
        if same_line:
            target = min(same_line)[2]
            if target not in after:
                after[target] = comment.text
                continue
        later = [a for a in anchors if a[0] > comment.line]
        if later:
            above.setdefault(min(later)[2], []).append(comment.text)
        else:
            tail.append(comment.text)
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        indent = " " * (len(line) - len(line.lstrip(" ")))
        out.extend(indent + text for text in above.get(number, []))
        out.append(line + ("  " + after[number] if number in after else ""))
    if tail:
        out.extend(["", *tail])
    return "\n".join(out) + "\n"


def to_text_keeping_comments(sf: ast.SourceFile, source: str) -> str:
    """The canonical text of `sf` (from the YAML form whose text is `source`) with the YAML
    file's comments placed beside the statements they were written next to."""
    comments = [c for c in yaml_comments(source, sf.path) if not c.text.startswith(MODELINE)]
    plain = format_source(sf)
    if not comments:
        return plain
    from rulelang.syntax.parser import parse_text

    text_sf, _ = parse_text(plain, sf.path)
    if text_sf is None:
        return plain
    anchors = _anchors(text_sf, sf, source.split("\n"))
    placed: list[ast.Comment] = []
    last_line = len(plain.split("\n")) + 1
    for comment in comments:
        code_before = source.split("\n")[comment.line - 1][: comment.span.column - 1].strip()
        same_line = [a for a in anchors if a[2] == comment.line] if code_before else []
        if same_line:
            line, column, _ = min(same_line)
            placed.append(ast.Comment(comment.text, line, span=Span.point(sf.path, line, column + 10**6)))
            continue
        later = [a for a in anchors if a[2] > comment.line]
        line = min((a[0] for a in later), default=last_line) - 1  # above the first statement after it
        placed.append(ast.Comment(comment.text, line, span=Span.point(sf.path, line, 0)))
    return format_source(dataclasses.replace(text_sf, comments=tuple(placed)))


# ---------------------------------------------------------------- YAML comments


_HASH = re.compile(r"(?:^|(?<=\s))#")


def yaml_comments(source: str, path: str) -> list[ast.Comment]:
    """The `#` comments of a YAML text, with their lines and columns (a `#` inside a quoted or
    plain value is not a comment)."""
    try:
        tokens = list(yaml.scan(source, Loader=yaml.SafeLoader))
    except yaml.YAMLError:
        return []
    starts, ends = [], []
    for token in tokens:
        if isinstance(token, yaml.ScalarToken):
            starts.append(token.start_mark.index)
            ends.append(token.end_mark.index)
    found: list[ast.Comment] = []
    offset = 0
    for number, line in enumerate(source.split("\n"), start=1):
        for match in _HASH.finditer(line):
            index = offset + match.start()
            i = bisect.bisect_right(starts, index) - 1
            if i >= 0 and starts[i] <= index < ends[i]:
                continue  # inside a value
            text = line[match.start():].rstrip()
            found.append(ast.Comment(text, number, span=Span(path, number, match.start() + 1, number, len(line))))
            break
        offset += len(line) + 1
    return found


# ---------------------------------------------------------------- anchors


def _anchors(text_sf: ast.SourceFile, yaml_sf: ast.SourceFile, yaml_lines: list[str]) -> list[Anchor]:
    """(text line, text column, YAML line) for every node of the two forms of one file, and for
    every statement the text form records without a node (found under its owner in the YAML)."""
    pairs: list[tuple[Span, Span]] = []
    _walk(text_sf.program, yaml_sf.program, pairs)
    _walk(text_sf.tests, yaml_sf.tests, pairs)
    anchors = [(a.line, a.column, b.line) for a, b in pairs if a.line > 0 and b.line > 0]
    owners = {(a.line, a.column): b for a, b in pairs if a.line > 0 and b.line > 0}
    for (line, column, kind), span in text_sf.statement_spans:
        owner = owners.get((line, column))
        if owner is not None and span.line > 0:
            found = _key_line(yaml_lines, owner.line, kind)
            if found is not None:
                anchors.append((span.line, span.column, found))
    return sorted(set(anchors))


def _walk(a: object, b: object, pairs: list[tuple[Span, Span]]) -> None:
    """Collect the spans of the same node in both trees (they are equal but for spans)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        for x, y in zip(a, b):
            _walk(x, y, pairs)
        return
    if not (dataclasses.is_dataclass(a) and type(a) is type(b)) or isinstance(a, Span):
        return
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, Span) and isinstance(y, Span):
            if f.name == "span":
                pairs.append((x, y))
        elif f.compare:
            _walk(x, y, pairs)


def _key_line(lines: list[str], owner_line: int, kind: str) -> int | None:
    """The YAML line, in the block that starts on `owner_line`, where the key `kind` is written
    (`point_cost:`, `price:`, also inside a one-line mapping): the least indented one; None if
    the key is not there."""
    if not 0 < owner_line <= len(lines):
        return None
    key = re.compile(rf"(?:^|[\s{{,]){re.escape(kind)}:")
    indent = _indent(lines[owner_line - 1])
    found: list[tuple[int, int]] = []
    _, _, rest = lines[owner_line - 1].partition(":")
    if key.search(rest):
        found.append((indent, owner_line))  # in the owner's own line (`returns: {negative_balance: ...}`)
    for number in range(owner_line + 1, len(lines) + 1):
        line = lines[number - 1]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _indent(line) <= indent:
            break
        if key.search(line):
            found.append((_indent(line), number))
    return min(found)[1] if found else None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))
