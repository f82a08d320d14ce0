"""The points words written after a test's expectations.

Takes: a parsed `ast.TestCase` and its program's points unit. Gives: the same test with the
program's own word after each expectation and `given` recorded as no word (so the text and YAML forms give
equal ASTs) and any other word kept for the checker to refuse (RL430). Also the two small
values the text form's builder passes up while it reads an expectation (`OnDate`, `EventRef`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from rulelang.syntax import ast
from rulelang.vocabulary import own_unit_words, unit_words

__all__ = ["normalise_expect_words", "OnDate", "EventRef"]


def normalise_expect_words(test: ast.TestCase, points_unit: str, tier_metric: str | None = None) -> ast.TestCase:
    """The program's own points word after an expectation is recorded as no word; another one is
    kept, for the checker to refuse (`expect earned 24 points` in a program that counts stars).
    `expect stars 300` (the points tier metric, by the unit's name) is recorded as `points`, and the
    tier metric named by its own word (`expect spend 120 USD`, `expect visits 4`) as `metric`."""
    own, words = own_unit_words(points_unit), unit_words(points_unit)

    def one(x: ast.Expect) -> ast.Expect:
        if x.unit is not None and x.unit in own:
            x = dataclasses.replace(x, unit=None)
        if x.kind == "metric" and x.name in words and x.name != "points":
            x = dataclasses.replace(x, name="points")
        if x.kind == "metric" and x.name is not None and x.name == tier_metric:
            x = dataclasses.replace(x, name=None)
        return x

    expects = tuple(one(x) for x in test.expects)
    givens = tuple(_given_metric(dataclasses.replace(g, unit=None) if g.unit is not None and g.unit in own else g,
                                 words) for g in test.givens)
    if all(a.unit == b.unit and a.name == b.name for a, b in zip(expects, test.expects)) and \
            all(a.unit == b.unit and a.name == b.name for a, b in zip(givens, test.givens)):
        return test
    return ast.TestCase(test.name, givens, test.events, expects, test.until, span=test.span)


def _given_metric(g: ast.Given, words: frozenset[str]) -> ast.Given:
    """`given stars 300` (the points tier metric, by the unit's name) is recorded as `points`, as in
    one file; a tests-only file learns the word from the program it tests."""
    if g.kind == "metric" and g.name in words and g.name != "points":
        return dataclasses.replace(g, name="points")
    return g


# what the text form's builder hands on while it reads an expectation


@dataclass(frozen=True)
class OnDate:
    """`on DATE` after an expectation (the state at the end of that date)."""

    day: dt.date


@dataclass(frozen=True)
class EventRef:
    """`purchase "A1"` / `purchase on DATE [at TIME]`: the event an expectation is about."""

    kind: str
    id: str | None
    on: dt.date | None
    at: dt.time | None
