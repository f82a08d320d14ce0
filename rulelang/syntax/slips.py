"""Common slips of people who write rules by hand, and the hint that turns each into a right program.

Takes: the text around a syntax error (text form), or one YAML value (YAML form).
Gives: `text_slip(text, pos) -> Slip | None` for the text parser (what was written at or around
character offset `pos`, and what to write instead), `money_slip(text)` / `date_slip(text)` for
one value (both forms), `currency_word(word)` (a lower-case currency code), `percent_hint(...)`
and `flat_award_clause(...)` (words a fixed award does not use). The messages never guess
silently: each says what was read and the exact text to write.

Codes: RL101 (a typographic quote, `3 %`, `expire ... after 6 months`), RL103 (a decimal comma,
a date in another order), RL130 (a clause a fixed award does not use), RL131 (money with a
currency sign or a lower-case code), RL132 (a negative number).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from rulelang.diagnostics import Diagnostic, Span

__all__ = ["Slip", "FlatClause", "clause_text", "flat_award_errors", "text_slip", "money_slip", "date_slip", "currency_word", "percent_hint",
           "flat_award_clause", "quote_hint", "PERCENT_WORDS", "FLAT_AWARD", "MONEY_SLIP", "NEGATIVE"]

FLAT_AWARD = "RL130"
MONEY_SLIP = "RL131"
NEGATIVE = "RL132"

#: Currency signs and the code to write instead.
CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₽": "RUB", "₹": "INR", "₩": "KRW", "₺": "TRY"}
#: Codes recognised when written in lower case (`usd`): the currencies people use most.
CURRENCY_CODES = frozenset(
    "USD EUR GBP JPY CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF RUB TRY INR CNY HKD SGD KRW BRL MXN ZAR AED".split())
#: Words people write for a percentage.
PERCENT_WORDS = frozenset({"percent", "percents", "percentage", "pct", "per_cent"})
_QUOTES = {"“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'", "‛": "'"}
_NUM = r"\d+(?:_\d+)*(?:\.\d+)?"


class Slip(NamedTuple):
    """A slip found in the text form: `start`..`end` (character offsets, end exclusive) is
    what is underlined."""

    code: str
    message: str
    start: int
    end: int
    hint: str


def _line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


def _around(pattern: re.Pattern[str], line: str, offset: int, at: int) -> re.Match[str] | None:
    """The match of `pattern` in `line` (which starts at `offset`) that covers text position `at`."""
    for m in pattern.finditer(line):
        if offset + m.start() <= at < offset + m.end():
            return m
    return None


def _money_text(amount: str, code: str) -> str:
    return f"{amount} {code}"


def _decimal_comma(number: str) -> str | None:
    """`1,50` -> `1.50`; `1,500` and `1,000,000` (thousands commas) -> `1_500`, `1_000_000`; else None."""
    parts = number.split(",")
    if len(parts) > 1 and all(len(p) == 3 for p in parts[1:]):
        return "_".join(parts)
    return f"{parts[0]}.{parts[1]}" if len(parts) == 2 else None


# ------------------------------------------------------------------ one value (both forms)

_SIGN_BEFORE = re.compile(rf"([{''.join(CURRENCY_SIGNS)}])\s*(\d+(?:[.,]\d+)?)")
_SIGN_AFTER = re.compile(rf"(\d+(?:[.,]\d+)?)\s*([{''.join(CURRENCY_SIGNS)}])")
_COMMA_MONEY = re.compile(r"(\d+(?:,\d+)+)(?:\s*([A-Za-z]{3})(?![A-Za-z0-9_]))?")
_LOWER_MONEY = re.compile(rf"({_NUM})\s+([a-z]{{3}})(?![A-Za-z0-9_])")


def _fix_amount(amount: str) -> str:
    return (_decimal_comma(amount) or amount) if "," in amount else amount


def money_slip(text: str) -> tuple[str, str, str] | None:
    """(code, message, hint) for an amount of money written with a currency sign (`$1.50`), a
    decimal comma (`1,50 USD`) or a lower-case code (`1.50 usd`); None if `text` is none of these."""
    text = text.strip()
    for pattern, amount_at, sign_at in ((_SIGN_BEFORE, 2, 1), (_SIGN_AFTER, 1, 2)):
        m = pattern.fullmatch(text)
        if m:
            fixed = _money_text(_fix_amount(m.group(amount_at)), CURRENCY_SIGNS[m.group(sign_at)])
            return (MONEY_SLIP, f"`{text}`: money is written as a number and a currency code, not with `{m.group(sign_at)}`",
                    f"write `{fixed}`")
    m = _COMMA_MONEY.fullmatch(text)
    number = _decimal_comma(m.group(1)) if m else None
    if m and number is not None:
        word = m.group(2) or ""
        code = word.upper() if word.upper() in CURRENCY_CODES else word
        fixed = number + (f" {code}" if code else "")
        return ("RL103", f"`{text}`: the comma cannot be read in a number",
                f"write `{fixed}` (decimals take a point; thousands may be grouped with `_`)")
    m = _LOWER_MONEY.fullmatch(text)
    if m and m.group(2).upper() in CURRENCY_CODES:
        return (MONEY_SLIP, f"`{text}`: currency codes are written in capitals",
                f"write `{_money_text(m.group(1), m.group(2).upper())}`")
    return None


_DMY = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2(\d{4})")
_YMD = re.compile(r"(\d{4})([/.])(\d{1,2})\2(\d{1,2})")


def _iso(year: str, month: str, day: str) -> str:
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


def date_slip(text: str) -> tuple[str, str] | None:
    """(message, hint) for a date written `01/01/2027`, `1.1.2027` or `2027/01/01`."""
    text = text.strip()
    m = _YMD.fullmatch(text)
    if m:
        return f"`{text}` is not a date the rules can read", f"write dates as year-month-day: `{_iso(m[1], m[3], m[4])}`"
    m = _DMY.fullmatch(text)
    if not m:
        return None
    a, b, year = int(m[1]), int(m[3]), m[4]
    day_first = _iso(year, m[3], m[1])  # 31.12.2027, 31/12/2027
    month_first = _iso(year, m[1], m[3])  # 12/31/2027
    if a > 12 or a == b or b > 12 or m[2] == ".":
        fixed = month_first if b > 12 else day_first
        return f"`{text}` is not a date the rules can read", f"write dates as year-month-day: `{fixed}`"
    return (f"`{text}` is not a date the rules can read, and could be read two ways",
            f"write dates as year-month-day: `{day_first}` (day first) or `{month_first}` (month first)")


def quote_hint(value: str) -> str | None:
    """The hint for a YAML value wrapped in typographic quotes (`“stars”`)."""
    if not value or value[0] not in _QUOTES:
        return None
    inner = value.strip("".join(_QUOTES))
    return f'`{value[0]}` is a typographic quote: write `{inner}` (or `"{inner}"` with straight quotes)'


def currency_word(word: str) -> str | None:
    """`usd` -> `USD`: a lower-case word that is a currency code (read as a quantity unit otherwise)."""
    return word.upper() if word.islower() and word.upper() in CURRENCY_CODES else None


def percent_hint(points: str, written: str = "") -> str | None:
    """The hint for `award 3 percent ...`: a share of the amount is written `3%`."""
    if written.lower() not in PERCENT_WORDS:
        return None
    return f"write `{points}%` for a share of the amount: `award {points}% of net amount` (YAML: `award: {points}%`)"


class FlatClause(NamedTuple):
    """The `of ... amount` / `excluding ...` clauses written on one award without `per`:
    `clauses` are (kind, value) pairs (`("of", "net")`, `("excluding", ("gift_card",))`)."""

    points: str
    unit: str
    clauses: tuple[tuple[str, object], ...]
    span: Span


def clause_text(kind: str, value: object) -> str:
    """The words of an award's `of` or `excluding` clause, as written in the text form."""
    if kind == "of":
        return f"of {value} amount"
    return "excluding category " + ", ".join(f'"{c}"' for c in value)  # type: ignore[attr-defined]


