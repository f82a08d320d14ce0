"""Located YAML reading for population and guardrails files.

Takes: YAML text and its path. Gives: the composed node tree (`yaml.compose` on a
YAML 1.2-style safe loader: only `true`/`false` are booleans, so `NO` or `off`
stay strings), `scalar_value` (a scalar's value by its resolved tag) and `Reader`,
a helper that reads typed values out of mapping nodes and reports every problem as a
located `Diagnostic` (RL6xx) instead of raising.

Syntax errors and spans are located as in `rulelang.syntax.yaml_nodes` (`syntax_error_point`,
`mark_span`). What stays here is the simulator's own: its codes and messages, and
values typed by pyyaml's tags (`1e-3`, `2027-01-01`) where rule files read the text
as written.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Iterable

import yaml

from rulelang.diagnostics import DiagnosticBag, Span, did_you_mean
from rulelang.limits import MAX_DATE, MAX_NESTING, MAX_NUMBER_DIGITS, MIN_DATE
from yaml import Node

from rulelang import mark_span, position_in, syntax_error_point


class _StructureError(yaml.composer.ComposerError):
    """A YAML structure the readers refuse (a self-containing alias, too deep nesting), with a hint."""

    def __init__(self, problem: str, mark: Any, hint: str):
        super().__init__(None, None, problem, mark)
        self.hint = hint


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (no YAML 1.1 yes/no/on/off), that refuses
    an alias inside the node it names (`segments: &s [*s]`, a cycle no reader could walk) and
    more than `MAX_NESTING` levels of nesting, each as a located error."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._open_anchors: list[str] = []  # anchors of the collections being composed

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open_anchors:
                raise _StructureError(
                    f"the alias *{event.anchor} is inside the node &{event.anchor} it refers to "
                    "(a node that contains itself)", event.start_mark,
                    f"an alias repeats a node written before it: move *{event.anchor} out of &{event.anchor}, "
                    "or write the value out")
            return super().compose_node(parent, index)
        event = self.peek_event()
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(self._open_anchors) >= MAX_NESTING:
                raise _StructureError(
                    f"the nesting is too deep: more than {MAX_NESTING} levels", event.start_mark,
                    "a population or guardrails file needs only a few levels of nesting")
            self._open_anchors.append(event.anchor or "")
            try:
                return super().compose_node(parent, index)
            finally:
                self._open_anchors.pop()
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def compose(source: str, path: str, bag: DiagnosticBag) -> Node | None:
    """Parse YAML text into a node tree; a syntax error becomes RL601."""
    try:
        return yaml.compose(source, Loader=_Loader)
    except _StructureError as exc:
        bag.error("RL601", f"invalid YAML: {exc.problem}", syntax_error_point(exc, path), exc.hint)
    except yaml.MarkedYAMLError as exc:
        bag.error("RL601", f"invalid YAML: {exc.problem or exc}", syntax_error_point(exc, path),
                  "check the indentation and the `key: value` layout around this line")
    except yaml.reader.ReaderError as exc:
        line, column = position_in(source, exc.position)
        what = f"character {exc.character!r}" if isinstance(exc.character, str) else "byte"
        bag.error("RL601", f"invalid YAML: {what} is not allowed in a YAML file", Span.point(path, line, column),
                  "remove the control character")
    except yaml.YAMLError as exc:  # pragma: no cover - defensive
        bag.error("RL601", f"invalid YAML: {exc}", Span.point(path, 1, 1))
    except RecursionError:
        bag.error("RL601", "invalid YAML: the nesting is too deep to read", Span.point(path, 1, 1),
                  "a population or guardrails file needs only a few levels of nesting")
    return None


def scalar_value(node: Node) -> Any:
    """The Python value of a scalar node (str, int, float, bool, None, date)."""
    if not isinstance(node, yaml.ScalarNode):
        return node
    tag = node.tag
    text = node.value
    if tag.endswith(":int"):
        try:
            return int(text.replace("_", ""), 0)
        except ValueError:
            return text
    if tag.endswith(":float"):
        try:
            return float(text.replace("_", ""))
        except ValueError:
            return text
    if tag.endswith(":bool"):
        return text.lower() == "true"
    if tag.endswith(":null"):
        return None
    if tag.endswith(":timestamp"):
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError:
            return text
    return text


def plain(x: float) -> str:
    """A bound as people write it: `36,600`, `0.5`, `1e+20`."""
    if float(x).is_integer() and abs(x) < 1e16:
        return f"{int(x):,}"
    return f"{x:g}"


def _digits(text: str) -> int:
    """Digits written in a scalar (`1e5000` has 5, a 400-digit integer 400)."""
    return sum(ch.isdigit() for ch in text)


class Reader:
    """Typed, located access to YAML mapping nodes; collects diagnostics in `bag`."""

    def __init__(self, path: str, bag: DiagnosticBag, ceiling: float | None = None, ceiling_hint: str | None = None):
        self.path = path
        self.bag = bag
        self.ceiling = ceiling  # the largest number `number` accepts when no `high` is given
        self.ceiling_hint = ceiling_hint

    def span(self, node: Node) -> Span:
        return mark_span(node, self.path)

    def error(self, node: Node, code: str, message: str, hint: str | None = None) -> None:
        self.bag.error(code, message, self.span(node), hint)

    def mapping(self, node: Node | None, what: str, allowed: Iterable[str] | None = None) -> dict[str, Node]:
        """Keys of a mapping node (unknown keys are RL602 with a did-you-mean hint)."""
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.error(node, "RL603", f"{what} must be a mapping of `key: value` lines")
            return {}
        out: dict[str, Node] = {}
        allowed_list = list(allowed) if allowed is not None else None
        for key_node, value_node in node.value:
            key = str(scalar_value(key_node))
            if key in out:
                self.error(key_node, "RL602", f"duplicate key `{key}` in {what}")
                continue
            if allowed_list is not None and key not in allowed_list:
                hint = did_you_mean(key, allowed_list) or "allowed keys: " + ", ".join(allowed_list)
                self.error(key_node, "RL602", f"unknown key `{key}` in {what}", hint)
                continue
            out[key] = value_node
        return out

    def number(self, node: Node | None, what: str, default: float | None = None, *,
               low: float | None = None, high: float | None = None,
               low_open: bool = False, hint: str | None = None) -> float | None:
        """A number within [low, high] (`high` defaults to the reader's `ceiling`): NaN, an
        infinity, or more than `MAX_NUMBER_DIGITS` digits is RL603 too (`hint` explains `high`)."""
        if node is None:
            return default
        if isinstance(node, yaml.ScalarNode) and _digits(node.value) > MAX_NUMBER_DIGITS:
            self.error(node, "RL603", f"{what} has {_digits(node.value)} digits; a number here has at most "
                       f"{MAX_NUMBER_DIGITS}", hint or "write a plain number such as 0.25")
            return default
        value = scalar_value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = " (write true/false for yes/no)" if isinstance(value, str) and value.lower() in {"yes", "no", "on", "off"} else ""
            got = (f"`{node.value}`" if isinstance(node, yaml.ScalarNode)
                   else "a mapping" if isinstance(node, yaml.MappingNode) else "a list")
            self.error(node, "RL603", f"{what} must be a number, got {got}",
                       "write a plain number such as 0.25" + extra)
            return default
        v = float(value)  # at most MAX_NUMBER_DIGITS digits: always a finite float or an infinity
        if not math.isfinite(v):
            self.error(node, "RL603", f"{what} must be a finite number, got `{node.value}`",
                       hint or "write a plain number such as 0.25")
            return default
        if low is not None and (v < low or (low_open and v == low)):
            rel = ">" if low_open else ">="
            self.error(node, "RL603", f"{what} must be {rel} {plain(low)}, got {v:g}")
            return default
        top = high if high is not None else self.ceiling
        hint = hint if high is not None else self.ceiling_hint
        if top is not None and v > top:
            self.error(node, "RL603", f"{what} must be <= {plain(top)}, got {v:g}", hint)
            return default
        if low is None and top is not None and v < -top:
            self.error(node, "RL603", f"{what} must be >= {plain(-top)}, got {v:g}", hint)
            return default
        return v

    def string(self, node: Node | None, what: str, default: str | None = None,
               choices: Iterable[str] | None = None) -> str | None:
        if node is None:
            return default
        value = scalar_value(node)
        if not isinstance(node, yaml.ScalarNode) or isinstance(value, (dict, list)):
            self.error(node, "RL603", f"{what} must be a single word or a quoted string")
            return default
        text = str(value) if not isinstance(value, bool) else ("true" if value else "false")
        if choices is not None:
            options = list(choices)
            if text not in options:
                self.error(node, "RL603", f"{what} must be one of {', '.join(options)}, got `{text}`",
                           did_you_mean(text, options))
                return default
        return text

    def boolean(self, node: Node | None, what: str, default: bool) -> bool:
        if node is None:
            return default
        value = scalar_value(node)
        if not isinstance(value, bool):
            self.error(node, "RL603", f"{what} must be true or false, got `{getattr(node, 'value', '...')}`",
                       "YAML 1.1 words such as yes/no/on/off are not booleans here: write true or false")
            return default
        return value

    def date(self, node: Node | None, what: str, default: dt.date | None = None) -> dt.date | None:
        """A date between `MIN_DATE` and `MAX_DATE` (a run adds months and expiry periods to it)."""
        if node is None:
            return default
        value = scalar_value(node)
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                pass
        if not isinstance(value, dt.date):
            self.error(node, "RL603", f"{what} must be a date like 2027-01-01")
            return default
        if not MIN_DATE <= value <= MAX_DATE:
            self.error(node, "RL603", f"{what} must be between {MIN_DATE} and {MAX_DATE}, got {value}",
                       "a simulation adds its months and the program's expiry periods to its dates, "
                       "which must stay within the calendar")
            return default
        return value

    def sequence(self, node: Node | None, what: str) -> list[Node]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, "RL603", f"{what} must be a list (lines starting with `- `)")
            return []
        return list(node.value)
