"""The reference interpreter: the definition of what a compiled program does to one customer.

Takes: an `ir.Program`, one customer's time-ordered `Event`s, an optional
starting state (`Customer`), an optional last calendar day (`until`) and an
optional shared global `BudgetState`.
Gives: a `Result` (rulelang.run.trace) — the ledger of lots and entries, a trace
of every event (which rules fired with how many points, why the others did
not), the calendar work done, tier changes, totals and costs.

Exact and deterministic: points are integers, money integer cents, rates and
multipliers `Fraction`s, rounding by the rule's mode (docs/semantics.md §4-§8).
The ledger identity `issued = redeemed + expired + reversed + outstanding` is
verified after every step (`LedgerInvariantError` if it ever breaks — a bug).
Bad input (events out of order, unknown event kinds, rewards or perks) raises
`EvaluationError` carrying a `Diagnostic` (codes RL5xx).
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from typing import Hashable, Iterable, Mapping, Sequence

from rulelang import ir
from rulelang.fields import ACTION_EVENTS, FED_EVENTS, FIELDS, BuiltinField
from rulelang.run.calendar import add_months, clamped_date, days_from_birthday, is_period_start, lot_expiry_date, month_index
from rulelang.run.conditions import LINES_KEY, Formatter, holds, money, number
from rulelang.diagnostics import NO_SPAN, Diagnostic, EvaluationError, Span, did_you_mean
from rulelang.run.earning import EarnOutcome, evaluate_rules
from rulelang.run.state import BudgetState, Customer, Event
from rulelang.run.ledger import OPENING_BALANCE, Entry, Ledger, LedgerInvariantError
from rulelang.run.trace import Result, RuleTrace, TierChange, TraceStep, VoucherTotals
from rulelang.run.vouchers import Wallet, voucher_end
from rulelang.run.balances import BalanceBook, expires_today
from rulelang.run.undo import Moved, share

__all__ = [
    "BudgetState", "Customer", "Event", "EvaluationError", "LedgerInvariantError", "Result", "run",
    "OPENING_BALANCE", "run_together",
]

# The built-in fields an event's `fields` carry, with their defaults (the amount is `amount_cents`).
_CARRIED_FIELDS = tuple(f for f in FIELDS if f.interpreter_key is not None)

OUT_OF_ORDER = "RL501"
UNKNOWN_EVENT = "RL502"
UNKNOWN_NAME = "RL503"
NOTHING_TO_RUN = "RL504"
BAD_EVENT = "RL505"
NO_VOUCHER = "RL264"


# ---------------------------------------------------------------- entry point


def run(program: ir.Program, events: Iterable[Event], customer: Customer | None = None,
        until: dt.date | None = None, budgets: BudgetState | None = None, *,
        start: dt.date | None = None) -> Result:
    """Apply `program` to one customer's events (time-ordered), with calendar work for
    every day from the first event's date (or `start`, when earlier) to `until`
    (default: the last event's date). The given `customer` state holds at the start."""
    return _Run(program, list(events), customer or Customer(), until, budgets or BudgetState(), start).execute()


def run_together(program: ir.Program, customers: Sequence[tuple[Sequence[Event], Customer | None]],
                 order: Iterable[int], until: dt.date | None = None,
                 budgets: BudgetState | None = None) -> list[Result]:
    """Several customers under one program, sharing one `BudgetState` (a global budget), their
    events interleaved: `order` names, event by event, whose next event comes next (each
    customer's own events are taken in their order). Each customer's run is what `run` gives
    for them alone but for the budget. The interleaving must not go back in time (RL501)."""
    shared = budgets if budgets is not None else BudgetState()
    runs = [_Run(program, list(events), customer or Customer(), until, shared) for events, customer in customers]
    for r in runs:
        r.begin()
    taken = [0] * len(runs)
    last: dt.datetime | None = None
    for who in order:
        events = runs[who].events
        if taken[who] >= len(events):
            raise _error(OUT_OF_ORDER, f"customer {who} has no event left to take", None,
                         "give each customer's index in `order` once per event of theirs")
        event = events[taken[who]]
        if last is not None and event.at < last:
            raise _error(OUT_OF_ORDER, f"customer {who}'s event at {event.at} comes after one at {last}",
                         event.span, "interleave the customers' events in time order")
        last = event.at
        runs[who].step(event)
        taken[who] += 1
    left = [i for i, r in enumerate(runs) if taken[i] != len(r.events)]
    if left:
        raise _error(OUT_OF_ORDER, f"`order` leaves events of customer(s) {left} untaken", None,
                     "give each customer's index in `order` once per event of theirs")
    return [r.finish() for r in runs]


def _error(code: str, message: str, span: Span | None, hint: str | None = None) -> EvaluationError:
    return EvaluationError([Diagnostic(code, "error", message, span or NO_SPAN, hint)])


def _as_number(value: object) -> Fraction | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    try:
        return Fraction(str(value))
    except (ValueError, TypeError):
        return None


def _builtin_value(b: BuiltinField, value: object) -> object:
    """A built-in field's given (or default) value as conditions compare it (numbers as Fraction)."""
    return _as_number(value) if b.type == "number" else value


def normalize(value: object, type_: str) -> object:
    """A given attribute or event field as conditions compare it (numbers as Fraction, money as cents)."""
    if value is None:
        return None
    if type_ == "number":
        return _as_number(value)
    if type_ == "money":
        cents = _as_number(value)
        if cents is None:
            return None
        return int(cents) if cents.denominator == 1 else cents
    if type_ == "bool":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        return value if isinstance(value, dt.date) else None
    return value if isinstance(value, str) else str(value)


# ---------------------------------------------------------------- the run


class _Run:
    """Mutable state of one customer's run; `execute` drives it day by day."""

    def __init__(self, program: ir.Program, events: list[Event], customer: Customer,
                 until: dt.date | None, budgets: BudgetState, start: dt.date | None = None):
        self.p = program
        self.start = start
        self.events = events
        self.customer = customer
        self.until = until
        self.budgets = budgets
        self.rules = sorted(program.rules, key=lambda r: (-r.priority, r.order))
        self.tiers = program.tiers
        self.tier_names = [t.name for t in self.tiers.tiers] if self.tiers else []
        self.fmt = Formatter(program.currency, self.tier_names)
        self.custom = {e.name: dict(e.fields) for e in program.events}
        self.attribute_types = dict(program.attributes)
        self.rewards = {r.name: r for r in program.rewards}
        self.ledger = Ledger()
        self.books = {b.name: BalanceBook(b.name) for b in program.balances}
        self.trace: list[TraceStep] = []
        self.tier_history: list[TierChange] = []
        self.tier: int | None = None
        self.tier_since: dt.date | None = None
        self.grace_start: dt.date | None = None
        self.status_year: int | None = None  # the qualification year of the status held (status dates)
        self.metric_buckets: dict[int, Fraction] = {}
        self.purchases = customer.purchases
        self.counters: dict[str, Fraction] = {c.name: Fraction(customer.counters.get(c.name, 0))
                                              for c in program.counters}
        self.last_activity: dt.date | None = None
        self._redeemed_now = False  # the current event redeemed points (activity)
        self._metric_moved = False  # the current event changed the tier metric (status dates)
        self.day: dt.date | None = None
        self.orders: dict[str, tuple[int, Mapping[str, object]]] = {}
        self.order_reversed: dict[str, int] = {}
        self.last_purchase: tuple[dt.date, int] | None = None
        # per-rule counters of the earning rules (every Nth, streaks, caps and limits)
        self.nth_counts: dict[str, int] = {}
        self.streaks: dict[str, tuple[int, int]] = {}
        self.cap_usage: dict[tuple[str, int], tuple[Hashable, int]] = {}
        self.fired: set[str] = set()
        self._expiry_key: tuple[object, ...] | None = None
        self._expiry_next = dt.date.max
        self.points_by_rule: dict[str, int] = {}
        self.cents = {"discount": 0, "perk": 0, "reward": 0, "voucher": 0, "points_payment": 0}
        self.wallet = Wallet() if ir.vouchers_with_a_life(program) else None
        self.cents = {"discount": 0, "perk": 0, "reward": 0, "voucher": 0, "points_payment": 0,
                      "discount_refunded": 0}
        self.moved: dict[str, Moved] = {}  # what each purchase with an id added (returns undo it)

    # ------------------------------------------------------------ driving

    def execute(self) -> Result:
        self.begin()
        for event in self.events:
            self.step(event)
        return self.finish()

    def begin(self) -> None:
        """Check the events, open the run and do the first day's calendar work."""
        self._validate()
        if self.events:
            start = min(self.events[0].date, self.start or self.events[0].date)
            end = max(self.events[-1].date, self.until or self.events[-1].date)
        else:
            if self.until is None and self.start is None:
                raise _error(NOTHING_TO_RUN, "no events and no `until` date: there is nothing to run", None,
                             "give at least one event, or a last calendar day with `until`")
            end = self.until or self.start  # type: ignore[assignment]
            start = min(self.start or end, end)
        self._open(start)
        self.day = start
        self._calendar(start)
        self._span = (start, end)

    def step(self, event: Event) -> None:
        """Calendar work up to the event's day, then the event."""
        self._advance_to(event.date)
        self._event(event)

    def finish(self) -> Result:
        """Calendar work up to the last day; the result."""
        start, end = self._span
        self._advance_to(end)
        return self._result(start, end)

    def _advance_to(self, target: dt.date) -> None:
        day = self.day or target
        while day < target:
            day += dt.timedelta(days=1)
            self.day = day
            self._calendar(day)

    # ------------------------------------------------------------ validation

    def _validate(self) -> None:
        known = set(FED_EVENTS) | set(self.custom)
        perk_names = {a.name for r in self.p.rules for a in r.actions if isinstance(a, ir.PerkAction)}
        if self.tiers:
            perk_names |= {perk.name for t in self.tiers.tiers for perk in t.perks}
        previous: Event | None = None
        for ev in self.events:
            if not isinstance(ev.at, dt.datetime):
                raise _error(BAD_EVENT, f"{ev.kind} event has no valid date", ev.span)
            if previous is not None and ev.at < previous.at:
                raise _error(OUT_OF_ORDER, f"events out of order: {ev.kind} on {ev.at:%Y-%m-%d %H:%M} comes after "
                             f"{previous.kind} on {previous.at:%Y-%m-%d %H:%M}", ev.span,
                             "give the events in time order")
            previous = ev
            if ev.kind not in known:
                raise _error(UNKNOWN_EVENT, f"unknown event type `{ev.kind}`", ev.span,
                             did_you_mean(ev.kind, known) or "declare it with `event NAME { ... }`")
            if ev.amount_cents is not None and (not isinstance(ev.amount_cents, int) or ev.amount_cents < 0):
                raise _error(BAD_EVENT, f"{ev.kind} amount must be whole cents, 0 or more", ev.span)
            if ev.kind == "purchase" and ev.amount_cents is None:
                raise _error(BAD_EVENT, "a purchase needs an amount", ev.span, "e.g. `purchase 7.40 USD`")
            if ev.kind == "purchase":
                shipping = ev.fields.get("shipping_cents", 0)
                if not isinstance(shipping, int) or not 0 <= shipping <= (ev.amount_cents or 0):
                    raise _error(BAD_EVENT, "shipping must be whole cents between 0 and the amount", ev.span)
            if ev.kind == "redeem" and ev.name not in self.rewards:
                raise _error(UNKNOWN_NAME, f"unknown reward `{ev.name}`", ev.span,
                             did_you_mean(str(ev.name), self.rewards) or
                             ("rewards: " + ", ".join(self.rewards) if self.rewards else "the program has no rewards"))
            if ev.kind == "pay":
                if self.p.pay_with_points is None:
                    raise _error(UNKNOWN_NAME, "the program has no `pay with points`", ev.span)
                if not ev.amount_cents:
                    raise _error(BAD_EVENT, "paying with points needs an amount", ev.span, "e.g. `pay 5 USD with points`")
            if ev.kind == "use_perk" and ev.name not in perk_names:
                raise _error(UNKNOWN_NAME, f"unknown perk `{ev.name}`", ev.span,
                             did_you_mean(str(ev.name), perk_names) or "perks: " + (", ".join(sorted(perk_names)) or "none"))
        c = self.customer
        if not isinstance(c.balance, int) or c.balance < 0:
            raise _error(BAD_EVENT, "the opening balance must be a whole number of points, 0 or more", None)
        if c.tier is not None and c.tier not in self.tier_names:
            raise _error(UNKNOWN_NAME, f"unknown tier `{c.tier}`", None,
                         did_you_mean(c.tier, self.tier_names) or
                         ("tiers: " + ", ".join(self.tier_names) if self.tier_names else "the program has no tiers"))

    # ------------------------------------------------------------ opening state

    def _open(self, start: dt.date) -> None:
        c = self.customer
        opening_day = start - dt.timedelta(days=1)
        self.last_activity = opening_day
        if c.balance > 0:
            self.ledger.earn(OPENING_BALANCE, None, opening_day, opening_day, c.balance, "given balance")
        for name, amount in c.balances.items():
            if name in self.books and amount > 0:
                self.books[name].open(amount)
        if self.tiers:
            metric = _as_number(c.metric) or Fraction(0)
            if not metric and self.tiers.metric in c.counters:  # `given counter NAME N` for the counter tiers go by
                metric = Fraction(c.counters[self.tiers.metric])
            if metric:
                self.metric_buckets[month_index(start)] = metric
            if c.tier is not None:
                self.tier = self.tier_names.index(c.tier)
            else:
                self.tier = self._qualified(metric)
            self.tier_since = start
            self.status_year = start.year

    # ------------------------------------------------------------ tiers

    def _metric_as_of(self, day: dt.date) -> Fraction:
        if self.tiers is None:
            return Fraction(0)
        last = month_index(day)
        if self.tiers.window == "calendar_year":
            first = day.year * 12
        elif self.tiers.window == "rolling":
            first = last - (self.tiers.window_months or 12) + 1
        else:
            first = -(10 ** 9)
        return sum((v for k, v in self.metric_buckets.items() if first <= k <= last), Fraction(0))

    def _qualified(self, metric: Fraction) -> int:
        best = 0
        for i, tier in enumerate(self.tiers.tiers if self.tiers else ()):
            if metric >= tier.threshold:
                best = i
        return best

    def _metric_text(self, value: Fraction) -> str:
        metric_name = self.tiers.metric if self.tiers else "metric"
        if metric_name == "spend":
            return f"spend {money(value, self.p.currency)}"
        if metric_name == "points":
            return f"{number(value)} {self.p.points_unit} earned"
        return f"{metric_name} {number(value)}"

    def _set_tier(self, new: int, day: dt.date, reason: str, notes: list[str]) -> None:
        old = self.tier_names[self.tier] if self.tier is not None else None
        self.tier = new
        self.tier_since = day
        self.grace_start = None
        self.status_year = day.year
        self.tier_history.append(TierChange(day, old, self.tier_names[new], reason))
        self.ledger.book(Entry(day, "tier", 0, 0, self.tier_names[new], None, f"{old} -> {self.tier_names[new]}: {reason}"))
        notes.append(f"tier {old} -> {self.tier_names[new]}: {reason}")

    def _review(self, day: dt.date, notes: list[str]) -> None:
        ts = self.tiers
        if ts is None or self.tier is None or ts.review == "never" or not is_period_start(ts.review, day):
            return
        metric = self._metric_as_of(day - dt.timedelta(days=1))
        qualified = self._qualified(metric)
        current = self.tier
        if qualified >= current:
            if self.grace_start is not None:
                notes.append(f"review: {self._metric_text(metric)} keeps {self.tier_names[current]}; grace ends")
            self.grace_start = None
            return
        if ts.downgrade == "never":
            return
        since = self.tier_since or day
        if since >= day or add_months(since, ts.validity_months) > day:
            until = "began today" if since >= day else f"is valid until {add_months(since, ts.validity_months)}"
            notes.append(f"review: {self._metric_text(metric)} qualifies for {self.tier_names[qualified]}, "
                         f"but the {self.tier_names[current]} status {until}")
            return
        if ts.grace_months:
            if self.grace_start is None:
                self.grace_start = day
                notes.append(f"review: {self._metric_text(metric)} qualifies for {self.tier_names[qualified]}; "
                             f"grace of {ts.grace_months} months starts")
                return
            if add_months(self.grace_start, ts.grace_months) > day:
                notes.append(f"review: still below {self.tier_names[current]}, in grace since {self.grace_start}")
                return
        target = {"one_step": current - 1, "to_base": 0, "to_qualified": qualified}[ts.downgrade]
        self._set_tier(target, day, f"review: {self._metric_text(metric)} qualifies for "
                                    f"{self.tier_names[qualified]}, downgrade {ts.downgrade.replace('_', ' ')}", notes)

    def _status_end(self, day: dt.date, notes: list[str]) -> None:
        """Status dates (§5): the day after a status's last day (month-day `status_through` of its
        qualification year + `status_years`), before that day's events, the customer keeps the
        tier if the metric as of the end of the last day still earns it (the status is then
        earned in that year), else drops: `to_qualified` to the tier that metric earns (earned
        in that year), `one_step` one tier down (valid through the same date a year later)."""
        ts = self.tiers
        if ts is None or ts.status_through is None or self.tier is None or not self.tier or self.status_year is None:
            return
        last = day - dt.timedelta(days=1)
        if last != clamped_date(self.status_year + ts.status_years, *ts.status_through):
            return
        metric = self._metric_as_of(last)
        qualified = self._qualified(metric)
        current = self.tier
        if qualified >= current:
            self.status_year = last.year
            notes.append(f"status date {last}: {self._metric_text(metric)} keeps {self.tier_names[current]}, "
                         f"earned in {last.year}")
            return
        year = self.status_year
        target = qualified if ts.status_drop == "to_qualified" else current - 1
        self._set_tier(target, day, f"status ended {last}: {self._metric_text(metric)} qualifies for "
                                    f"{self.tier_names[qualified]}, "
                                    f"{'to qualified' if ts.status_drop == 'to_qualified' else 'one step'}", notes)
        self.status_year = last.year if ts.status_drop == "to_qualified" else year + 1

    def upgrade(self, day: dt.date, notes: list[str]) -> None:
        """§4.2 step 11: a metric that now qualifies for a higher tier moves the customer up at once.
        With status dates, a metric that reaches the tier held earns the status again this year."""
        if self.tiers is None or self.tier is None:
            return
        metric = self._metric_as_of(day)
        qualified = self._qualified(metric)
        if self.tiers.status_through is not None and qualified == self.tier and self._metric_moved:
            self.status_year = day.year
        if qualified > self.tier:
            threshold = self.tiers.tiers[qualified].threshold
            needed = money(threshold, self.p.currency) if self.tiers.metric == "spend" else number(threshold)
            self._set_tier(qualified, day, f"reached {self._metric_text(metric)} (needs {needed})", notes)

    def current_tier(self) -> ir.Tier | None:
        if self.tiers is None or self.tier is None:
            return None
        return self.tiers.tiers[self.tier]

    # ------------------------------------------------------------ calendar work

    def _expiry_policies(self) -> Sequence[ir.Expiry]:
        tier = self.current_tier()
        if tier is not None and tier.expiry is not None:
            return tier.expiry
        return self.p.expiry

    def _calendar(self, day: dt.date) -> None:
        notes: list[str] = []
        unit = self.p.points_unit
        # 1. pending lots mature
        matured = 0
        if self.p.pending_days:
            matured = sum(lot.remaining for lot in self.ledger.live_lots()
                          if lot.available_on == day and lot.earned_on < day)
        if matured:
            notes.append(f"{matured} {unit} became spendable")
        # 2. expiry
        policies = self._expiry_policies()
        key = (id(policies), self.last_activity, len(self.ledger.lots))
        if policies and (key != self._expiry_key or day >= self._expiry_next):
            # due dates depend only on the policies in force, the last activity and the lots:
            # while none of these change, nothing can expire before the earliest due date
            upcoming = dt.date.max
            for lot in list(self.ledger.live_lots()):
                due = lot_expiry_date(policies, lot.earned_on, self.last_activity)
                if due is not None and due <= day:
                    points = self.ledger.expire_lot(lot, day, f"due {due}")
                    notes.append(f"expired {points} {unit} of lot {lot.id} ({lot.rule}, earned {lot.earned_on})")
                elif due is not None:
                    upcoming = min(upcoming, due)
            self._expiry_key, self._expiry_next = key, upcoming
        # 2b. balances beside the points that expire all at once today
        for balance in self.p.balances:
            if expires_today(balance, day) and self.books[balance.name].outstanding > 0:
                notes.append(f"expired {self.books[balance.name].expire_all()} {balance.name} (all of it)")
        # 3. tier review
        self._review(day, notes)
        self._status_end(day, notes)
        # 4. automatic conversion into vouchers
        conv = self.p.conversion
        if self.wallet is not None:
            before = self.wallet.expired_cents
            gone = self.wallet.expire(day)
            if gone:
                notes.append(f"{gone} voucher(s) worth {money(self.wallet.expired_cents - before, self.p.currency)} "
                             "expired unused")
        if conv is not None and conv.points > 0 and conv.runs_on(day):
            available = self.ledger.available(day)
            vouchers = available // conv.points if available > 0 else 0
            if vouchers:
                burned, cents = vouchers * conv.points, vouchers * conv.voucher_cents
                # a voucher with a life costs when used (`_use_voucher`); one without, at issue
                booked = 0 if conv.valid is not None else cents
                self.ledger.burn_available(burned, day, "voucher", "voucher", booked,
                                           f"{vouchers} x {money(conv.voucher_cents, self.p.currency)} voucher")
                self.cents["voucher"] += booked
                valid = ""
                if conv.valid is not None and self.wallet is not None:
                    end = voucher_end(conv.valid, conv.valid_unit, day)
                    self.wallet.issue(end, conv.voucher_cents, vouchers)
                    valid = f", valid until {end - dt.timedelta(days=1)}"
                notes.append(f"converted {burned} {unit} into {vouchers} voucher(s) worth "
                             f"{money(cents, self.p.currency)}{valid}; {available - burned} roll over")
        # 5. per-period tier perk costs
        tier = self.current_tier()
        if tier is not None:
            for perk in tier.perks:
                if (perk.per == "month" and day.day == 1) or (perk.per == "year" and day.day == 1 and day.month == 1):
                    self.book_perk(day, perk.name, perk.cost_cents, f"per {perk.per} for tier {tier.name}")
                    notes.append(f"perk {perk.name} ({tier.name}, per {perk.per}) costs "
                                 f"{money(perk.cost_cents, self.p.currency)}")
        # 6. cap periods roll over: usage is keyed by period, nothing to do
        if notes:
            self.trace.append(TraceStep(day, "calendar", "calendar work", notes=tuple(notes)))

    def book_perk(self, day: dt.date, name: str, cents: int, note: str) -> None:
        self.cents["perk"] += cents
        self.ledger.book(Entry(day, "perk", 0, cents, name, None, note))

    # ------------------------------------------------------------ events

    def _reader(self, ev: Event, amount: int | None) -> dict[str, object]:
        """The values conditions read, as of before the event."""
        f = ev.fields
        if ev.kind == "return" and str(ev.name) in self.orders:  # a return reads its order's basket fields
            f = {**self.orders[str(ev.name)][1], **ev.fields}
        values: dict[str, object] = {
            "amount": amount,
            **{b.name: _builtin_value(b, f.get(str(b.interpreter_key), b.default)) for b in _CARRIED_FIELDS},
            "weekday": ev.at.weekday(),
            "hour": Fraction(ev.at.hour),
            "date": ev.date,
            "month": Fraction(ev.date.month),
            "first_purchase": self.purchases == 0,
            "purchases": Fraction(self.purchases),
            "tier": self.tier,
            "days_from_birthday": Fraction(days_from_birthday(ev.date, self.customer.birthday)),
            "balance": Fraction(self.ledger.outstanding),
            "role": f.get("role") or (ev.name if ev.kind == "referral" else None),
        }
        values[LINES_KEY] = _line_values(ev, values, self.p.line_attributes)
        for name, type_ in self.attribute_types.items():
            values[f"customer.{name}"] = normalize(self.customer.attributes.get(name), type_)
        for name, type_ in self.custom.get(ev.kind, {}).items():
            value = normalize(f.get(name), type_)
            values[f"event.{name}"] = value
            values.setdefault(name, value)
        for name, value in self.counters.items():
            values[f"counter.{name}"] = value
            values.setdefault(name, value)
        return values

    def _event(self, ev: Event) -> None:
        day = ev.date
        notes: list[str] = []
        rules: tuple[RuleTrace, ...] = ()
        amount = ev.amount_cents
        if ev.kind == "return":
            amount = self._returned_amount(ev)
        values = self._reader(ev, amount)
        if ev.kind == "return":
            self._reverse(ev, amount, notes)
        earned = 0
        outcome: EarnOutcome | None = None
        self._redeemed_now = False
        if ev.kind not in ACTION_EVENTS:
            outcome = evaluate_rules(self, ev, values, amount or 0)
            rules = outcome.traces
            earned = outcome.points
            notes.extend(outcome.notes)
        elif ev.kind == "redeem":
            before = self.ledger.redeemed
            self._redeem(ev, notes)
            self._redeemed_now = self.ledger.redeemed > before
        elif ev.kind == "pay":
            before = self.ledger.redeemed
            self._pay(ev, notes)
            self._redeemed_now = self.ledger.redeemed > before
        elif ev.kind == "use_voucher":
            self._use_voucher(ev, notes)
        else:
            self._use_perk(ev, notes)
        self.counters_and_metrics(ev, values, outcome, earned)
        self.upgrade(day, notes)
        if ev.kind == "return" and self._undo(ev, amount, notes):
            self._requalify(day, notes)
        self.trace.append(TraceStep(day, ev.kind, self._describe(ev, amount), ev.at, ev.id, rules, tuple(notes)))

    def counters_and_metrics(self, ev: Event, values: dict[str, object], outcome: EarnOutcome | None,
                             earned: int) -> None:
        """§4.2 step 10: the purchase count, declared counters (their conditions read the values
        of before the event), the tier metric, the last activity."""
        day = ev.date
        metric_name = self.tiers.metric if self.tiers else None
        increment = Fraction(0)
        if ev.kind == "purchase":
            self.purchases += 1
            net = outcome.net_cents if outcome is not None else (ev.amount_cents or 0)
            self.last_purchase = (day, ev.amount_cents or 0)
            if ev.id is not None:
                self.orders[ev.id] = (ev.amount_cents or 0, ev.fields)
            if metric_name == "spend":
                before = (ev.amount_cents or 0) - int(ev.fields.get("shipping_cents", 0) or 0)  # type: ignore[call-overload]
                increment += before if self.tiers.spend_before_discounts else net  # type: ignore[union-attr]
            elif metric_name == "purchases":
                increment += 1
        moved = Moved(month=month_index(day), discount=outcome.discount_cents if outcome is not None else 0)
        for counter in self.p.counters:
            if counter.event == ev.kind and holds(counter.condition, values.get):
                step = _as_number(values.get(counter.sums)) if counter.sums else Fraction(1)
                step = step or Fraction(0)
                self.counters[counter.name] = self.counters.get(counter.name, Fraction(0)) + step
                moved.counters[counter.name] = step
                if metric_name == counter.name:
                    increment += step
        if metric_name == "points":
            increment += earned
        elif metric_name in self.books and outcome is not None:
            increment += outcome.balances.get(metric_name, 0)
        self._metric_moved = bool(increment)
        if ev.kind == "purchase" and ev.id is not None:
            moved.metric = increment
            self.moved[ev.id] = moved
        if increment and self.tiers is not None:
            key = month_index(day)
            self.metric_buckets[key] = self.metric_buckets.get(key, Fraction(0)) + increment
        act = self.p.activity
        if (("purchase" in act and ev.kind == "purchase") or ("earning" in act and earned > 0)
                or ("redemption" in act and self._redeemed_now)):
            self.last_activity = day

    def _describe(self, ev: Event, amount: int | None) -> str:
        parts = [ev.kind.replace("_", " ")]
        if ev.kind == "return":
            parts.append(f"of {ev.name}")
        elif ev.name is not None:
            parts.append(str(ev.name))
        if amount is not None:
            parts.append(money(amount, self.p.currency))
        for key, value in ev.fields.items():
            if key == "shipping_cents":
                parts.append(f"shipping {money(int(value), self.p.currency)}")  # type: ignore[call-overload]
            elif key == "role" and ev.kind == "referral" and ev.name == value:
                continue
            else:
                parts.append(f"{key} {self.fmt.value(value)}")
        if ev.id is not None:
            parts.append(f"id {self.fmt.value(ev.id)}")
        if ev.lines:
            parts.append("{ " + "; ".join(
                " ".join([f"line {money(line.amount_cents, self.p.currency)}"]
                         + ([f"category {self.fmt.value(line.category)}"] if line.category is not None else [])
                         + ([f"quantity {line.quantity}"] if line.quantity else [])
                         + ([f"sku {self.fmt.value(line.sku)}"] if line.sku is not None else [])
                         + [f"{k} {self.fmt.value(v, dict(self.p.line_attributes).get(k))}" for k, v in line.attributes])
                for line in ev.lines) + " }")
        return " ".join(parts)

    def _unit(self, n: int) -> str:
        unit = self.p.points_unit
        if abs(n) == 1 and unit.endswith("s") and len(unit) > 1:
            unit = unit[:-1]
        return f"{n} {unit}"

    # ------------------------------------------------------------ returns and redemption

    def _returned_amount(self, ev: Event) -> int | None:
        """The returned amount: as given (at most the order's amount), or the whole order."""
        found = self.orders.get(str(ev.name))
        if found is None:
            return ev.amount_cents
        return found[0] if ev.amount_cents is None else min(ev.amount_cents, found[0])

    def _reverse(self, ev: Event, returned: int | None, notes: list[str]) -> None:
        """Reverse what the order earned, in proportion to the returned amount (§6)."""
        order = str(ev.name)
        found = self.orders.get(order)
        if found is None or returned is None:
            notes.append(f"no purchase with id {self.fmt.value(order)}: nothing to reverse")
            return
        order_amount = found[0]
        policy = self.p.returns
        if not policy.reverse:
            notes.append("this program does not reverse points on returns")
            return
        self._reverse_balances(ev, order, returned, order_amount, notes)
        own = [lot for lot in self.ledger.lots if lot.event_id == order and lot.rule != OPENING_BALANCE]
        earned = sum(lot.points for lot in own)
        if returned >= order_amount or order_amount == 0:
            target = earned
        else:
            target = earned * returned // order_amount
        target = min(target, earned - self.order_reversed.get(order, 0))
        if target <= 0:
            notes.append(f"order {order} earned {self._unit(earned)}: nothing (more) to reverse")
            return
        done, debt = self.ledger.reverse(target, ev.date, own, policy.negative_balance, order)
        self.order_reversed[order] = self.order_reversed.get(order, 0) + done
        note = (f"reversed {self._unit(done)} of the {self._unit(earned)} order {order} earned "
                f"(returned {money(returned, self.p.currency)} of {money(order_amount, self.p.currency)})")
        if debt:
            note += f"; the balance went {debt} below zero"
        if done < target:
            note += f"; {target - done} could not be reversed (negative balance forbidden)"
        notes.append(note)

    def _undo(self, ev: Event, returned: int | None, notes: list[str]) -> bool:
        """§6, after the return's own rules, counters and upgrade: the returned share of the order's
        discount is refunded (no longer a cost); with `returns lower tier metric and counters`, the
        returned share of what the purchase added to the tier metric (in its month), the counters
        and the purchase count is taken back. Returns whether the metric of the window fell."""
        moved = self.moved.get(str(ev.name))
        found = self.orders.get(str(ev.name))
        if moved is None or found is None or returned is None:
            return False
        whole, cur = found[0], self.p.currency
        back = share(moved.discount, returned, whole, moved.undone_discount)
        if back:
            moved.undone_discount += back
            self.cents["discount_refunded"] += back
            notes.append(f"refunded {money(back, cur)} of the {money(moved.discount, cur)} discount "
                         f"(no longer a cost)")
        if not self.p.returns.lower_metrics:
            return False
        taken: list[str] = []
        lower = share(moved.metric, returned, whole, moved.undone_metric)
        before = self._metric_as_of(ev.date) if self.tiers is not None else Fraction(0)
        if lower and self.tiers is not None:
            moved.undone_metric += lower
            self.metric_buckets[moved.month] = self.metric_buckets.get(moved.month, Fraction(0)) - lower
            taken.append(f"{money(lower, cur) if self.tiers.metric == 'spend' else number(Fraction(lower))} "
                         f"of {self.tiers.metric}")
        for name, step in moved.counters.items():
            dec = share(step, returned, whole, moved.undone_counters.get(name, Fraction(0)))
            if dec:
                moved.undone_counters[name] = moved.undone_counters.get(name, Fraction(0)) + dec
                self.counters[name] = self.counters.get(name, Fraction(0)) - dec
                taken.append(f"{dec} of counter {name}")
        if share(1, returned, whole, moved.undone_purchase):
            moved.undone_purchase = 1
            self.purchases = max(self.purchases - 1, 0)
            taken.append("the purchase from the purchase count")
        if taken:
            notes.append("the return took back " + ", ".join(taken))
        return self.tiers is not None and self._metric_as_of(ev.date) < before

    def _requalify(self, day: dt.date, notes: list[str]) -> None:
        """`returns lower tier at once`: after a return that lowered the metric of the window, a
        tier the metric no longer reaches is left at once for the tier it reaches (validity and
        grace do not hold it)."""
        ts = self.tiers
        if ts is None or self.tier is None or ts.on_return != "lower_at_once" or not self.p.returns.lower_metrics:
            return
        metric = self._metric_as_of(day)
        qualified = self._qualified(metric)
        if qualified < self.tier:
            self._set_tier(qualified, day, f"a return lowered the metric to {self._metric_text(metric)}", notes)

    def _reverse_balances(self, ev: Event, order: str, returned: int, order_amount: int, notes: list[str]) -> None:
        """The returned share of each balance the order raised (§6). A tier that goes by the balance
        loses it only with `returns lower tier metric and counters` (`_undo`), like any metric."""
        for name, book in self.books.items():
            done, earned = book.reverse(order, returned, order_amount)
            if not done:
                continue
            notes.append(f"reversed {done} {name} of the {earned} {name} order {order} earned")

    def _redeem(self, ev: Event, notes: list[str]) -> None:
        reward = self.rewards[str(ev.name)]
        available = self.ledger.available(ev.date)
        if available < reward.price:
            pending = self.ledger.pending(ev.date)
            why = f"refused: {reward.name} needs {self._unit(reward.price)}, {available} available"
            notes.append(why + (f" ({pending} pending)" if pending else ""))
            return
        self.ledger.burn_available(reward.price, ev.date, "redeem", reward.name, reward.cost_cents,
                                   f"reward {reward.name}")
        self.cents["reward"] += reward.cost_cents
        if reward.voucher_cents is not None and reward.valid is not None and self.wallet is not None:
            end = voucher_end(reward.valid, reward.valid_unit, ev.date)
            self.wallet.issue(end, reward.voucher_cents, 1)
            notes.append(f"redeemed {reward.name}: {self._unit(reward.price)} for a "
                         f"{money(reward.voucher_cents, self.p.currency)} voucher valid until "
                         f"{end - dt.timedelta(days=1)} (it costs when used)")
            return
        notes.append(f"redeemed {reward.name}: {self._unit(reward.price)}, costs "
                     f"{money(reward.cost_cents, self.p.currency)}")

    def _pay(self, ev: Event, notes: list[str]) -> None:
        pwp = self.p.pay_with_points
        if pwp is None:  # refused by _validate already
            return
        amount = ev.amount_cents or 0
        points = -(-amount * pwp.points // pwp.cents)  # rounded up
        available = self.ledger.available(ev.date)
        cur = self.p.currency
        if available < pwp.minimum_balance:
            notes.append(f"refused: balance below the minimum of {self._unit(pwp.minimum_balance)} "
                         f"({available} available)")
            return
        if pwp.max_share < 100:
            basket = ev.fields.get("basket_cents")
            if basket is None and self.last_purchase is not None and self.last_purchase[0] == ev.date:
                basket = self.last_purchase[1]
            if not isinstance(basket, int):
                notes.append(f"refused: no purchase on {ev.date} to pay {number(pwp.max_share)}% of")
                return
            if amount * 100 > pwp.max_share * basket:
                notes.append(f"refused: {money(amount, cur)} is more than {number(pwp.max_share)}% "
                             f"of the basket ({money(basket, cur)})")
                return
        if available < points:
            notes.append(f"refused: paying {money(amount, cur)} needs {self._unit(points)}, {available} available")
            return
        cost = math.floor(points * self.p.point_cost_cents + Fraction(1, 2))
        self.ledger.burn_available(points, ev.date, "redeem", "pay with points", cost,
                                   f"paid {money(amount, cur)} with points")
        self.cents["points_payment"] += cost
        notes.append(f"paid {money(amount, cur)} with {self._unit(points)}, costs {money(cost, cur)}")

    def _use_voucher(self, ev: Event, notes: list[str]) -> None:
        """A voucher with a life is spent: the one that expires first; its face value is booked as cost."""
        w = self.wallet
        if w is None:
            raise _error(NO_VOUCHER, "a voucher is used, but the program issues no vouchers with a validity", ev.span,
                         "give them a life: `convert ... into a 5 EUR voucher valid 2 years at end of quarter`")
        spent = w.use()
        if spent is None:
            raise _error(NO_VOUCHER, f"a voucher is used on {ev.date}, but the customer holds none (issued {w.issued}, "
                         f"used {w.used}, expired {w.expired})", ev.span,
                         "use a voucher only after a conversion or a reward has issued one, and before it expires")
        cents, last = spent
        self.cents["voucher"] += cents
        self.ledger.book(Entry(ev.date, "voucher", 0, cents, "voucher", None, "voucher used"))
        notes.append(f"used a {money(cents, self.p.currency)} voucher (valid until {last}): costs "
                     f"{money(cents, self.p.currency)}; {w.outstanding} left")

    def _use_perk(self, ev: Event, notes: list[str]) -> None:
        name = str(ev.name)
        tier = self.current_tier()
        perk = next((p for p in tier.perks if p.name == name), None) if tier else None
        if perk is not None and perk.per == "use":
            self.book_perk(ev.date, name, perk.cost_cents, f"per use, tier {tier.name}")  # type: ignore[union-attr]
            notes.append(f"perk {name} used: costs {money(perk.cost_cents, self.p.currency)}")
        elif perk is not None:
            notes.append(f"perk {name} used: included in its per-{perk.per} cost")
        elif tier is not None and any(p.name == name for t in self.tiers.tiers for p in t.perks):  # type: ignore[union-attr]
            holders = [t.name for t in self.tiers.tiers if any(p.name == name for p in t.perks)]  # type: ignore[union-attr]
            notes.append(f"refused: {name} is a perk of {', '.join(holders)}; the customer is {tier.name}")
        else:
            notes.append(f"perk {name} is granted by a rule; its cost is counted when the rule fires")

    # ------------------------------------------------------------ result

    def _result(self, start: dt.date, end: dt.date) -> Result:
        led = self.ledger
        led.check_all()
        opening = sum(lot.points for lot in led.lots if lot.rule == OPENING_BALANCE)
        return Result(
            points_unit=self.p.points_unit, currency=self.p.currency, start=start, end=end,
            lots=tuple(lot.freeze() for lot in led.lots), entries=tuple(led.entries), trace=tuple(self.trace),
            tier=self.tier_names[self.tier] if self.tier is not None else None,
            tier_history=tuple(self.tier_history),
            issued=led.issued, earned=led.issued - opening, redeemed=led.redeemed, expired=led.expired,
            reversed=led.reversed, outstanding=led.outstanding, available=led.available(end),
            pending=led.pending(end),
            discount_cents=self.cents["discount"], perk_cents=self.cents["perk"],
            reward_cents=self.cents["reward"], voucher_cents=self.cents["voucher"],
            points_payment_cents=self.cents["points_payment"],
            discount_refunded_cents=self.cents["discount_refunded"],
            fired=frozenset(self.fired), points_by_rule=dict(self.points_by_rule),
            counters=dict(self.counters), metric=self._metric_as_of(end) if self.tiers and end else None,
            vouchers=None if self.wallet is None else VoucherTotals(
                issued=self.wallet.issued, used=self.wallet.used, expired=self.wallet.expired,
                outstanding=self.wallet.outstanding, issued_cents=self.wallet.issued_cents,
                used_cents=self.wallet.used_cents, expired_cents=self.wallet.expired_cents,
                outstanding_cents=self.wallet.outstanding_cents),
            balances={name: book.freeze() for name, book in self.books.items()},
        )


def _line_values(ev: Event, values: dict[str, object],
                 attributes: tuple[tuple[str, str], ...] = ()) -> tuple[dict[str, object], ...]:
    """The lines an `any line` condition reads: the purchase's lines, or the event as one line
    (its amount less shipping, its category, quantity); each with the program's line attributes,
    a line that does not give one reading its default (`ir.LINE_ATTRIBUTE_DEFAULTS`)."""
    defaults = {name: ir.LINE_ATTRIBUTE_DEFAULTS.get(typ) for name, typ in attributes}
    if ev.lines:
        return tuple({"amount": line.amount_cents, "category": line.category, "quantity": Fraction(line.quantity),
                      "sku": line.sku, **defaults, **{k: v for k, v in line.attributes if k in defaults}}
                     for line in ev.lines)
    amount, shipping = values.get("amount"), values.get("shipping")
    goods = amount - shipping if isinstance(amount, int) and isinstance(shipping, int) and ev.kind == "purchase" \
        else amount
    return ({"amount": goods, "category": values.get("category"), "quantity": values.get("quantity"),
             "sku": None, **defaults},)
