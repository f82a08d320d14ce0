"""The customers file: an existing customer base, read once, handed to the engine block by block.

Takes: the path of a customers CSV (named by a population file's `customers:` key, relative to
that file; format in TRANSACTIONS_API.md), the population's segment names. Gives:
- `read_customers(path, segments)` -> `CustomerBase`: columnar numpy arrays (one entry per
  row), or `CustomersFileError` with located diagnostics (file, line, column; RL640–RL649);
- `check_tiers(base, tier_names)`: RL645 for a tier the program does not have;
- `for_task(pop, customers, seed, blocks, block_size)`: the population of one task, whose `customers` is a
  `ChunkRows` holding only that task's rows (so a worker receives its chunk, not the file);
- `ChunkRows.block(b)` -> `BlockRows`: the file rows of RNG block b's customers.

Which rows a run simulates (`--customers n`, the file has N rows): n = N: row i is customer i;
n < N: a random subset without replacement (the first n of a permutation of the rows keyed by
the seed); n > N: each customer is a row drawn with replacement, from a stream keyed by (seed,
RNG block). The choice depends on the seed only: every trial, both arms and every variant simulate
the same customers, whatever the number of workers or the block size.

Columns: `id, segment, frequency, recency, age, mean_spend, spend_count` (segment may be left out
when the population has one segment), optionally `balance, tier, birthday, signup`, and any other
column is an attribute (numbers, true/false and ISO dates are read as such, anything else as text).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from rulelang.diagnostics import Diagnostic, RulelangError, Span, did_you_mean
from rulelang.limits import MAX_OPENING_BALANCE

if TYPE_CHECKING:
    from simulator.model.population import Population

REQUIRED = ("id", "segment", "frequency", "recency", "age", "mean_spend", "spend_count")
OPTIONAL = ("balance", "tier", "birthday", "signup")
MAX_REPORTED = 10  # located diagnostics shown per file; the rest are counted in one more
SAMPLE_STREAM = 0x5A4D_0001  # spawn-key word of the row sampling
NO_DATE = np.iinfo(np.int32).min
READ_FACTOR = 8  # bytes of memory per byte of file while reading (measured 7.3: 1,000,000 rows, 38 MB -> 277 MB)


class CustomersFileError(RulelangError):
    """A customers file that cannot be used; carries located diagnostics."""


@dataclass(frozen=True)
class BlockRows:
    """The history of one block's customers (one entry per customer)."""

    seg: np.ndarray  # int16 segment index
    x: np.ndarray  # float64 repeat transactions
    t_x: np.ndarray  # float64 recency, time units
    T: np.ndarray  # float64 age, time units
    mean_spend: np.ndarray  # float64 currency units
    spend_count: np.ndarray  # int64
    balance: np.ndarray | None  # int64 points
    tier: np.ndarray | None  # int16 index into CustomerBase.tier_names, -1 none
    birthday: np.ndarray | None  # int16 day of a non-leap year, -1 unknown
    signup: np.ndarray | None  # int32 days since 1970-01-01, NO_DATE unknown
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    tier_names: tuple[str, ...] = ()


_ROW_FIELDS = ("seg", "x", "t_x", "T", "mean_spend", "spend_count", "balance", "tier", "birthday", "signup")


