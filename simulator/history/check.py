"""Replay one customer through the reference interpreter, and compare with the engine's replay.

Takes: a `Feed`, the program, the `ReplayOptions` and a customer number (or a sample of
them with a `HistoryResult`). Gives: `interpreter_ledger` — that customer's ledger from
`rulelang.run.interpreter.run` over their own events (`history.interpreter_events`), with the
redemption policy applied by the interpreter itself: after each purchase, the customer's
available balance is read from a run of the interpreter up to that purchase, and the
reward (or the largest allowed points payment) is added as an event right after it when
the balance covers it — so both the semantics and the policy are checked independently of
the engine; and `compare_sample`, the list of disagreements (empty when every ledger field,
the discount, perk, reward, voucher and points-payment cents and the final tier agree).

Customers are independent in a replay but for global budgets, which this check does not
share between customers (a program with a budget is compared only when no budget runs out).
Slow by design (a run per purchase): for tests and `loyalty replay --check N` on a sample.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from rulelang import ir

from simulator.model.strings import StringTable
from simulator.history.feed import Feed, ReplayOptions, interpreter_events
from simulator.history.replay_engine import LEDGER, HistoryResult, pick_reward


def _customer(program: ir.Program, feed: Feed, c: int):
    from rulelang import Customer
    from rulelang import normalize

    from simulator.model.draws import NON_LEAP_MONTH_START

    doy = int(feed.bday_doy[c])
    birthday = None
    if doy >= 0:
        m = int(np.searchsorted(NON_LEAP_MONTH_START, doy, side="right"))
        birthday = (m, doy - int(NON_LEAP_MONTH_START[m - 1]) + 1)
    attrs = {}
    for name, t in program.attributes:
        raw = feed.attributes.get(name)
        value = raw[c] if raw is not None else None
        if t == "money" and value is not None:
            value = int(round(float(value) * 100))
        attrs[name] = normalize(value, t) if value is not None else {"string": "", "bool": False}.get(t, 0)
    return Customer(birthday=birthday, attributes=attrs)


def interpreter_ledger(program: ir.Program, feed: Feed, c: int, strings: StringTable,
                       options: ReplayOptions = ReplayOptions()) -> dict | None:
    """Customer `c`'s ledger by the interpreter, None when they never joined."""
    from rulelang import Event, run

    events = interpreter_events(feed, c, strings)
    join = int(feed.enroll_day[c])
    if join >= feed.days:
        return None
    start = feed.start + dt.timedelta(days=join)
    end = feed.end
    customer = _customer(program, feed, c)
    reward = pick_reward(program, options) if options.redeem == "when-affordable" else None
    pwp = program.pay_with_points if (options.redeem == "when-affordable" and reward is None) else None
    # a voucher with a life the customer holds is spent at each purchase (after any redemption)
    uses = options.redeem == "when-affordable" and ir.vouchers_with_a_life(program)
    if reward is not None or pwp is not None or uses:
        done: list = []
        for ev in events:
            done.append(ev)
            if ev.kind != "purchase":
                continue
            if reward is not None or pwp is not None:
                _redeem_after(program, done, ev, customer, start, reward, pwp)
            if uses:
                held = run(program, done, customer, until=ev.date, start=start).vouchers
                if held is not None and held.outstanding > 0:
                    done.append(Event("use_voucher", ev.at))
        events = done
    res = run(program, events, customer, until=end, start=start)
    out = {k: getattr(res, k) for k in LEDGER}
    out["tier"] = res.tier
    if program.balances:  # balances beside the points, as the replay records them
        out["balances"] = {name: {"issued": t.issued, "expired": t.expired, "reversed": t.reversed,
                                  "outstanding": t.outstanding} for name, t in res.balances.items()}
    return out


def _redeem_after(program: ir.Program, done: list, ev, customer, start: dt.date, reward, pwp) -> None:
    """The `when-affordable` redemption (or points payment) right after purchase `ev`, appended to `done`."""
    from rulelang import Event, run

    available = run(program, done, customer, until=ev.date, start=start).available
    if reward is not None:
        if available >= reward.price:
            done.append(Event("redeem", ev.at, None, reward.name))
    elif pwp is not None and available >= pwp.minimum_balance:
        share = ev.amount_cents * pwp.max_share.numerator // (100 * pwp.max_share.denominator)
        cents = min(share, available * pwp.cents // pwp.points)
        if cents > 0:
            done.append(Event("pay", ev.at, cents, None, {"basket_cents": ev.amount_cents}))

def compare_sample(result: HistoryResult, program: ir.Program, feed: Feed, strings: StringTable,
                   customers, options: ReplayOptions = ReplayOptions()) -> list[str]:
    """Disagreements between the engine's replay and the interpreter on `customers`."""
    problems = []
    for c in customers:
        c = int(c)
        expected = interpreter_ledger(program, feed, c, strings, options)
        if expected is None:
            continue
        got = result.ledger_of(c)
        for k, v in expected.items():
            if got[k] != v:
                problems.append(f"customer {feed.customer_ids[c]}: {k} replay={got[k]} interpreter={v}")
    return problems


__all__ = ["compare_sample", "interpreter_ledger"]
