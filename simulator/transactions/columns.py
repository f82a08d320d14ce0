"""Column mappings for transaction files: command-line flags, a YAML mapping file, standard names.

Takes: parsed arguments (`add_column_options` adds the flags to a command: `loyalty fit`,
`loyalty replay`), a mapping file (`--columns FILE`), and a file's header. Gives: a
`ColumnMap` plus the read options (`date_format`, `decimal`), or located diagnostics
(RL809) for a bad mapping file; and `read_from_args` / `read_file`, the one way both commands
go from those to `Transactions` (mapping, standard names, an optional customer column such as
`--segment-by` checked against the header, then `simulator.transactions.reader.read_transactions`).

A mapping file names the column of each field (every key optional):

    customer: client_no
    date: order_date          # or `time:`
    amount: total
    kind: type                # values purchase / return
    order: order_id
    category: department
    channel: channel
    store: shop
    items: lines
    quantity: qty
    currency: currency
    birthday: date_of_birth   # customer columns: one value per customer
    signup: member_since
    attributes: [city, gender]
    date_format: "%d/%m/%Y"   # read options
    decimal: ","

Flags override the file. Optional fields that are not mapped are taken from a column with
their standard name when the file has one (`standard_columns`): kind (or type), order (or
order_id), category, channel, store, items, quantity, currency, birthday, signup.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from rulelang.diagnostics import Diagnostic, DiagnosticBag, Span, did_you_mean
from rulelang.fields import recorded_fields

from simulator.transactions.reader import ColumnMap, Transactions, TransactionsError
from simulator.model.yaml_reading import Reader, compose

FIELD_FLAGS = (  # ColumnMap field, flag word, help
    ("customer", "customer", "customer id (default customer_id)"),
    ("time", "date", "date or timestamp (default date)"),
    ("amount", "amount", "amount in currency units; negative = a return unless a kind column is given (default amount)"),
    ("kind", "kind", "purchase or return"),
    ("order", "order", "order id (a return names the order it returns)"),
    ("category", "category", "product category"),
    ("channel", "channel", "sales channel (store, online, app...)"),
    ("store", "store", "store id"),
    ("items", "items", "items in the basket"),
    ("quantity", "quantity", "quantity"),
    ("currency", "currency", "currency code (one currency per file)"),
    ("birthday", "birthday", "customer's birthday (one value per customer)"),
    ("signup", "signup", "customer's signup date (one value per customer)"),
)
# the purchase fields a file records besides its amount, with their standard column names (rulelang.fields)
_FIELD_COLUMNS = {f.name: f.file_columns for f in recorded_fields("purchase") if f.name != "amount"}
STANDARD_NAMES = {
    "kind": ("kind", "type"), "order": ("order", "order_id"), **_FIELD_COLUMNS,
    "currency": ("currency",), "birthday": ("birthday",), "signup": ("signup", "signup_date"),
}
_MAP_KEYS = ["customer", "date", "time", "amount", "kind", "order", *_FIELD_COLUMNS,
             "currency", "birthday", "signup", "attributes", "date_format", "decimal"]


@dataclass(frozen=True)
class ReadOptions:
    columns: ColumnMap
    date_format: str | None = None
    decimal: str = "."


def add_column_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("columns of the transaction file")
    for fname, word, help_text in FIELD_FLAGS:
        g.add_argument(f"--{word}-column", dest=f"col_{fname}", metavar="NAME", help=help_text)
    g.add_argument("--attribute-column", dest="col_attributes", metavar="NAME", action="append", default=[],
                   help="a customer attribute column (repeatable)")
    g.add_argument("--columns", dest="columns_file", metavar="FILE", help="YAML file mapping fields to columns")
    g.add_argument("--date-format", metavar="FMT",
                   help="strptime format of the dates, e.g. %%d/%%m/%%Y (default: detected from the data)")
    g.add_argument("--decimal", choices=(".", ","), default=None, help="decimal mark of the amounts (default .)")


def load_mapping_file(path: str) -> ReadOptions:
    """A ColumnMap from a mapping file; raises TransactionsError (RL809) with located diagnostics."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TransactionsError([Diagnostic("RL809", "error", f"cannot read the column mapping file: "
                                            f"{exc.strerror or exc}", Span(path, 0, 0, 0, 0),
                                            "check the path given to --columns")]) from None
    bag = DiagnosticBag()
    root = compose(text, path, bag)
    rd = Reader(path, bag)
    kw: dict[str, object] = {}
    date_format, decimal = None, "."
    if root is not None:
        m = rd.mapping(root, "the column mapping", _MAP_KEYS)
        for key, node in m.items():
            if key == "attributes":
                kw["customer_columns"] = tuple(rd.string(n, "attributes entry", "") or "" for n in
                                               rd.sequence(node, "attributes"))
            elif key == "date_format":
                date_format = rd.string(node, "date_format")
            elif key == "decimal":
                decimal = rd.string(node, "decimal", ".", [".", ","]) or "."
            else:
                kw["time" if key == "date" else key] = rd.string(node, f"column of `{key}`")
    errors = [dataclasses.replace(d, code="RL809") for d in bag.items if d.is_error]
    if errors:
        raise TransactionsError(errors, {path: text})
    return ReadOptions(ColumnMap(**kw), date_format, decimal)  # type: ignore[arg-type]


