"""Words and checks shared by both readers and both writers for status dates and activity.

Takes: the values of a `status valid through ...` or `activity is ...` statement (text or
YAML). Gives: their spellings (`year_phrase`, `ACTIVITY_WORDS`), and the messages and hints
of RL270 (a status date not after the qualification year) and RL272 (an unknown kind of
activity), so that the text form and the YAML form report the same error in the same words.
"""

from __future__ import annotations

from rulelang.diagnostics import did_you_mean

__all__ = ["STATUS_DATE_TOO_EARLY", "STATUS_DATE_HINT", "UNKNOWN_ACTIVITY", "ACTIVITY_WORDS", "ACTIVITY_KINDS",
           "activity_hint", "status_date_problem", "year_phrase"]

STATUS_DATE_TOO_EARLY = "RL270"
UNKNOWN_ACTIVITY = "RL272"

STATUS_DATE_HINT = ("a status earned in a qualification year ends after that year: write e.g. "
                    "`status valid through 01-31 of the year after next`")

#: Kind of activity -> how both forms spell it.
ACTIVITY_WORDS: dict[str, str] = {"purchase": "purchase", "redemption": "redemption", "earning": "any earning event"}
#: Spelling -> kind.
ACTIVITY_KINDS: dict[str, str] = {word: kind for kind, word in ACTIVITY_WORDS.items()}


def year_phrase(years: int) -> str:
    """The year of a status date, relative to the qualification year, as the text form writes it."""
    if years == 1:
        return "of the next year"
    if years == 2:
        return "of the year after next"
    if years == 0:
        return "of the qualification year"
    if years < 0:
        return f"{-years} year{'s' if years != -1 else ''} before the qualification year"
    return f"{years} years after the qualification year"


def status_date_problem(month_day: tuple[int, int], years: int) -> str:
    mo, d = month_day
    where = "in the qualification year" if years == 0 else \
        f"{-years} year{'s' if years != -1 else ''} before the qualification year"
    return f"the status date {mo:02d}-{d:02d} is {where}: a status must last beyond the year it was earned in"


def activity_hint(word: str) -> str:
    choices = list(ACTIVITY_WORDS.values())
    return did_you_mean(word, choices) or "the kinds of activity are " + ", ".join(f"`{c}`" for c in choices)
