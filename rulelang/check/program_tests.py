"""Checks of the tests written beside a program.

Takes: a `CheckContext` (the file's tests and its program's `Scope`). Gives: diagnostics:
RL240 a return of an order no earlier purchase has, RL241 returns of an order that add up to more than its purchase;
RL201 unknown tier, reward, perk, event, attribute, counter, field or rule named in a test
(with a did-you-mean hint), RL202 values of the wrong kind, RL203 wrong currency, RL204
two tests with the same name, RL430 a points word that is not the program's, RL431 / RL432
an expectation on an event the test has not / has several of, RL433 an expectation one event
cannot answer. A tests-only file (no program) is only checked for what does not need the
program. `matching_events` gives the events an expectation on one event is about (the test
runner uses it too).
"""

from __future__ import annotations

import dataclasses

import datetime as dt
from decimal import Decimal

from rulelang.syntax import ast
from rulelang.check.base import CheckContext
from rulelang.check.vouchers import check_test_vouchers
from rulelang.syntax.nodes import EXPECT_VOUCHER_MONEY, EXPECT_VOUCHERS
from rulelang.check.scope import line_fields, literal_type, type_word
from rulelang.check.tiers import money_counter
from rulelang.fields import ACTION_EVENTS, canonical_event, given_keys
from rulelang.diagnostics import did_you_mean
from rulelang.check.expressions import money_cents
from rulelang.vocabulary import plural, singular

POINT_EXPECTS = (
    "earned", "issued", "balance", "outstanding", "available", "pending", "redeemed", "expired", "reversed",
)
MONEY_EXPECTS = ("discount", "cost")
VOUCHER_EXPECTS = EXPECT_VOUCHERS + (EXPECT_VOUCHER_MONEY,)  # checked by rulelang.check.vouchers
EXPECT_KINDS = POINT_EXPECTS + MONEY_EXPECTS + ("tier", "fired", "counter", "metric") + VOUCHER_EXPECTS
#: what an expectation on one event may check
EVENT_EXPECTS = ("earned", "redeemed", "reversed", "discount", "cost")
UNIT_WORD = "RL430"  # a points word that is not the program's
NO_SUCH_EVENT = "RL431"  # an expectation on an event the test does not have
WHICH_EVENT = "RL432"  # an expectation on an event that several events of the test match
NOT_PER_EVENT = "RL433"  # an expectation one event cannot answer
GIVEN_KINDS = ("tier", "balance", "attribute", "purchases", "metric", "birthday", "counter")

# Fields a test may give a purchase (besides its amount); "id" names an order.
PURCHASE_FIELDS = {**{f.spelling.test: f.type for f in given_keys("purchase", "test") if f.spelling}, "id": "string"}
REFERRAL_ROLES = ("referrer", "referee")


def _event_kind(kind: str) -> str:
    return canonical_event(kind)


def check_tests(ctx: CheckContext) -> None:
    ctx.duplicates(ctx.sf.tests, "test")
    if ctx.program is None:
        return  # a tests-only file: names are checked once it is bound to its program
    for test in ctx.sf.tests:
        for given in test.givens:
            _check_given(ctx, test, given)
            if given.unit is not None:
                _check_given_unit(ctx, test, given)
        order_ids: set[str] = set()
        for ev in test.events:
            _check_event(ctx, test, ev, order_ids)
        for exp in test.expects:
            _check_expect(ctx, test, exp)
            _check_unit(ctx, test, exp)
            if exp.event is not None:
                _check_event_expect(ctx, test, exp)
        check_test_vouchers(ctx, test, ctx.program)
        _check_returned_amounts(ctx, test)


def _check_returned_amounts(ctx: CheckContext, test: ast.TestCase) -> None:
    """RL241: the returns of one order together return more than its purchase's amount."""
    left: dict[str, Decimal] = {}
    for ev in test.events:
        kind = _event_kind(ev.kind)
        ident = next((lit.value for name, lit in ev.fields if name == "id"), None)
        if kind == "purchase" and isinstance(ident, str) and ev.amount is not None:
            left[ident] = ev.amount.amount
        elif kind == "return" and ev.name in left:
            whole = left[ev.name]  # type: ignore[index]
            returned = ev.amount.amount if ev.amount is not None else whole
            if returned > whole:
                cur = ev.amount.currency if ev.amount is not None else ctx.scope.currency
                ctx.error("RL241", f"this return of \"{ev.name}\" is {returned} {cur}, more than the "
                                   f"{whole} {cur} its purchase has left to return", ev,
                          f"return at most {whole} {cur} (all returns of an order together return at most "
                          f"its amount), or leave the amount out to return the rest", test)
            left[ev.name] = max(whole - returned, Decimal(0))  # type: ignore[index]


