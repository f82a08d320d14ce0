"""Per-customer summaries of a transaction history: what the purchase and spend models are fitted on.

Takes: `Transactions` (simulator.transactions.reader), optionally the first day of a holdout period,
and the population's time unit. Gives: `Summaries` — per customer the frequency `x`, recency
`t_x` and age `T` of the calibration period (and the holdout's repeat transactions `x_star`),
the same over the whole history for the customers file, the mean spend after returns, and the
transaction days that the fit report's tracking chart counts. Or a `TransactionsError`
(RL820) when the holdout date leaves too short a calibration period.

Definitions (Fader, Hardie & Lee 2005, and the CDNOW summaries they publish):
- a transaction is a day on which the customer bought: same-day purchases of one customer
  are ONE transaction (their amounts add up). Returns are not transactions.
- `x` = transactions after the first (repeat transactions); `t_x` = days from the first to the
  last transaction, `T` = days from the first transaction to the last day of the period, both
  divided by the days of the time unit (week = 7).
- calibration = the first day of the file .. the day before `--holdout-from`; the holdout =
  `--holdout-from` .. the last day of the file. Customers whose first purchase falls in the
  holdout are not in the calibration (they are counted).
- mean spend = (purchases − returns) / transactions over the whole history, currency units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from rulelang import limits
from rulelang.diagnostics import Diagnostic, Span

from simulator.transactions.reader import Transactions, TransactionsError

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 30.4375}  # as simulator.model.population


@dataclass(frozen=True)
class Summaries:
    unit: str
    unit_days: float
    first_day: dt.date  # first day of the file
    cal_end: dt.date  # last day of the calibration period (inclusive)
    last_day: dt.date  # last day of the file
    holdout: bool
    # per customer (index = customer number of the Transactions)
    birth: np.ndarray  # int64 days from first_day to the customer's first purchase
    in_calibration: np.ndarray  # bool: first purchase on or before cal_end
    x: np.ndarray  # calibration repeat transactions (0 for customers not in the calibration)
    t_x: np.ndarray  # float, time units
    T: np.ndarray
    x_star: np.ndarray  # repeat transactions in the holdout
    full_x: np.ndarray  # the same over the whole history (customers file)
    full_t_x: np.ndarray
    full_T: np.ndarray
    mean_spend: np.ndarray  # currency units per transaction, after returns
    spend_count: np.ndarray  # transactions the mean averages
    # one entry per transaction (customer-day with a purchase)
    txn_customer: np.ndarray
    txn_day: np.ndarray  # int64 days from first_day

    @property
    def holdout_units(self) -> float:
        return (self.last_day - self.cal_end).days / self.unit_days

    @property
    def calibration_customers(self) -> int:
        return int(self.in_calibration.sum())

    @property
    def new_in_holdout(self) -> int:
        return int((~self.in_calibration).sum())


def _days(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[D]").astype(np.int64)


def _date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def holdout_problem(path: str, message: str, hint: str) -> TransactionsError:
    return TransactionsError([Diagnostic("RL820", "error", message, Span(path, 0, 0, 0, 0), hint)])


def summarise(tx: Transactions, holdout_from: dt.date | None = None, unit: str = "week") -> Summaries:
    """Summaries of `tx`; raises TransactionsError (RL820) for a holdout the data cannot support."""
    unit_days = DAYS_PER_UNIT[unit]
    day = _days(tx.time)
    purchase = ~tx.is_return
    first_day, last_day = int(day.min()), int(day.max())
    n = tx.n_customers

    # transactions: the first purchase row of each (customer, day)
    pc, pd, pa = tx.customer[purchase], day[purchase], tx.amount_cents[purchase]
    new = np.ones(pc.size, dtype=bool)
    new[1:] = (pc[1:] != pc[:-1]) | (pd[1:] != pd[:-1])
    starts = np.flatnonzero(new)
    txn_customer, txn_day = pc[starts], pd[starts]
    count = np.bincount(txn_customer, minlength=n)
    first_txn = np.r_[0, np.cumsum(count)[:-1]]
    birth_abs = txn_day[first_txn]
    last_abs = txn_day[first_txn + count - 1]

    if holdout_from is None:
        cal_end = last_day
    else:
        cal_end = _days(np.array([np.datetime64(holdout_from, "D")]))[0] - 1
        check_holdout(tx.path, _date(first_day), _date(cal_end), _date(last_day))
    in_cal = birth_abs <= cal_end
    cal_txn = txn_day <= cal_end
    cal_count = np.bincount(txn_customer[cal_txn], minlength=n)
    cal_last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(cal_last, txn_customer[cal_txn], txn_day[cal_txn])
    x = np.where(in_cal, cal_count - 1, 0)
    t_x = np.where(in_cal, (cal_last - birth_abs) / unit_days, 0.0)
    T = np.where(in_cal, (cal_end - birth_abs) / unit_days, 0.0)
    x_star = np.where(in_cal, count - cal_count, 0)

    returns = np.bincount(tx.customer[tx.is_return], weights=tx.amount_cents[tx.is_return], minlength=n)
    bought = np.bincount(pc, weights=pa, minlength=n)
    mean_spend = (bought - returns) / np.maximum(count, 1) / 100.0
    return Summaries(
        unit=unit, unit_days=unit_days, first_day=_date(first_day), cal_end=_date(cal_end), last_day=_date(last_day),
        holdout=holdout_from is not None, birth=(birth_abs - first_day).astype(np.int64), in_calibration=in_cal,
        x=x.astype(np.int64), t_x=t_x, T=T, x_star=x_star.astype(np.int64),
        full_x=(count - 1).astype(np.int64), full_t_x=(last_abs - birth_abs) / unit_days,
        full_T=(last_day - birth_abs) / unit_days, mean_spend=mean_spend, spend_count=count.astype(np.int64),
        txn_customer=txn_customer.astype(np.int64), txn_day=(txn_day - first_day).astype(np.int64))


def check_holdout(path: str, first: dt.date, cal_end: dt.date, last: dt.date) -> None:
    """RL820 unless the calibration period is at least `MIN_CALIBRATION_DAYS` and as long as the holdout."""
    cal_days = (cal_end - first).days + 1
    hold_days = (last - cal_end).days
    holdout_from = cal_end + dt.timedelta(days=1)
    if hold_days <= 0:
        raise holdout_problem(path, f"--holdout-from {holdout_from} is after the last day of the file ({last})",
                              f"choose a date between {first} and {last}; the holdout runs from it to {last}")
    if cal_days <= 0:
        raise holdout_problem(path, f"--holdout-from {holdout_from} is before the first day of the file ({first})",
                              f"choose a date between {first} and {last}")
    if hold_days < limits.MIN_HOLDOUT_DAYS:
        raise holdout_problem(path, f"the holdout period ({holdout_from} .. {last}) is {hold_days} days: too "
                              f"short to check a forecast (at least {limits.MIN_HOLDOUT_DAYS} days)",
                              "choose an earlier --holdout-from, or leave it out to fit on the whole history")
    if cal_days < limits.MIN_CALIBRATION_DAYS or cal_days < hold_days:
        need = max(limits.MIN_CALIBRATION_DAYS, hold_days)
        latest = first + dt.timedelta(days=(cal_days + hold_days) // 2)
        raise holdout_problem(path, f"the calibration period ({first} .. {cal_end}, {cal_days} days) is too short "
                              f"for the holdout ({holdout_from} .. {last}, {hold_days} days): it needs at least "
                              f"{need} days (as long as the holdout, and at least {limits.MIN_CALIBRATION_DAYS})",
                              f"choose --holdout-from {latest} or later")


def weekly_repeat_transactions(s: Summaries, customers: np.ndarray) -> np.ndarray:
    """Cumulative repeat transactions of `customers` (bool mask) at the end of each week since first_day."""
    weeks = int(np.ceil(((s.last_day - s.first_day).days + 1) / 7))
    keep = customers[s.txn_customer]
    c, d = s.txn_customer[keep], s.txn_day[keep]
    repeat = d > s.birth[c]
    per_week = np.bincount(d[repeat] // 7, minlength=weeks)[:weeks]
    return np.cumsum(per_week)
