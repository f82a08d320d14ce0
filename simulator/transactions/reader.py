"""Transaction files: read a business's purchase and return history into typed arrays.

Takes: a CSV file (read with pyarrow.csv) or a Parquet file (pyarrow.parquet), one row per
purchase or return, and a `ColumnMap` saying which column holds what. Gives:
`Transactions`, numpy arrays with one entry per row kept, sorted by (customer, time); or a
`TransactionsError` carrying located `Diagnostic`s (RL800–RL849; file, line, column) for bad
input — never a traceback.

Rules the reader applies (docs/simulator.md, "From your transactions to a forecast"):
- The CSV delimiter is read from the header line (`,`, `;`, tab or `|`). A CSV row's line is
  its physical line in the file (the header is line 1); a Parquet row is reported as its row
  number (the first data row is row 1).
- Dates: see `simulator.transactions.dates` (ISO, compact, day-first/month-first detected
  from the data; an ambiguous column is refused and `--date-format` asked for).
- Amounts are plain numbers with a decimal point (`1234.50`, `-12.5`); `decimal=","`
  reads a decimal comma (`1234,50`). Thousands separators (`1,234.50`), currency signs and
  exponents are refused with an error rather than guessed. Amounts are rounded to the cent.
- A return is a row whose `kind` is `return` (`purchase` otherwise; case-insensitive), or,
  without a kind column, a row with a negative amount. Its amount is kept positive. A return
  is matched to its purchase by the order id (same customer, purchase not later) when an
  order column exists, else to any earlier purchase of the same customer; an unmatched
  return is not used and is counted in `skipped`.
- Rows without a customer id, a date or an amount, and returns of zero amount, are not used
  and are counted in `skipped` (reason, rows). Nothing is dropped silently. A purchase of
  zero amount (a free item) is a purchase: it counts as a transaction.
- `currency`: the one currency of the file; a file that mixes currencies is refused.
- Customer columns (birthday, signup, attributes) hold one value per customer: the first
  non-empty value in time order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rulelang.diagnostics import Diagnostic, RulelangError, Span, did_you_mean
from rulelang.fields import recorded_fields

from simulator.transactions.dates import DateProblem, parse_dates, shown
from simulator.transactions.source import Source, open_source


class TransactionsError(RulelangError):
    """A transaction file (or its column mapping) could not be read; carries located diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        super().__init__(diagnostics)
        self.sources = sources or {}


@dataclass(frozen=True)
class ColumnMap:
    """Which input column holds each field; None = absent."""

    customer: str = "customer_id"
    time: str = "date"
    amount: str = "amount"
    kind: str | None = None  # values "purchase"/"return"; absent => a negative amount is a return
    order: str | None = None  # order id of a purchase; for a return row, the order it returns
    category: str | None = None
    channel: str | None = None
    store: str | None = None
    items: str | None = None
    quantity: str | None = None
    currency: str | None = None
    customer_columns: tuple[str, ...] = ()  # one value per customer (attributes), keyed by column name
    birthday: str | None = None  # a customer column read as `customer_table["birthday"]`
    signup: str | None = None  # a customer column read as `customer_table["signup"]`

    def row_fields(self) -> dict[str, str]:
        """Field name -> column, for the per-row fields that are mapped."""
        names = ("customer", "time", "amount", "kind", "order", *RECORDED_FIELDS, "currency")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def customer_fields(self) -> dict[str, str]:
        """customer_table key -> column."""
        out = {c: c for c in self.customer_columns}
        if self.birthday:
            out["birthday"] = self.birthday
        if self.signup:
            out["signup"] = self.signup
        return out