# ---------------------------------------------------------------- given


def _tier_name(ctx: CheckContext, name: object, node: object, parent: object) -> None:
    tiers = list(ctx.scope.tiers)
    if not isinstance(name, str) or name not in ctx.scope.tiers:
        ctx.error(
            "RL201",
            f"unknown tier `{name}`",
            node,
            (did_you_mean(str(name), tiers) or f"the tiers are {', '.join(tiers)}") if tiers else "the program has no tiers",
            parent,
        )


def _check_given(ctx: CheckContext, test: ast.TestCase, g: ast.Given) -> None:
    if g.kind == "tier":
        _tier_name(ctx, g.name if g.name is not None else g.value, g, test)
    elif g.kind in ("balance", "purchases"):
        if isinstance(g.value, ast.Money):
            ctx.error("RL202", f"`given {g.kind}` takes a number, not money", g, None, test)
        elif g.value is not None:
            ctx.count(g.value, f"the given {g.kind}", ctx.span(g, test))
    elif g.kind == "attribute":
        attrs = ctx.scope.attributes
        if g.name not in attrs:
            ctx.error(
                "RL201",
                f"unknown customer attribute `{g.name}`",
                g,
                did_you_mean(str(g.name), attrs) or "declare it in the program: `attribute NAME: TYPE`",
                test,
            )
        else:
            _check_value(ctx, g.value, attrs[g.name], f"attribute `{g.name}`", g, test)
    elif g.kind == "metric":
        ts = ctx.program.tiers if ctx.program is not None else None
        if ts is None:
            ctx.error("RL201", "the program has no tiers, so there is no tier measure to give", g, None, test)
            return
        if g.name is not None and g.name != ts.metric and not (g.name == "counter" and ts.metric in ctx.scope.counters):
            ctx.error(
                "RL201",
                f"tiers go by {ts.metric}, not by {g.name}",
                g,
                f"write `given {ts.metric} ...`",
                test,
            )
            return
        if isinstance(g.value, ast.Money):
            if ts.metric != "spend" and not money_counter(ctx, ts.metric):
                ctx.error("RL202", f"tiers go by {ts.metric}: give a number, not money", g, None, test)
            else:
                ctx.money(g.value, "the given spend", g, fractional_cents=False)
        elif g.value is not None:
            ctx.count(g.value, f"the given {ts.metric}", ctx.span(g, test), whole=False)
    elif g.kind == "counter":
        if g.name not in ctx.scope.counters:
            ctx.error(
                "RL201",
                f"unknown counter `{g.name}`",
                g,
                did_you_mean(str(g.name), ctx.scope.counters) or "declare it: `counter NAME on EVENT`",
                test,
            )
    elif g.kind == "birthday":
        pass  # a month-day; the parser validates it
    else:
        ctx.error("RL201", f"unknown `given {g.kind}`", g, did_you_mean(str(g.kind), GIVEN_KINDS), test)


def _check_value(ctx: CheckContext, value: object, expected: str, what: str, node: object, parent: object) -> None:
    if isinstance(value, ast.Literal):
        value = value.value
    actual = literal_type(value)
    if actual is None:
        return
    if actual != expected:
        ctx.error(
            "RL202",
            f"{what} is {type_word(expected)}, but the test gives {type_word(actual)}",
            node,
            'text is written in double quotes, money with its currency (e.g. `5 USD`)',
            parent,
        )
    elif isinstance(value, ast.Money):
        ctx.money(value, what, node)


# ---------------------------------------------------------------- when


