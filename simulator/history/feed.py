"""A recorded transaction history as the vectorized engine's feed (no behaviour model).

Takes: a `Transactions` record (`simulator.transactions.reader`: rows sorted by customer and time),
the compiled `ir.Program` and the `ReplayOptions`. Gives: `Feed`, the history laid out for
`simulator.history.replay_engine` — one row per purchase or return, in the order the engine applies
them: by day, then by the customer's own order within the day (a customer's k-th event of
the day is in round k), then purchases before returns, then by customer. Each run of equal
(day, round, kind) is one batch of distinct customers, sorted, which `ProgramArm.apply`
takes at once; customers are independent (but for global budgets), so this gives every
customer exactly their own events in their own order, as the interpreter sees them.

Also decided here, once, and documented in docs/simulator.md ("Replaying history"):
- membership: every customer joins at their first recorded purchase or return (a `signup`
  event then), or, when the file has a `signup` customer column, on that date (on the first
  day of the history, without a signup event, when it is earlier; purchases before it are
  not the program's); customers joining after the history never join;
- which purchase a return returns: its order id when the file has an order column (the
  purchase of the same customer with that id, made before the return); without one, the
  customer's most recent earlier purchase of at least the returned amount that no other
  return took; a return that matches no purchase reverses nothing (counted, warned);
- a column the file lacks reads as the empty string (category, channel, store), else the
  field's engine default (items 1, quantity 0) (each of `rulelang.fields.recorded_fields`);
  the time of day is the transaction's own hour (0 for a date without a time);
- birthdays (a `birthday` customer column) happen every year on their day, 29 February on
  28 February.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from rulelang import ir
from rulelang.diagnostics import Diagnostic, RulelangError, Span
from rulelang.fields import BuiltinField, recorded_fields
from rulelang.limits import MAX_DAYS

from simulator.model.strings import StringTable
from simulator.engine.conditions import LINES_FIELD, fields_read
from simulator.engine.line_attributes import attributes_read
from simulator.engine.program_plan import CARRIED_FIELDS
from simulator.model.draws import NEVER, NON_LEAP_MONTH_START

# the basket fields a replayed purchase carries from the file (its amount apart); a return reads its order's
BASKET_FIELDS = tuple(f for f in recorded_fields("purchase") if f.name != "amount")
REDEEM_POLICIES = ("when-affordable", "never")
DEFAULT_REDEEM = "when-affordable"

# diagnostic codes of replay (RL880-RL899); one page each in docs/errors/
CURRENCY_MISMATCH = "RL880"
FIELD_NOT_IN_FILE = "RL881"
EVENT_NOT_IN_FILE = "RL882"
UNMATCHED_RETURN = "RL883"
DATE_NOT_READ = "RL884"
UNKNOWN_REWARD = "RL885"
DUPLICATE_ORDER = "RL886"
ATTRIBUTE_NOT_IN_FILE = "RL887"
HISTORY_TOO_LONG = "RL888"
NOTHING_TO_REPLAY = "RL889"
COMPARE_CURRENCY = "RL890"


class ReplayError(RulelangError):
    """The history cannot be replayed with this program (diagnostics say why and where)."""


@dataclass(frozen=True)
class ReplayOptions:
    """How the replay fills in what a transaction file does not record.

    redeem: `when-affordable` (default) — a member redeems the program's reward (`reward`,
    default its cheapest) at a purchase, right after it, once, whenever their available
    points cover its price; a program with `pay with points` and no reward pays with points
    as much of each basket as it allows, from the minimum balance up. `never` — nobody
    redeems (points only expire: the most the liability can be). Transaction files hold
    purchases and returns only, so redemptions are never read from the file."""

    redeem: str = DEFAULT_REDEEM
    reward: str | None = None


@dataclass(frozen=True)
class Feed:
    """The history in the engine's order (see the module docstring). Per row, in feed order:
    `cust`, `day`, `is_return`, `amount` (cents; a return's: the returned amount, at most its
    order's), `category`, `channel`, `store` (string codes), `items`, `quantity` (each field of
    `BASKET_FIELDS`), `hour`, `source_row`
    (the row in the `Transactions` record), `order_pos` (a return's purchase: its feed
    position, -1 when unmatched), `returns_left` (a purchase: how many returns take it back; a
    return: how many more of its order follow). `batches`: the feed positions where a batch
    starts (one more at the end); `batch_day`. Per customer: `enroll_day` (NEVER when they
    never join), `signup_event`, `bday_doy` (-1 unknown), `attributes` (raw values)."""

    start: dt.date
    days: int
    customer_ids: np.ndarray
    cust: np.ndarray
    day: np.ndarray
    is_return: np.ndarray
    amount: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    store: np.ndarray
    items: np.ndarray
    quantity: np.ndarray
    hour: np.ndarray
    source_row: np.ndarray
    order_pos: np.ndarray
    returns_left: np.ndarray
    batches: np.ndarray
    batch_day: np.ndarray
    enroll_day: np.ndarray
    signup_event: np.ndarray
    bday_doy: np.ndarray
    attributes: dict[str, np.ndarray]
    warnings: tuple[Diagnostic, ...] = field(default=())
    unmatched_returns: int = 0

    @property
    def n_customers(self) -> int:
        return int(self.customer_ids.size)

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


def _span(path: str) -> Span:
    return Span(path, 0, 0, 0, 0)


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, distinct values) of a column of strings. The strings are hashed as
    fixed-width code points and the hashes sorted (much faster than sorting strings); the
    distinct values are then compared with every row, so a hash collision cannot merge two
    values (it falls back to sorting the strings)."""
    arr = np.asarray(values)
    if arr.dtype.kind != "U":
        arr = np.array(["" if v is None else str(v) for v in arr.tolist()])
    n, width = arr.size, arr.dtype.itemsize // 4
    if n == 0 or width == 0:
        return np.zeros(n, dtype=np.int64), np.array([""] if n else [], dtype=str)
    chars = np.ascontiguousarray(arr).view(np.uint32).reshape(n, width)
    h = np.zeros(n, dtype=np.uint64)
    for j in range(width):
        h *= np.uint64(1_000_003)
        h += chars[:, j]
    _, first, inv = np.unique(h, return_index=True, return_inverse=True)
    uniq = arr[first]
    inv = inv.reshape(-1)
    if not np.array_equal(uniq[inv], arr):
        uniq, inv = np.unique(arr, return_inverse=True)
        inv = inv.reshape(-1)
    return inv.astype(np.int64), uniq


