"""Vocabulary: the words of the language and how to count things in them.

Takes: the grammar file of the text form (`rulelang/syntax/grammar/rulelang.lark`, read as
text; no lark needed). Gives: `GRAMMAR_KEYWORDS` (every keyword the grammar spells),
`RESERVED_WORDS` (those that can never be names, docs/semantics.md §1), `STATEMENT_WORDS`
(words that begin a statement somewhere), `PROGRAM_WORDS` (statements only the program block
holds), `STATEMENT_WORDS_BY_BLOCK`, and one singular/plural helper family: `plural`, `counted`,
`singular`, `unit_words`. This module imports nothing from `rulelang`, so every stage may use it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

__all__ = [
    "GRAMMAR_KEYWORDS", "RESERVED_WORDS", "STATEMENT_WORDS", "PROGRAM_WORDS", "STATEMENT_WORDS_BY_BLOCK",
    "STATEMENT_LISTS", "grammar_rules", "plural", "counted", "singular", "unit_words", "own_unit_words",
]

GRAMMAR_FILE = Path(__file__).resolve().parent / "syntax" / "grammar" / "rulelang.lark"

# ---------------------------------------------------------------- singular and plural


def plural(word: str, n: int | float | object = 2) -> str:
    """`word` as said after the number `n`: `rule` for 1, `rules` otherwise (an English `s`)."""
    return word if n == 1 else word + "s"


def counted(n: int | object, word: str) -> str:
    """`1 rule`, `2 rules`, `0 files`: the number and the word in the form that number takes."""
    return f"{n} {plural(word, n)}"


def singular(word: str) -> str:
    """`stars` -> `star`, `miles` -> `mile`, `bunnies` -> `bunny` (a points unit's singular)."""
    if word.endswith("ies") and len(word) > 3:
        return word[:-3] + "y"
    if word.endswith("s") and len(word) > 1:
        return word[:-1]
    return word


# ---------------------------------------------------------------- words of the grammar

#: The grammar's statement lists (rules whose alternatives are statements), by the block
#: that holds them; `start` holds the top-level blocks.
STATEMENT_LISTS: dict[str, str] = {
    "start": "file",
    "_pstmt": "program",
    "_rstmt": "rule",
    "_tstmt": "tiers",
    "_tbody": "tier",
    "_wstmt": "reward",
    "_ystmt": "pay with points",
    "_xstmt": "test",
}

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|/(?:[^/\\]|\\.)*/|->\s*\w+|[!?]?\w+(?:\.\d+)?|[()\[\]|*+?~]|\S')
_RULE_HEAD = re.compile(r"^[!?]?([a-z_][a-z0-9_]*)\s*:", re.MULTILINE)


@cache
def grammar_rules() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Each rule of the grammar: its alternatives, each a tuple of symbols (`"word"` for a
    keyword, `NAME` for a terminal, `rule` for a rule). Grouping and repetition marks are
    kept as symbols of their own; only the first symbols are used below."""
    text = re.sub(r"//[^\n]*", "", GRAMMAR_FILE.read_text(encoding="utf-8"))
    heads = list(_RULE_HEAD.finditer(text))
    rules: dict[str, tuple[tuple[str, ...], ...]] = {}
    for i, head in enumerate(heads):
        body = text[head.end(): heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        body = re.split(r"^[A-Z_]+(?:\.\d+)?\s*:", body, flags=re.MULTILINE)[0]  # stop at a terminal definition
        alternatives: list[tuple[str, ...]] = []
        current: list[str] = []
        depth = 0
        for tok in _TOKEN.findall(body):
            if tok.startswith("->"):
                continue
            if tok in "([":
                depth += 1
            elif tok in ")]":
                depth -= 1
            if tok == "|" and depth == 0:
                alternatives.append(tuple(current))
                current = []
            else:
                current.append(tok)
        alternatives.append(tuple(current))
        rules[head.group(1)] = tuple(alternatives)
    return rules


def _keyword(symbol: str) -> str | None:
    return symbol[1:-1] if symbol.startswith('"') and symbol[1:-1].isalpha() else None


@cache
def _grammar_keywords() -> frozenset[str]:
    return frozenset(k for alts in grammar_rules().values() for alt in alts for s in alt if (k := _keyword(s)))


def _first_words(list_rule: str) -> frozenset[str]:
    """The keywords that begin the statements of one statement list: each alternative names a
    statement rule (or is a keyword itself); a statement begins with its rule's first keyword.
    A statement that begins with a value (`100 points = 1 USD`, `stars never expire`) adds none."""
    rules = grammar_rules()
    words: set[str] = set()
    for alt in rules[list_rule]:
        for symbol in alt:
            if (word := _keyword(symbol)) is not None:
                words.add(word)
            elif symbol in rules and not symbol.startswith("_"):  # `_sep` and the like are separators
                for inner in rules[symbol]:
                    if inner and (word := _keyword(inner[0])) is not None:
                        words.add(word)
    return frozenset(words)


GRAMMAR_KEYWORDS: frozenset[str] = _grammar_keywords()

#: Statement words by the block that holds them (`file`, `program`, `rule`, `tiers`, `tier`, ...).
STATEMENT_WORDS_BY_BLOCK: dict[str, frozenset[str]] = {block: _first_words(rule) for rule, block in STATEMENT_LISTS.items()}

#: Words that begin a statement somewhere.
STATEMENT_WORDS: frozenset[str] = frozenset().union(*STATEMENT_WORDS_BY_BLOCK.values())

#: Statements that only the program block holds (seeing one elsewhere suggests a missing `}`).
PROGRAM_WORDS: frozenset[str] = STATEMENT_WORDS_BY_BLOCK["program"] - frozenset().union(
    *(words for block, words in STATEMENT_WORDS_BY_BLOCK.items() if block != "program"))

#: Words that can never be names (docs/semantics.md §1). The grammar spells more keywords
#: than these (`net`, `day`, `monthly`...): those stay usable as names where the grammar
#: expects a name. A test checks that each one is a keyword of the grammar.
RESERVED_WORDS: frozenset[str] = frozenset(
    """program earn on when award per of excluding category multiply discount perk costs cap
    limit budget during priority group every streak round tiers tier from review downgrade grace
    valid expire never after earning months inactivity yearly returns reward price worth pay with
    points convert into voucher test given expect until and or not in true false""".split()
)


def unit_words(points_unit: str) -> frozenset[str]:
    """Words accepted wherever points are written: the unit, its singular, and `points`/`point`."""
    return frozenset({points_unit, singular(points_unit), "points", "point"})


def own_unit_words(points_unit: str) -> frozenset[str]:
    """The program's own points words (its unit and the singular): what a test's expectation may
    write after a number of points (`points` is not one of them in a program that counts stars)."""
    return frozenset({points_unit, singular(points_unit)})