def _yaml_clause(kind: str, value: object) -> str:
    if kind == "of":
        return f"of: {value}"
    return "excluding: [" + ", ".join(str(c) for c in value) + "]"  # type: ignore[attr-defined]


def flat_award_errors(found: list[FlatClause], currency: str | None, yaml_form: bool = False) -> list[Diagnostic]:
    """RL130 for each award without `per` that has clauses it does not use; `currency` (the
    program's) goes into the hint."""
    out = []
    for f in found:
        message, hint = flat_award_clause(f.points, f.unit, f.clauses, currency or "USD", yaml_form)
        out.append(Diagnostic(FLAT_AWARD, "error", message, f.span, hint))
    return out


def flat_award_clause(points: str, unit: str, clauses: tuple[tuple[str, object], ...], currency: str,
                      yaml_form: bool = False) -> tuple[str, str]:
    """(message, hint) for `award 3 points of net amount` / `... excluding category "x"`: a fixed
    award counts no amount, so the clauses would change nothing."""
    text = " ".join(clause_text(k, v) for k, v in clauses)
    keys = " and ".join(f"`{k}`" for k, _ in clauses)
    share = "{" + ", ".join([f"percent: {points}"] + [_yaml_clause(k, v) for k, v in clauses if k != "of" or v != "net"]) + "}"
    if unit.lower() in PERCENT_WORDS:
        return (f"a percentage is written `{points}%`, not `{points} {unit}`",
                f"write `award: {share}`" if yaml_form else f"write `award {points}% {text}`")
    message = f"`award {points} {unit}` awards a fixed {points} {unit}; `{text}` would change nothing"
    if yaml_form:
        own_unit = [f"unit: {unit}"] if unit != "points" else []
        rate = "{" + ", ".join([f"points: {points}", *own_unit, f"per: 1 {currency}"]
                               + [_yaml_clause(k, v) for k, v in clauses]) + "}"
        message = f"an award without `per` gives a fixed {points} {unit}; {keys} would change nothing"
        return message, (f"to award per amount spent write `award: {rate}`; for a share of the amount, "
                         f"`award: {share}`; for a fixed {points} {unit}, remove {keys}")
    return message, (f"to award per amount spent write `award {points} {unit} per 1 {currency} {text}`; for a share "
                     f"of the amount, `award {points}% {text}`; for a fixed {points} {unit}, remove `{text}`")