def _strings_or_empty(values: np.ndarray | None, n: int, strings: StringTable) -> np.ndarray:
    """String codes of a column (codes of the distinct values, then per row); "" when absent."""
    if values is None:
        return np.zeros(n, dtype=np.int64)
    inv, uniq = factorize(values)
    codes = np.array([strings.code(str(u)) for u in uniq.tolist()], dtype=np.int64)
    return codes[inv]


def _dates(values: np.ndarray) -> list[dt.date | None]:
    """Per customer: a date from a datetime64, date or ISO text value (None when missing)."""
    out: list[dt.date | None] = []
    for v in values.tolist() if hasattr(values, "tolist") else list(values):
        if v is None or (isinstance(v, float) and v != v):
            out.append(None)
        elif isinstance(v, dt.datetime):
            out.append(v.date())
        elif isinstance(v, dt.date):
            out.append(v)
        elif isinstance(v, (int, np.integer)):  # datetime64 as integers (ns)
            out.append(None if v < -(2**62) else (np.datetime64(int(v), "ns").astype("datetime64[D]").astype(dt.date)))
        else:
            text = str(v).strip()
            try:
                out.append(dt.date.fromisoformat(text[:10]) if text and text.lower() not in ("nat", "none", "nan") else None)
            except ValueError:
                out.append(None)
    return out


def _unread_dates(values: np.ndarray) -> int:
    """How many non-empty values are not dates."""
    raw = values.tolist() if hasattr(values, "tolist") else list(values)
    got = _dates(values)
    return sum(1 for v, d in zip(raw, got) if d is None and v not in (None, "") and str(v).strip() != "")


def _birthday_doy(d: dt.date | None) -> int:
    if d is None:
        return -1
    month, day = d.month, d.day
    if (month, day) == (2, 29):
        day = 28  # celebrated on 28 February (every year has one)
    return int(NON_LEAP_MONTH_START[month - 1] + day - 1)


