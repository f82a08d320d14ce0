"""The steps of a day that a simulated population and a replayed history share: who signs up
and who has a birthday on a day, the order book's opening of orders that earned points, and
the reversal of a returned order's points.

Takes: per-customer keys sorted once (`day_order`), the calendar date, a `ProgramArm` and its
plan. Gives: sorted customer arrays, the order ids a purchase opens, the points a return
reverses. Used by simulator.engine.day_events (the day loop) and simulator.history.replay_engine
(the replay of transactions), so that both read the same rules the same way.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from simulator.model.draws import NON_LEAP_MONTH_START


def day_order(keys: np.ndarray, days: int) -> tuple[np.ndarray, np.ndarray]:
    """(customers sorted by `keys`, where each key value 0..`days` starts): the index
    `on_day` reads (an enrolment day, a birthday's day of the year)."""
    order = np.argsort(keys, kind="stable")
    return order, np.searchsorted(keys[order], np.arange(days + 1))


def on_day(order: np.ndarray, bounds: np.ndarray, key: int) -> np.ndarray:
    """The customers whose key is `key`, sorted (empty when none)."""
    return np.sort(order[bounds[key]:bounds[key + 1]])


def birthdays_on(date: dt.date, order: np.ndarray, bounds: np.ndarray, enroll: np.ndarray, day: int) -> np.ndarray:
    """The members (enrolled on or before `day`) whose birthday is `date`, sorted; a birthday on
    29 February is kept on 28 February (day of a 365-day year), so nobody has one on the 29th."""
    if (date.month, date.day) == (2, 29):
        return np.zeros(0, dtype=np.int64)
    who = on_day(order, bounds, int(NON_LEAP_MONTH_START[date.month - 1] + date.day - 1))
    return who[enroll[who] <= day]


def open_orders(arm, cust: np.ndarray, day: int, earned: np.ndarray) -> np.ndarray:
    """Open a row in the order book for each order of `cust` that just earned `earned` points
    (called right after the purchase, while its lots are the customer's newest); its ids."""
    lots = arm.lots
    return lots.book.open(cust, day, arm.plan.slot_of_day(day), lots.held(cust), earned)


def reversal_target(returned: np.ndarray, whole: np.ndarray, earned: np.ndarray) -> np.ndarray:
    """The points a return takes back (docs/semantics.md §6): all the order earned when the
    whole order comes back, else its share returned / whole, rounded down."""
    return np.where(returned >= whole, earned, earned * returned // np.maximum(whole, 1))


def reverse_orders(arm, cust: np.ndarray, target: np.ndarray, order_day: np.ndarray, book_id: np.ndarray,
                   day: int, keep_open: np.ndarray | None = None) -> np.ndarray:
    """Reverse `target` points of one returned order per customer of `cust` (earned on
    `order_day`, order book row `book_id`), booked to the arm's reversed points; what each
    reversal took."""
    plan = arm.plan
    slots = order_day if plan.granularity != "month" else plan.month_of_day[order_day].astype(np.int64)
    done = arm.lots.reverse(cust, target, order_day, slots, book_id, day, keep_open=keep_open)
    arm.reversed[cust] += done
    return done


__all__ = ["birthdays_on", "day_order", "on_day", "open_orders", "reversal_target", "reverse_orders"]
