"""Text parser: `*.loyalty` source text -> AST (`rulelang.syntax.ast`) plus diagnostics.

Takes: the text of a rule file (or one condition embedded in a YAML file).
Gives: `parse_text(source, path) -> (SourceFile | None, diagnostics)` and
`parse_expression(text, path, line, column) -> (Expr | None, diagnostics)`.

The grammar lives in `rulelang/syntax/grammar/rulelang.lark` (lark, LALR, contextual lexer).
Syntax errors become diagnostics in words a marketer knows (RL101 unexpected word,
RL102 unterminated text or block, RL103 invalid number or date; see `parser_errors`);
after an error the offending statement is blanked out (or a missing `"`/`}` patched in)
and parsing resumes, so one run reports several errors. The AST is built by
`parse_builder`, only for a file without errors. Nothing here raises.
"""

from __future__ import annotations

import contextvars
import functools
import re
from importlib import resources
from typing import Iterator

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput

from rulelang.syntax import ast
from rulelang.diagnostics import Diagnostic, Span, sort_key
from rulelang.syntax.parse_builder import Builder, Where
from rulelang.syntax.parser_cache import cached_parser
from rulelang.syntax.parser_errors import Recovery, describe_syntax_error
from rulelang.syntax.slips import flat_award_errors
from rulelang.vocabulary import RESERVED_WORDS  # re-exported: words that can never be names

__all__ = ["parse_text", "parse_expression", "RESERVED_WORDS", "build_parser"]


from rulelang.limits import MAX_NESTING
from rulelang.limits import MAX_PARSE_ERRORS as MAX_ERRORS

_comments: contextvars.ContextVar[list[Token]] = contextvars.ContextVar("rulelang_comments")
_drop_newlines: contextvars.ContextVar[bool] = contextvars.ContextVar("rulelang_drop_nl", default=False)


def grammar_text() -> str:
    """The lark grammar of the text form."""
    return resources.files("rulelang.syntax.grammar").joinpath("rulelang.lark").read_text(encoding="utf-8")


class _PostLexer:
    """Between lexer and parser: makes reserved words keywords everywhere, and drops
    line breaks inside `( )` / `[ ]` and after `and`, `or`, `,` (a condition may go on)."""

    always_accept = ("_NL", "NAME")

    def __init__(self) -> None:
        self.keyword_types: dict[str, str] = {}

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        depth = 0
        prev: Token | None = None
        drop_all = _drop_newlines.get()
        for tok in stream:
            if tok.type == "_NL":
                if drop_all or depth > 0 or (prev is not None and prev.type in ("AND", "OR", "COMMA")):
                    continue
            elif tok.type == "NAME" and tok.value in RESERVED_WORDS:
                kind = self.keyword_types.get(tok.value)
                if kind:
                    tok = Token.new_borrow_pos(kind, tok.value, tok)
            if tok.type in ("LPAR", "LSQB"):
                depth += 1
            elif tok.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            prev = tok
            yield tok


def _collect_comment(tok: Token) -> Token:
    bucket = _comments.get(None)
    if bucket is not None:
        bucket.append(tok)
    return tok


def build_parser(strict: bool = False) -> Lark:
    """A lark parser for the grammar (`strict=True` also checks for conflicts, and is never
    cached). The tables come from the JSON cache in `parser_cache` when it holds valid ones."""
    post = _PostLexer()
    options = dict(parser="lalr", lexer="contextual", start=["start", "condition"], propagate_positions=True,
                   maybe_placeholders=False, strict=strict)
    runtime = dict(postlex=post, lexer_callbacks={"COMMENT": _collect_comment})
    if strict:
        parser = Lark(grammar_text(), **options, **runtime)
    else:
        parser = cached_parser(grammar_text(), options, runtime)
    post.keyword_types = {
        t.pattern.value: t.name for t in parser.terminals if t.pattern.type == "str" and t.pattern.value.isalpha()
    }
    return parser


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return build_parser()