@dataclass(frozen=True)
class Transactions:
    """Rows sorted by (customer, time); all arrays have one entry per row."""

    path: str
    customer_ids: np.ndarray  # unique ids as str, index = customer number
    customer: np.ndarray  # int64 index into customer_ids
    time: np.ndarray  # datetime64[s]
    amount_cents: np.ndarray  # int64 >= 0 (a return's amount is positive too; a free item's purchase is 0)
    is_return: np.ndarray  # bool
    order: np.ndarray | None  # str ids (purchases: own id; returns: the order returned) or None
    category: np.ndarray | None
    channel: np.ndarray | None
    store: np.ndarray | None
    items: np.ndarray | None  # int64; 0 where the file gives none
    quantity: np.ndarray | None  # float64; NaN where the file gives none
    currency: str | None  # the one currency of the file, when a currency column exists
    customer_table: dict[str, np.ndarray]  # per customer (index = customer number): birthday, signup, attributes
    skipped: tuple[tuple[str, int], ...]  # (reason, number of rows) for rows not used
    date_format: str = ""  # strptime format of the dates, e.g. "%Y%m%d"
    date_note: str = ""  # how the date format was chosen (for the fit report)
    rows_read: int = 0  # data rows in the file
    columns: ColumnMap = field(default_factory=ColumnMap)

    @property
    def n_customers(self) -> int:
        return int(self.customer_ids.size)

    @property
    def n_rows(self) -> int:
        return int(self.customer.size)


# ------------------------------------------------------------------ diagnostics

def _error(src: Source, code: str, message: str, hint: str | None, row: int | None = None,
           column: str | None = None) -> TransactionsError:
    """A TransactionsError located at `row` (0-based data row) and `column` when given."""
    if row is None:
        return TransactionsError([Diagnostic(code, "error", message, Span(src.path, 0, 0, 0, 0), hint)])
    line, col, width, text = src.locate(row, column)
    span = Span(src.path, line, col, line, col + max(width, 1) - 1)
    where = src.row_name(row, line)
    diag = Diagnostic(code, "error", f"{where}, column `{column}`: {message}" if column else f"{where}: {message}",
                      span, hint)
    sources = {src.path: "\n" * (line - 1) + text} if text is not None and line > 0 else {}
    return TransactionsError([diag], sources)


def _missing_column(src: Source, field_name: str, column: str) -> TransactionsError:
    flag = {"time": "date"}.get(field_name, field_name)
    header = ", ".join(f"`{h}`" for h in src.header)
    close = did_you_mean(column, src.header)
    containing = [h for h in src.header if column.lower() in h.lower()]
    if close is None and containing:
        close = f"did you mean `{containing[0]}`?"
    if close is None:
        lower = {h.lower(): h for h in src.header}
        if column.lower() in lower:
            close = f"did you mean `{lower[column.lower()]}`? (column names are case-sensitive)"
    hint = (f"{close + ' ' if close else ''}the file's columns are {header}; name yours with "
            f"--{flag.replace('_', '-')}-column NAME or in a --columns mapping file")
    return TransactionsError([Diagnostic("RL803", "error",
                                         f"the {field_name if field_name != 'time' else 'date'} column "
                                         f"`{column}` is not in the file",
                                         Span(src.path, 1, 1, 1, max(1, len(src.header_line))), hint)],
                             {src.path: src.header_line} if src.header_line else {})


# ------------------------------------------------------------------ values

# the purchase fields a row can record besides its amount (rulelang.fields; `ColumnMap` and
# `Transactions` have an attribute of each name, checked by tests/simulator/test_field_places.py)
RECORDED_FIELDS: tuple[str, ...] = tuple(f.name for f in recorded_fields("purchase") if f.name != "amount")

_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$"
_NUMBER_COMMA = r"^[+-]?(?:\d+(?:,\d*)?|,\d+)$"


def _texts(col: pa.ChunkedArray) -> pa.Array:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    return pc.utf8_trim_whitespace(arr)


def _present(texts: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.greater(pc.utf8_length(texts), 0), False), dtype=bool)


def _amount_problem(value: str, decimal: str) -> str:
    import re

    if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", value) or re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?", value):
        return "thousands separators are not read (write 1234.50, not 1,234.50)"
    if decimal == "." and re.fullmatch(r"[+-]?\d+,\d+", value):
        return "this looks like a decimal comma: pass --decimal , (or `decimal: \",\"` in the mapping file)"
    if re.search(r"[$€£¥₽]|[A-Z]{3}", value):
        return "write the amount without a currency sign; name a currency column with --currency-column"
    return "write a plain number with a decimal point, such as 12.50 or -3"