def match_returns(tx, path: str) -> tuple[np.ndarray, int]:
    """For each row of `tx` (customer, time order): the row of the purchase a return takes back
    (-1: none, and for purchases). Returns (matches, unmatched returns). See the module docstring."""
    n = tx.customer.size
    match = np.full(n, -1, dtype=np.int64)
    ret_rows = np.flatnonzero(tx.is_return)
    if ret_rows.size == 0:
        return match, 0
    cust = tx.customer.astype(np.int64)
    if tx.order is not None:
        code, uniq = factorize(tx.order)
        key = cust * max(uniq.size, 1) + code
        buy_rows = np.flatnonzero(~tx.is_return)
        by_key = buy_rows[np.argsort(key[buy_rows], kind="stable")]
        sorted_keys = key[by_key]
        dup = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1])
        if dup.size:
            a, b = sorted(int(x) for x in by_key[dup[0]:dup[0] + 2])
            raise ReplayError([Diagnostic(
                DUPLICATE_ORDER, "error",
                f"order `{uniq[code[a]]}` of customer `{tx.customer_ids[cust[a]]}` is on more than one purchase row "
                f"({dup.size + 1:,} such rows or more in the file): a return could not say which it takes back",
                _span(path), "give each purchase its own order id (one row per order, its amount the order's total)")])
        at = np.searchsorted(sorted_keys, key[ret_rows])
        found = at < sorted_keys.size
        found[found] = sorted_keys[at[found]] == key[ret_rows][found]
        bought = np.where(found, by_key[np.minimum(at, sorted_keys.size - 1)], -1)
        bought[bought > ret_rows] = -1  # a purchase after its return (rows are in time order)
        match[ret_rows] = bought
    else:
        # walk back from each return over its customer's earlier rows (Python, over returns only)
        amounts = tx.amount_cents
        c_of, is_ret = cust, tx.is_return
        taken = np.zeros(n, dtype=bool)
        for r in ret_rows.tolist():
            c, want = c_of[r], amounts[r]
            k = r - 1
            while k >= 0 and c_of[k] == c:
                if not is_ret[k] and not taken[k] and amounts[k] >= want:
                    match[r] = k
                    taken[k] = True
                    break
                k -= 1
    unmatched = int(np.count_nonzero(match[ret_rows] < 0))
    return match, unmatched


def unmatched_warning(count: int, by_order: bool, path: str) -> Diagnostic:
    """RL883: returns that match no purchase (they reverse nothing)."""
    how = "with the order id it names" if by_order else \
        "(no earlier purchase of that customer of at least the returned amount that no other return took)"
    return Diagnostic(UNMATCHED_RETURN, "warning", f"{count:,} return(s) match no purchase {how}: they reverse nothing",
                      _span(path), "returns of purchases made before the history cannot take points back")