def _check_event(ctx: CheckContext, test: ast.TestCase, ev: ast.EventSpec, order_ids: set[str]) -> None:
    kind = _event_kind(ev.kind)
    known = list(ctx.scope.event_names) + list(ACTION_EVENTS)
    if kind not in known:
        ctx.error(
            "RL201",
            f"unknown event `{ev.kind}` in the test",
            ev,
            did_you_mean(kind, known) or f"events are {', '.join(known)}",
            test,
        )
        return
    if ev.lines:
        _check_lines(ctx, test, ev, kind)
    if ev.amount is not None:
        ctx.money(ev.amount, f"the {kind} amount", ev, positive=kind in ("purchase", "pay"))
    elif kind == "pay" or (kind == "purchase" and not ev.lines):
        ctx.error("RL202", f"a `{kind}` in a test needs an amount", ev, f"e.g. `when {kind} 10 {ctx.scope.currency} ...`", test)
    if kind == "redeem":
        _check_known(ctx, ev, test, "reward", list(ctx.scope.rewards))
    elif kind == "use_perk":
        _check_known(ctx, ev, test, "perk", sorted(ctx.scope.perks))
    elif kind == "return" and ev.name is not None and ev.name not in order_ids:
        ctx.error(
            "RL240",
            f"no purchase with id \"{ev.name}\" comes before this return",
            ev,
            did_you_mean(ev.name, order_ids) or f"give the purchase an id: `when purchase ... id \"{ev.name}\"`",
            test,
        )
    elif kind == "referral" and ev.name is not None and ev.name not in REFERRAL_ROLES:
        ctx.error("RL201", f"unknown referral side `{ev.name}`", ev, "write `as referrer` or `as referee`", test)
    _check_event_fields(ctx, test, ev, kind, order_ids)


def _line_keys(ctx: CheckContext) -> dict[str, str]:
    """The fields a line of a purchase may give besides its amount, with their types: the line's own
    (`rulelang.ir.LINE_FIELDS`) and the program's line attributes."""
    return {name: typ for name, typ in line_fields(ctx.scope).items() if name != "amount"}


def _check_lines(ctx: CheckContext, test: ast.TestCase, ev: ast.EventSpec, kind: str) -> None:
    """A purchase's lines: each has an amount; its fields are line fields; the amounts add up
    to the purchase's amount less shipping when an amount is given (RL250, RL251, RL253, RL254)."""
    cur = ctx.scope.currency
    if kind != "purchase":
        ctx.error("RL253", f"only a purchase has lines, not a `{kind}`", ev.lines[0],
                  f"write the lines on a purchase: `when purchase on ... {{ line 3.50 {cur} category \"coffee\" }}`",
                  test)
        return
    total, complete = 0, True
    for line in ev.lines:
        if line.amount is None:
            complete = False
            ctx.error("RL250", "this line has no amount", line,
                      f"give each line its amount first: `line 3.50 {cur} category \"coffee\"`", ev)
        else:
            ctx.money(line.amount, "the line's amount", line)
            cents = money_cents(line.amount)
            total += int(cents) if cents.denominator == 1 else 0
        keys = _line_keys(ctx)
        for name, literal in line.fields:
            if name not in keys:
                ctx.error("RL254", f"a line has no field `{name}`", literal,
                          did_you_mean(name, keys) or f"a line has an amount and {', '.join(keys)}"
                          + ("" if ctx.scope.line_attributes else
                             f"; declare a product attribute with `line attribute {name}: string`"), ev)
                continue
            _check_value(ctx, literal, keys[name], f"`{name}` of a line", literal, ev)
            value = literal.value if isinstance(literal, ast.Literal) else literal
            if name == "quantity" and isinstance(value, Decimal) and (value != value.to_integral_value() or value < 0):
                ctx.error("RL254", f"the quantity of a line is a whole number, not {value}", literal,
                          "write litres, nights or units as a whole number: `quantity 45`", ev)
    if not complete:
        return
    given = {name: lit.value if isinstance(lit, ast.Literal) else lit for name, lit in ev.fields}
    shipping = given.get("shipping")
    ship = int(money_cents(shipping)) if isinstance(shipping, ast.Money) and money_cents(shipping).denominator == 1 else 0
    if ev.amount is not None and money_cents(ev.amount) != total + ship:
        with_shipping = f" plus shipping {_cents_text(ship, cur)}" if ship else ""
        ctx.error("RL251", f"the lines add up to {_cents_text(total, cur)}{with_shipping}, but the purchase's amount "
                           f"is {_cents_text(int(money_cents(ev.amount)), cur)}", ev,
                  "leave the purchase's amount out (it is the sum of its lines and shipping), or correct a line", test)
    quantity = given.get("quantity")
    lines_quantity = sum(int(lit.value) for line in ev.lines for name, lit in line.fields
                         if name == "quantity" and isinstance(lit.value, Decimal))
    if isinstance(quantity, Decimal) and quantity != lines_quantity:
        ctx.error("RL251", f"the lines' quantities add up to {lines_quantity}, but the purchase's quantity is "
                           f"{quantity}", ev,
                  "leave the purchase's quantity out: with lines it is the sum of the lines' quantities", test)


