"""Syntax errors in words a marketer knows.

Takes: a lark `UnexpectedInput` raised while parsing rule text, the text, and a position mapper.
Gives: `describe_syntax_error(...) -> (Diagnostic, Recovery | None)`: one diagnostic
(RL101 unexpected word or character, RL102 unterminated text or block, RL103 invalid
number or date) that never shows lark's terminal names, and how the parser can repair
the text to go on looking for more errors (skip the statement on a line, or patch in a
missing `"` or `}`); None: stop here.
"""

from __future__ import annotations

import re
from typing import Iterable, NamedTuple, Protocol

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from rulelang.diagnostics import Diagnostic, Span, did_you_mean
from rulelang.syntax.slips import text_slip
from rulelang.vocabulary import PROGRAM_WORDS, STATEMENT_WORDS

__all__ = ["describe_syntax_error", "Recovery", "TERMINAL_WORDS"]


class Recovery(NamedTuple):
    """How to repair the text after an error: `skip` the statement on `line`, or
    write `text` at character offset `pos` (over blanks, or inserted at a line end)."""

    kind: str  # "skip" | "patch"
    line: int = 0
    pos: int = 0
    text: str = ""


def _skip(line: int) -> Recovery:
    return Recovery("skip", line)


class _Mapper(Protocol):
    path: str
    end_word: str

    def span(self, line: int, col: int, end_line: int, end_col: int) -> Span: ...

    def of_token(self, tok: Token) -> Span: ...


#: What each named terminal of the grammar is called in messages.
TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": 'a quoted text such as "coffee"',
    "NUMBER": "a number",
    "MONEY": "an amount of money such as `5 USD`",
    "DATE": "a date such as `2027-05-04`",
    "MONTHDAY": "a month and day such as `12-31`",
    "TIME": "a time such as `09:30`",
    "PERCENT": "a percentage such as `10%`",
    "MULT": "a factor such as `2x`",
    "ORDINAL": "a position such as `10th`",
    "COMP_OP": "a comparison such as `==`",
    "DOT_NAME": "`.` and a field name",
    "_NL": "the end of the statement",
    "SEMICOLON": "the end of the statement",
    "$END": "the end of the file",
}

# Words that begin a statement somewhere (read from the grammar); a NAME where several of these are
# expected is an unknown statement.
_STATEMENT_WORDS = STATEMENT_WORDS
_PROGRAM_WORDS = PROGRAM_WORDS
_BLOCKS = {
    "PROGRAM": "the program",
    "EARN": "rule `{}`",
    "TIERS": "the tiers block",
    "TIER": "tier `{}`",
    "REWARD": "reward `{}`",
    "PAY": "`pay with points`",
    "TEST": "test {}",
    "EVENT": "event `{}`",
}
_CONDITION_STARTERS = {"NAME", "STRING", "NUMBER", "LPAR", "NOT", "TRUE", "FALSE"}


def _is_keyword(tok_type: str, value: str) -> bool:
    return tok_type.isupper() and tok_type.isalpha() and value.isalpha() and tok_type == value.upper()


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    return f"`{tok.value}`"


def _describe_expected(expected: Iterable[str], terminals: dict[str, str]) -> list[str]:
    words: list[str] = []
    keywords: list[str] = []
    for name in expected:
        if name in TERMINAL_WORDS:
            words.append(TERMINAL_WORDS[name])
        elif name in terminals:
            keywords.append(f"`{terminals[name]}`")
    out = sorted(set(words), key=lambda w: (w == "the end of the statement", w == "the end of the file", w))
    return sorted(set(keywords)) + out


def _join(items: list[str], limit: int = 8) -> str:
    if len(items) > limit:
        items = items[: limit - 1] + ["..."]
    if len(items) <= 1:
        return "".join(items)
    if items[-1] == "...":
        return ", ".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _last_token(value: object) -> Token | None:
    if isinstance(value, Token):
        return value
    if isinstance(value, Tree):
        for child in reversed(value.children):
            tok = _last_token(child)
            if tok is not None:
                return tok
    return None


def _block_context(stack: list[object]) -> tuple[str, Token | None]:
    """Describe the innermost block still open in the parser's value stack, and its `{`."""
    for i in range(len(stack) - 1, -1, -1):
        v = stack[i]
        if isinstance(v, Token) and v.type == "LBRACE":
            for j in range(i - 1, -1, -1):
                w = stack[j]
                if isinstance(w, Token) and w.type in _BLOCKS:
                    name = stack[j + 1] if j + 1 < len(stack) else None
                    label = str(name) if isinstance(name, Token) else (_last_token(name).value if _last_token(name) else "")
                    return _BLOCKS[w.type].format(label), v
            return "this block", v
    return "the file", None