@dataclass(frozen=True, eq=False)
class CustomerBase:
    """A customers file in columns (every array has one entry per row)."""

    path: str
    digest: str
    rows: BlockRows
    lines: np.ndarray  # int64: the file line of each row
    columns: tuple[str, ...]  # header, in file order
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def size(self) -> int:
        return int(self.lines.size)

    @property
    def nbytes(self) -> int:
        total = self.lines.nbytes
        for name in _ROW_FIELDS:
            a = getattr(self.rows, name)
            total += a.nbytes if a is not None else 0
        total += sum(a.nbytes + 56 * a.size * (a.dtype == object) for a in self.rows.attributes.values())
        return int(total)

    def select(self, rows: np.ndarray) -> BlockRows:
        r = self.rows
        pick = lambda a: None if a is None else a[rows]  # noqa: E731
        return BlockRows(*(pick(getattr(r, f)) for f in _ROW_FIELDS),
                         attributes={k: v[rows] for k, v in r.attributes.items()}, tier_names=r.tier_names)

    def block_rows(self, customers: int, seed: int, block: int, first: int, n: int) -> np.ndarray:
        """File rows of the customers first..first+n-1 (RNG block `block`) of a run of `customers`."""
        N = self.size
        if customers == N:
            return np.arange(first, first + n, dtype=np.int64)
        if customers < N:
            key = ("perm", seed)
            if key not in self._cache:
                rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(SAMPLE_STREAM,))))
                self._cache.clear()
                self._cache[key] = rng.permutation(N)
            return self._cache[key][first:first + n]
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(SAMPLE_STREAM, block))))
        return rng.integers(0, N, n)


class ChunkRows:
    """The rows of one task's blocks: lazy in this process, materialized when pickled for a worker."""

    def __init__(self, base: CustomerBase | None, customers: int, seed: int, blocks: Sequence[tuple[int, int]],
                 block_size: int, ready: dict[int, BlockRows] | None = None, path: str = "", digest: str = "",
                 size: int = 0):
        self.base = base
        self.customers, self.seed, self.blocks, self.block_size = customers, seed, list(blocks), block_size
        self.ready = dict(ready or {})
        self.path = base.path if base is not None else path
        self.digest = base.digest if base is not None else digest
        self.size = base.size if base is not None else size

    def block(self, b: int) -> BlockRows:
        """Block b's rows: the shipped ones, else selected from the file now and not kept (a task
        list holds every task's ChunkRows until the run ends: keeping them would hold the whole
        file's rows again, block by block)."""
        if b in self.ready:
            return self.ready[b]
        n = dict(self.blocks)[b]
        return self.base.select(self.base.block_rows(self.customers, self.seed, b, b * self.block_size, n))

    def __reduce__(self):
        ready = {b: self.block(b) for b, _ in self.blocks}  # selected for the pickle only
        return (ChunkRows, (None, self.customers, self.seed, self.blocks, self.block_size, ready, self.path,
                            self.digest, self.size))


def for_task(pop: "Population", customers: int, seed: int, blocks: Sequence[tuple[int, int]],
             block_size: int) -> "Population":
    """`pop` with its customers file restricted to the rows of `blocks` (RNG blocks of `block_size`
    customers; unchanged without a file)."""
    base = pop.customers
    if base is None:
        return pop
    if isinstance(base, ChunkRows):
        if (base.customers, base.seed, base.block_size) == (customers, seed, block_size) \
                and dict(base.blocks) == dict(blocks):
            return pop  # restricted already (by the caller, before the task was shipped)
        base = base.base
    return dataclasses.replace(pop, customers=ChunkRows(base, customers, seed, blocks, block_size))


# ---------------------------------------------------------------- reading

_CACHE: dict[tuple, CustomerBase] = {}


def read_customers(path: str | Path, segments: Sequence[str], *, shown_as: str | None = None) -> CustomerBase:
    """Read and validate a customers file (cached by path, size, modification time and segments)."""
    p = Path(path)
    label = shown_as or str(p)
    try:
        st = p.stat()
    except OSError as exc:
        raise CustomersFileError([Diagnostic("RL640", "error", f"cannot read customers file {label}: "
                                             f"{exc.strerror or exc}", Span(label, 0, 0, 0, 0),
                                             "`customers:` in the population file is relative to that file")]) from None
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, tuple(segments))
    if key in _CACHE:
        return _CACHE[key]
    _check_room(label, st.st_size)
    base = _read(p, label, list(segments))
    _CACHE.clear()  # keep one file in memory
    _CACHE[key] = base
    return base


