"""The non-statistical parts of a fitted population: mixes, returns, birthdays, enrollment, attributes.

Takes: `Transactions` and a mask of the customers of one segment. Gives: `Mixes` — the
category and channel mix of purchases, the mean items per purchase, the return model
(rate per purchase, returned fraction, delay in days), the share of customers with a known
birthday, the enrollment share and the attribute mixes, each with the counts it came from
(the population file's comments quote them).

Estimators (all plain shares of what the file holds):
- categories / channels: share of purchase rows per value; an empty value is `other`. At most
  `MAX_MIX_VALUES` values are kept, the rest are merged into `other`.
- items: mean items per purchase row over the rows that give one (the items column, else the
  quantity column), at least 1.
- returns: rate = return rows / purchase rows. Returned fraction = a return's amount over its
  purchase's amount (the order it names; without an order column, the customer's latest
  purchase on or before it), capped at 1 and rounded up to a quarter (0.25, 0.5, 0.75, 1).
  Delay = days from that purchase to the return; the population's uniform delay runs from the
  5th to the 95th percentile (at least 1 day).
- birthday_known = customers with a birthday value / customers; enrollment share = customers
  with a signup value / customers (no signup column: every customer is a member).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.transactions.reader import Transactions

MAX_MIX_VALUES = 20
FRACTION_STEPS = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Mix:
    shares: tuple[tuple[str, float], ...]
    rows: int  # rows the shares are taken over


@dataclass(frozen=True)
class ReturnsFit:
    rate: float
    returns: int
    purchases: int
    fraction: tuple[tuple[float, float], ...]  # (returned share of the basket, probability)
    delay_min: int
    delay_max: int
    delay_median: float


@dataclass(frozen=True)
class Mixes:
    customers: int
    purchases: int
    categories: Mix | None
    channels: Mix | None
    items_mean: float | None
    items_rows: int
    items_source: str  # "items" | "quantity" | ""
    returns: ReturnsFit | None
    birthday_known: float | None  # None: no birthday column
    birthdays: int
    enroll_share: float | None  # None: no signup column
    members: int
    attributes: tuple[tuple[str, Mix], ...]


def _mix(values: np.ndarray) -> Mix:
    vals = np.where(values == "", "other", values)
    uniq, counts = np.unique(vals, return_counts=True)
    order = np.lexsort((uniq, -counts))
    uniq, counts = uniq[order], counts[order]
    if uniq.size > MAX_MIX_VALUES:
        rest = counts[MAX_MIX_VALUES - 1:].sum()
        keep = [(str(u), int(c)) for u, c in zip(uniq[:MAX_MIX_VALUES - 1], counts[:MAX_MIX_VALUES - 1])
                if u != "other"]
        other = rest + int(counts[:MAX_MIX_VALUES - 1][uniq[:MAX_MIX_VALUES - 1] == "other"].sum())
        pairs = keep + [("other", int(other))]
    else:
        pairs = [(str(u), int(c)) for u, c in zip(uniq, counts)]
    total = sum(c for _, c in pairs)
    return Mix(tuple((u, c / total) for u, c in pairs), int(total))


def _returns(tx: Transactions, rows: np.ndarray) -> ReturnsFit | None:
    ret = tx.is_return[rows]
    n_ret, n_buy = int(ret.sum()), int((~ret).sum())
    if n_buy == 0:
        return None
    if n_ret == 0:
        return ReturnsFit(0.0, 0, n_buy, ((1.0, 1.0),), 1, 30, 0.0)
    cust, day = tx.customer[rows], tx.time[rows].astype("datetime64[D]").astype(np.int64)
    amount = tx.amount_cents[rows]
    r_idx = np.flatnonzero(ret)
    if tx.order is not None:
        order = np.unique(tx.order[rows], return_inverse=True)[1].reshape(-1)
        key = cust.astype(np.int64) * (int(order.max()) + 1) + order  # one number per (customer, order id)
        b_idx = np.flatnonzero(~ret)
        b_key = key[b_idx]
        by = np.argsort(b_key, kind="stable")
        sorted_keys = b_key[by]
        pos = np.clip(np.searchsorted(sorted_keys, key[r_idx]), 0, sorted_keys.size - 1)
        bought = b_idx[by[pos]]
        matched = sorted_keys[pos] == key[r_idx]
        r_idx, bought = r_idx[matched], bought[matched]
    else:
        # rows are sorted by (customer, time): the latest purchase before a return is found by a running index
        last_buy = np.where(~ret, np.arange(rows.size), -1)
        last_buy = np.maximum.accumulate(last_buy)
        bought = last_buy[r_idx]
        ok = (bought >= 0) & (cust[np.maximum(bought, 0)] == cust[r_idx])
        r_idx, bought = r_idx[ok], bought[ok]
    if r_idx.size == 0:
        return ReturnsFit(n_ret / n_buy, n_ret, n_buy, ((1.0, 1.0),), 1, 30, 0.0)
    frac = np.minimum(1.0, amount[r_idx] / np.maximum(amount[bought], 1))
    step = np.array(FRACTION_STEPS)
    bins = step[np.minimum(np.searchsorted(step, frac - 1e-12), step.size - 1)]
    fraction = tuple((float(v), float(np.mean(bins == v))) for v in step if np.any(bins == v))
    delay = np.maximum(day[r_idx] - day[bought], 1)
    lo, hi = np.percentile(delay, [5, 95])
    return ReturnsFit(n_ret / n_buy, n_ret, n_buy, fraction, max(1, int(np.floor(lo))), max(1, int(np.ceil(hi))),
                      float(np.median(delay)))


def estimate_mixes(tx: Transactions, customers: np.ndarray, attribute_names: tuple[str, ...] = ()) -> Mixes:
    """Mixes of the customers in the bool mask `customers` (index = customer number)."""
    rows = np.flatnonzero(customers[tx.customer])
    buy = rows[~tx.is_return[rows]]
    n_cust = int(customers.sum())
    categories = _mix(tx.category[buy]) if tx.category is not None and buy.size else None
    channels = _mix(tx.channel[buy]) if tx.channel is not None and buy.size else None
    items_mean, items_rows, source = None, 0, ""
    if tx.items is not None:
        given = tx.items[buy][tx.items[buy] > 0]
        source = "items"
    elif tx.quantity is not None:
        q = tx.quantity[buy]
        given = q[np.isfinite(q) & (q > 0)]
        source = "quantity"
    else:
        given = np.array([])
    if given.size:
        items_mean, items_rows = max(1.0, float(np.mean(given))), int(given.size)
    table = tx.customer_table
    birthday = table.get("birthday")
    signup = table.get("signup")
    n_bday = int((birthday[customers] != "").sum()) if birthday is not None else 0
    n_members = int((signup[customers] != "").sum()) if signup is not None else n_cust
    attrs = tuple((name, _mix(table[name][customers])) for name in attribute_names if name in table)
    return Mixes(
        customers=n_cust, purchases=int(buy.size), categories=categories, channels=channels,
        items_mean=items_mean, items_rows=items_rows, items_source=source, returns=_returns(tx, rows),
        birthday_known=(n_bday / n_cust if n_cust else 0.0) if birthday is not None else None, birthdays=n_bday,
        enroll_share=(n_members / n_cust if n_cust else 0.0) if signup is not None else None, members=n_members,
        attributes=attrs)
