"""The vocabulary module: words read from the grammar, and the one singular/plural helper."""

from __future__ import annotations

from rulelang import vocabulary
from rulelang.syntax.parser import build_parser
from rulelang.vocabulary import (GRAMMAR_KEYWORDS, PROGRAM_WORDS, RESERVED_WORDS, STATEMENT_WORDS,
                                 STATEMENT_WORDS_BY_BLOCK, counted, plural, singular, unit_words)


def test_grammar_keywords_are_the_keyword_terminals_lark_builds() -> None:
    parser = build_parser()
    lark_words = {str(t.pattern.value) for t in parser.terminals
                  if t.pattern.type == "str" and str(t.pattern.value).isalpha()}
    assert GRAMMAR_KEYWORDS == lark_words


def test_statement_words_by_block_as_read_by_hand_from_the_grammar() -> None:
    # From rulelang.lark: the first keyword of each alternative of _rstmt, _tstmt, _wstmt, _ystmt, _xstmt.
    assert STATEMENT_WORDS_BY_BLOCK["rule"] == {"award", "multiply", "discount", "perk", "round", "priority", "group",
                                                "during", "cap", "limit", "budget", "every", "streak"}
    assert STATEMENT_WORDS_BY_BLOCK["tiers"] == {"tier", "review", "downgrade", "grace", "valid", "status", "returns"}
    assert STATEMENT_WORDS_BY_BLOCK["tier"] == {"multiply", "discount", "perk", "expire", "award"}  # `stars never expire` starts with the unit
    assert STATEMENT_WORDS_BY_BLOCK["reward"] == {"price", "worth", "costs", "voucher"}
    assert STATEMENT_WORDS_BY_BLOCK["pay with points"] == {"minimum", "at"}  # `100 points = 1 USD` starts with a number
    assert STATEMENT_WORDS_BY_BLOCK["test"] == {"given", "when", "until", "expect"}
    assert STATEMENT_WORDS_BY_BLOCK["file"] == {"program", "test"}
    # program statements less those another block also has (`round`, `expire`, `returns`)
    assert PROGRAM_WORDS == {"points", "balance", "currency", "point", "multipliers", "pending", "attribute", "event",
                             "counter", "earn", "tiers", "negative", "reward", "pay", "convert", "activity", "line"}
    assert len(STATEMENT_WORDS) == 20 + 12 + 6 + 4 + 2 + 4 + 2  # program, rule, tiers, reward, pay, test, file (no repeats)


def test_reserved_and_statement_words_are_keywords_of_the_grammar() -> None:
    assert RESERVED_WORDS <= GRAMMAR_KEYWORDS
    assert STATEMENT_WORDS <= GRAMMAR_KEYWORDS


def test_the_grammar_reader_sees_every_rule() -> None:
    rules = vocabulary.grammar_rules()
    assert {"start", "program", "_pstmt", "earn_rule", "award", "expect_item", "literal"} <= set(rules)
    assert rules["_ystmt"] == (("exchange_stmt",), ("minimum_stmt",), ("at_most_stmt",))


def test_singular_and_plural() -> None:
    assert plural("rule", 1) == "rule" and plural("rule", 0) == "rules" and plural("rule", 2) == "rules"
    assert counted(1, "file") == "1 file" and counted(3, "day") == "3 days" and counted(0, "error") == "0 errors"
    assert singular("stars") == "star" and singular("bunnies") == "bunny" and singular("s") == "s"
    assert unit_words("miles") == {"miles", "mile", "points", "point"}
