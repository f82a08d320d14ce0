"""Located reading of YAML nodes for the YAML form of rule files.

Takes: YAML text and its path. Gives: `compose_yaml` (the node tree from
`yaml.compose` on pyyaml's SafeLoader, or an RL100 diagnostic) and `NodeReader`,
which reads typed values (names, numbers, money, dates, percents, durations,
conditions) out of nodes and turns every problem into a located `Diagnostic`
instead of raising. Every span points into the YAML file (1-based lines and
columns), including spans inside a condition string.

Values are read from the scalar's text as written, never from pyyaml's YAML 1.1
guesses: `09:30` stays a time, `0123` stays text, and a plain `yes`, `no`, `on`,
`off`, `y` or `n` where text is expected is refused (RL110) instead of turning
into a boolean. Only `true` and `false` are booleans.

Codes: RL100 YAML syntax or duplicate key, RL103 impossible number or date,
RL110 ambiguous YAML 1.1 value, RL201 unknown key, RL202 wrong type or shape,
RL204 duplicate name.

`syntax_error_point` (where a YAML syntax error is) and `mark_span` (a node's span
from its marks) also serve the YAML files of `explain` and of the simulator.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Callable, Mapping, Sequence, TypeVar

import yaml

from rulelang.syntax import ast
from rulelang.diagnostics import Diagnostic, Span, did_you_mean
from rulelang.syntax.parser import control_character, parse_expression
from rulelang.syntax.slips import date_slip, money_slip, quote_hint
from rulelang.syntax.read_limits import NESTED_TOO_DEEP, NESTING_HINT, NUMBER_HINT, NUMBER_TOO_LONG, number_too_long, yaml_too_deep

Node = yaml.Node
T = TypeVar("T")

STANDARD_TAGS = frozenset("tag:yaml.org,2002:" + t for t in
                          ("str", "int", "float", "bool", "null", "timestamp", "map", "seq", "merge"))
AMBIGUOUS_WORDS = frozenset({"yes", "no", "on", "off", "y", "n"})
BOOL_WORDS = {"true": True, "false": False}
NULL_WORDS = frozenset({"", "~", "null"})
_LINE_BREAKS = "\r\n\x85\u2028\u2029"

NUMBER_RE = re.compile(r"-?[0-9][0-9_]*(?:\.[0-9][0-9_]*)?")
MONEY_RE = re.compile(r"(-?[0-9][0-9_]*(?:\.[0-9][0-9_]*)?)\s+([A-Za-z]+)")
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DATE_RE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
MONTH_DAY_RE = re.compile(r"([0-9]{1,2})-([0-9]{1,2})")
TIME_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?")
DATETIME_RE = re.compile(r"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2})(?:(?:\s+at\s+|\s+|T)(\S+))?")
QUANTITY_RE = re.compile(r"(-?[0-9][0-9_]*)(?:\s+([A-Za-z]+))?")


YAML_SYNTAX_HINT = ("check the indentation and the `key: value` layout around this line; "
                    "quote values that contain `: ` or ` #`")


def compose_yaml(source: str, path: str, *, code: str = "RL100", prefix: str = "YAML syntax error",
                 what: str = "a rule file", hint: str | None = YAML_SYNTAX_HINT) -> tuple[Node | None, list[Diagnostic]]:
    """The node tree of one YAML document (None for an empty file), or an error at the mark:
    `code` (RL100 for a rule file; an events file of `explain` says RL010), its message
    `prefix: problem` and `hint`; RL421 where collections nest deeper than the limit. `what`
    names the file in the messages about documents and nesting."""
    deep = yaml_too_deep(source)
    if deep is not None:
        message, line, column = deep
        return None, [Diagnostic(NESTED_TOO_DEEP, "error", message, Span.point(path, line, column), NESTING_HINT)]
    try:
        return yaml.compose(source, Loader=yaml.SafeLoader), []
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        if "expected a single document" in str(exc.context or ""):
            problem = f"{what} holds a single YAML document (no second `---`)"
        point = syntax_error_point(exc, path)
        tab = indentation_tab(source, point.line)
        if tab is not None:
            return None, [Diagnostic(code, "error", f"{prefix}: a tab in the indentation; YAML indents with spaces only",
                                     Span.point(path, *tab), "replace the tab with spaces (two per level, like the "
                                     "lines around it); set your editor to insert spaces for Tab")]
        return None, [Diagnostic(code, "error", f"{prefix}: {problem.strip()}", point, hint)]
    except yaml.reader.ReaderError as exc:
        line, column = position_in(source, exc.position)
        character = f"character {exc.character!r}" if isinstance(exc.character, str) else "byte"
        return None, [
            Diagnostic(code, "error", f"{prefix}: {character} is not allowed in a YAML file",
                       Span.point(path, line, column), "remove the control character")
        ]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(code, "error", f"{prefix}: {exc}", Span.point(path, 1, 1))]
    except RecursionError:
        return None, [
            Diagnostic(code, "error", "YAML nesting is too deep to read", Span.point(path, 1, 1),
                       f"{what} needs only a few levels of nesting")
        ]


def indentation_tab(source: str, last_line: int) -> tuple[int, int] | None:
    """(line, column) of the first tab in the indentation of lines 1..`last_line`, else None."""
    for number, line in enumerate(source.split("\n")[:last_line], start=1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent and line.strip():
            return number, indent.index("\t") + 1
    return None


def syntax_error_point(exc: yaml.MarkedYAMLError, path: str) -> Span:
    """Where a YAML syntax error is: its problem mark, else its context mark, else 1:1."""
    mark = exc.problem_mark or exc.context_mark
    return Span.point(path, mark.line + 1, mark.column + 1) if mark is not None else Span.point(path, 1, 1)


def mark_span(node: Node, path: str) -> Span:
    """A node's span from its marks alone, for readers that do not keep the source text (a point
    at the start when the node ends at the start of a line); `NodeReader.span` is exact."""
    start, end = node.start_mark, node.end_mark
    end_line, end_column = end.line + 1, end.column
    if end_column == 0 or (end_line, end_column) < (start.line + 1, start.column + 1):
        end_line, end_column = start.line + 1, start.column + 1
    return Span(path, start.line + 1, start.column + 1, end_line, end_column)


def foreign_tags(root: Node) -> list[Node]:
    """Nodes with an explicit tag outside YAML's standard ones (`!!python/object`, `!custom`)."""
    found: list[Node] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in STANDARD_TAGS:
            found.append(node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return sorted(found, key=lambda n: n.start_mark.index)


def position_in(source: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` of `source`."""
    line_starts = _line_starts(source)
    row = bisect.bisect_right(line_starts, index) - 1
    return row + 1, index - line_starts[row] + 1


def _line_starts(source: str) -> list[int]:
    """Index of the first character of every line, with line breaks as YAML counts them."""
    starts = [0]
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in _LINE_BREAKS:
            if ch == "\r" and i + 1 < n and source[i + 1] == "\n":
                i += 1
            starts.append(i + 1)
        i += 1
    return starts


def describe(node: Node) -> str:
    """A short description of what a node holds, for messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping" if node.value else "an empty mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list" if node.value else "an empty list"
    text = node.value if isinstance(node.value, str) else ""
    if node.style is None and text.lower() in NULL_WORDS:
        return "nothing"
    shown = text if len(text) <= 40 else text[:37] + "..."
    return f"`{shown}`"


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One `key: value` pair of a mapping, with both nodes."""

    key: str
    key_node: Node
    node: Node


class NodeReader:
    """Reads typed values out of YAML nodes, collecting located diagnostics."""

    def __init__(self, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self._starts = _line_starts(source)

    # ------------------------------------------------------------ positions

    def position(self, index: int) -> tuple[int, int]:
        """1-based line and column of a character index."""
        index = max(0, min(index, len(self.source)))
        row = bisect.bisect_right(self._starts, index) - 1
        return row + 1, index - self._starts[row] + 1

    def span(self, node: Node) -> Span:
        """The node's range; the end is its last non-blank character (inclusive)."""
        start = node.start_mark.index
        last = node.end_mark.index - 1
        while last > start and self.source[last] in " \t" + _LINE_BREAKS:
            last -= 1
        last = max(last, start)
        line, column = self.position(start)
        end_line, end_column = self.position(last)
        if node.end_mark.index <= start:  # an empty value: a point
            end_line, end_column = line, column
        return Span(self.path, line, column, end_line, end_column)

    def entry_span(self, entry: Entry) -> Span:
        """From the key to the end of its value."""
        key, value = self.span(entry.key_node), self.span(entry.node)
        if (value.end_line, value.end_column) < (key.end_line, key.end_column):
            return key
        return Span(self.path, key.line, key.column, value.end_line, value.end_column)

    def char_positions(self, node: Node) -> list[int]:
        """For each character of a scalar's value, its index in the source.

        Aligns the value with the written text, so quotes, escapes, folded line
        breaks and block-scalar indentation are accounted for."""
        value: str = node.value
        start, end = node.start_mark.index, min(node.end_mark.index, len(self.source))
        i = start
        if node.style in ('"', "'"):
            i += 1
        elif node.style in ("|", ">"):
            while i < end and self.source[i] not in _LINE_BREAKS:
                i += 1
            i += 1
        positions: list[int] = []
        for ch in value:
            j = i
            while j < end:
                c = self.source[j]
                if c == ch or (ch.isspace() and c.isspace()):
                    break
                j += 1
            if j >= end:
                positions.append(min(i, max(end - 1, start)))
                continue
            positions.append(j)
            i = j + 1
        return positions

    def sub_span(self, node: Node, first: int, last: int, positions: list[int] | None = None) -> Span:
        """The span of value characters first..last (inclusive offsets) of a scalar."""
        if not isinstance(node, yaml.ScalarNode):
            return self.span(node)
        positions = positions if positions is not None else self.char_positions(node)
        if not positions:
            return self.span(node)

        def at(offset: int) -> int:
            if offset < len(positions):
                return positions[max(offset, 0)]
            return positions[-1] + 1

        line, column = self.position(at(first))
        end_line, end_column = self.position(at(max(last, first)))
        return Span(self.path, line, column, end_line, end_column)

    # ------------------------------------------------------------ reporting

    def error(self, code: str, message: str, where: Node | Span, hint: str | None = None) -> None:
        span = where if isinstance(where, Span) else self.span(where)
        self.diagnostics.append(Diagnostic(code, "error", message, span, hint))

    def wrong_type(self, node: Node, what: str, expected: str, example: str | None = None) -> None:
        hint = f"write it like `{example}`" if example else None
        self.error("RL202", f"{what} must be {expected}, got {describe(node)}", node, hint)

    # ------------------------------------------------------------ collections

    def mapping(self, node: Node, what: str, allowed: Sequence[str],
                required: Sequence[str] = (), hints: Mapping[str, str] | None = None) -> dict[str, Entry]:
        """The entries of a mapping with a fixed set of keys (RL201 for others, RL100 for repeats)."""
        if not isinstance(node, yaml.MappingNode):
            self.wrong_type(node, what, "a mapping of `key: value` lines")
            return {}
        out: dict[str, Entry] = {}
        for entry in self._entries(node, what):
            if entry.key not in allowed:
                hint = (hints or {}).get(entry.key) or did_you_mean(entry.key, allowed)
                if hint is None:
                    hint = "allowed here: " + ", ".join(f"`{k}`" for k in allowed)
                self.error("RL201", f"unknown key `{entry.key}` in {what}", entry.key_node, hint)
                continue
            if entry.key in out:
                first = self.span(out[entry.key].key_node)
                self.error("RL100", f"duplicate key `{entry.key}` in {what} (first at line {first.line})",
                           entry.key_node, "each key may appear once; remove or merge the repeated one")
                continue
            out[entry.key] = entry
        for key in required:
            if key not in out:
                self.error("RL202", f"{what} needs `{key}`", self._start_point(node),
                           f"add a `{key}:` line")
        return out

    def named(self, node: Node, what: str) -> list[Entry]:
        """The entries of a mapping keyed by names (rules, tiers, rewards...); RL204 for repeats."""
        if not isinstance(node, yaml.MappingNode):
            self.wrong_type(node, what, "a mapping from names to their definitions")
            return []
        seen: dict[str, Entry] = {}
        out: list[Entry] = []
        for entry in self._entries(node, what):
            if not NAME_RE.fullmatch(entry.key):
                self.error("RL202", f"`{entry.key}` is not a valid name in {what}", entry.key_node,
                           "names use letters, digits and `_`, and do not start with a digit")
                continue
            if entry.key in seen:
                first = self.span(seen[entry.key].key_node)
                self.error("RL204", f"duplicate name `{entry.key}` in {what} (first at line {first.line})",
                           entry.key_node, "give each one its own name")
                continue
            seen[entry.key] = entry
            out.append(entry)
        return out

    def pairs(self, node: Node, what: str) -> list[Entry]:
        """`key: value` entries of a mapping, or of a list of one-key mappings, in written order."""
        items = [node] if isinstance(node, yaml.MappingNode) else self.sequence(node, what)
        out: list[Entry] = []
        for item in items:
            if not isinstance(item, yaml.MappingNode) or not item.value:
                self.wrong_type(item, f"an item of {what}", "a `key: value` mapping")
                continue
            out.extend(self._entries(item, what))
        return out

    def sequence(self, node: Node, what: str, single_ok: bool = False) -> list[Node]:
        """The items of a list; with `single_ok`, one value stands for a list of one."""
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if single_ok and not self.is_null(node):
            return [node]
        self.wrong_type(node, what, "a list (lines starting with `- `)")
        return []

    def _entries(self, node: yaml.MappingNode, what: str) -> list[Entry]:
        out = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "":
                self.error("RL202", f"a key in {what} must be a plain word", key_node)
                continue
            out.append(Entry(str(key_node.value), key_node, value_node))
        return out

    def _start_point(self, node: Node) -> Span:
        line, column = self.position(node.start_mark.index)
        return Span(self.path, line, column, line, column)

    # ------------------------------------------------------------ scalars

    @staticmethod
    def is_null(node: Node) -> bool:
        return isinstance(node, yaml.ScalarNode) and node.style is None and node.value.lower() in NULL_WORDS

    def scalar(self, node: Node, what: str, expected: str, example: str | None = None) -> str | None:
        """The text of a scalar (not nothing, not a boolean, not an ambiguous word), else a diagnostic."""
        if not isinstance(node, yaml.ScalarNode) or self.is_null(node):
            self.wrong_type(node, what, expected, example)
            return None
        text: str = node.value
        bad = control_character(text)
        if bad:
            self.error("RL120", f"{what} holds the control character or line break {bad}", node,
                       "remove it; text holds printable characters and tabs only")
            return None
        if node.style is None:
            lowered = text.lower()
            if lowered in AMBIGUOUS_WORDS:
                self.error("RL110", f"ambiguous YAML value `{text}`: quote it", node,
                           f"YAML 1.1 reads a plain `{text}` as a yes/no value; write \"{text}\" "
                           "if you mean the text")
                return None
            if lowered in BOOL_WORDS:
                self.wrong_type(node, what, expected, example)
                return None
        return text

    def text(self, node: Node, what: str) -> str:
        value = self.scalar(node, what, "text")
        return value if value is not None else ""

    def name(self, node: Node, what: str) -> str:
        value = self.scalar(node, what, "a name", "free_drink")
        if value is None:
            return ""
        if not NAME_RE.fullmatch(value):
            self.error("RL202", f"{what} must be a name (letters, digits, `_`), got `{value}`", node,
                       quote_hint(value) or "names do not contain spaces and do not start with a digit")
            return ""
        return value

    def names(self, node: Node, what: str) -> tuple[str, ...]:
        return tuple(self.text(item, what) for item in self.sequence(node, what, single_ok=True))

    def boolean(self, node: Node, what: str) -> bool:
        if isinstance(node, yaml.ScalarNode) and node.style is None:
            lowered = node.value.lower()
            if lowered in BOOL_WORDS:
                return BOOL_WORDS[lowered]
            if lowered in AMBIGUOUS_WORDS:
                self.error("RL110", f"ambiguous YAML value `{node.value}`: write true or false", node,
                           "only `true` and `false` are yes/no values in rule files")
                return False
        self.wrong_type(node, what, "`true` or `false`")
        return False

    def too_long(self, node: Node, text: str) -> bool:
        """RL420 when `text` holds a number with too many digits."""
        problem = number_too_long(text)
        if problem:
            self.error(NUMBER_TOO_LONG, problem, node, NUMBER_HINT)
        return problem is not None

    def decimal(self, node: Node, what: str, example: str = "12", expected: str = "a number") -> Decimal:
        text = self.scalar(node, what, expected, example)
        if text is None or self.too_long(node, text):
            return Decimal(0)
        value = number_of(text.strip())
        if value is None:
            self.wrong_type(node, what, expected, example)
            return Decimal(0)
        return value

    def integer(self, node: Node, what: str, example: str = "12") -> int:
        value = self.decimal(node, what, example, "a whole number")
        if value != value.to_integral_value():
            self.wrong_type(node, what, "a whole number", example)
            return 0
        return int(value)

    def suffixed(self, node: Node, what: str, suffix: str, example: str) -> Decimal:
        """A number, optionally followed by `suffix` (`10%`, `1.2x`)."""
        text = self.scalar(node, what, "a number", example)
        if text is None or self.too_long(node, text):
            return Decimal(0)
        text = text.strip()
        if text.lower().endswith(suffix):
            text = text[: -len(suffix)].rstrip()
        value = number_of(text)
        if value is None:
            self.wrong_type(node, what, "a number", example)
            return Decimal(0)
        return value

    def money(self, node: Node, what: str) -> ast.Money:
        example = "4.99 USD"
        text = self.scalar(node, what, "an amount of money", example)
        if text is None:
            return ast.Money(Decimal(0), "USD", span=self.span(node))
        money = self.money_text(node, text.strip(), what)
        return money if money is not None else ast.Money(Decimal(0), "USD", span=self.span(node))

    def money_text(self, node: Node, text: str, what: str) -> ast.Money | None:
        """`7.40 USD` -> Money, reporting a missing or badly written currency."""
        if self.too_long(node, text):
            return None
        slip = money_slip(text + self._comma_tail(node) if number_of(text) is not None else text)
        if slip is not None:
            self.error(slip[0], slip[1], node, slip[2])
            return None
        match = MONEY_RE.fullmatch(text)
        if match is None:
            if number_of(text) is not None:
                self.error("RL202", f"{what} needs a currency: `{text}`", node,
                           f"write the currency after the number, e.g. `{text} USD`")
            else:
                self.wrong_type(node, what, "an amount of money", "4.99 USD")
            return None
        amount, currency = match.groups()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            self.error("RL202", f"`{currency}` is not a currency code", node,
                       "a currency is three capital letters, e.g. USD, EUR, RUB")
            return None
        return ast.Money(Decimal(amount.replace("_", "")), currency, span=self.span(node))

    def _comma_tail(self, node: Node) -> str:
        """`,50 USD` after a number in a flow mapping (`{worth: 1,50 USD}`: YAML split the amount at the comma)."""
        match = re.match(r",\d+[ \t]+[A-Za-z]{3}(?![A-Za-z0-9_])", self.source[node.end_mark.index:])
        return match.group(0) if match else ""

    def date(self, node: Node, what: str) -> dt.date:
        text = self.scalar(node, what, "a date", "2027-05-04")
        if text is None:
            return dt.date(2000, 1, 1)
        value = self.date_text(node, text.strip(), what)
        return value if value is not None else dt.date(2000, 1, 1)

    def date_text(self, node: Node, text: str, what: str) -> dt.date | None:
        match = DATE_RE.fullmatch(text)
        slip = date_slip(text) if match is None else None
        if slip is not None:
            self.error("RL103", slip[0], node, slip[1])
            return None
        if match is None:
            self.wrong_type(node, what, "a date (year-month-day)", "2027-05-04")
            return None
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            self.error("RL103", f"`{text}` is not a date on the calendar", node,
                       "write year-month-day with a real month (1-12) and day")
            return None

    def month_day(self, node: Node, what: str) -> tuple[int, int]:
        text = self.scalar(node, what, "a month-day", "12-31")
        if text is None:
            return (1, 1)
        match = MONTH_DAY_RE.fullmatch(text.strip())
        if match is None:
            self.wrong_type(node, what, "a month-day (month-day)", "12-31")
            return (1, 1)
        month, day = (int(g) for g in match.groups())
        try:
            dt.date(2000, month, day)  # a leap year, so 02-29 is a real month-day
        except ValueError:
            self.error("RL103", f"`{text}` is not a month-day on the calendar", node,
                       "write month-day, e.g. `12-31`")
            return (1, 1)
        return (month, day)

    def datetime(self, node: Node, what: str, default_time: dt.time) -> dt.datetime:
        """`2027-05-04`, `2027-05-04 at 09:30`, `2027-05-04 09:30` or `2027-05-04T09:30`."""
        fallback = dt.datetime(2000, 1, 1)
        text = self.scalar(node, what, "a date", "2027-05-04 at 09:30")
        if text is None:
            return fallback
        match = DATETIME_RE.fullmatch(text.strip())
        if match is None:
            self.wrong_type(node, what, "a date, optionally with a time", "2027-05-04 at 09:30")
            return fallback
        day = self.date_text(node, match.group(1), what)
        clock = default_time if match.group(2) is None else self.time_text(node, match.group(2), what)
        if day is None or clock is None:
            return fallback
        return dt.datetime.combine(day, clock)

    def time_text(self, node: Node, text: str, what: str) -> dt.time | None:
        match = TIME_RE.fullmatch(text)
        if match is None:
            self.wrong_type(node, what, "a date with a time of day", "2027-05-04 at 09:30")
            return None
        hour, minute, second = match.group(1), match.group(2), match.group(3) or "0"
        try:
            return dt.time(int(hour), int(minute), int(second))
        except ValueError:
            self.error("RL103", f"`{text}` is not a time of day", node, "write hours 00-23 and minutes 00-59")
            return None

    def choice(self, node: Node, what: str, options: Mapping[str, T], default: T) -> T:
        """One of a fixed set of words; spaces and `_` are interchangeable (`one step` = `one_step`)."""
        text = self.scalar(node, what, "one of " + ", ".join(f"`{o}`" for o in options))
        if text is None:
            return default
        key = re.sub(r"[\s_]+", "_", text.strip())
        if key in options:
            return options[key]
        hint = did_you_mean(key, options) or "allowed: " + ", ".join(f"`{o}`" for o in options)
        self.error("RL202", f"{what} must be one of " + ", ".join(f"`{o}`" for o in options)
                   + f", got `{text}`", node, hint)
        return default

    def quantity(self, node: Node, what: str, units: Mapping[str, T], default_unit: T | None,
                 example: str) -> tuple[int, T | None]:
        """`12 months` / `4 weeks` / `14` (when a default unit is implied) -> (number, unit)."""
        text = self.scalar(node, what, "a number with its unit", example)
        if text is None or self.too_long(node, text):
            return 0, default_unit
        match = QUANTITY_RE.fullmatch(text.strip())
        if match is None:
            self.wrong_type(node, what, "a whole number with its unit", example)
            return 0, default_unit
        count = int(match.group(1).replace("_", ""))
        word = match.group(2)
        if word is None:
            if default_unit is None:
                self.error("RL202", f"{what} needs a unit: `{text}`", node, f"write it like `{example}`")
            return count, default_unit
        unit = units.get(word.lower())
        if unit is None:
            hint = did_you_mean(word.lower(), units) or "allowed units: " + ", ".join(f"`{u}`" for u in units)
            self.error("RL202", f"`{word}` is not a unit for {what}", node, hint)
            return count, default_unit
        return count, unit

    # ------------------------------------------------------------ conditions and literals

    def condition(self, node: Node, what: str) -> ast.Expr | None:
        """A condition string parsed by the text parser, with spans pointing into this file."""
        if not isinstance(node, yaml.ScalarNode) or self.is_null(node):
            self.wrong_type(node, what, "a condition", 'category == "coffee"')
            return None
        text: str = node.value
        if not text.strip():
            self.wrong_type(node, what, "a condition", 'category == "coffee"')
            return None
        flat = "".join(" " if ch in _LINE_BREAKS else ch for ch in text)
        positions = self.char_positions(node)
        expr, diags = parse_expression(flat, self.path, 1, 1)

        def remap(span: Span) -> Span:
            if span.line != 1 or span.end_line != 1:
                return self.span(node)
            return self.sub_span(node, span.column - 1, span.end_column - 1, positions)

        for diag in diags:
            self.diagnostics.append(dataclasses.replace(diag, span=remap(diag.span)))
        if expr is None or any(d.is_error for d in diags):
            return None
        return _respan(expr, remap)

    def literal(self, node: Node, what: str) -> ast.Literal:
        """A value given to an event field or attribute: its type follows how it is written.

        `true`/`false` -> bool, `12` -> number, `7.40 USD` -> money, `2027-05-04` -> date,
        anything else (or anything quoted) -> text."""
        span = self.span(node)
        if isinstance(node, yaml.ScalarNode) and node.style is None and not self.is_null(node):
            text = node.value.strip()
            lowered = text.lower()
            if lowered in BOOL_WORDS:
                return ast.Literal(BOOL_WORDS[lowered], span=span)
            if (NUMBER_RE.fullmatch(text) or MONEY_RE.fullmatch(text)) and self.too_long(node, text):
                return ast.Literal(Decimal(0), span=span)
            number = number_of(text)
            if number is not None:
                return ast.Literal(number, span=span)
            if MONEY_RE.fullmatch(text):
                money = self.money_text(node, text, what)
                return ast.Literal(money if money is not None else "", span=span)
            if DATE_RE.fullmatch(text):
                day = self.date_text(node, text, what)
                return ast.Literal(day if day is not None else "", span=span)
        return ast.Literal(self.text(node, what), span=span)


def number_of(text: str) -> Decimal | None:
    """`12`, `0.004`, `1_000`, `-3` -> Decimal (digits kept as written), else None."""
    if not NUMBER_RE.fullmatch(text):
        return None
    try:
        return Decimal(text.replace("_", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def _respan(node: T, remap: Callable[[Span], Span]) -> T:
    """A copy of an expression tree with every span passed through `remap`."""
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changes: dict[str, object] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name == "span" and isinstance(value, Span):
            changes["span"] = remap(value)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes[f.name] = _respan(value, remap)
        elif isinstance(value, tuple):
            changes[f.name] = tuple(_respan(v, remap) for v in value)
    return dataclasses.replace(node, **changes)  # type: ignore[type-var]


def first_key(node: Node) -> str | None:
    """The first key of a mapping node, if it is a scalar."""
    if isinstance(node, yaml.MappingNode) and node.value and isinstance(node.value[0][0], yaml.ScalarNode):
        return str(node.value[0][0].value)
    return None
