"""Located YAML reading for population and guardrails files.

Takes: YAML text and its path. Gives: the composed node tree (`yaml.compose` on a
YAML 1.2-style safe loader: only `true`/`false` are booleans, so `NO` or `off`
stay strings), `scalar_value` (a scalar's value by its resolved tag) and `Reader`,
a helper that reads typed values out of mapping nodes and reports every problem as a
located `Diagnostic` (RL6xx) instead of raising.

Syntax errors and spans are located as in `rulelang.yaml_nodes` (`syntax_error_point`,
`mark_span`). What stays here is the simulator's own: its codes and messages, and
values typed by pyyaml's tags (`1e-3`, `2027-01-01`) where rule files read the text
as written.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

import yaml

from rulelang.diagnostics import DiagnosticBag, Span, did_you_mean
from rulelang.yaml_nodes import Node, mark_span, position_in, syntax_error_point


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (no YAML 1.1 yes/no/on/off)."""


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


class Reader:
    """Typed, located access to YAML mapping nodes; collects diagnostics in `bag`."""

    def __init__(self, path: str, bag: DiagnosticBag):
        self.path = path
        self.bag = bag

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
               low_open: bool = False) -> float | None:
        if node is None:
            return default
        value = scalar_value(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            extra = " (write true/false for yes/no)" if isinstance(value, str) and value.lower() in {"yes", "no", "on", "off"} else ""
            got = (f"`{node.value}`" if isinstance(node, yaml.ScalarNode)
                   else "a mapping" if isinstance(node, yaml.MappingNode) else "a list")
            self.error(node, "RL603", f"{what} must be a number, got {got}",
                       "write a plain number such as 0.25" + extra)
            return default
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            rel = ">" if low_open else ">="
            self.error(node, "RL603", f"{what} must be {rel} {low:g}, got {v:g}")
            return default
        if high is not None and v > high:
            self.error(node, "RL603", f"{what} must be <= {high:g}, got {v:g}")
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
        if node is None:
            return default
        value = scalar_value(node)
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.error(node, "RL603", f"{what} must be a date like 2027-01-01")
        return default

    def sequence(self, node: Node | None, what: str) -> list[Node]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, "RL603", f"{what} must be a list (lines starting with `- `)")
            return []
        return list(node.value)
