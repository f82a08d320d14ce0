"""The file under a transaction reader: CSV or Parquet, its header, its rows, and where a row is.

Takes: a path and the columns wanted. Gives: a `Source` — the header, `read()` (a pyarrow
Table of the wanted columns: CSV columns as text, so that the reader parses and locates
every value itself; Parquet columns with their own types) and `locate(row, column)` (the
physical line, character column and text of a data row, found by scanning the CSV again on
the error path only). Problems with the file itself (missing, empty, broken CSV, not
Parquet, not UTF-8) raise `TransactionsError` (RL800–RL802) located at the line.
"""

from __future__ import annotations

import csv
import itertools
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from rulelang.diagnostics import Diagnostic, Span

DELIMITERS = (",", ";", "\t", "|")
PARQUET_SUFFIXES = (".parquet", ".pq")


def _fail(path: str, code: str, message: str, hint: str | None, line: int = 0, column: int = 0,
          text: str | None = None):
    from simulator.transactions.reader import TransactionsError

    span = Span(path, line, column or (1 if line else 0), line, column or (1 if line else 0))
    sources = {path: "\n" * (line - 1) + text} if text is not None and line > 0 else {}
    return TransactionsError([Diagnostic(code, "error", message, span, hint)], sources)


@contextmanager
def _long_fields():
    """Let Python's csv module read fields of any length (pyarrow reads them; the 128 KiB default
    limit would end the header or the scan of the error path in an internal error)."""
    old = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _split_header(line: str) -> tuple[str, list[str]]:
    counts = {d: 0 for d in DELIMITERS}
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    delimiter = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    if counts[delimiter] == 0:
        delimiter = ","
    with _long_fields():
        header = next(csv.reader([line], delimiter=delimiter))
    return delimiter, [h.strip() for h in header]


@dataclass
class Source:
    path: str
    kind: str  # "csv" | "parquet"
    header: list[str]
    header_line: str = ""
    delimiter: str = ","
    wanted: list[str] = field(default_factory=list)

    # -------------------------------------------------------------- reading
    def read(self) -> pa.Table:
        return self._read_parquet() if self.kind == "parquet" else self._read_csv()

    def _read_parquet(self) -> pa.Table:
        import pyarrow.parquet as pq

        try:
            return pq.read_table(self.path, columns=self.wanted)
        except (pa.ArrowException, OSError) as exc:
            raise _fail(self.path, "RL800", f"cannot read the Parquet file: {exc}", "check that the file is a "
                        "complete Parquet file (write it again if it was cut short)") from None

    def _read_csv(self) -> pa.Table:
        import pyarrow.csv as pcsv

        wanted = [h for h in self.header if h in self.wanted]
        # the header as pyarrow reads it: names with the spaces and tabs `self.header` strips
        with _long_fields():
            raw = next(csv.reader([self.header_line], delimiter=self.delimiter), self.header)
        as_read = dict(zip(self.header, raw)) if len(raw) == len(self.header) else {}
        if _odd_quotes(self.path):  # pyarrow accepts a quote left open at the end of the file
            raise self._broken("a quote is never closed")
        include = [as_read.get(c, c) for c in wanted]
        try:
            table = pcsv.read_csv(
                self.path,
                read_options=pcsv.ReadOptions(encoding="utf8"),
                parse_options=pcsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(include_columns=include,
                                                    column_types={c: pa.string() for c in include},
                                                    strings_can_be_null=False, quoted_strings_can_be_null=False))
            return table.rename_columns([{r: c for c, r in zip(wanted, include)}.get(n, n)
                                         for n in table.column_names])
        except pa.ArrowInvalid as exc:
            raise self._broken(str(exc)) from None

    def _broken(self, message: str):
        """Find the first bad record with Python's csv module and say where it is."""
        if "UTF8" in message or "utf8" in message.lower():
            with open(self.path, "rb") as f:
                for number, raw in enumerate(f, start=1):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        return _fail(self.path, "RL802", "the file is not UTF-8 text (a byte that is not "
                                     "UTF-8 is on this line)", "save the file as UTF-8 (CSV UTF-8 in a "
                                     "spreadsheet program)", number, exc.start + 1)
        ncols = len(self.header)
        with open(self.path, encoding="utf-8-sig", errors="replace", newline="") as f, _long_fields():
            reader = csv.reader(f, delimiter=self.delimiter, strict=True)
            start = 1
            try:
                for record in reader:
                    if reader.line_num > 1 and record and len(record) != ncols:
                        text = _line_text(self.path, start)
                        return _fail(self.path, "RL802", f"this row has {len(record)} fields, the header has {ncols}",
                                     "check for a missing or extra delimiter, or an unbalanced quote on this "
                                     "line or the one before it", start, 1, text)
                    start = reader.line_num + 1
            except csv.Error as exc:
                text = _line_text(self.path, start)
                unbalanced = "end of data" in str(exc) or "EOF" in str(exc)
                what = ("a quote opened on this line is never closed" if unbalanced
                        else f"the row cannot be read ({exc})")
                return _fail(self.path, "RL802", f"broken CSV: {what}",
                             'close the quote, or write a quote inside a field as two quotes ("")', start,
                             max(1, (text or "").find('"') + 1), text)
        return _fail(self.path, "RL802", f"broken CSV: {message.replace('CSV parse error: ', '')}",
                     "check the delimiters and quotes of the file", 0)

    def check_unique(self, columns: list[str]) -> None:
        """RL802 when one of `columns` names more than one column of the header."""
        for col in columns:
            where = [i for i, h in enumerate(self.header) if h == col]
            if len(where) > 1:
                col_no, width = (_field_position(self.header_line, self.delimiter, where[1]) if self.header_line
                                 else (1, 1))
                line = 1 if self.header_line else 0
                diag = Diagnostic("RL802", "error", f"the header names column `{col}` {len(where)} times "
                                  f"(fields {', '.join(str(i + 1) for i in where)})",
                                  Span(self.path, line, col_no if line else 0, line, col_no + width - 1 if line else 0),
                                  "give every column its own name, or map another column with --columns")
                from simulator.transactions.reader import TransactionsError

                raise TransactionsError([diag], {self.path: self.header_line} if self.header_line else {})

    # -------------------------------------------------------------- locating
    def row_name(self, row: int, line: int) -> str:
        return f"row {row + 1} (line {line})" if self.kind == "csv" and line else f"row {row + 1}"

    def locate(self, row: int, column: str | None) -> tuple[int, int, int, str | None]:
        """(line, column, width, line text) of data row `row` (0-based) and the named column."""
        if self.kind != "csv":
            return row + 1, 1, 1, None
        index = self.header.index(column) if column in self.header else -1
        with open(self.path, encoding="utf-8-sig", errors="replace", newline="") as f, _long_fields():
            reader = csv.reader(f, delimiter=self.delimiter)
            start, seen = 1, -1
            for record in reader:
                if reader.line_num > 1 and record:
                    if seen == row - 1:
                        text = _line_text(self.path, start) or ""
                        col, width = _field_position(text, self.delimiter, index)
                        return start, col, width, text
                    seen += 1
                start = reader.line_num + 1
        return 0, 0, 0, None