@functools.lru_cache(maxsize=1)
def _keywords() -> dict[str, str]:
    return {t.name: str(t.pattern.value) for t in _parser().terminals if t.pattern.type == "str"}


# ---------------------------------------------------------------- driver

#: Parse-tree nodes that are one level of a condition (as the checker counts levels).
_CONDITION_LEVELS = frozenset({"or_expr", "and_expr", "not_op", "compare", "in_list", "not_in_list"})


#: Characters refused inside quoted text: control characters (but tab) and line breaks, which the
#: YAML form and editors would read as something else (DEL, NEL, U+2028).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def control_character(text: str) -> str | None:
    """A description of the first control character in `text`, or None."""
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def points_name_problem(name: str) -> str | None:
    """Why `name` cannot be the program's word for points (it is written as a unit: `award 5 stars`)."""
    if not _NAME.fullmatch(name):
        return f"the points name `{name}` must be one word of letters, digits and `_`"
    if name in RESERVED_WORDS and name != "points":
        return f"the points name `{name}` is a reserved word"
    return None


def _text_problems(tree: Tree, where: Where) -> list[Diagnostic]:
    """RL120 for control characters in quoted text, RL121 for a points name that is not a word."""
    found: list[Diagnostic] = []
    for node in tree.iter_subtrees():
        for child in node.children:
            if isinstance(child, Token) and child.type == "STRING":
                bad = control_character(child.value)
                if bad:
                    found.append(Diagnostic("RL120", "error", f"the text {child.value[:30]!r} holds the control "
                                            f"character {bad}", where.of_token(child),
                                            "remove it; text holds printable characters and tabs only"))
                elif node.data == "points_decl":
                    problem = points_name_problem(child.value[1:-1])
                    if problem:
                        found.append(Diagnostic("RL121", "error", problem, where.of_token(child),
                                                'write one word, e.g. `points "miles"`'))
    return found


def _too_deep(tree: Tree, where: Where) -> Diagnostic | None:
    """RL401 at the first condition nested more than MAX_NESTING levels, found without recursion
    (building the AST of such a condition would exhaust Python's stack)."""
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if node.data in _CONDITION_LEVELS:
            depth += 1
            if depth > MAX_NESTING:
                return Diagnostic("RL401", "error", f"this condition is nested more than {MAX_NESTING} levels deep",
                                  where.of_meta(node.meta), "split it into simpler conditions or several rules")
        stack.extend((child, depth) for child in node.children if isinstance(child, Tree))
    return None



def _run(text: str, start: str) -> tuple[Tree, list[Token]]:
    bucket: list[Token] = []
    tok_c = _comments.set(bucket)
    tok_d = _drop_newlines.set(start == "condition")
    try:
        tree = _parser().parse(text, start=start)
    finally:
        _comments.reset(tok_c)
        _drop_newlines.reset(tok_d)
    return tree, bucket