def _cents_text(cents: int, currency: str) -> str:
    return f"{cents // 100}.{cents % 100:02d} {currency}"


def _event_fields(ctx: CheckContext, kind: str) -> dict[str, str]:
    if kind == "purchase":
        return dict(PURCHASE_FIELDS)
    if kind == "referral":
        return {"role": "string", "as": "string", "id": "string"}
    if kind == "return":
        return {"id": "string"}
    declared = dict(ctx.scope.events.get(kind, {}))
    declared.setdefault("id", "string")
    return declared


def _check_event_fields(
    ctx: CheckContext, test: ast.TestCase, ev: ast.EventSpec, kind: str, order_ids: set[str]
) -> None:
    allowed = _event_fields(ctx, kind)
    for name, literal in ev.fields:
        if name not in allowed:
            ctx.error(
                "RL201",
                f"a `{kind}` has no field `{name}`",
                literal,
                did_you_mean(name, allowed) or (f"its fields are {', '.join(allowed)}" if allowed else None),
                ev,
            )
            continue
        _check_value(ctx, literal, allowed[name], f"`{name}`", literal, ev)
        value = literal.value if isinstance(literal, ast.Literal) else literal
        if name == "id" and kind == "purchase" and isinstance(value, str):
            order_ids.add(value)
        if name in ("role", "as") and kind == "referral" and value not in REFERRAL_ROLES:
            ctx.error("RL201", f"unknown referral side `{value}`", literal, "write `as referrer` or `as referee`", ev)


# ---------------------------------------------------------------- expect


def _check_expect(ctx: CheckContext, test: ast.TestCase, e: ast.Expect) -> None:
    if e.kind not in EXPECT_KINDS:
        ctx.error(
            "RL201",
            f"unknown expectation `expect {e.kind}`",
            e,
            did_you_mean(e.kind, EXPECT_KINDS) or f"expectations are {', '.join(EXPECT_KINDS)}",
            test,
        )
    elif e.kind in POINT_EXPECTS:
        if e.unit is not None:
            _check_expect_unit(ctx, test, e)
        if isinstance(e.value, ast.Money):
            ctx.error("RL202", f"`expect {e.kind}` counts {ctx.unit}, not money", e, None, test)
        elif e.value is not None and not isinstance(e.value, (int, Decimal)):
            ctx.error("RL202", f"`expect {e.kind}` needs a number of {ctx.unit}", e, None, test)
    elif e.kind in MONEY_EXPECTS:
        if isinstance(e.value, ast.Money):
            value = e.value
            if e.event is not None and value.amount < 0:  # what one event moved: a return refunds a discount
                value = dataclasses.replace(value, amount=-value.amount)
            ctx.money(value, f"the expected {e.kind}", e)
    elif e.kind == "tier":
        _tier_name(ctx, e.value, e, test)
    elif e.kind == "counter":
        if e.name not in ctx.scope.counters:
            ctx.error(
                "RL201",
                f"unknown counter `{e.name}` in `expect counter`",
                e,
                did_you_mean(str(e.name), ctx.scope.counters) or (
                    f"the counters are {', '.join(ctx.scope.counters)}" if ctx.scope.counters
                    else "declare it: `counter NAME on EVENT`"),
                test,
            )
        elif isinstance(e.value, ast.Money):
            ctx.error("RL202", f"`expect counter {e.name}` takes a number, not money", e, None, test)
    elif e.kind == "metric":
        _check_metric_expect(ctx, test, e)
    elif e.kind == "fired":
        rules = ctx.scope.rules
        if e.value not in rules:
            ctx.error(
                "RL201",
                f"unknown rule `{e.value}` in `expect {'not ' if e.negated else ''}fired`",
                e,
                did_you_mean(str(e.value), rules) or (f"the rules are {', '.join(rules)}" if rules else None),
                test,
            )