def _money(src: Source, name: str, col: pa.ChunkedArray, decimal: str) -> tuple[np.ndarray, np.ndarray]:
    """(cents as int64, present mask) for an amount column."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        present = np.asarray(arr.is_valid(), dtype=bool)
        values = np.asarray(arr.cast(pa.float64()).fill_null(0.0), dtype=np.float64)
        bad = present & ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise _error(src, "RL806", f"the amount `{values[row]}` is not a number", "amounts must be finite",
                         row, name)
        return np.round(values * 100.0).astype(np.int64), present
    texts = _texts(arr)
    present = _present(texts)
    ok = np.asarray(pc.fill_null(pc.match_substring_regex(texts, _NUMBER if decimal == "." else _NUMBER_COMMA),
                                 False), dtype=bool)
    bad = present & ~ok
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = str(texts[row])
        raise _error(src, "RL806", f"the amount `{value}` is not a number", _amount_problem(value, decimal),
                     row, name)
    if decimal == ",":
        texts = pc.replace_substring(texts, ",", ".")
    clean = pc.if_else(pa.array(present), texts, pa.scalar("0"))
    values = np.asarray(pc.cast(clean, pa.float64()), dtype=np.float64)
    return np.round(values * 100.0).astype(np.int64), present


def _whole_numbers(src: Source, name: str, col: pa.ChunkedArray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, present mask) for a numeric column (items, quantity)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        return np.asarray(arr.cast(pa.float64()).fill_null(np.nan)), np.asarray(arr.is_valid(), dtype=bool)
    texts = _texts(arr)
    present = _present(texts)
    ok = np.asarray(pc.fill_null(pc.match_substring_regex(texts, _NUMBER), False), dtype=bool)
    bad = present & ~ok
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise _error(src, "RL807", f"the {what} `{texts[row]}` is not a number",
                     f"write the {what} as a plain number such as 2", row, name)
    clean = pc.if_else(pa.array(present), texts, pa.scalar("nan"))
    return np.asarray(pc.cast(clean, pa.float64()), dtype=np.float64), present


def _distinct_strings(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct trimmed texts, null as "", in order of first appearance; each row's index into them)."""
    enc = pc.dictionary_encode(_texts(col).fill_null(""))
    return (np.asarray(enc.dictionary.to_numpy(zero_copy_only=False), dtype=str),
            np.asarray(enc.indices, dtype=np.int64))


def _strings(col: pa.ChunkedArray) -> np.ndarray:
    values, codes = _distinct_strings(col)
    return values[codes]


