"""The engine's vouchers with a life (`simulator.engine.vouchers.VoucherBook`), worked by hand,
and the draw rule: a program without them makes no voucher draws."""

from __future__ import annotations

import datetime as dt

import numpy as np

from rulelang import ir
from simulator.engine.calendar import Calendar
from simulator.engine.vouchers import VoucherBook


def _book(n: int = 3) -> tuple[VoucherBook, Calendar]:
    conv = ir.Conversion(points=500, voucher_cents=500, period="month", valid=2, valid_unit="months")
    cal = Calendar.make(dt.date(2027, 1, 1), 200)
    return VoucherBook(conv, cal, n), cal


def test_issue_use_oldest_first_and_expire_worked_by_hand():
    book, cal = _book()
    feb, mar = cal.day_of(dt.date(2027, 2, 1)), cal.day_of(dt.date(2027, 3, 1))
    apr, may = cal.day_of(dt.date(2027, 4, 1)), cal.day_of(dt.date(2027, 5, 1))
    book.issue(feb, np.array([0, 2]), np.array([2, 1]))  # 1 Feb: customer 0 gets 2, customer 2 gets 1
    book.issue(mar, np.array([0]), np.array([1]))         # 1 Mar: customer 0 gets 1 more
    assert book.holders(np.array([0, 1, 2])).tolist() == [0, 2]
    book.use(np.array([0]))                               # spends a February voucher (it ends first)
    assert book.held.tolist() == [2, 0, 1] and book.used.tolist() == [1, 0, 0]
    # February's vouchers are valid 2 months: expired on 1 Apr; March's on 1 May
    book.expire(apr)
    assert book.expired.tolist() == [1, 0, 1] and book.held.tolist() == [1, 0, 0]
    book.expire(may)
    assert book.expired.tolist() == [2, 0, 1] and book.held.tolist() == [0, 0, 0]
    # issued = used + expired + outstanding, per customer
    assert (book.issued == book.used + book.expired + book.held).all()
    assert book.issued.tolist() == [3, 0, 1]


def test_conversion_days_are_the_first_days_after_the_months_of_the_schedule():
    conv = ir.Conversion(points=500, voucher_cents=500, period="months", months=(2, 5, 8, 11), valid=30,
                         valid_unit="days")
    cal = Calendar.make(dt.date(2027, 1, 1), 365)
    book = VoucherBook(conv, cal, 1)
    days = sorted(book.batch_of_day)
    assert [cal.date(d) for d in days] == [dt.date(2027, 3, 1), dt.date(2027, 6, 1), dt.date(2027, 9, 1),
                                           dt.date(2027, 12, 1)]
    # valid 30 days: the 1 Mar batch expires on 31 Mar
    assert book.expires_on[cal.day_of(dt.date(2027, 3, 31))] == [0]