def _blank_statement(text: str, line: int) -> str:
    """Replace the statement on `line` (and the block it opens) by spaces, keeping
    positions and any `}` that closes a block opened before it."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines):
        return text
    depth = 0
    out = list(lines)
    i = line - 1
    while i < len(lines):
        chars = list(lines[i])
        in_str = False
        j = 0
        while j < len(chars):
            c = chars[j]
            if in_str:
                if c == "\\":
                    chars[j] = " "
                    if j + 1 < len(chars):
                        chars[j + 1] = " "
                    j += 2
                    continue
                if c == '"':
                    in_str = False
                chars[j] = " "
            elif c == '"':
                in_str = True
                chars[j] = " "
            elif c == "#":
                break
            elif c == "{":
                depth += 1
                chars[j] = " "
            elif c == "}":
                if depth > 0:
                    depth -= 1
                    chars[j] = " "
            elif c not in " \t\r":
                chars[j] = " "
            j += 1
        out[i] = "".join(chars)
        if depth == 0:
            break
        i += 1
    return "\n".join(out)


def _repair(text: str, recovery: Recovery | None) -> str | None:
    """The text with the error repaired, or None when it cannot be (or nothing changed)."""
    if recovery is None:
        return None
    if recovery.kind == "skip":
        repaired = _blank_statement(text, recovery.line)
    else:
        pos, patch = recovery.pos, recovery.text
        if text[pos:pos + len(patch)].strip(" \t") == "" and "\n" not in text[pos:pos + len(patch)]:
            repaired = text[:pos] + patch + text[pos + len(patch):]
        else:
            repaired = text[:pos] + patch + text[pos:]
    return None if repaired == text else repaired


def parse_text(source: str, path: str) -> tuple[ast.SourceFile | None, list[Diagnostic]]:
    """Parse the text of a `.loyalty` file. Returns the AST (None if there is any error)
    and the diagnostics, ordered by position."""
    try:
        return _parse_text(source, path)
    except Exception as exc:  # a bug must not become a traceback for the user
        return None, [Diagnostic("RL101", "error", f"could not read this file: internal parser error ({exc!r})",
                                 Span(path, 1, 1, 1, 1), "please report this file to the maintainers")]


def _parse_text(source: str, path: str) -> tuple[ast.SourceFile | None, list[Diagnostic]]:
    where = Where(path)
    text = source.replace("\r\n", "\n")
    if text.startswith("\ufeff"):  # a byte-order mark is invisible in editors: columns count without it
        text = text[1:]
    diags: list[Diagnostic] = []
    tree: Tree | None = None
    comments: list[Token] = []
    for _ in range(MAX_ERRORS):
        try:
            tree, comments = _run(text, "start")
            break
        except UnexpectedInput as err:
            diag, recovery = describe_syntax_error(err, text, where, _keywords())
            diags.append(diag)
            repaired = _repair(text, recovery)
            if repaired is None:
                break
            text = repaired
    if tree is None:
        return None, sorted(diags, key=sort_key)
    too_deep = _too_deep(tree, where)
    if too_deep is not None:
        return None, sorted([*diags, too_deep], key=sort_key)
    diags.extend(_text_problems(tree, where))
    builder = Builder(where)
    program, tests = builder.transform(tree)
    if not diags:  # after syntax errors, skipped lines would make these false alarms
        diags.extend(builder.missing)
    diags.extend(builder.errors)
    diags.extend(flat_award_errors(builder.flat_awards, program.currency if program is not None else None))
    if diags:
        return None, sorted(diags, key=sort_key)
    kept = tuple(ast.Comment(str(t).rstrip(), t.line, span=where.of_token(t)) for t in comments)
    return ast.SourceFile(path, program, tests, kept, tuple(builder.stmt_spans)), []


def parse_expression(text: str, path: str, line: int, column: int) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse one condition (as written in a YAML file). `line`/`column` (1-based) are where
    `text` starts in that file; spans and diagnostics point there."""
    where = Where(path, line, column, end_word="the end of the condition")
    if not text.strip():
        return None, [Diagnostic("RL101", "error", "the condition is empty", where.span(1, 1, 1, 1),
                                 'write a condition, e.g. `category == "coffee"`')]
    try:
        try:
            tree, _ = _run(text.replace("\r\n", "\n"), "condition")
        except UnexpectedInput as err:
            diag, _ = describe_syntax_error(err, text, where, _keywords())
            return None, [diag]
        too_deep = _too_deep(tree, where)
        if too_deep is not None:
            return None, [too_deep]
        problems = _text_problems(tree, where)
        if problems:
            return None, problems
        builder = Builder(where)
        expr = builder.transform(tree)
        if builder.errors:
            return None, sorted(builder.errors, key=sort_key)
        return expr, []
    except Exception as exc:
        return None, [Diagnostic("RL101", "error", f"could not read this condition: internal parser error ({exc!r})",
                                 where.span(1, 1, 1, 1), "please report it to the maintainers")]