def _describe_opener(line: str) -> str:
    words = line.replace("{", " ").split()
    if not words:
        return "this block"
    label = _BLOCKS.get(words[0].upper(), "this block")
    return label.format(words[1] if len(words) > 1 else "")


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """Guess which `{` was left open, using indentation: a `}` that starts a line less
    indented than the line of the `{` it would close belongs to an outer block."""
    stack: list[tuple[int, int, int]] = []  # (line, column, indent of the opening line)
    for number, line in enumerate(text.split("\n"), start=1):
        indent = len(line) - len(line.lstrip(" \t"))
        in_str = False
        i = 0
        while i < len(line):
            c = line[i]
            if in_str:
                if c == "\\":
                    i += 1
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "#":
                break
            elif c == "{":
                stack.append((number, i + 1, indent))
            elif c == "}" and stack:
                opener = stack.pop()
                if i == indent and opener[2] > indent:
                    return opener[0], opener[1]
            i += 1
    return (stack[-1][0], stack[-1][1]) if stack else None


def _at_statement_start(text: str, tok: Token) -> bool:
    pos = tok.start_pos or 0
    i = pos - 1
    while i >= 0 and text[i] in " \t\f":
        i -= 1
    return i < 0 or text[i] in "\n;{"


def describe_syntax_error(err: UnexpectedInput, text: str, where: _Mapper,
                          keywords: dict[str, str]) -> tuple[Diagnostic, Recovery | None]:
    """`keywords` maps terminal names of the grammar's fixed words to their text (`LBRACE` -> `{`)."""
    if isinstance(err, UnexpectedCharacters):
        return _unexpected_character(err, text, where)
    if isinstance(err, UnexpectedToken):
        return _unexpected_token(err, text, where, keywords)
    line = getattr(err, "line", 1) or 1
    col = getattr(err, "column", 1) or 1
    return Diagnostic("RL101", "error", "this text cannot be read here", where.span(line, col, line, col)), None


_NUMBER_CHAR = re.compile(r"[0-9A-Za-z_.:%-]")
# Number-like words that are valid tokens of their own (`1.2x`, `10%`, `10th`, dates, times).
_VALID_NUMBER_WORD = re.compile(
    r"\d+(?:_\d+)*(?:\.\d+)?[x%]|\d+(?:st|nd|rd|th)|\d{4}-\d{2}-\d{2}|\d{2}-\d{2}|\d{1,2}:\d{2}|\d+(?:_\d+)*(?:\.\d+)?")


def _number_run(text: str, start: int) -> str:
    """The glued characters of a mistyped number or date starting at `start` (stops at `..`)."""
    end = start
    while end < len(text) and _NUMBER_CHAR.match(text[end]) and text[end:end + 2] != "..":
        end += 1
    return text[start:end]


def _bad_number(run: str, span: Span, line: int) -> tuple[Diagnostic, Recovery]:
    if re.match(r"\d+-\d", run):
        return Diagnostic("RL103", "error", f"invalid date `{run}`", span,
                          "write dates as YYYY-MM-DD (e.g. 2027-05-04) and month-days as MM-DD (e.g. 12-31)"), _skip(line)
    return Diagnostic("RL103", "error", f"invalid number `{run}`", span,
                      "write numbers with digits, like 12, 0.004 or 1_000"), _skip(line)


def _close_string(text: str, quote_pos: int) -> Recovery:
    """Where to put the missing closing quote: before a `{`/`}`/`;` ending the line, else at its end."""
    line_end = text.find("\n", quote_pos)
    line_end = len(text) if line_end < 0 else line_end
    body = text[quote_pos + 1:line_end]
    stripped = body.rstrip(" \t{};")
    pos = quote_pos + 1 + len(stripped)
    if pos < line_end and text[pos] in " \t":
        return Recovery("patch", 0, pos, '"')
    return Recovery("patch", 0, pos, '"' if pos == line_end else '" ')