def _check_room(label: str, size: int) -> None:
    from simulator.machine import available_memory

    avail = available_memory()
    if avail and size * READ_FACTOR > avail:
        raise CustomersFileError([Diagnostic(
            "RL612", "error", f"the customers file {label} ({size / 2**20:,.0f} MiB) needs about "
            f"{size * READ_FACTOR / 2**30:.1f} GiB of memory to read, but {avail / 2**30:.1f} GiB is available",
            Span(label, 0, 0, 0, 0), "simulate a sample of the customers: write a smaller customers file")])


class _Problems:
    """Located diagnostics of one file, the first `MAX_REPORTED` located exactly."""

    def __init__(self, path: Path, label: str, header: list[str]):
        self.path, self.label, self.header = path, label, header
        self.found: list[tuple[int, str, str, str, str | None]] = []  # (row, column, code, message, hint)
        self.more = 0

    def add(self, rows: np.ndarray, column: str, code: str, message, hint: str | None = None) -> None:
        """`message(row)` -> text, for each offending row (index into the data rows)."""
        room = max(0, MAX_REPORTED - len(self.found))
        for r in rows[:room].tolist():
            self.found.append((int(r), column, code, message(int(r)), hint))
        self.more += max(0, int(rows.size) - room)

    def diagnostics(self) -> list[Diagnostic]:
        out = []
        texts = _lines(self.path, sorted({r + 2 for r, *_ in self.found}))
        for r, column, code, message, hint in sorted(self.found, key=lambda f: (f[0], self.header.index(f[1]) if f[1] in self.header else -1)):
            line = r + 2
            col, end = _field_columns(texts.get(line, ""), self.header.index(column) if column in self.header else 0)
            out.append(Diagnostic(code, "error", f"{message} (column `{column}`)", Span(self.label, line, col, line, end), hint))
        if self.more:
            out.append(Diagnostic(out[-1].code if out else "RL642", "error",
                                  f"and {self.more:,} more problems in this file", Span(self.label, 0, 0, 0, 0)))
        return out