# ------------------------------------------------------------------ the text form, at a syntax error

_SPACE_PERCENT = re.compile(rf"({_NUM})[ \t]+%")
_MINUS = re.compile(rf"-[ \t]*({_NUM})")
_VALID_LAST = re.compile(r"\bconvert\b(?P<head>.*?\bvoucher)(?P<when>[ \t]+at[ \t]+end[ \t]+of[ \t]+[^#;}]*?)"
                         r"(?P<valid>[ \t]+valid[ \t]+\d+[ \t]+\w+)[ \t]*(?=#|;|}|$)")
_VOUCHER_NO_LIFE = re.compile(r"^[ \t]*voucher[ \t]+(?P<money>[^#;}]*?\S)[ \t]*(?=#|;|}|$)")
_EXPIRE_AFTER = re.compile(r"\bexpire[ \t]+(\w+)[ \t]+after[ \t]+(\d+)[ \t]+(months?|days?|years?)\b(?=[ \t]*(?:#|;|}|$))")
_EARN_LINE = re.compile(r"\bearn[ \t]+(\w+)[ \t]+on[ \t]+(\w+)(?:[ \t]+when[ \t]+([^{\n]*[^{\s]))?")
_DATE_RUN = re.compile(r"\d{1,4}[/.]\d{1,2}[/.]\d{1,4}")
_AMOUNT_RUN = re.compile(rf"[{''.join(CURRENCY_SIGNS)}][ \t]*\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?[ \t]*[{''.join(CURRENCY_SIGNS)}]"
                         rf"|\d+(?:,\d+)+(?:[ \t]*[A-Za-z]{{3}}(?![A-Za-z0-9_]))?|{_NUM}[ \t]+[a-z]{{3}}(?![A-Za-z0-9_])")
_NEGATIVE_HINTS = {
    "award": "an award adds {unit}: write `award {n} ...`; {unit} leave a balance through a reward's `price`, "
             "expiry, or `returns reverse earned {unit}`",
    "discount": "a discount is written as the amount taken off: `discount {n} ...`",
    "expect": "a total is never below zero: write `{n}`; only what one event moved can be negative, "
              "e.g. `expect return \"S1\" discount -{n} ...`",
}


def _statement_word(line: str) -> str:
    words = re.findall(r"[A-Za-z_]+", re.split(r"[{;]", line)[-1])
    return words[0] if words else ""