def _line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column (in the parsed text) of character offset `pos`."""
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _slip(text: str, pos: int, where: _Mapper) -> tuple[Diagnostic, Recovery] | None:
    """A common slip at `pos` (`3 %`, `$1.50`, `1,50 USD`, `01/01/2027`, curly quotes, ...), with its fix."""
    found = text_slip(text, pos)
    if found is None:
        return None
    line, col = _line_col(text, found.start)
    end_line, end_col = _line_col(text, max(found.start, found.end - 1))
    return Diagnostic(found.code, "error", found.message, where.span(line, col, end_line, end_col),
                      found.hint), _skip(line)


def _unexpected_character(err: UnexpectedCharacters, text: str, where: _Mapper) -> tuple[Diagnostic, Recovery | None]:
    pos, line, col = err.pos_in_stream, err.line, err.column
    ch = text[pos] if pos < len(text) else ""
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    if ch == '"':
        span = where.span(line, col, line, col + max(0, line_end - pos - 1))
        curly = next((c for c in text[pos + 1:line_end] if c in "”“"), None)
        hint = (f'the closing `{curly}` is a typographic quote: write a straight `"`' if curly
                else 'a text starts and ends with `"` on the same line')
        return Diagnostic("RL102", "error", "this text is never closed: the closing `\"` is missing", span,
                          hint), _close_string(text, pos)
    slip = _slip(text, pos, where)
    if slip is not None:
        return slip
    start = pos
    while start > 0 and _NUMBER_CHAR.match(text[start - 1]):
        start -= 1
    run = _number_run(text, start)
    if run[:1].isdigit():
        span = where.span(line, col - (pos - start), line, col - (pos - start) + len(run) - 1)
        return _bad_number(run, span, line)
    span = where.span(line, col, line, col)
    if ch == "'":
        return Diagnostic("RL101", "error", "unexpected character `'`", span,
                          'write texts in double quotes, like "coffee"'), _skip(line)
    shown = ch if ch.isprintable() else repr(ch)
    return Diagnostic("RL101", "error", f"unexpected character `{shown}`", span), _skip(line)


def _missing_brace(text: str, tok: Token) -> Recovery | None:
    """Write `};` into the indentation before `tok` (closing the block it should have closed)."""
    pos = tok.start_pos or 0
    if pos >= 2 and text[pos - 2:pos] in ("  ", "\t\t", " \t", "\t "):
        return Recovery("patch", 0, pos - 2, "};")
    return None


def _unexpected_token(err: UnexpectedToken, text: str, where: _Mapper,
                      keywords: dict[str, str]) -> tuple[Diagnostic, Recovery | None]:
    tok: Token = err.token
    ip = getattr(err, "interactive_parser", None)
    stack: list[object] = list(ip.parser_state.value_stack) if ip is not None else []
    expected: set[str] = set(err.expected or ())
    if ip is not None:
        try:
            expected = set(ip.accepts())
        except Exception:  # noqa: BLE001 - fall back to what lark reported
            pass
    expected = {e for e in expected if e != "COMMENT" and not e.startswith("__IGNORE")}
    block, lbrace = _block_context(stack)
    prev = _last_token(stack[-1]) if stack else None
    at_end = tok.type == "$END"

    if at_end and lbrace is not None:
        line, col = _unclosed_brace(text) or (lbrace.line, lbrace.column)
        opener = text.split("\n")[line - 1]
        return Diagnostic("RL102", "error", f"this `{{` is never closed: {_describe_opener(opener)} has no `}}`",
                          where.span(line, col, line, col), "add `}` where the block ends"), None
    if at_end:
        line, col = (prev.end_line, prev.end_column) if prev is not None else (1, 1)
        span = where.span(line or 1, col or 1, line or 1, col or 1)
        got = where.end_word
    elif tok.type == "_NL":
        line, span, got = tok.line, where.span(tok.line, tok.column, tok.line, tok.column), "the end of the line"
    else:
        line, span, got = tok.line, where.of_token(tok), f"`{tok.value}`"
    skip = None if at_end else _skip(line)
    if tok.start_pos is not None:
        slip = _slip(text, tok.start_pos, where)
        if slip is not None:
            return slip[0], skip
    keyword_values = sorted(v for k, v in keywords.items() if k in expected and v.isalpha())

    # A number glued to other characters (`5OO`, `2027-5-4`, `1.2.3`) is a mistyped number or date.
    if tok.type in ("NUMBER", "DATE", "MONTHDAY") and not at_end:
        run = _number_run(text, tok.start_pos or 0)
        if _VALID_NUMBER_WORD.fullmatch(run):
            got = f"`{run}`"
        elif len(run) > len(tok.value):
            return _bad_number(run, where.span(tok.line, tok.column, tok.line, tok.column + len(run) - 1), line)
    if tok.type == "NAME" and prev is not None and prev.type == "NUMBER" and prev.end_pos == tok.start_pos:
        return _bad_number(f"{prev.value}{tok.value}", where.span(prev.line, prev.column, tok.end_line,
                                                                  tok.end_column - 1), line)

    if prev is not None and prev.type in ("AND", "OR", "NOT", "WHEN") and expected & _CONDITION_STARTERS:
        return Diagnostic("RL101", "error", f"expected a condition after `{prev.value}`, got {got}", span,
                          "a condition compares a field with a value, e.g. `category == \"coffee\"`"), skip
    if prev is not None and prev.type in ("COMP_OP", "IN") and expected & {"STRING", "NUMBER", "NAME", "LSQB"}:
        what = "a list such as `[sat, sun]`" if prev.type == "IN" else "a value"
        return Diagnostic("RL101", "error", f"expected {what} after `{prev.value}`, got {got}", span), skip
    if tok.type == "EQUAL" and "COMP_OP" in expected:
        return Diagnostic("RL101", "error", "`=` is not a comparison", span, "to compare, write `==`"), skip

    statement_words = {keywords[e] for e in expected if e in keywords} & _STATEMENT_WORDS
    if not at_end and _at_statement_start(text, tok) and len(statement_words) >= 2:
        inside = "" if block == "the file" else f" in {block}"
        starts = f"a statement here starts with one of: {_join(sorted(statement_words), 12)}"
        if block == "the file" and tok.value in _STATEMENT_WORDS - {"program", "test"}:
            return Diagnostic("RL101", "error", f"`{tok.value}` must be written inside `program \"...\" {{ ... }}`",
                              span, "a file holds one `program \"...\" { ... }` and then `test \"...\" { ... }` blocks"), skip
        if tok.type == "NAME":
            return Diagnostic("RL101", "error", f"unknown statement `{tok.value}`{inside}", span,
                              did_you_mean(tok.value, statement_words) or starts), skip
        if _is_keyword(tok.type, tok.value):
            if block not in ("the program", "the file") and tok.value in _PROGRAM_WORDS:
                return Diagnostic("RL101", "error", f"`{tok.value}` cannot start a statement{inside}", span,
                                  "is a `}` missing above?"), _missing_brace(text, tok) or skip
            return Diagnostic("RL101", "error", f"`{tok.value}` cannot start a statement{inside}", span, starts), skip
        return Diagnostic("RL101", "error", f"expected a statement{inside}, got {got}", span, starts), skip

    # `multiplyy 1.2x` in a tier body: the misspelled word was read as a points unit.
    if (prev is not None and prev.type == "NAME" and _at_statement_start(text, prev)
            and expected <= {"NEVER"} and tok.type != "NEVER"):
        suggestion = did_you_mean(prev.value, _STATEMENT_WORDS)
        if suggestion:
            return Diagnostic("RL101", "error", f"unknown statement `{prev.value}` in {block}", where.of_token(prev),
                              suggestion), _skip(prev.line)

    wanted = [where.end_word if w == "the end of the file" else w for w in _describe_expected(expected, keywords)]
    if {"NAME", "POINTS"} <= expected and prev is not None and prev.type in ("NUMBER", "EXPIRE", "EARNED", "WITH"):
        wanted = ["the points unit (`points` or the program's own word)"] + [
            w for w in wanted if w not in ("a name", "`points`")]
    after = f" after `{prev.value}`" if prev is not None and (at_end or prev.line == tok.line) else ""
    hint: str | None = None
    if tok.type == "_NL":
        message = f"expected {_join(wanted)}{after}, but the statement ends here"
    elif not at_end and _is_keyword(tok.type, tok.value) and "NAME" in expected:
        message = f"expected {_join(wanted)}{after}, got the reserved word `{tok.value}`"
        hint = "reserved words cannot be used as names; choose another name"
    else:
        message = f"expected {_join(wanted)}{after}, got {got}"
    if hint is None:
        if tok.type == "NAME" and keyword_values:
            hint = did_you_mean(tok.value, keyword_values)
        if tok.type == "NUMBER" and "MONEY" in expected:
            hint = f"add the currency, e.g. `{tok.value} USD`"
        elif tok.type == "NUMBER" and "PERCENT" in expected:
            hint = f"write a percentage, e.g. `{tok.value}%`"
        elif tok.type == "NUMBER" and "MULT" in expected:
            hint = f"write the factor with an x, e.g. `{tok.value}x`"
    return Diagnostic("RL101", "error", message, span, hint), skip
