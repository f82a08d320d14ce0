"""The engine's vouchers with a life (`simulator.engine.vouchers.VoucherBook`), worked by hand."""

from __future__ import annotations

import numpy as np

from simulator.engine.vouchers import VoucherBook


def test_issue_use_oldest_first_and_expire_worked_by_hand():
    book = VoucherBook(3, slots=1)  # one slot per customer to start: the table must grow
    book.issue(np.array([0, 2]), np.array([2, 1]), end_day=90, face_cents=500)  # 2 and 1 vouchers of 5.00, end day 90
    book.issue(np.array([0]), np.array([1]), end_day=120, face_cents=500)        # 1 more for customer 0, end day 120
    assert book.end.shape[1] == 2
    assert book.holders(np.array([0, 1, 2])).tolist() == [0, 2]
    assert book.use(np.array([0])).tolist() == [500]  # spends one ending on day 90 (it ends first)
    assert book.held.tolist() == [2, 0, 1] and book.used.tolist() == [1, 0, 0]
    book.expire(89)  # nothing ends on day 89
    assert book.expired.tolist() == [0, 0, 0]
    book.expire(90)  # customer 0's last day-90 voucher and customer 2's expire
    assert book.expired.tolist() == [1, 0, 1] and book.held.tolist() == [1, 0, 0]
    book.expire(120)
    assert book.expired.tolist() == [2, 0, 1] and book.held.tolist() == [0, 0, 0]
    # issued = used + expired + outstanding, per customer, in count and in cents
    assert (book.issued == book.used + book.expired + book.held).all()
    assert (book.issued_cents == book.used_cents + book.expired_cents + book.held_cents).all()
    assert book.issued_cents.tolist() == [1500, 0, 500] and book.expired_cents.tolist() == [1000, 0, 500]


def test_of_equal_end_days_the_smaller_face_value_is_spent_first():
    book = VoucherBook(1)
    book.issue(np.array([0]), np.array([1]), end_day=50, face_cents=1000)
    book.issue(np.array([0]), np.array([1]), end_day=50, face_cents=300)
    book.issue(np.array([0]), np.array([1]), end_day=40, face_cents=2000)
    # spending order: (40, 20.00), (50, 3.00), (50, 10.00)
    assert [int(book.use(np.array([0]))[0]) for _ in range(3)] == [2000, 300, 1000]
    assert book.held.tolist() == [0] and book.used_cents.tolist() == [3300]