def needed_warnings(program: ir.Program, tx, path: str, hours_known: bool) -> list[Diagnostic]:
    """What the program reads or listens to that the file does not record (RL881, RL882, RL887)."""
    out: list[Diagnostic] = []
    read: set[str] = set()
    for r in program.rules:
        read |= set(fields_read(r.condition))
    for c in program.counters:
        read |= set(fields_read(c.condition)) | ({c.sums} if c.sums else set())
    sp = _span(path)
    for f in BASKET_FIELDS:
        name = f.name
        used = name in read or (name == "category" and any(
            getattr(a, "excluding", ()) or getattr(a, "only", None) for r in program.rules for a in r.actions)) or (
            name == "quantity" and any(isinstance(a, ir.QuantityAward) for r in program.rules for a in r.actions))
        if used and getattr(tx, name) is None:
            fallback = 'the empty string ""' if f.type == "string" else str(f.engine_default)
            out.append(Diagnostic(FIELD_NOT_IN_FILE, "warning",
                                  f"the program reads `{name}`, but the transaction file has no {name} column: "
                                  f"every transaction reads {fallback}", sp,
                                  f"map the column that holds it (--{name}-column NAME)"))
    if "hour" in read and not hours_known:
        out.append(Diagnostic(FIELD_NOT_IN_FILE, "warning",
                              "the program reads `hour`, but the file's times have no time of day: "
                              "every transaction reads hour 0", sp, "give timestamps (date and time) in the time column"))
    if "shipping" in read:
        out.append(Diagnostic(FIELD_NOT_IN_FILE, "warning",
                              "the program reads `shipping`, which a transaction file does not record: it reads 0", sp))
    if LINES_FIELD in read or any(getattr(a, "only", None) is not None for r in program.rules for a in r.actions):
        out.append(Diagnostic(FIELD_NOT_IN_FILE, "warning",
                              "the program reads a purchase's lines (`any line`, `in category`), which a transaction "
                              "file does not record: each transaction is one line, its amount, category and quantity"
                              + (", without line attributes (each reads its default: no text, false, 0)"
                                 if attributes_read(program) else ""),
                              sp, "simulate the program on a population whose segments have `lines` to see receipts"))
    table = tx.customer_table or {}
    for name, _type in program.attributes:
        if f"customer.{name}" in read and name not in table:
            out.append(Diagnostic(ATTRIBUTE_NOT_IN_FILE, "warning",
                                  f"the program reads the customer attribute `{name}`, which the file does not give: "
                                  f"every customer has its default", sp, f"map its column with --attribute-column {name}"))
    events = {r.event for r in program.rules} | {c.event for c in program.counters}
    for kind in sorted(events - {"purchase", "return", "signup", "birthday"}):
        what = "referrals" if kind == "referral" else f"`{kind}` events"
        out.append(Diagnostic(EVENT_NOT_IN_FILE, "warning",
                              f"rules on `{kind}` never fire in a replay: a transaction file records no {what}", sp))
    if "birthday" in events and "birthday" not in table:
        out.append(Diagnostic(EVENT_NOT_IN_FILE, "warning",
                              "rules on `birthday` never fire: the file gives no birthdays", sp,
                              "map the birthday column with --birthday-column NAME"))
    if program.tiers is not None:
        for t in program.tiers.tiers:
            for perk in t.perks:
                if perk.per == "use":
                    out.append(Diagnostic(EVENT_NOT_IN_FILE, "warning",
                                          f"perk `{perk.name}` ({t.name}) costs per use, and a transaction file records "
                                          f"no perk uses: it costs nothing in the replay", sp))
    return out


def check_currency(program: ir.Program, tx, path: str) -> None:
    """RL880: money in the file is in another currency than the program's (an error: every rate,
    threshold and cost of the program would be applied to amounts in the wrong unit)."""
    cur = getattr(tx, "currency", None)
    if cur is not None and str(cur).upper() != str(program.currency).upper():
        raise ReplayError([Diagnostic(
            CURRENCY_MISMATCH, "error",
            f"the transactions are in {cur}, the program counts money in {program.currency}",
            _span(path), f"convert the amounts to {program.currency}, or replay a program written in {cur}")])


def history_span(tx) -> tuple[dt.date, int]:
    """(first day, number of days) of the history in `tx`."""
    days_abs = tx.time.astype("datetime64[D]").astype(np.int64)
    first, last = int(days_abs.min()), int(days_abs.max())
    return dt.date(1970, 1, 1) + dt.timedelta(days=first), last - first + 1