#: What a balance beside the points can be expected to have (it is never pending nor redeemed).
BALANCE_EXPECTS = ("earned", "issued", "balance", "outstanding", "expired", "reversed")


def _balance_names(ctx: CheckContext) -> list[str]:
    return [b.name for b in ctx.program.balances] if ctx.program is not None else []


def _unit_hint(ctx: CheckContext, word: str, value: object) -> str:
    """RL430's hint: the closest of the points' word and the balances' (docs/semantics.md §2.1)."""
    names = _balance_names(ctx)
    best = singular(ctx.unit) if word == singular(word) and word != ctx.unit else ctx.unit
    close = did_you_mean(word, [ctx.unit, *names]) if names else None
    if close:
        return f"{close} write the program's word for points (`{best}`) or a balance's (`{'`, `'.join(names)}`)"
    return f"did you mean `{best}`? write `{value} {best}`, or the number alone"


def _check_expect_unit(ctx: CheckContext, test: ast.TestCase, e: ast.Expect) -> None:
    """RL237: a balance beside the points expected to be pending, available or redeemed (a word that
    is neither the points' nor a balance's is RL430, `_check_unit`)."""
    if e.unit not in _balance_names(ctx):
        return
    if e.kind not in BALANCE_EXPECTS:
        ctx.error("RL237", f"`{e.unit}` is never {e.kind}: it is not redeemable and has no pending period", e,
                  f"expect its {', '.join(BALANCE_EXPECTS[:3])}, expired or reversed, e.g. `expect balance {e.value} {e.unit}`",
                  test)


def _check_known(ctx, ev, test, what: str, known: list[str]) -> None:
    """RL201 when a test event names a reward or perk the program does not have."""
    if ev.name in known:
        return
    hint = did_you_mean(str(ev.name), known) or (
        f"the {what}s are {', '.join(known)}" if known else f"the program has no {what}s")
    ctx.error("RL201", f"unknown {what} `{ev.name}`", ev, hint, test)


# ---------------------------------------------------------------- expect: units, metric, one event


def _check_unit(ctx: CheckContext, test: ast.TestCase, e: ast.Expect) -> None:
    """RL430: `expect earned 24 points` in a program that counts stars (the readers keep only a
    word that is not the program's own)."""
    if e.unit is None or (e.unit in _balance_names(ctx) and e.kind != "metric"):  # a balance: `_check_expect_unit`
        return
    if e.kind == "metric" and e.name not in (None, "points"):
        ctx.error(UNIT_WORD, f"`expect {e.name}` counts {e.name}, not {e.unit}", e,
                  f"write the number alone: `expect {e.name} {e.value}`", test)
        return
    counts = ", ".join([ctx.unit, *_balance_names(ctx)])
    ctx.error(UNIT_WORD, f"`{e.unit}` is not this program's word for points: it counts {counts}", e,
              _unit_hint(ctx, e.unit, e.value), test)


def _check_metric_expect(ctx: CheckContext, test: ast.TestCase, e: ast.Expect) -> None:
    ts = ctx.program.tiers if ctx.program is not None else None
    if ts is None:
        ctx.error("RL201", "the program has no tiers, so there is no tier metric to expect", e,
                  "expect a counter instead: `expect counter NAME N`" if ctx.scope.counters else None, test)
        return
    if e.name is not None and e.name != ts.metric:
        hint = (did_you_mean(e.name, list(EXPECT_KINDS) + ["metric", ts.metric])
                or f"write `expect {ts.metric} ...` or `expect metric ...`")
        ctx.error("RL201", f"tiers go by {ts.metric}, not by {e.name}", e, hint, test)
        return
    if isinstance(e.value, ast.Money):
        if ts.metric != "spend":
            ctx.error("RL202", f"tiers go by {ts.metric}: expect a number, not money", e, None, test)
        else:
            ctx.money(e.value, "the expected spend", e)
    elif ts.metric == "spend":
        ctx.error("RL202", "tiers go by spend: expect an amount of money", e,
                  f"e.g. `expect spend 120 {ctx.scope.currency}`", test)


def _event_text(ev: ast.EventSpec) -> str:
    ident = _event_id(ev)
    when = f"{ev.at:%Y-%m-%d}" + (f" at {ev.at:%H:%M}" if ev.at.time() != dt.time(12, 0) else "")
    return f"{when}" + (f" (id \"{ident}\")" if ident is not None else "")


