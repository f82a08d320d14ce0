"""Dates and timestamps of a transaction file: detect the format from the data, then parse.

Takes: a column of date texts (a pyarrow string array; empty or null = missing) and,
optionally, a format the user stated (`--date-format`, strptime codes such as `%d/%m/%Y`).
Gives: `ParsedDates` (datetime64[s] values, a mask of missing ones, the format used and a
sentence saying how it was chosen), or a `DateProblem` naming the first row that does not
parse, or that the format is ambiguous.

Formats recognised without being told (the whole column must use one of them):
- ISO 8601: `2026-12-31`, `2026-12-31T10:15`, `2026-12-31 10:15:30.250+02:00`. A
  timestamp's fraction of a second and its UTC offset are dropped: the date and time as
  written are taken as the local ones (the day a customer shopped is the day on the receipt).
- compact ISO `20261231`, and `2026/12/31`;
- day-first or month-first with `/`, `.` or `-`: `31/12/2026`, `12/31/2026`, `31.12.2026`,
  `31-12-2026`, each optionally followed by a time `10:15` or `10:15:30`. Which of day and
  month comes first is read from the data: a first number above 12 means day-first, a second
  number above 12 means month-first. When every number is 12 or less the column is
  ambiguous and the reader refuses to guess (`--date-format` says which).

Speed: each distinct text is parsed once, and a column that is all `YYYY-MM-DD` or all
`YYYY-MM-DD[T ]HH:MM:SS` is read in place by numpy (checked by writing it back) instead of
by a dozen passes of regular expressions and strptime (benchmarks/bench_replay.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TIME = r"(?: \d{1,2}:\d{2}(?::\d{2})?)?"


@dataclass(frozen=True)
class DateForm:
    """One family of date texts the reader recognises."""

    name: str  # shown to people
    pattern: str  # a regex every value of the family matches
    fmt: str  # strptime format after normalisation (date part; time appended when present)
    example: str
    day_month: str | None = None  # the separator when the form is day-first or month-first


ISO = DateForm("ISO 8601 (YYYY-MM-DD)",
               r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$",
               "%Y-%m-%d", "2026-12-31")
COMPACT = DateForm("compact ISO (YYYYMMDD)", r"^\d{8}$", "%Y%m%d", "20261231")
YMD_SLASH = DateForm("year first (YYYY/MM/DD)", r"^\d{4}/\d{1,2}/\d{1,2}" + _TIME + "$", "%Y/%m/%d", "2026/12/31")
DAY_MONTH = tuple(
    DateForm(f"day and month with `{sep}`", r"^\d{1,2}" + rx + r"\d{1,2}" + rx + r"\d{4}" + _TIME + "$", "", f"31{sep}12{sep}2026", sep)
    for sep, rx in (("/", "/"), (".", r"\."), ("-", "-"))
)
FORMS = (ISO, COMPACT, YMD_SLASH, *DAY_MONTH)


@dataclass(frozen=True)
class ParsedDates:
    values: np.ndarray  # datetime64[s]; missing entries hold 0 (1970-01-01)
    missing: np.ndarray  # bool: the value was empty
    fmt: str  # strptime format of the date part, e.g. "%d/%m/%Y"
    note: str  # how the format was chosen, for the fit report


def shown(value: object, limit: int = 40) -> str:
    """A value as an error message quotes it: cut to `limit` characters, saying how long it was."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


@dataclass(frozen=True)
class DateProblem(Exception):
    """A date column that cannot be read: `kind` is "unparsed" or "ambiguous"."""

    kind: str
    row: int  # 0-based data row of the first offending value
    value: str
    expected: str  # the format expected, for people ("%d/%m/%Y, e.g. 31/12/2026")
    other_row: int = -1  # ambiguous: a second example row
    other_value: str = ""


def _any(mask: pa.Array) -> bool:
    return bool(pc.any(pc.fill_null(mask, False)).as_py())