def text_slip(text: str, pos: int, unit: str = "points") -> Slip | None:
    """A common slip at character `pos` of `text` (where the parser stopped), or None."""
    if pos >= len(text):
        pos = max(0, len(text) - 1)
    line_start, line_end = _line_bounds(text, pos)
    line = text[line_start:line_end]
    ch = text[pos] if pos < len(text) else ""

    if ch in _QUOTES:
        close = next((i for i in range(pos + 1, line_end) if text[i] in _QUOTES or text[i] in "\"'"), None)
        inner = text[pos + 1:close] if close is not None else text[pos + 1:line_end].split()[0] if text[pos + 1:line_end].split() else ""
        return Slip("RL101", f"`{ch}` is a typographic quote; texts are written in straight double quotes",
                    pos, pos + 1, f'write `"{inner}"` (word processors turn `"` into `“ ”`: type rules in a plain-text editor)')

    m = _around(_DATE_RUN, line, line_start, pos)
    if m:
        found = date_slip(m.group(0))
        if found:
            return Slip("RL103", found[0], line_start + m.start(), line_start + m.end(), found[1])

    m = _around(_AMOUNT_RUN, line, line_start, pos)
    if m:
        found = money_slip(m.group(0))
        if found:
            return Slip(found[0], found[1], line_start + m.start(), line_start + m.end(), found[2])

    m = _around(_SPACE_PERCENT, line, line_start, pos)
    if m:
        return Slip("RL101", f"`{m.group(0)}`: a percentage is written without a space", line_start + m.start(),
                    line_start + m.end(), f"write `{m.group(1)}%`")

    if ch == "-":
        m = _MINUS.match(text, pos)
        if m and m.end() <= line_end:
            word = _statement_word(text[line_start:pos])
            hint = _NEGATIVE_HINTS.get(word, "write the number without `-`: `{n}`")
            return Slip(NEGATIVE, f"`-{m.group(1)}`: numbers in {'`' + word + '`' if word else 'rules'} cannot be negative",
                        pos, m.end(), hint.format(n=m.group(1), unit=unit))

    statement = re.split(r"[{;]", text[line_start:pos])[-1]  # the statement the `when` ends
    if re.match(r"when\b", text[pos:pos + 5]) and statement.strip() and \
            not re.match(r"[ \t]*(earn|counter)\b", statement):
        rule = list(_EARN_LINE.finditer(text, 0, pos))
        condition = text[pos + 4:line_end].split("#")[0].strip(" \t;}")
        if rule and condition:
            name, event, already = rule[-1].group(1), rule[-1].group(2), rule[-1].group(3)
            condition = f"{already} and {condition}" if already else condition
            return Slip("RL101", "`when` cannot end a statement inside a rule: the condition belongs to the rule", pos, pos + 4,
                        f"write it on the rule's line: `earn {name} on {event} when {condition} {{`")

    m = _EXPIRE_AFTER.search(line)
    if m and line_start + m.start() <= pos <= line_end:
        word, n, period = m.group(1), m.group(2), m.group(3)
        months = period.startswith("month")
        start = line_start + m.start()
        hint = (f"write `expire {word} {n} {period} after earning` (each lasts {n} {period} from when it was earned) or "
                f"`expire {word} after {n} {period} of inactivity` (all expire {n} {period} after the last activity)"
                if months else f"expiry is counted in months: e.g. `expire {word} 12 months after earning`")
        return Slip("RL101", f"`{m.group(0)}` does not say after what", start, line_start + m.end(), hint)

    m = _VALID_LAST.search(line)
    if m and line_start + m.start("valid") <= pos <= line_end:
        right = f"convert{m.group('head')}{m.group('valid')}{m.group('when')}".strip()
        return Slip("RL101", "a voucher's validity comes before its schedule", line_start + m.start("valid") + 1,
                    line_start + m.end("valid"), f"write `{right}`")

    m = _VOUCHER_NO_LIFE.match(line)
    if m and "valid" not in line and pos >= line_start + m.end("money"):
        money = m.group("money")
        return Slip("RL101", "a reward's voucher says how long it can be used", line_start + m.start("money"),
                    line_start + m.end("money"),
                    f"write e.g. `voucher {money} valid 1 year` (or `valid 90 days`, `valid 18 months`)")
    return None