def _event_id(ev: ast.EventSpec) -> str | None:
    for name, literal in ev.fields:
        if name == "id":
            value = literal.value if isinstance(literal, ast.Literal) else literal
            return str(value)
    return ev.name if _event_kind(ev.kind) == "return" else None


def matching_events(test: ast.TestCase, e: ast.Expect) -> list[int]:
    """Indexes of the test's events an expectation on one event is about: those of its kind with
    its id, or on its date (and at its time, when one is written)."""
    kind = _event_kind(e.event or "")
    out = []
    for i, ev in enumerate(test.events):
        if _event_kind(ev.kind) != kind:
            continue
        if e.event_id is not None:
            if _event_id(ev) == e.event_id:
                out.append(i)
        elif e.on is not None and ev.at.date() == e.on and (e.at is None or ev.at.time() == e.at):
            out.append(i)
    return out


def _which(e: ast.Expect) -> str:
    if e.event_id is not None:
        return f'"{e.event_id}"'
    return f"on {e.on:%Y-%m-%d}" + (f" at {e.at:%H:%M}" if e.at is not None else "")


def _check_event_expect(ctx: CheckContext, test: ast.TestCase, e: ast.Expect) -> None:
    """RL433 / RL431 / RL432: an expectation on one event must name exactly one event of the test."""
    kind = _event_kind(e.event or "")
    if e.kind not in EVENT_EXPECTS:
        state = f"; for the state at the end of a date write `expect {e.kind} {e.value} on {e.on:%Y-%m-%d}`" if e.on else ""
        ctx.error(NOT_PER_EVENT, f"`{e.kind}` is not something one event moves", e,
                  "an event's expectations are " + ", ".join(EVENT_EXPECTS) + state, test)
        return
    known = list(ctx.scope.event_names) + list(ACTION_EVENTS)
    if kind not in known:
        ctx.error("RL201", f"unknown event `{e.event}` in `expect`", e,
                  did_you_mean(kind, known) or f"events are {', '.join(known)}", test)
        return
    found = matching_events(test, e)
    if len(found) == 1:
        return
    same_kind = [ev for ev in test.events if _event_kind(ev.kind) == kind]
    word = kind.replace("_", " ")
    if not found:
        listed = "; ".join(_event_text(ev) for ev in same_kind[:5])
        hint = (f"the test's {plural(word)}: {listed}" if same_kind
                else f"add it: `when {word} ... on DATE`, or expect on another event")
        if e.event_id is not None:
            ids = [i for ev in same_kind if (i := _event_id(ev)) is not None]
            hint = did_you_mean(e.event_id, ids) or hint
        ctx.error(NO_SUCH_EVENT, f"the test has no {word} {_which(e)}", e, hint, test)
        return
    times = ", ".join(f"{test.events[i].at:%H:%M}" for i in found)
    ident = _event_id(test.events[found[0]])
    by_id = (f"or name it by its id: `expect {word} \"{ident}\" ...`" if ident is not None
             else f"or give it an id (`id \"A1\"`) and write `expect {word} \"A1\" ...`")
    ctx.error(WHICH_EVENT, f"{len(found)} {plural(word)} {_which(e)} (at {times}): say which one", e,
              f"add its time: `expect {word} {_which(e)} at {test.events[found[0]].at:%H:%M} ...`, {by_id}", test)


def _check_given_unit(ctx: CheckContext, test: ast.TestCase, g: ast.Given) -> None:
    """RL430 for `given balance 500 points` in a program that counts stars (and any word after
    a count that is not points)."""
    points = g.kind == "balance" or (g.kind == "metric" and g.name == "points")
    if g.kind == "balance" and g.unit in _balance_names(ctx):  # `given balance 500 qualifying_dollars`
        return
    if not points:
        ctx.error(UNIT_WORD, f"`given {g.name or g.kind}` takes a number without a word, not `{g.unit}`", g,
                  f"write `given {g.name or g.kind} {g.value}`", test)
        return
    counts = ", ".join([ctx.unit, *_balance_names(ctx)])
    ctx.error(UNIT_WORD, f"`{g.unit}` is not this program's word for points: it counts {counts}", g,
              _unit_hint(ctx, str(g.unit), g.value), test)