def _normalise(texts: pa.Array) -> pa.Array:
    """ISO `T` to a space, drop fractions of a second and UTC offsets, complete the time to HH:MM:SS.

    `texts` all match one of `FORMS`. Each rewrite runs only when some text can need it (a cheap
    literal test first: a rewrite by regular expression costs far more than a scan)."""
    t = texts
    if _any(pc.match_substring(t, "T")):  # only ISO texts have a letter T, between the date and the time
        t = pc.replace_substring(t, "T", " ")
    if _any(pc.match_substring(t, ".")):
        t = pc.replace_substring_regex(t, r"(\d{2}:\d{2}:\d{2})\.\d+", r"\1")
    if (_any(pc.match_substring(t, "Z")) or _any(pc.match_substring(t, "+"))
            or _any(pc.greater(pc.count_substring(t, "-"), 2))):  # an offset: Z, +hh or a third `-`
        t = pc.replace_substring_regex(t, r"( \d{1,2}:\d{2}(?::\d{2})?)(?:Z|[+-]\d{2}(?::?\d{2})?)$", r"\1")
    if _any(pc.equal(pc.count_substring(t, ":"), 1)):  # a time without seconds
        t = pc.replace_substring_regex(t, r"( \d{1,2}:\d{2})$", r"\1:00")
    if _any(pc.invert(pc.match_substring(t, " "))):  # a date without a time
        t = pc.replace_substring_regex(t, r"^([^ ]+)$", r"\1 00:00:00")
    return t


def _first_true(mask: np.ndarray) -> int:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else -1