def _sorted_ids(col: pa.ChunkedArray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the sorted distinct values of the kept rows, each kept row's index into them): `np.unique` of the
    texts, computed on the distinct values (a file has many rows per customer)."""
    values, codes = _distinct_strings(col)
    used, inverse = np.unique(codes[keep], return_inverse=True)
    names = values[used]
    order = np.argsort(names, kind="stable")
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return names[order], rank[inverse]


# ------------------------------------------------------------------ the reader

def read_transactions(path: str | Path, columns: ColumnMap = ColumnMap(), *, date_format: str | None = None,
                      decimal: str = ".") -> Transactions:
    """Read a CSV or Parquet transaction file; raises TransactionsError with located diagnostics."""
    if decimal not in (".", ","):
        raise TransactionsError([Diagnostic("RL809", "error", f"the decimal mark must be `.` or `,`, got `{decimal}`",
                                            Span(str(path), 0, 0, 0, 0))])
    fields = columns.row_fields()
    cust_fields = columns.customer_fields()
    src = open_source(path, list(dict.fromkeys([*fields.values(), *cust_fields.values()])))
    for fname, col in {**fields, **{k: v for k, v in cust_fields.items()}}.items():
        if col not in src.header:
            raise _missing_column(src, fname, col)
    src.check_unique(src.wanted)
    table = src.read()
    n = table.num_rows
    if n == 0:
        raise _error(src, "RL801", "the file has a header but no rows", "a transaction file needs one row per "
                     "purchase or return")
    reasons: list[tuple[str, np.ndarray]] = []

    cust_texts = _texts(table.column(columns.customer))
    has_customer = _present(cust_texts)
    reasons.append(("no customer id", ~has_customer))

    try:
        dates = parse_dates(table.column(columns.time).combine_chunks()
                            if _is_text(table.column(columns.time)) else _as_text_or_time(table.column(columns.time)),
                            date_format)
    except DateProblem as p:
        raise _date_error(src, columns.time, p, date_format) from None
    reasons.append(("no date", dates.missing))

    cents, has_amount = _money(src, columns.amount, table.column(columns.amount), decimal)
    reasons.append(("no amount", ~has_amount))

    if columns.kind:
        kind_values, kind_codes = _distinct_strings(table.column(columns.kind))
        kinds = np.char.lower(kind_values)[kind_codes]
        known = (kinds == "purchase") | (kinds == "return")
        bad = ~known & (kinds != "")
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = str(_texts(table.column(columns.kind))[row])
            raise _error(src, "RL808", f"`{value}` is neither `purchase` nor `return`",
                         did_you_mean(value.lower(), ["purchase", "return"]) or
                         "the kind column says `purchase` or `return` for each row", row, columns.kind)
        is_return = kinds == "return"
        negative_purchase = ~is_return & (cents < 0) & has_amount
        if negative_purchase.any():
            row = int(np.flatnonzero(negative_purchase)[0])
            raise _error(src, "RL806", "a purchase has a negative amount",
                         "mark returns with `return` in the kind column, or leave the amount positive",
                         row, columns.amount)
        reasons.append(("no kind (neither purchase nor return)", kinds == ""))
    else:
        is_return = cents < 0
    cents = np.abs(cents)
    reasons.append(("return of zero amount", has_amount & is_return & (cents == 0)))

    currency = None
    if columns.currency:
        cur = np.char.upper(_strings(table.column(columns.currency)))
        found = sorted(set(np.unique(cur).tolist()) - {""})
        if len(found) > 1:
            first = int(np.flatnonzero(cur != cur[cur != ""][0])[0])
            raise _error(src, "RL810", f"the file mixes currencies ({', '.join(found)}); this row is in {cur[first]}",
                         "fit one currency at a time: filter the file, or convert the amounts first", first,
                         columns.currency)
        currency = found[0] if found else None

    unused = np.zeros(n, dtype=bool)
    counted: list[tuple[str, int]] = []
    for reason, mask in reasons:
        mask = mask & ~unused
        if mask.any():
            counted.append((reason, int(mask.sum())))
            unused |= mask
    keep = ~unused

    customer_ids, customer = _sorted_ids(table.column(columns.customer), keep)
    time = dates.values[keep]
    ret = is_return[keep]
    order_values, order_codes = _distinct_strings(table.column(columns.order)) if columns.order else (None, None)
    perm = np.lexsort((ret, time, customer))
    customer, time, ret = customer[perm], time[perm], ret[perm]
    rows = np.flatnonzero(keep)[perm]  # original row of each kept row

    matched = _match_returns(customer, time, ret, order_codes[rows] if order_codes is not None else None)
    if (~matched).any():
        counted.append(("return without a matching purchase", int((~matched).sum())))
        sel = matched
        rows = rows[sel]
        customer, time, ret = customer[sel], time[sel], ret[sel]
        used_customers, customer = np.unique(customer, return_inverse=True)
        customer = customer.astype(np.int64)
        customer_ids = customer_ids[used_customers]
    if rows.size == 0:
        detail = "; ".join(f"{r}: {c:,} rows" for r, c in counted)
        raise _error(src, "RL811", f"no row of the file can be used ({detail})",
                     "check the column mapping: every row needs a customer id, a date and an amount")

    def take(name: str | None) -> np.ndarray | None:
        return _strings(table.column(name))[rows] if name else None

    items = quantity = None
    if columns.items:
        vals, present = _whole_numbers(src, columns.items, table.column(columns.items), "number of items")
        items = np.where(present, np.nan_to_num(vals), 0).astype(np.int64)[rows]
    if columns.quantity:
        quantity = _whole_numbers(src, columns.quantity, table.column(columns.quantity), "quantity")[0][rows]
    customer_table: dict[str, np.ndarray] = {}
    if cust_fields:
        first_of = np.r_[0, np.flatnonzero(np.diff(customer)) + 1]
        for key, col in cust_fields.items():
            values = _strings(table.column(col))[rows]
            customer_table[key] = _first_non_empty(values, customer, customer_ids.size, first_of)
    return Transactions(
        path=str(path), customer_ids=customer_ids, customer=customer, time=time,
        amount_cents=cents[rows], is_return=ret,
        order=order_values[order_codes[rows]] if order_values is not None else None, category=take(columns.category),
        channel=take(columns.channel), store=take(columns.store), items=items, quantity=quantity,
        currency=currency, customer_table=customer_table, skipped=tuple(counted),
        date_format=dates.fmt, date_note=dates.note, rows_read=n, columns=columns)


def _is_text(col: pa.ChunkedArray) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type)


def _as_text_or_time(col: pa.ChunkedArray) -> pa.Array:
    """A typed Parquet date/timestamp column as ISO text (parsed again below: one code path)."""
    arr = col.combine_chunks()
    if pa.types.is_timestamp(arr.type):
        if arr.type.tz is not None:  # wall-clock time where the data was recorded
            arr = pc.local_timestamp(arr)
        arr = arr.cast(pa.timestamp("s"), safe=False)
        return pc.strftime(arr, format="%Y-%m-%d %H:%M:%S")
    if pa.types.is_date(arr.type):
        return pc.strftime(arr.cast(pa.timestamp("s")), format="%Y-%m-%d")
    return arr.cast(pa.string())


def _date_error(src: Source, column: str, p: DateProblem, stated: str | None) -> TransactionsError:
    if p.kind == "ambiguous":
        other = src.row_name(p.other_row, src.locate(p.other_row, column)[0])
        err = _error(src, "RL805", f"the dates could be day-first or month-first: no day or month in the "
                     f"column is above 12 (e.g. `{shown(p.value)}` here and `{shown(p.other_value)}` at {other})",
                     f"say which with --date-format {p.expected.replace(' or ', ' or --date-format ')}",
                     p.row, column)
        return err
    hint = f"expected {p.expected}"
    if not stated:
        hint += "; state another format with --date-format (strptime codes, e.g. %d/%m/%Y)"
    return _error(src, "RL804", f"the date `{shown(p.value)}` does not parse", hint, p.row, column)


def _match_returns(customer: np.ndarray, time: np.ndarray, is_return: np.ndarray,
                   order: np.ndarray | None) -> np.ndarray:
    """True for purchases and for returns that have their purchase (same customer, not later)."""
    ok = np.ones(customer.size, dtype=bool)
    if not is_return.any():
        return ok
    t = time.astype(np.int64)
    if order is None:
        first_purchase = np.full(int(customer.max()) + 1, np.iinfo(np.int64).max)
        np.minimum.at(first_purchase, customer[~is_return], t[~is_return])
        ok[is_return] = t[is_return] >= first_purchase[customer[is_return]]
        return ok
    if order.dtype.kind != "i":  # order ids as texts: numbered by value
        order = np.unique(order, return_inverse=True)[1].reshape(-1)
    key = customer.astype(np.int64) * (int(order.max()) + 1) + order  # one number per (customer, order id)
    p_key, p_t = key[~is_return], t[~is_return]
    by = np.lexsort((p_t, p_key))
    p_key, p_t = p_key[by], p_t[by]
    uniq, first = np.unique(p_key, return_index=True)
    earliest = p_t[first]
    r_key, r_t = key[is_return], t[is_return]
    pos = np.clip(np.searchsorted(uniq, r_key), 0, max(uniq.size - 1, 0))
    found = (uniq.size > 0) & (uniq[pos] == r_key) if uniq.size else np.zeros(r_key.size, dtype=bool)
    if uniq.size:
        found = found & (r_t >= earliest[pos])
    ok[is_return] = found
    return ok


def _first_non_empty(values: np.ndarray, customer: np.ndarray, n_customers: int, first_of: np.ndarray) -> np.ndarray:
    """Per customer, the first non-empty value in row order ("" when none)."""
    out = np.full(n_customers, "", dtype=values.dtype if values.dtype.kind == "U" else object)
    nonempty = np.flatnonzero(values != "")
    if nonempty.size:
        cust = customer[nonempty]
        firsts = np.r_[True, cust[1:] != cust[:-1]]
        out[cust[firsts]] = values[nonempty[firsts]]
    return out


__all__ = ["ColumnMap", "Transactions", "TransactionsError", "read_transactions"]