def _odd_quotes(path: str) -> bool:
    count = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            count += block.count(b'"')
    return count % 2 == 1


def _line_text(path: str, line: int) -> str | None:
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        got = next(itertools.islice(f, line - 1, line), None)
    return got.rstrip("\r\n") if got is not None else None


def _field_position(text: str, delimiter: str, index: int) -> tuple[int, int]:
    """1-based character column and width of field `index` in a CSV line (1, 1 when unknown)."""
    if index < 0:
        return 1, 1
    field_no, quoted, start = 0, False, 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == delimiter and not quoted:
            if field_no == index:
                return start + 1, max(1, i - start)
            field_no += 1
            start = i + 1
    if field_no == index:
        return start + 1, max(1, len(text) - start)
    return 1, 1


def open_source(path: str | Path, wanted: list[str]) -> Source:
    """Open a transaction file and read its header; raises TransactionsError (RL800/RL801)."""
    p = Path(path)
    name = str(path)
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise _fail(name, "RL800", f"cannot read the transaction file: {exc.strerror or exc}",
                    "check the path of the transaction file") from None
    if p.suffix.lower() in PARQUET_SUFFIXES or head == b"PAR1":
        import pyarrow.parquet as pq

        try:
            header = list(pq.read_schema(p).names)
        except (pa.ArrowException, OSError) as exc:
            raise _fail(name, "RL800", f"not a readable Parquet file: {exc}",
                        "write the file again, or give a CSV file") from None
        return Source(name, "parquet", header, "", ",", wanted)
    with open(p, encoding="utf-8-sig", errors="replace", newline="") as f:
        first = ""
        for line in f:
            if line.strip():
                first = line.rstrip("\r\n")
                break
    if not first:
        raise _fail(name, "RL801", "the transaction file is empty",
                    "a transaction file starts with a header line (customer_id,date,amount) and has one row per "
                    "purchase or return")
    delimiter, header = _split_header(first)
    return Source(name, "csv", header, first, delimiter, wanted)