def read_options_from_args(args: argparse.Namespace) -> ReadOptions:
    """The mapping file (if any), overridden by the flags."""
    base = load_mapping_file(args.columns_file) if getattr(args, "columns_file", None) else ReadOptions(ColumnMap())
    kw = {fname: getattr(args, f"col_{fname}") for fname, _, _ in FIELD_FLAGS
          if getattr(args, f"col_{fname}", None)}
    if getattr(args, "col_attributes", None):
        kw["customer_columns"] = tuple(dict.fromkeys([*base.columns.customer_columns, *args.col_attributes]))
    columns = dataclasses.replace(base.columns, **kw)
    return ReadOptions(columns, getattr(args, "date_format", None) or base.date_format,
                       getattr(args, "decimal", None) or base.decimal)


def standard_columns(columns: ColumnMap, header: list[str]) -> tuple[ColumnMap, list[str]]:
    """Fill unmapped optional fields from columns with their standard names; (map, fields filled)."""
    used = set(columns.row_fields().values()) | set(columns.customer_fields().values())
    lower = {h.lower(): h for h in header}
    kw: dict[str, str] = {}
    for fname, names in STANDARD_NAMES.items():
        if getattr(columns, fname) is not None:
            continue
        for n in names:
            col = lower.get(n)
            if col is not None and col not in used:
                kw[fname] = col
                used.add(col)
                break
    return dataclasses.replace(columns, **kw), sorted(kw)


def file_header(path: str) -> list[str]:
    """The header of a transaction file (raises TransactionsError for a file that cannot be opened)."""
    from simulator.transactions.source import open_source

    return open_source(path, []).header


@dataclass(frozen=True)
class LoadedFile:
    transactions: Transactions
    columns: ColumnMap  # as read: the mapping, the standard names filled in, the extra customer column
    filled: list[str]  # fields found by their standard names


def read_from_args(args: argparse.Namespace, path: str, customer_column: str | None = None,
                   flag: str = "--segment-by") -> LoadedFile:
    """The transaction file `path` read with the column flags of `add_column_options` (`read_file`)."""
    return read_file(path, read_options_from_args(args), customer_column, flag)


def read_file(path: str, options: ReadOptions, customer_column: str | None = None,
              flag: str = "--segment-by") -> LoadedFile:
    """Read `path` with `options`, unmapped fields taken by their standard names; `customer_column`
    (named by the option `flag`) must be a column of the file that is not a per-purchase field, and
    is read as a customer column. Raises TransactionsError (RL822 for a bad `customer_column`)."""
    header = file_header(path)
    columns, filled = standard_columns(options.columns, header)
    if customer_column is not None:
        columns = _with_customer_column(columns, header, path, customer_column, flag)
    from simulator.transactions.reader import read_transactions

    tx = read_transactions(path, columns, date_format=options.date_format, decimal=options.decimal)
    return LoadedFile(tx, columns, filled)


def _with_customer_column(columns: ColumnMap, header: list[str], path: str, column: str, flag: str) -> ColumnMap:
    here = Span(path, 1, 1, 1, 1)
    if column not in header:
        raise TransactionsError([Diagnostic(
            "RL822", "error", f"{flag}: the column `{column}` is not in the file", here,
            (did_you_mean(column, header) or "") + " the file's columns are " + ", ".join(f"`{h}`" for h in header))])
    if column in set(columns.row_fields().values()):
        raise TransactionsError([Diagnostic(
            "RL822", "error", f"{flag}: `{column}` is a per-purchase column; segments are groups of customers", here,
            "segment by a customer column (one value per customer: a region, a customer type)")])
    if column in columns.customer_fields().values():
        return columns
    return dataclasses.replace(columns, customer_columns=(*columns.customer_columns, column))