def _distinct(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """(the distinct texts in order of first appearance, each row's index into them; -1 for null)."""
    enc = pc.dictionary_encode(texts)
    return enc.dictionary, np.asarray(enc.indices.fill_null(-1), dtype=np.int64)


def _per_row(values: np.ndarray, codes: np.ndarray, missing) -> np.ndarray:
    """Values of the distinct texts spread back to the rows (`missing` for a null row)."""
    return np.concatenate([values, np.array([missing], dtype=values.dtype)])[codes]


def _strptime(texts: pa.Array, fmt: str) -> np.ndarray:
    """datetime64[s] with NaT where the text does not parse or is no calendar date (2026-02-30)."""
    if fmt == "%Y-%m-%d %H:%M:%S":
        fast = _iso_numpy(texts)
        if fast is not None:
            return fast
    parsed = pc.strptime(texts, format=fmt, unit="s", error_is_null=True)
    # strptime rolls 30 February over into March: writing the value back must give the text
    back = pc.strftime(parsed, format=fmt)
    same = pc.equal(_unpadded(back), _unpadded(texts))
    parsed = pc.if_else(pc.fill_null(same, False), parsed, pa.scalar(None, parsed.type))
    return parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")


def _iso_numpy(texts: pa.Array) -> np.ndarray | None:
    """numpy's C parser for `YYYY-MM-DD HH:MM:SS` texts; None unless every text is a valid date and time
    that writes back to the same text (then strptime decides, and names the row that does not parse)."""
    if texts.null_count:
        return None
    strings = texts.to_numpy(zero_copy_only=False).astype(str)
    try:
        values = strings.astype("datetime64[s]")
    except ValueError:
        return None
    if values.size and (values.min() < np.datetime64("0001-01-01T00:00:00")
                        or not np.array_equal(np.char.replace(np.datetime_as_string(values, unit="s"), "T", " "),
                                              strings)):
        return None
    return values


def _iso_whole_column(texts: pa.Array) -> np.ndarray | None:
    """The common case at C speed: every text `YYYY-MM-DD` or every text `YYYY-MM-DD[T ]HH:MM:SS`.

    The bytes are read in place and parsed by numpy; a text that numpy rejects, or that does not
    write back to itself (so that it is exactly what the ISO form allows), sends the column to the
    general path, which gives the same values and names the row that does not parse."""
    if not pa.types.is_string(texts.type) or texts.null_count or len(texts) == 0:
        return None
    lengths = pc.min_max(pc.utf8_length(texts)).as_py()
    width = lengths["min"]
    if width != lengths["max"] or width not in (10, 19):
        return None
    n = len(texts)
    start = int(np.frombuffer(texts.buffers()[1], dtype=np.int32, count=1, offset=texts.offset * 4)[0])
    raw = np.frombuffer(texts.buffers()[2], dtype=f"S{width}", count=n, offset=start)
    if width == 19:
        chars = raw.view(np.uint8).reshape(n, width).copy()
        if not np.all((chars[:, 10] == ord("T")) | (chars[:, 10] == ord(" "))):
            return None
        chars[:, 10] = ord("T")
        raw = chars.view(f"S{width}").reshape(n)
    try:
        values = raw.astype("datetime64[s]" if width == 19 else "datetime64[D]")
    except ValueError:
        return None
    if values.min() < np.datetime64("0001-01-01"):
        return None
    back = np.datetime_as_string(values, unit="s" if width == 19 else "D").astype(f"S{width}")
    if not np.array_equal(back, raw):
        return None
    return values.astype("datetime64[s]")


def _unpadded(texts: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(texts, r"\b0+(\d)", r"\1")


def _day_month_order(texts: pa.Array, present: np.ndarray, form: DateForm) -> tuple[str, str]:
    """("%d/%m/%Y" or "%m/%d/%Y", why) from the numbers above 12; raises DateProblem when ambiguous."""
    sep = form.day_month or "/"
    rx = "\\" + sep if sep == "." else sep
    parts = pc.extract_regex(texts, r"^(?P<first>\d{1,2})" + rx + r"(?P<second>\d{1,2})" + rx)
    first = np.asarray(pc.cast(pc.struct_field(parts, [0]), pa.int64()).fill_null(0), dtype=np.int64)
    second = np.asarray(pc.cast(pc.struct_field(parts, [1]), pa.int64()).fill_null(0), dtype=np.int64)
    day_first = int(np.count_nonzero(present & (first > 12)))
    month_first = int(np.count_nonzero(present & (second > 12)))
    d, m = f"%d{sep}%m{sep}%Y", f"%m{sep}%d{sep}%Y"
    if day_first == 0 and month_first == 0:
        rows = np.flatnonzero(present & (first != second))
        if rows.size == 0:
            rows = np.flatnonzero(present)
        one = int(rows[0])
        two = int(rows[1]) if rows.size > 1 else one
        raise DateProblem("ambiguous", one, str(texts[one]), f"{d} or {m}", two, str(texts[two]))
    if day_first >= month_first:
        return d, f"day-first ({form.example}): {_dates(day_first)} a first number above 12"
    return m, (f"month-first (12{sep}31{sep}2026): {_dates(month_first)} a second number above 12")


def parse_dates(texts: pa.Array, date_format: str | None = None) -> ParsedDates:
    """Parse a column of date texts; raises DateProblem for a value that does not parse."""
    texts = pc.utf8_trim_whitespace(texts.cast(pa.string()))
    present = np.asarray(pc.fill_null(pc.greater(pc.utf8_length(texts), 0), False), dtype=bool)
    if date_format:
        distinct, codes = _distinct(texts)
        values = _per_row(_strptime(distinct, date_format), codes, np.datetime64("NaT", "s"))
        bad = present & np.isnat(values)
        row = _first_true(bad)
        if row >= 0:
            raise DateProblem("unparsed", row, str(texts[row]), f"{date_format} (stated with --date-format, "
                              f"e.g. {_example(date_format)})")
        return ParsedDates(np.where(present, values, np.datetime64(0, "s")), ~present, date_format,
                           f"{date_format}, stated with --date-format")
    first_row = _first_true(present)
    if first_row < 0:
        return ParsedDates(np.zeros(len(texts), "datetime64[s]"), ~present, "", "no dates")
    form = next((f for f in FORMS if pc.match_substring_regex(texts[first_row:first_row + 1], f.pattern)[0].as_py()),
                None)
    if form is None:
        raise DateProblem("unparsed", first_row, str(texts[first_row]),
                          "a date such as 2026-12-31, 20261231, 31/12/2026, 12/31/2026 or 31.12.2026")
    if form is ISO:
        fast = _iso_whole_column(texts)
        if fast is not None:
            return ParsedDates(fast, ~present, form.fmt, f"{form.fmt}: {form.name}, e.g. {form.example}")
    # the work is done once per distinct text (a history has far fewer days than rows)
    distinct, codes = _distinct(texts)
    matches = _per_row(np.asarray(pc.fill_null(pc.match_substring_regex(distinct, form.pattern), False), dtype=bool),
                       codes, False)
    row = _first_true(present & ~matches)
    if row >= 0:
        raise DateProblem("unparsed", row, str(texts[row]),
                          f"{form.name} like the rows before it, e.g. {form.example}")
    if form.day_month:
        fmt, note = _day_month_order(texts, present, form)
    else:
        fmt, note = form.fmt, f"{form.name}, e.g. {form.example}"
    values = _per_row(_strptime(_normalise(distinct), fmt + " %H:%M:%S"), codes, np.datetime64("NaT", "s"))
    bad = present & np.isnat(values)
    row = _first_true(bad)
    if row >= 0:
        raise DateProblem("unparsed", row, str(texts[row]), f"{fmt} (detected: {note}); this is not a calendar date")
    return ParsedDates(np.where(present, values, np.datetime64(0, "s")), ~present, fmt, f"{fmt}: {note}")


def _dates(n: int) -> str:
    return f"{n:,} date has" if n == 1 else f"{n:,} dates have"


def _example(fmt: str) -> str:
    import datetime as dt

    try:
        return dt.datetime(2026, 12, 31, 10, 15, 30).strftime(fmt)
    except ValueError:
        return fmt