def _lines(path: Path, wanted: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    if not wanted:
        return out
    todo = set(wanted)
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        for i, text in enumerate(fh, start=1):
            if i in todo:
                out[i] = text.rstrip("\r\n")
                if len(out) == len(todo):
                    break
    return out


def _field_columns(text: str, index: int) -> tuple[int, int]:
    """1-based first and last character of field `index` of a CSV line."""
    field_no, quoted = 0, False
    start = 0
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == "," and not quoted:
            if field_no == index:
                return start + 1, max(start + 1, i)
            field_no += 1
            start = i + 1
    if field_no == index:
        return start + 1, max(start + 1, len(text))
    return 1, max(1, len(text))


def _read(p: Path, label: str, segments: list[str]) -> CustomerBase:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    def fail(message: str, hint: str | None = None, line: int = 0, col: int = 0) -> CustomersFileError:
        return CustomersFileError([Diagnostic("RL640", "error", message, Span(label, line, col, line, col), hint)])

    try:
        with open(p, encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise fail(f"the customers file {label} is not UTF-8 text", "save it as a UTF-8 CSV file") from None
    except (OSError, csv.Error) as exc:
        raise fail(f"cannot read customers file {label}: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise fail(f"the customers file {label} is empty", "the first line names the columns: " + ", ".join(REQUIRED), 1, 1)
    header = [h.strip() for h in header]
    dup = [h for i, h in enumerate(header) if h in header[:i]]
    if dup:
        raise fail(f"the column `{dup[0]}` appears twice in the header", None, 1, _field_columns(",".join(header), header.index(dup[0], header.index(dup[0]) + 1))[0])
    required = [c for c in REQUIRED if not (c == "segment" and len(segments) == 1)]
    missing = [c for c in required if c not in header]
    if missing:
        others = [h for h in header if h not in REQUIRED + OPTIONAL]
        hint = did_you_mean(missing[0], others) or "a customers file has the columns " + ", ".join(REQUIRED) + \
            " (as `loyalty fit` writes them)"
        raise CustomersFileError([Diagnostic("RL641", "error", f"the customers file has no `{missing[0]}` column"
                                             + (f" (nor {', '.join(f'`{m}`' for m in missing[1:])})" if missing[1:] else ""),
                                             Span(label, 1, 1, 1, max(1, len(",".join(header)))), hint)])
    try:
        table = pcsv.read_csv(p, read_options=pcsv.ReadOptions(column_names=header, skip_rows=1),
                              convert_options=pcsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                                  strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        text = str(exc)
        line = 0
        if "Expected" in text and "columns" in text:
            raise fail(f"a row of {label} does not have the {len(header)} columns of the header: {text.splitlines()[0]}",
                       "every row needs one value per column (quote values that contain a comma)") from None
        raise fail(f"cannot read customers file {label}: {text.splitlines()[0]}", None, line) from None
    n = table.num_rows
    if n == 0:
        raise fail(f"the customers file {label} has no customers (only a header)", None, 1, 1)
    import pyarrow.compute as pc

    probs = _Problems(p, label, header)
    trimmed = {h: pc.utf8_trim_whitespace(table.column(h)).combine_chunks() for h in header}
    del table

    def raw(name: str, r: int) -> str:  # the text of one cell, for a message
        return str(trimmed[name][r].as_py())

    def number(name: str, integer: bool = False, low: float | None = 0.0) -> np.ndarray:
        col = trimmed[name]
        try:  # fast path: every cell a number (no Python objects for a clean file)
            v = _numbers(pc.cast(col, pa.float64()))
            empty = np.zeros(v.size, dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # slow path: find the bad cells
            text = _texts(col)
            v = _floats(text)
            empty = text == ""
            del text
        bad = np.flatnonzero(~np.isfinite(v) & ~empty)
        probs.add(bad, name, "RL642", lambda r: f"`{raw(name, r)}` is not a number",
                  "write a plain number such as 12 or 3.5 (a point for decimals, no thousands separator)")
        probs.add(np.flatnonzero(empty), name, "RL642", lambda r: "the value is missing", f"every customer needs a `{name}`")
        ok = np.isfinite(v)
        if low is not None:
            probs.add(np.flatnonzero(ok & (v < low)), name, "RL643", lambda r: f"{name} is {raw(name, r)}, below {low:g}",
                      f"`{name}` cannot be negative")
        if integer:
            probs.add(np.flatnonzero(ok & (v != np.floor(v))), name, "RL644",
                      lambda r: f"{name} must be a whole number, got {raw(name, r)}",
                      "frequency counts repeat transactions, spend_count transactions, balance points: whole numbers")
        return np.where(ok, v, np.nan)  # NaN: reported above; the checks between columns skip it

    def codes(name: str) -> tuple[list[str], np.ndarray]:
        """The distinct values of a text column and each row's index among them."""
        enc = trimmed[name].dictionary_encode()
        return [str(v) for v in enc.dictionary.to_pylist()], _numbers(enc.indices).astype(np.int64)

    ids = trimmed["id"]
    probs.add(np.flatnonzero(_numbers(pc.utf8_length(ids)) == 0), "id", "RL642",
              lambda r: "the customer id is missing")
    id_values, id_codes = codes("id")
    if len(id_values) < n:
        _, first = np.unique(id_codes, return_index=True)
        repeated = np.ones(n, dtype=bool)
        repeated[first] = False
        probs.add(np.flatnonzero(repeated), "id", "RL648",
                  lambda r: f"the customer id `{raw('id', r)}` appears on more than one row",
                  "one row per customer: merge the rows of a customer")
    del id_values, id_codes
    if "segment" in trimmed:
        names, inverse = codes("segment")
        lookup = np.array([segments.index(x) if x in segments else -1 for x in names], dtype=np.int16)
        seg = lookup[inverse]
        unknown = [x for x, k in zip(names, lookup) if k < 0]
        probs.add(np.flatnonzero(seg < 0), "segment", "RL646",
                  lambda r: f"segment `{raw('segment', r)}` is not a segment of the population file",
                  (did_you_mean(unknown[0], segments) or "the segments: " + ", ".join(segments)) if unknown else None)
        seg = np.maximum(seg, 0)
    else:
        seg = np.zeros(n, dtype=np.int16)
    x = number("frequency", integer=True)
    t_x = number("recency")
    T = number("age")
    mean_spend = number("mean_spend")
    spend_count = number("spend_count", integer=True)
    probs.add(np.flatnonzero(t_x > T * (1 + 1e-9) + 1e-12), "recency", "RL643",
              lambda r: f"recency {raw('recency', r)} is more than the age {raw('age', r)}",
              "recency is the time from the first to the last transaction, age from the first to the end of the history")
    probs.add(np.flatnonzero((x == 0) & (t_x > 0)), "recency", "RL643",
              lambda r: f"recency is {raw('recency', r)} for a customer without repeat transactions (frequency 0)",
              "with frequency 0 the first transaction is the last: recency 0")
    probs.add(np.flatnonzero((spend_count > 0) & (mean_spend <= 0)), "mean_spend", "RL643",
              lambda r: f"mean_spend must be more than 0 for {int(spend_count[r])} transaction(s)")
    balance = tier = birthday = signup = None
    tier_names: tuple[str, ...] = ()
    if "balance" in trimmed:
        balance = number("balance", integer=True)
        probs.add(np.flatnonzero(np.nan_to_num(balance) > MAX_OPENING_BALANCE), "balance", "RL643",
                  lambda r: f"a balance of {raw('balance', r)} points is more than {MAX_OPENING_BALANCE:,}",
                  "a customer's points are held exactly up to 2^53; the bound leaves room for a century of earning")
        balance = np.nan_to_num(balance).astype(np.int64)
    if "tier" in trimmed:
        names, inverse = codes("tier")
        tier_names = tuple(names)
        tier = inverse.astype(np.int16)
        if "" in tier_names:
            tier = np.where(inverse == tier_names.index(""), -1, tier).astype(np.int16)
    if "birthday" in trimmed:
        birthday = _day_of_year(_dates(trimmed["birthday"], "birthday", probs))
    if "signup" in trimmed:
        signup = _dates(trimmed["signup"], "signup", probs)
    cols = {h: _texts(trimmed[h])
            for h in header if h not in REQUIRED + OPTIONAL}
    attributes = {h: _attribute(cols[h]) for h in header if h not in REQUIRED + OPTIONAL}
    if probs.found:
        raise CustomersFileError(probs.diagnostics())
    with open(p, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    rows = BlockRows(seg.astype(np.int16), x, t_x, T, mean_spend, spend_count.astype(np.int64), balance, tier,
                     birthday, signup, attributes, tier_names)
    return CustomerBase(label, digest, rows, np.arange(2, n + 2, dtype=np.int64), tuple(header))


def _dates(col, name: str, probs: _Problems) -> np.ndarray:
    """ISO dates (a trimmed text column) as int32 days since 1970-01-01 (NO_DATE when empty)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    length = _numbers(pc.utf8_length(col))
    empty = length == 0
    try:
        if not np.all(empty | (length == 10)):
            raise pa.ArrowInvalid("not ISO")
        # an empty cell is read as any valid date, then marked NO_DATE
        days = _numbers(pc.cast(pc.cast(pc.replace_substring_regex(col, "^$", "1970-01-01"), pa.date32()), pa.int32()))
        return np.where(empty, NO_DATE, days).astype(np.int32)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    text = col.to_pylist()
    out = np.full(len(text), NO_DATE, dtype=np.int32)
    bad = []
    for r, t in enumerate(text):
        if not t:
            continue
        try:
            out[r] = (dt.date.fromisoformat(t) - dt.date(1970, 1, 1)).days if len(t) == 10 else 1 / 0
        except (ValueError, ZeroDivisionError):
            bad.append(r)
    probs.add(np.array(bad, dtype=np.int64), name, "RL647", lambda r: f"`{text[r]}` is not a date",
              "write dates as YYYY-MM-DD, for example 1990-04-17")
    return out


def _numbers(arr) -> np.ndarray:
    """A numeric pyarrow array without nulls as numpy (through DLPack: pyarrow's `to_numpy`, and any
    Python value handed to pyarrow, import pandas first, 0.2 s that reading a file does not need)."""
    return np.from_dlpack(arr)


def _texts(arr) -> np.ndarray:
    """A pyarrow string array as a numpy array of Python strings (None for a null)."""
    out = np.empty(len(arr), dtype=object)
    out[:] = arr.to_pylist()
    return out


NON_LEAP_CUM = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])


def _day_of_year(days: np.ndarray) -> np.ndarray:
    """Day of a non-leap year (0..364) of each date, -1 unknown; 29 February counts as 28 February."""
    out = np.full(days.size, -1, dtype=np.int16)
    known = days != NO_DATE
    d = days[known].astype("datetime64[D]")
    month = d.astype("datetime64[M]").astype(np.int64) % 12
    dom = (d - d.astype("datetime64[M]")).astype(np.int64)
    doy = NON_LEAP_CUM[month] + dom
    doy[(month == 1) & (dom == 28)] = 31 + 27  # 29 February -> 28 February
    out[known] = doy
    return out


def _floats(text: np.ndarray) -> np.ndarray:
    """Each cell as a number, NaN where it is not one."""
    out = np.full(text.size, np.nan)
    for r, t in enumerate(text.tolist()):
        if isinstance(t, str) and "_" in t:  # Python reads 1_000; a CSV does not
            continue
        try:
            out[r] = float(t)
        except (TypeError, ValueError):
            pass
    return out


def _attribute(raw: np.ndarray) -> np.ndarray:
    """An attribute column: numbers, true/false and ISO dates as such, empty as None, else text."""
    text = np.char.strip(raw.astype(str))
    out = np.empty(text.size, dtype=object)
    out[:] = list(text)
    num = _floats(out)
    isnum = np.isfinite(num)
    out[isnum] = num[isnum]
    low = np.char.lower(text)
    out[low == "true"] = True
    out[low == "false"] = False
    out[text == ""] = None
    for r in np.flatnonzero(~isnum & (text != "") & (np.char.str_len(text) == 10)).tolist():
        try:
            out[r] = dt.date.fromisoformat(text[r])
        except ValueError:
            pass
    return out


def check_tiers(pop: "Population", tier_names: Sequence[str]) -> None:
    """RL645 for a `tier` in the customers file that the program does not have."""
    base = pop.customers
    if isinstance(base, ChunkRows):
        base = base.base
    if base is None or base.rows.tier is None:
        return
    names = base.rows.tier_names
    unknown = [k for k, t in enumerate(names) if t and t not in tier_names]
    if not unknown:
        return
    diags = []
    for k in unknown[:MAX_REPORTED]:
        r = int(np.flatnonzero(base.rows.tier == k)[0])
        line = int(base.lines[r])
        text = _lines(Path(base.path), [line]).get(line, "")
        col, end = _field_columns(text, base.columns.index("tier"))
        hint = (did_you_mean(names[k], tier_names) or ("the program's tiers: " + ", ".join(tier_names)
                if tier_names else "the program has no tiers: leave the `tier` column empty or remove it"))
        count = int((base.rows.tier == k).sum())
        diags.append(Diagnostic("RL645", "error", f"tier `{names[k]}` is not a tier of the program (column `tier`"
                                + (f", {count:,} rows" if count > 1 else "") + ")", Span(base.path, line, col, line, end), hint))
    raise CustomersFileError(diags)


__all__ = ["BlockRows", "ChunkRows", "CustomerBase", "CustomersFileError", "check_tiers", "for_task", "read_customers"]