def build_feed(tx, program: ir.Program, strings: StringTable, path: str | None = None,
               span: tuple[dt.date, int] | None = None) -> Feed:
    """The history of `tx` in the engine's order, with its warnings (see the module docstring).
    `span` (first day, days): the calendar, when `tx` is a part of a larger history."""
    path = path or str(getattr(tx, "path", "<transactions>"))
    check_currency(program, tx, path)
    n_rows = int(tx.customer.size)
    n_cust = int(tx.customer_ids.size)
    if n_rows == 0:
        raise ReplayError([Diagnostic(NOTHING_TO_REPLAY, "error", "the transaction file has no rows to replay",
                                      _span(path), "check the file and the rows the reader skipped")])
    start, ndays = span if span is not None else history_span(tx)
    first = (start - dt.date(1970, 1, 1)).days
    days_abs = tx.time.astype("datetime64[D]").astype(np.int64)
    if ndays > MAX_DAYS:
        raise ReplayError([Diagnostic(HISTORY_TOO_LONG, "error",
                                      f"the history spans {ndays:,} days; a replay covers at most {MAX_DAYS:,}",
                                      _span(path), "replay a shorter period (filter the file by date)")])
    day = (days_abs - first).astype(np.int64)
    secs = tx.time.astype("datetime64[s]").astype(np.int64)
    hour = (secs % 86400) // 3600
    hours_known = bool(np.any(secs % 86400))
    warnings = needed_warnings(program, tx, path, hours_known)
    match, unmatched = match_returns(tx, path)
    if unmatched:
        warnings.append(unmatched_warning(unmatched, tx.order is not None, path))
    # membership
    cust = tx.customer.astype(np.int64)
    enroll = np.full(n_cust, NEVER, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], cust[1:] != cust[:-1]]))
    enroll[cust[starts]] = day[starts]  # rows are in customer, time order: a customer's first row is first
    signup_event = np.ones(n_cust, dtype=bool)
    table = tx.customer_table or {}
    for key in ("signup", "birthday"):
        if key in table:
            bad = _unread_dates(table[key])
            if bad:
                warnings.append(Diagnostic(DATE_NOT_READ, "warning",
                                           f"{bad:,} {key} value(s) are not ISO dates (such as 1990-06-14): "
                                           f"those customers have no {key}", _span(path),
                                           f"write the {key} column as YYYY-MM-DD"))
    if "signup" in table:
        for c, d in enumerate(_dates(table["signup"])):
            if d is None:
                continue
            k = (d - start).days
            if k <= 0:
                enroll[c], signup_event[c] = 0, False
            elif k < ndays:
                enroll[c] = k
            else:
                enroll[c], signup_event[c] = NEVER, False
    bday = np.full(n_cust, -1, dtype=np.int64)
    if "birthday" in table:
        bday = np.array([_birthday_doy(d) for d in _dates(table["birthday"])], dtype=np.int64)
    attributes = {name: np.asarray(table[name], dtype=object) for name, _ in program.attributes if name in table}
    # per row: the customer's own order within the day (rows are sorted by customer, then time)
    key = cust * (ndays + 1) + day
    new_group = np.ones(n_rows, dtype=bool)
    new_group[1:] = key[1:] != key[:-1]
    group_start = np.flatnonzero(new_group)
    rank = np.arange(n_rows) - np.repeat(group_start, np.diff(np.append(group_start, n_rows)))
    # one stable sort by (day, round, kind) keeps the customers in order within each batch
    order = np.argsort((day * (int(rank.max()) + 1) + rank) * 2 + tx.is_return, kind="stable")
    pos_of = np.empty(n_rows, dtype=np.int64)
    pos_of[order] = np.arange(n_rows)
    # returns: their purchase (feed position), returned amount, how many returns an order has
    m = match[order]
    order_pos = np.where(m >= 0, pos_of[np.maximum(m, 0)], -1)
    amount = tx.amount_cents[order].astype(np.int64)
    is_ret = tx.is_return[order]
    has = order_pos >= 0
    amount[has] = np.minimum(amount[has], amount[order_pos[has]])
    returns_left = np.zeros(n_rows, dtype=np.int64)
    if has.any():
        np.add.at(returns_left, order_pos[has], 1)
        # a return: how many more returns of its order come after it (they come in feed order)
        rp = np.flatnonzero(has)
        by_order = rp[np.lexsort((rp, order_pos[rp]))]
        op = order_pos[by_order]
        same_next = np.zeros(by_order.size, dtype=bool)
        same_next[:-1] = op[1:] == op[:-1]
        # count of later rows with the same order: reverse cumulative count within each order
        grp_end = np.flatnonzero(~same_next)
        sizes = np.diff(np.append(-1, grp_end))
        within = np.arange(by_order.size) - np.repeat(grp_end - sizes + 1, sizes)
        returns_left[by_order] = np.repeat(sizes, sizes) - 1 - within
    # a matched return reads its order's basket (as the interpreter does)
    def column(values, default_fill):
        arr = default_fill(values)[order]
        if has.any():
            arr[has] = arr[order_pos[has]]
        return arr
    basket = {f.name: column(getattr(tx, f.name), lambda v, f=f: _recorded(f, v, n_rows, strings))
              for f in BASKET_FIELDS}
    fday = day[order]
    frank = rank[order]
    cut = np.ones(n_rows, dtype=bool)
    cut[1:] = (fday[1:] != fday[:-1]) | (frank[1:] != frank[:-1]) | (is_ret[1:] != is_ret[:-1])
    batches = np.append(np.flatnonzero(cut), n_rows)
    return Feed(start=start, days=ndays, customer_ids=np.asarray(tx.customer_ids), cust=cust[order], day=fday,
                is_return=is_ret, amount=amount, **basket, hour=hour[order], source_row=order,
                order_pos=order_pos, returns_left=returns_left, batches=batches, batch_day=fday[batches[:-1]],
                enroll_day=enroll, signup_event=signup_event, bday_doy=bday, attributes=attributes,
                warnings=tuple(warnings), unmatched_returns=unmatched)


