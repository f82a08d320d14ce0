"""Checks of vouchers with a life: a conversion's validity and schedule, and the tests that use them.

Takes: a `CheckContext` and the `ast.Program` (or a test's events and expectations). Gives:
diagnostics in the context's bag: RL260 a validity of zero, below zero or beyond the longest
duration (`rulelang.limits.MAX_MONTHS` months, `MAX_DAYS` days), RL261 an unknown month in a
schedule, RL262 a month listed twice, RL263 a test that uses a voucher, or expects voucher
counts, in a program whose vouchers have no life; RL265 a reward's voucher without a validity,
or with `costs us`. `MONTHS` is the schedule's month names.
"""

from __future__ import annotations

from rulelang.check.base import CheckContext
from rulelang.diagnostics import did_you_mean
from rulelang.limits import MAX_DAYS, MAX_MONTHS
from rulelang.syntax import ast

__all__ = ["MONTHS", "check_conversion", "check_reward_vouchers", "check_test_vouchers", "month_number",
           "has_voucher_life"]

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_FULL = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
         "october", "november", "december")


def month_number(name: str) -> int | None:
    """`Feb`, `feb`, `February` -> 2; None for anything else."""
    low = name.lower()
    for i, (short, full) in enumerate(zip(MONTHS, _FULL)):
        if low in (short.lower(), full):
            return i + 1
    return None


def has_voucher_life(p: ast.Program | None) -> bool:
    return p is not None and ((p.conversion is not None and p.conversion.valid is not None)
                              or any(r.voucher is not None for r in p.rewards))


def _validity(ctx: CheckContext, valid: int, unit: str, node: object, p: ast.Program) -> None:
    most = MAX_DAYS if unit == "days" else MAX_MONTHS if unit == "months" else MAX_MONTHS // 12
    if valid < 1 or valid > most:
        ctx.error("RL260", f"a voucher valid {valid} {unit} "
                  + ("is never usable" if valid < 1 else f"outlives the longest duration ({most} {unit})"),
                  node, "give a validity of at least 1 day, e.g. `valid 2 years` or `valid 90 days`", p)


def check_reward_vouchers(ctx: CheckContext, p: ast.Program) -> None:
    """A reward that issues a voucher: a face value, a validity (RL260, RL265), no `costs us` (RL265)."""
    for r in p.rewards:
        if r.voucher is None:
            if r.valid is not None:
                ctx.error("RL265", f"reward `{r.name}` has a validity but issues no voucher", r,
                          "add the voucher's face value: `voucher 5 EUR valid 1 year` (YAML: `voucher: 5 EUR`)", p)
            continue
        ctx.money(r.voucher, f"the voucher of reward `{r.name}`", r, positive=True)
        if r.valid is None:
            ctx.error("RL265", f"the voucher of reward `{r.name}` has no validity", r,
                      "say how long it can be used: `voucher 5 EUR valid 1 year` (YAML: `valid: 1 year`)", p)
        else:
            _validity(ctx, r.valid, r.valid_unit, r, p)
        if r.cost is not None:
            ctx.error("RL265", f"reward `{r.name}` issues a voucher, which costs its face value when used: "
                      "it has no `costs us`", r, "remove `costs us`", p)


def check_conversion(ctx: CheckContext, p: ast.Program) -> None:
    conv = p.conversion
    if conv is None:
        return
    if conv.valid is not None:
        _validity(ctx, conv.valid, conv.valid_unit, conv, p)
    if conv.period == "months":
        seen: set[int] = set()
        for name in conv.months:
            number = month_number(name)
            if number is None:
                ctx.error("RL261", f"unknown month `{name}` in the conversion schedule", conv,
                          did_you_mean(name, MONTHS) or "write months as Jan, Feb, ... Dec", p)
            elif number in seen:
                ctx.error("RL262", f"the month `{name}` is listed twice in the conversion schedule", conv,
                          "list each month once, e.g. `at end of Feb, May, Aug, Nov`", p)
            else:
                seen.add(number)


def check_test_vouchers(ctx: CheckContext, test: ast.TestCase, p: ast.Program) -> None:
    """RL263: voucher events and expectations need vouchers with a life."""
    if has_voucher_life(p):
        return
    why = ("the program converts points into vouchers without a validity, whose cost is booked at issue"
           if p.conversion is not None else "the program issues no vouchers with a life")
    hint = ("give its vouchers a life: `convert every 500 points into a 5 EUR voucher valid 2 years at end of quarter`")
    for ev in test.events:
        if ev.kind in ("use_voucher", "use voucher"):
            ctx.error("RL263", f"the test uses a voucher, but {why}", ev, hint, test)
    for e in test.expects:
        if e.kind.startswith("vouchers_") or e.kind == "voucher_balance":
            ctx.error("RL263", f"`expect {e.kind.replace('_', ' ')}`: {why}", e, hint, test)
