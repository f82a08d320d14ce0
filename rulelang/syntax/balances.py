"""Unit words of a program's balances: which balance a written word names.

Takes: a program's points unit and its declared balances (`balance "qualifying_dollars" not
redeemable`). Gives: `balance_named` (the balance a word names, by its name or its singular),
and the readers' normalisation of unit words: a word that names the points is dropped (None),
a word that names a balance becomes the balance's name, any other word is kept as written (the
checker refuses it, at its place).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable, TypeVar

from rulelang.syntax import ast
from rulelang.vocabulary import singular

__all__ = ["balance_named", "balance_metric", "points_unit_dropped", "tier_units_dropped", "normalise_test_units"]

N = TypeVar("N")


def balance_named(word: str | None, balances: Iterable[ast.Balance]) -> str | None:
    """The name of the balance `word` names (`qualifying_dollars` or `qualifying_dollar`), or None."""
    if word is None:
        return None
    for b in balances:
        if word in (b.name, singular(b.name)):
            return b.name
    return None


def balance_metric(tiers: ast.TierSystem | None, balances: tuple[ast.Balance, ...]) -> ast.TierSystem | None:
    """`tiers by qualifying_dollar` (either form of the word) goes by the balance's name."""
    if tiers is None:
        return None
    name = balance_named(tiers.metric, balances)
    return dataclasses.replace(tiers, metric=name) if name is not None and name != tiers.metric else tiers


def points_unit_dropped(node: N, points_words: frozenset[str] | set[str]) -> N:  # noqa: D103
    """The node with its `unit` None when the word names the points (the default)."""
    unit = getattr(node, "unit", None)
    return dataclasses.replace(node, unit=None) if unit is not None and unit in points_words else node  # type: ignore[type-var]


def tier_units_dropped(tiers: N, points_words: frozenset[str] | set[str]) -> N:
    """A tiers block with the points' word dropped from its tiers' expiries."""
    if not isinstance(tiers, ast.TierSystem):
        return tiers
    levels = tuple(dataclasses.replace(t, expiry=tuple(points_unit_dropped(x, points_words) for x in t.expiry))
                   for t in tiers.tiers)
    return dataclasses.replace(tiers, tiers=levels) if levels != tiers.tiers else tiers  # type: ignore[return-value]


def normalise_test_units(test: ast.TestCase, program: ast.Program | None) -> ast.TestCase:
    """A test's unit words that name a declared balance (after an expectation, after `given balance N`),
    recorded by the balance's name (`qualifying_dollar` -> `qualifying_dollars`). Other words are left
    to `rulelang.syntax.expect_words` (the points' own word dropped, any other kept for the checker)."""
    balances = program.balances if program is not None else ()
    if not balances:
        return test

    def unit(word: str | None) -> str | None:
        return balance_named(word, balances) or word

    expects = tuple(dataclasses.replace(e, unit=unit(e.unit)) if e.unit is not None else e for e in test.expects)
    givens = tuple(dataclasses.replace(g, unit=unit(g.unit)) if g.unit is not None else g for g in test.givens)
    if expects == test.expects and givens == test.givens:
        return test
    return dataclasses.replace(test, expects=expects, givens=givens)