def _recorded(f: BuiltinField, values: np.ndarray | None, n_rows: int, strings: StringTable) -> np.ndarray:
    """A recorded field's column as the engine reads it: string codes ("" where missing), or whole
    numbers (the field's engine default where the file gives none)."""
    if f.type == "string":
        return _strings_or_empty(values, n_rows, strings)
    if values is None:
        return np.full(n_rows, f.engine_default, dtype=np.int64)
    v = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(v), f.engine_default, v).astype(np.int64)


def interpreter_events(feed: Feed, c: int, strings: StringTable) -> list:
    """The interpreter `Event`s of customer `c` as the replay sees them (without redemptions):
    its signup, birthdays while a member, and its purchases and returns from the day it joins.
    A purchase's id is `p<feed position>`; a matched return names it."""
    from rulelang import Event

    out = []
    join = int(feed.enroll_day[c])
    if join >= feed.days:
        return out
    base = dt.datetime.combine(feed.start, dt.time(0, 0))
    day_events: dict[int, list] = {}
    if feed.signup_event[c]:
        day_events.setdefault(join, []).append(Event("signup", base + dt.timedelta(days=join)))
    doy = int(feed.bday_doy[c])
    if doy >= 0:
        for d in range(join, feed.days):
            date = feed.start + dt.timedelta(days=d)
            if (date.month, date.day) != (2, 29) and NON_LEAP_MONTH_START[date.month - 1] + date.day - 1 == doy:
                day_events.setdefault(d, []).append(Event("birthday", base + dt.timedelta(days=d)))
    rows = np.flatnonzero(feed.cust == c)
    rows = rows[np.lexsort((feed.source_row[rows],))]
    for p in rows.tolist():
        d = int(feed.day[p])
        if d < join:
            continue
        at = base + dt.timedelta(days=d, hours=int(feed.hour[p]))
        if feed.is_return[p]:
            o = int(feed.order_pos[p])
            # a matched return's fields are its order's (the interpreter reads the order's too)
            name = f"p{o}" if o >= 0 else f"unmatched{p}"
            ev = Event("return", at, int(feed.amount[p]), name, _fields(feed, p, strings))
        else:
            ev = Event("purchase", at, int(feed.amount[p]), None, _fields(feed, p, strings), id=f"p{p}")
        day_events.setdefault(d, []).append(ev)
    for d in sorted(day_events):
        out.extend(day_events[d])
    return out


def _fields(feed: Feed, p: int, strings: StringTable) -> dict:
    """A purchase's built-in fields as the interpreter reads them (a field the history does not
    record takes its engine default)."""
    out: dict[str, object] = {}
    for b in CARRIED_FIELDS:
        if b.interpreter_key is None:
            continue
        value = int(getattr(feed, b.name)[p]) if hasattr(feed, b.name) else int(b.engine_default or 0)
        out[b.interpreter_key] = strings.name(value) if b.type == "string" else value
    return out


__all__ = ["DEFAULT_REDEEM", "Feed", "REDEEM_POLICIES", "ReplayError", "ReplayOptions", "build_feed", "history_span",
           "interpreter_events", "match_returns"]
