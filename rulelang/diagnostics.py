"""Diagnostics: the one error/warning type every stage reports, and its renderers.

Takes: spans and messages from the parser, YAML loader, checker and commands.
Gives: `Diagnostic` values, rendered as human text (with source line and caret),
GitHub annotations, or JSON (Terraform-validate shaped).
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Span:
    """A range in a source file; lines and columns are 1-based, end is inclusive of the last char."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(file: str, line: int, column: int) -> "Span":
        return Span(file, line, column, line, column)

    def to_json(self) -> dict[str, object]:
        return {
            "filename": self.file,
            "start": {"line": self.line, "column": self.column},
            "end": {"line": self.end_line, "column": self.end_column},
        }


NO_SPAN = Span("<none>", 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: a stable code (RL1xx syntax, 2xx names/types, 3xx conflicts, 4xx limits)."""

    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "summary": self.message,
            "hint": self.hint,
            "range": self.span.to_json() if self.span.line else None,
        }


class RulelangError(Exception):
    """Root of the error tree. Carries the diagnostics that explain the failure."""

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = list(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(first.message if first else "error")


class RuleSyntaxError(RulelangError):
    """The text or YAML could not be parsed."""


class RuleCheckError(RulelangError):
    """The program parsed but is not valid (names, types, conflicts)."""


class EvaluationError(RulelangError):
    """Events given to the interpreter are invalid (bad dates, unknown event types...)."""


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, or None."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.span.file, d.span.line, d.span.column, d.code)


_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def _source_line(sources: dict[str, str], span: Span) -> str | None:
    text = sources.get(span.file)
    if text is None or span.line <= 0:
        return None
    # The text form counts lines at "\n" only; YAML also at NEL, U+2028 and U+2029.
    lines = text.replace("\r\n", "\n").split("\n") if span.file.endswith(".loyalty") else text.splitlines()
    if span.line > len(lines):
        return None
    return _UNPRINTABLE.sub("\ufffd", lines[span.line - 1])  # one column each, nothing a terminal acts on


EXCERPT_WIDTH = 120  # characters of a source line shown under a diagnostic
EXCERPT_LEAD = 20  # of them, before the span when the line is cut


def render_text(diags: Sequence[Diagnostic], sources: dict[str, str]) -> str:
    """`file:line:col: error[RL201]: message`, the source line, a caret, and the hint."""
    out: list[str] = []
    for d in diags:
        loc = f"{d.span.file}:{d.span.line}:{d.span.column}" if d.span.line else d.span.file
        where = "" if d.span.file == NO_SPAN.file else f"{loc}: "  # a diagnostic about no file (run settings)
        out.append(f"{where}{d.severity}[{d.code}]: {d.message}")
        src = _source_line(sources, d.span)
        if src is not None:
            width = 1
            if d.span.end_line == d.span.line and d.span.end_column >= d.span.column:
                width = d.span.end_column - d.span.column + 1
            width = max(1, min(width, max(1, len(src) - d.span.column + 1)))
            column = d.span.column
            if len(src) > EXCERPT_WIDTH:  # a long line is shown as the part around the span, marked with …
                start = max(0, min(column - 1 - EXCERPT_LEAD, len(src) - EXCERPT_WIDTH))
                end = start + EXCERPT_WIDTH
                lead = "…" if start else ""
                width = max(1, min(width, end - (column - 1)))
                src, column = lead + src[start:end] + ("…" if end < len(src) else ""), column - start + len(lead)
            gutter = f"{d.span.line:>4} | "
            out.append(gutter + src)
            out.append(" " * (len(gutter) + column - 1) + "^" * width)
        if d.hint:
            out.append(f"     = hint: {d.hint}")
    return "\n".join(out)


def render_github(diags: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands (`::error file=..,line=..,col=..::msg`)."""
    out = []
    for d in diags:
        msg = f"[{d.code}] {d.message}" + (f" ({d.hint})" if d.hint else "")
        msg = msg.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        loc = f"file={d.span.file}" if d.span.file != NO_SPAN.file else ""
        if d.span.line:
            loc += f",line={d.span.line},col={d.span.column},endLine={d.span.end_line},endColumn={d.span.end_column}"
        props = f"{loc},title={d.code}" if loc else f"title={d.code}"
        out.append(f"::{d.severity} {props}::{msg}")
    return "\n".join(out)


def render_json(diags: Sequence[Diagnostic]) -> str:
    errors = sum(1 for d in diags if d.is_error)
    doc = {
        "format_version": "1.0",
        "valid": errors == 0,
        "error_count": errors,
        "warning_count": len(diags) - errors,
        "diagnostics": [d.to_json() for d in diags],
    }
    return json.dumps(doc, indent=2)


@dataclass
class DiagnosticBag:
    """Collects diagnostics across stages so `check` can report all of them."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, "error", message, span, hint))

    def warning(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.items.append(Diagnostic(code, "warning", message, span, hint))

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)
