"""Read-time limits: numbers, nesting and dates as the readers find them in a file.

Takes: the text of a literal number, a parsed `Decimal`, a date, or YAML text.
Gives: the problem (a message for a diagnostic) or None, with the bounds of `rulelang.limits`:
- `number_too_long(text)`: a number written with more than `MAX_NUMBER_DIGITS` digits
  before or after its point (the text parser, the YAML reader, the events-file reader);
- `decimal_too_long(value)`: a value (after an exponent such as `1e5000`) with more digits
  than that, or not finite (`Infinity`, `NaN`);
- `date_out_of_range(day)`: a date outside `MIN_DATE`..`MAX_DATE`;
- `yaml_too_deep(text)`: the first place where YAML collections nest deeper than
  `MAX_NESTING` (found by pyyaml's event stream, which does not recurse, before the composer,
  which does).
Codes: RL420 a number too long, RL421 nesting too deep, RL422 a date outside the calendar.
Every reader turns these into a located `Diagnostic`; nothing here raises.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import yaml

from rulelang.limits import MAX_DATE, MAX_NESTING, MAX_NUMBER_DIGITS, MIN_DATE

__all__ = [
    "NUMBER_TOO_LONG", "NESTED_TOO_DEEP", "DATE_OUT_OF_RANGE", "number_too_long", "decimal_too_long",
    "date_out_of_range", "yaml_too_deep", "NUMBER_HINT", "DATE_HINT", "NESTING_HINT",
]

NUMBER_TOO_LONG = "RL420"
NESTED_TOO_DEEP = "RL421"
DATE_OUT_OF_RANGE = "RL422"

NUMBER_HINT = f"numbers have at most {MAX_NUMBER_DIGITS} digits before the point and {MAX_NUMBER_DIGITS} after"
DATE_HINT = f"dates run from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}"
NESTING_HINT = "a file needs only a few levels of nesting; check the brackets"

# A run of digits with an optional fraction: `1_000.50` -> ("1_000", "50").
_DIGIT_RUN = re.compile(r"([0-9][0-9_]*)(?:\.([0-9_]*))?")


def _shown(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 24 else f"{text[:12]}...{text[-6:]}"


def number_too_long(text: str) -> str | None:
    """Why the number(s) written in `text` are too long, or None when every one is fine."""
    if len(text) <= MAX_NUMBER_DIGITS:
        return None
    for match in _DIGIT_RUN.finditer(text):
        whole = len(match.group(1).replace("_", ""))
        fraction = len((match.group(2) or "").replace("_", ""))
        longest = max(whole, fraction)
        if longest > MAX_NUMBER_DIGITS:
            where = "before the point" if whole >= fraction else "after the point"
            return f"the number `{_shown(match.group(0))}` has {longest} digits {where}: it is too long"
    return None


def decimal_too_long(value: Decimal, text: str) -> str | None:
    """Why a parsed value is not a usable number (infinite, NaN, or too many digits), or None."""
    if not value.is_finite():
        return f"`{_shown(text)}` is not a finite number"
    if value == 0:
        return None
    before = value.adjusted() + 1  # digits before the point
    after = -value.as_tuple().exponent  # digits after the point (as written)
    if before > MAX_NUMBER_DIGITS:
        return f"the number `{_shown(text)}` has {before} digits before the point: it is too long"
    if isinstance(after, int) and after > MAX_NUMBER_DIGITS:
        return f"the number `{_shown(text)}` has {after} digits after the point: it is too long"
    return None


def date_out_of_range(day: dt.date) -> str | None:
    if MIN_DATE <= day <= MAX_DATE:
        return None
    return f"the date {day.isoformat()} is outside the calendar the engines handle"


def yaml_too_deep(text: str) -> tuple[str, int, int] | None:
    """(message, line, column), 1-based, of the first collection nested deeper than MAX_NESTING,
    or of an alias that refers to a collection it is inside (a cycle); None when there is neither.
    Syntax errors are left to the composer (None)."""
    depth = 0
    open_anchors: list[str | None] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                open_anchors.append(event.anchor)
                if depth > MAX_NESTING:
                    mark = event.start_mark
                    return f"the YAML is nested more than {MAX_NESTING} levels deep", mark.line + 1, mark.column + 1
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
                open_anchors.pop()
            elif isinstance(event, yaml.AliasEvent) and event.anchor in open_anchors:
                mark = event.start_mark
                return (f"the alias `*{event.anchor}` refers to a list or mapping it is inside: "
                        "it would repeat without end"), mark.line + 1, mark.column + 1
    except (yaml.YAMLError, RecursionError):
        return None
    return None
