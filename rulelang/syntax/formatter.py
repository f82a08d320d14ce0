"""Formatter: AST (`rulelang.syntax.ast.SourceFile`) -> canonical `.loyalty` text.

Takes: a parsed source file (its comments and statement positions, when it came from text).
Gives: `format_source(sf) -> str`, one canonical style: 2-space indent, one statement per
line, header statements in a fixed order (points, currency, point cost, point value,
multipliers, round, pending, attributes, events, counters), then rules, tiers, expiry,
returns, rewards, pay with points, convert; tests after the program, a blank line between
blocks. Comments are kept: a comment written alone on its line is placed above the
statement that follows it in the source (or at the end of its block); a comment at the end
of a line stays at the end of that statement's line. A statement that restates a default
(`round down`, `review never`, `points "points"`) is kept when it was written: the formatter
changes layout, never what the author chose to say. Formatting is idempotent and parsing
the output gives an equal AST. Also `expr_to_text(expr)` for conditions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from rulelang.syntax.lifecycle_words import ACTIVITY_WORDS, year_phrase
from rulelang.syntax import ast
from rulelang.diagnostics import Span
from rulelang.syntax.nodes import ACTION_TYPES, EXPRESSION_TYPES, NODES, dispatch
from rulelang.vocabulary import counted
from rulelang.syntax.balances import balance_named

__all__ = ["format_source", "expr_to_text", "literal_to_text"]

INDENT = "  "


# ---------------------------------------------------------------- values


def number_text(value: Decimal | int) -> str:
    """A number as written: `7.40`, `0.004`, `1000` (never exponent notation)."""
    if isinstance(value, int):
        return str(value)
    text = format(value, "f")
    return text


def validity_text(count: int, unit: str) -> str:
    """A voucher's validity: `2 years`, `1 year`, `90 days`."""
    return f"{count} {unit[:-1] if count == 1 else unit}"


def money_text(m: ast.Money) -> str:
    return f"{number_text(m.amount)} {m.currency}"


def line_text(line: ast.LineSpec) -> str:
    """`line 12.00 EUR category "fuel" quantity 45`."""
    text = "line" + (f" {money_text(line.amount)}" if line.amount is not None else "")
    return text + "".join(f" {k} {literal_to_text(lit.value)}" for k, lit in line.fields)


def per_text(per: ast.Money | ast.Quantity) -> str:
    """What an award is per: `1 USD` (money) or `2 litres` (a quantity)."""
    return f"{number_text(per.value)} {per.unit}" if isinstance(per, ast.Quantity) else money_text(per)


def string_text(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def date_text(d: dt.date) -> str:
    return d.isoformat()


def month_day_text(md: tuple[int, int]) -> str:
    return f"{md[0]:02d}-{md[1]:02d}"


def ordinal_text(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def literal_to_text(value: object) -> str:
    """A literal value (str, Decimal, bool, date, Money, month-day) in the text form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return string_text(value)
    if isinstance(value, (Decimal, int)):
        return number_text(value)
    if isinstance(value, ast.Money):
        return money_text(value)
    if isinstance(value, dt.datetime):
        return date_text(value.date())
    if isinstance(value, dt.date):
        return date_text(value)
    if isinstance(value, tuple) and len(value) == 2:
        return month_day_text(value)  # type: ignore[arg-type]
    raise TypeError(f"no text form for the literal value {value!r}")


# ---------------------------------------------------------------- conditions


def expr_to_text(expr: ast.Expr) -> str:
    """A condition in the text form; parsing it back gives an equal expression."""
    return _EXPR_TEXT(expr)(expr)


def _bool_op_text(expr: ast.BoolOp) -> str:
    parts = []
    for item in expr.items:
        # `a or b and c` needs no parentheses; a nested group of the same kind was written with them.
        needs = isinstance(item, ast.BoolOp) and (expr.op == "and" or item.op == "or")
        text = expr_to_text(item)
        parts.append(f"({text})" if needs else text)
    return f" {expr.op} ".join(parts)


def _not_text(expr: ast.Not) -> str:
    inner = expr_to_text(expr.item)
    return f"not ({inner})" if isinstance(expr.item, ast.BoolOp) else f"not {inner}"


def _in_list_text(expr: ast.InList) -> str:
    items = ", ".join(expr_to_text(i) for i in expr.items)
    word = "not in" if expr.negated else "in"
    return f"{_operand(expr.left)} {word} [{items}]"


def _any_line_text(expr: ast.AnyLine) -> str:
    inner = expr_to_text(expr.item)
    return f"any line ({inner})" if isinstance(expr.item, ast.BoolOp) else f"any line {inner}"


_EXPR_TEXT = dispatch("formatter: condition", {
    ast.AnyLine: _any_line_text,
    ast.Literal: lambda e: literal_to_text(e.value),
    ast.Ref: lambda e: ".".join(e.path),
    ast.BoolOp: _bool_op_text,
    ast.Not: _not_text,
    ast.Compare: lambda e: f"{_operand(e.left)} {e.op} {_operand(e.right)}",
    ast.InList: _in_list_text,
}, EXPRESSION_TYPES)


def _operand(expr: ast.Expr) -> str:
    text = expr_to_text(expr)
    return f"({text})" if isinstance(expr, (ast.BoolOp, ast.Not, ast.Compare, ast.InList, ast.AnyLine)) else text


# ---------------------------------------------------------------- output lines


@dataclass
class _Line:
    text: str
    depth: int
    anchor: tuple[int, int] | None  # where the statement starts in the source
    closes: bool = False  # a `}` line: comments before it belong to the end of its block
    blank_before: bool = False


class _Writer:
    def __init__(self, sf: ast.SourceFile, tested: ast.Program | None = None) -> None:
        self.lines: list[_Line] = []
        self.spans = dict(sf.statement_spans)
        words = sf.program or tested  # a tests-only file speaks the words of the program it tests
        self.unit = words.points_unit if words is not None else "points"
        self.balances = words.balances if words is not None else ()
        # a tests-only file writes only a points word written after an expectation
        self.expect_unit = sf.program.points_unit if sf.program is not None else None
        tiers = words.tiers if words is not None else None
        self.metric_word = (self.unit if tiers.metric == "points" else tiers.metric) if tiers is not None else "metric"

    def emit(self, depth: int, text: str, anchor: Span | None, *, closes: bool = False, blank: bool = False) -> None:
        pos = None
        if anchor is not None and anchor.line > 0:
            pos = (anchor.end_line, anchor.end_column) if closes else (anchor.line, anchor.column)
        self.lines.append(_Line(text, depth, pos, closes, blank))

    def stmt(self, owner: Span, kind: str) -> Span | None:
        return self.spans.get((owner.line, owner.column, kind))

    def months(self, n: int) -> str:
        return counted(n, "month")

    # ------------------------------------------------------------ program

    def program(self, p: ast.Program) -> None:
        s = p.span
        self.emit(0, f"program {string_text(p.name)} {{", s)
        body: list[tuple[str, object]] = []  # (group, thing) in output order
        self._header(p, body)
        for i, (group, line) in enumerate(body):
            blank = i > 0 and (group != body[i - 1][0] or group in ("rule", "tiers", "reward", "pay"))
            if callable(line):
                line(blank)
            else:
                text, anchor = line  # type: ignore[misc]
                self.emit(1, text, anchor, blank=blank)
        self.emit(0, "}", s, closes=True)

    def _header(self, p: ast.Program, body: list[tuple[str, object]]) -> None:
        s, u = p.span, self.unit

        def head(kind: str, text: str) -> None:
            body.append(("header", (text, self.stmt(s, kind))))

        if p.points_unit != "points" or self.stmt(s, "points") is not None:
            head("points", f"points {string_text(p.points_unit)}")
        head("currency", f"currency {p.currency}")
        for b in p.balances:
            body.append(("header", (f"balance {string_text(b.name)}" + ("" if b.redeemable else " not redeemable"), b.span)))
        if p.point_cost is not None:
            head("point_cost", f"point cost {money_text(p.point_cost)}")
        if p.point_value is not None:
            head("point_value", f"point value {money_text(p.point_value)}")
        if p.stacking != "multiply" or self.stmt(s, "multipliers") is not None:
            head("multipliers", f"multipliers {p.stacking}")
        if p.rounding != "down" or self.stmt(s, "round") is not None:
            head("round", f"round {p.rounding}")
        if p.pending_days or self.stmt(s, "pending") is not None:
            head("pending", f"pending {counted(p.pending_days, 'day')}")
        for a in p.attributes:
            body.append(("decl", (f"attribute {a.name}: {a.type}", a.span)))
        for la in p.line_attributes:
            body.append(("decl", (f"line attribute {la.name}: {la.type}", la.span)))
        for e in p.events:
            fields = ", ".join(f"{f.name}: {f.type}" for f in e.fields)
            body.append(("decl", (f"event {e.name}" + (f" {{ {fields} }}" if fields else ""), e.span)))
        for c in p.counters:
            text = f"counter {c.name}" + (f" sums {c.sums}" if c.sums else "") + f" on {c.event}"
            if c.condition is not None:
                text += f" when {expr_to_text(c.condition)}"
            body.append(("decl", (text, c.span)))
        for r in p.rules:
            body.append(("rule", lambda blank, r=r: self.rule(r, blank)))
        if p.tiers is not None:
            body.append(("tiers", lambda blank, t=p.tiers: self.tiers(t, blank)))
        for x in p.expiry:
            body.append(("life", (self.expiry(x), x.span)))
        if p.activity:
            words = ", ".join(ACTIVITY_WORDS[k] for k in p.activity)
            body.append(("life", (f"activity is {words}", self.stmt(s, "activity"))))
        if p.returns is not None:
            if p.returns.reverse:
                body.append(("life", (f"returns reverse earned {u}", p.returns.span)))
                neg = self.stmt(s, "negative_balance") or p.returns.span
                body.append(("life", (f"negative balance {p.returns.negative_balance}", neg)))
            elif (not p.returns.lower_metrics or p.returns.negative_balance != "forbidden"
                  or self.stmt(s, "negative_balance") is not None):
                neg = self.stmt(s, "negative_balance") or p.returns.span
                body.append(("life", (f"negative balance {p.returns.negative_balance}", neg)))
            if p.returns.lower_metrics:
                body.append(("life", ("returns lower tier metric and counters", self.stmt(s, "returns_lower") or p.returns.span)))
        for w in p.rewards:
            body.append(("reward", lambda blank, w=w: self.reward(w, blank)))
        if p.pay_with_points is not None:
            body.append(("pay", lambda blank, y=p.pay_with_points: self.pay(y, blank)))
        if p.conversion is not None:
            c = p.conversion
            when = ", ".join(c.months) if c.period == "months" else c.period
            valid = f" valid {validity_text(c.valid, c.valid_unit)}" if c.valid is not None else ""
            text = f"convert every {c.points} {c.unit or u} into a {money_text(c.voucher)} voucher{valid} at end of {when}"
            body.append(("convert", (text, c.span)))

    # ------------------------------------------------------------ rules

    def rule(self, r: ast.EarnRule, blank: bool) -> None:
        s = r.span
        head = f"earn {r.name} on {r.event}"
        if r.condition is not None:
            head += f" when {expr_to_text(r.condition)}"
        self.emit(1, head + " {", s, blank=blank)
        for a in r.actions:
            self.emit(2, self.action(a), a.span)
        if r.rounding is not None:
            self.emit(2, f"round {r.rounding}", self.stmt(s, "round"))
        if r.priority or self.stmt(s, "priority") is not None:
            self.emit(2, f"priority {r.priority}", self.stmt(s, "priority"))
        if r.group is not None:
            self.emit(2, f"group {string_text(r.group)}", self.stmt(s, "group"))
        if r.window is not None:
            self.emit(2, f"during {date_text(r.window.start)} .. {date_text(r.window.end)}", r.window.span)
        rule_unit = next((name for a in r.actions if isinstance(a, ast.Award)
                          and (name := balance_named(a.unit, self.balances)) is not None),
                         self.unit)  # a rule that awards a balance caps that balance
        for c in r.caps:
            if c.unit == "times":
                self.emit(2, f"limit {counted(c.limit, 'time')} per customer per {c.period}", c.span)
            else:
                self.emit(2, f"cap {c.limit} {rule_unit} per customer per {c.period}", c.span)
        if r.budget is not None:
            b = r.budget
            text = f"budget {money_text(b.money)}" if b.money is not None else f"budget {b.points} {self.unit}"
            self.emit(2, text, b.span)
        if r.every_nth is not None:
            self.emit(2, f"every {ordinal_text(r.every_nth)} {r.event}", self.stmt(s, "every"))
        if r.streak is not None:
            n, per = r.streak.length, r.streak.period
            self.emit(2, f"streak {counted(n, per)}", r.streak.span)
        self.emit(1, "}", s, closes=True)

    def action(self, a: ast.Action) -> str:
        return _ACTION_TEXT(a)(a)

    # ------------------------------------------------------------ tiers and lifecycle

    def tiers(self, t: ast.TierSystem, blank: bool) -> None:
        s = t.span
        metric = self.unit if t.metric == "points" else t.metric
        w = t.window
        window = {"calendar_year": "calendar year", "lifetime": "lifetime"}.get(w.kind) or f"rolling {self.months(w.months or 0)}"
        basis = f" {t.spend_basis.replace('_', ' ')}" if t.spend_basis is not None else ""
        self.emit(1, f"tiers by {metric}{basis} over {window} {{", s, blank=blank)
        for tier in t.tiers:
            self.tier(tier)
        if t.review != "never" or self.stmt(s, "review") is not None:
            self.emit(2, f"review {t.review}", self.stmt(s, "review"))
        if t.downgrade != "never" or self.stmt(s, "downgrade") is not None:
            self.emit(2, f"downgrade {t.downgrade.replace('_', ' ')}", self.stmt(s, "downgrade"))
        if t.grace_months or self.stmt(s, "grace") is not None:
            self.emit(2, f"grace {self.months(t.grace_months)}", self.stmt(s, "grace"))
        if t.validity_months or self.stmt(s, "valid") is not None:
            self.emit(2, f"valid {self.months(t.validity_months)}", self.stmt(s, "valid"))
        if t.on_return is not None:
            words = {"keep_until_review": "keep tier until review", "lower_at_once": "lower tier at once"}
            self.emit(2, f"returns {words[t.on_return]}", self.stmt(s, "returns"))
        if t.status_through is not None:
            then = " then one step" if t.status_drop == "one_step" else ""
            self.emit(2, f"status valid through {month_day_text(t.status_through)} {year_phrase(t.status_years)}{then}",
                      self.stmt(s, "status"))
        self.emit(1, "}", s, closes=True)

    def tier(self, tier: ast.Tier) -> None:
        s = tier.span
        threshold = money_text(tier.threshold_money) if tier.threshold_money else number_text(tier.threshold)
        head = f"tier {tier.name} from {threshold}"
        has_body = (tier.multiplier is not None or tier.discount is not None or tier.expiry or tier.perks
                    or tier.rate is not None)
        if not has_body:
            self.emit(2, head, s)
            return
        self.emit(2, head + " {", s)
        if tier.rate is not None and tier.rate_per is not None:
            self.emit(3, f"award {number_text(tier.rate)} {self.unit} per {money_text(tier.rate_per)}",
                      self.stmt(s, "award"))
        if tier.multiplier is not None:
            self.emit(3, f"multiply {number_text(tier.multiplier)}x", self.stmt(s, "multiply"))
        if tier.discount is not None:
            self.emit(3, f"discount {number_text(tier.discount)}%", self.stmt(s, "discount"))
        for x in tier.expiry:
            self.emit(3, self.expiry(x), x.span)
        for perk in tier.perks:
            self.emit(3, f"perk {perk.name} costs {money_text(perk.cost)} per {perk.per}", perk.span)
        self.emit(2, "}", s, closes=True)

    def expiry(self, x: ast.Expiry) -> str:
        u = x.unit or self.unit
        if x.kind == "never":
            return f"{u} never expire"
        if x.kind == "after_earning":
            return f"expire {u} {self.months(x.months or 0)} after earning" + (" at end of month" if x.end_of_month else "")
        if x.kind == "inactivity":
            return f"expire {u} after {self.months(x.months or 0)} of inactivity"
        if x.kind == "fixed_date":
            return f"expire {u} on {date_text(x.date)}"  # type: ignore[arg-type]
        return f"expire {u} yearly on {month_day_text(x.month_day or (12, 31))}"

    # ------------------------------------------------------------ redemption

    def reward(self, w: ast.Reward, blank: bool) -> None:
        s = w.span
        self.emit(1, f"reward {w.name} {{", s, blank=blank)
        self.emit(2, f"price {w.price} {w.unit or self.unit}", self.stmt(s, "price"))
        if w.worth is not None:
            self.emit(2, f"worth {money_text(w.worth)}", self.stmt(s, "worth") or w.worth.span)
        if w.cost is not None:
            self.emit(2, f"costs us {money_text(w.cost)}", self.stmt(s, "costs_us") or w.cost.span)
        if w.voucher is not None:
            valid = f" valid {validity_text(w.valid, w.valid_unit)}" if w.valid is not None else ""
            self.emit(2, f"voucher {money_text(w.voucher)}{valid}", self.stmt(s, "voucher") or w.voucher.span)
        self.emit(1, "}", s, closes=True)

    def pay(self, y: ast.PayWithPoints, blank: bool) -> None:
        s = y.span
        unit = y.unit or self.unit
        self.emit(1, f"pay with {y.unit or 'points'} {{", s, blank=blank)
        self.emit(2, f"{y.points} {unit} = {money_text(y.money)}", self.stmt(s, "exchange"))
        if y.minimum_balance:
            self.emit(2, f"minimum balance {y.minimum_balance} {unit}", self.stmt(s, "minimum"))
        if y.max_share != Decimal(100):
            self.emit(2, f"at most {number_text(y.max_share)}% of basket", self.stmt(s, "at_most"))
        self.emit(1, "}", s, closes=True)

    # ------------------------------------------------------------ tests

    def test(self, t: ast.TestCase, blank: bool) -> None:
        s = t.span
        self.emit(0, f"test {string_text(t.name)} {{", s, blank=blank)
        for g in t.givens:
            self.emit(1, self.given(g), g.span)
        for e in t.events:
            self.emit(1, self.event(e), e.span)
        if t.until is not None:
            self.emit(1, f"until {date_text(t.until)}", self.stmt(s, "until"))
        i = 0
        while i < len(t.expects):
            x = t.expects[i]
            if x.kind.startswith("vouchers_"):  # consecutive voucher counts share one line
                j = i
                while j < len(t.expects) and t.expects[j].kind.startswith("vouchers_"):
                    j += 1
                counts = " ".join(f"{y.kind.removeprefix('vouchers_')} {y.value}" for y in t.expects[i:j])
                self.emit(1, f"expect vouchers {counts}", x.span)
                i = j
                continue
            self.emit(1, self.expect(x), x.span)
            i += 1
        self.emit(0, "}", s, closes=True)

    def given(self, g: ast.Given) -> str:
        v = g.value
        if g.kind == "tier":
            return f"given tier {v}"
        if g.kind == "balance":
            unit = g.unit or self.expect_unit
            return f"given balance {literal_to_text(v)}" + (f" {unit}" if unit else "")
        if g.kind == "purchases":
            return f"given purchases {literal_to_text(v)}"
        if g.kind == "attribute":
            return f"given attribute {g.name} = {literal_to_text(v)}"
        if g.kind == "counter":
            return f"given counter {g.name} = {literal_to_text(v)}"
        if g.kind == "birthday":
            return f"given birthday {literal_to_text(v)}"
        name = self.unit if g.name == "points" else g.name
        return f"given {name} {literal_to_text(v)}" + (f" {g.unit}" if g.unit else "")

    def event(self, e: ast.EventSpec) -> str:
        fields = "".join(f" {k} {literal_to_text(lit.value)}" for k, lit in e.fields if k != "role" or e.kind != "referral")
        if e.kind == "return":
            text = f"when return of {string_text(e.name or '')}" + (f" amount {money_text(e.amount)}" if e.amount else "")
            text += fields
        elif e.kind == "redeem":
            text = f"when redeem {e.name}"
        elif e.kind == "pay":
            text = f"when pay {money_text(e.amount) if e.amount else '0 USD'} with {self.unit}"
        elif e.kind == "use_perk":
            text = f"when use perk {e.name}"
        elif e.kind == "use_voucher":
            text = "when use voucher"
        elif e.kind == "referral":
            role = next((lit.value for k, lit in e.fields if k == "role"), None)
            text = "when referral" + (f" as {role}" if role else "") + fields
        else:
            text = f"when {e.kind}" + (f" {money_text(e.amount)}" if e.amount else "") + fields
        text += f" on {date_text(e.at.date())}"
        if e.at.time() != dt.time(12, 0):
            text += f" at {e.at.hour:02d}:{e.at.minute:02d}"
        if e.lines:
            text += " { " + "; ".join(line_text(line) for line in e.lines) + " }"
        return text

    def expect(self, x: ast.Expect) -> str:
        if x.event is not None:
            which = f" {string_text(x.event_id)}" if x.event_id is not None else f" on {date_text(x.on)}" if x.on else ""
            if x.at is not None:
                which += f" at {x.at.hour:02d}:{x.at.minute:02d}"
            return f"expect {x.event}{which} {self.expect_item(x)}"
        return f"expect {self.expect_item(x)}" + (f" on {date_text(x.on)}" if x.on is not None else "")

    def expect_item(self, x: ast.Expect) -> str:
        """One expectation without its `expect` word, event or date."""
        if x.kind == "tier":
            return f"tier {x.value}"
        if x.kind == "fired":
            return f"{'not ' if x.negated else ''}fired {x.value}"
        if x.kind == "counter":
            return f"counter {x.name} {literal_to_text(x.value)}"
        if x.kind == "metric":
            word = self.unit if x.name == "points" else x.name or self.metric_word
            return f"{word} {literal_to_text(x.value)}" + (f" {x.unit}" if x.unit else "")
        if x.kind == "voucher_balance" and isinstance(x.value, ast.Money):
            return f"voucher balance {money_text(x.value)}"
        if isinstance(x.value, ast.Money):
            return f"{x.kind} {money_text(x.value)}"
        unit = x.unit or self.expect_unit
        return f"{x.kind} {x.value}" + (f" {unit}" if unit else "")


def _award_text(a: ast.Award) -> str:
    text = f"{NODES[ast.Award].keyword} {number_text(a.points)} {a.unit}"
    if a.per is not None:
        text += f" per {per_text(a.per)}"
    if isinstance(a.per, ast.Money) or a.base != "net":
        text += f" of {a.base} amount"
    if a.only:
        text += " in category " + ", ".join(string_text(c) for c in a.only)
    text += _excluding(a.excluding)
    return text + (f" to {a.to}" if a.to != "customer" else "")


def _discount_text(a: ast.Discount) -> str:
    what = f"{number_text(a.percent)}%" if a.percent is not None else money_text(a.amount)  # type: ignore[arg-type]
    text = f"{NODES[ast.Discount].keyword} {what}"
    if a.base != "net" or a.excluding:
        text += f" of {a.base} amount"
    if a.only:
        text += " in category " + ", ".join(string_text(c) for c in a.only)
    return text + _excluding(a.excluding)


_ACTION_TEXT = dispatch("formatter: action", {
    ast.Award: _award_text,
    ast.Cashback: lambda a: f"{NODES[ast.Cashback].keyword} {number_text(a.percent)}% of {a.base} amount" + _excluding(a.excluding),
    ast.Multiply: lambda a: f"{NODES[ast.Multiply].keyword} {number_text(a.factor)}x"
    + (" in category " + ", ".join(string_text(c) for c in a.only) if a.only else ""),
    ast.Discount: _discount_text,
    ast.Perk: lambda a: f"{NODES[ast.Perk].keyword} {a.name} costs {money_text(a.cost)}",
}, ACTION_TYPES)


def _excluding(categories: tuple[str, ...]) -> str:
    if not categories:
        return ""
    return " excluding category " + ", ".join(string_text(c) for c in categories)


# ---------------------------------------------------------------- comments and rendering


def _place_comments(lines: list[_Line], comments: tuple[ast.Comment, ...]) -> tuple[dict[int, list[str]], dict[int, str], list[str]]:
    """Leading comments per output line, trailing comment per output line, and comments for the end."""
    leading: dict[int, list[str]] = {}
    trailing: dict[int, str] = {}
    tail: list[str] = []
    anchored = [(ln.anchor, i) for i, ln in enumerate(lines) if ln.anchor is not None]
    for c in sorted(comments, key=lambda c: (c.line, c.span.column)):
        col = c.span.column if c.span.line else 0
        same_line = [(a[1], i) for a, i in anchored if a[0] == c.line and a[1] < col]
        if same_line and max(same_line)[1] not in trailing:
            trailing[max(same_line)[1]] = c.text
            continue
        after = [(a[0], i) for a, i in anchored if a[0] > c.line]
        if after:
            leading.setdefault(min(after)[1], []).append(c.text)
        else:
            tail.append(c.text)
    return leading, trailing, tail


def format_source(sf: ast.SourceFile, *, tested: ast.Program | None = None) -> str:
    """The canonical text of a source file, comments kept. `tested`: for a tests-only file, the
    program it tests (`NAME.loyalty` beside `NAME.test.loyalty`), whose points word and tier
    metric its tests are written in; it is not written out."""
    w = _Writer(sf, tested)
    if sf.program is not None:
        w.program(sf.program)
    for i, t in enumerate(sf.tests):
        w.test(t, blank=bool(w.lines))
    leading, trailing, tail = _place_comments(w.lines, sf.comments)
    out: list[str] = []
    for i, ln in enumerate(w.lines):
        if ln.blank_before:
            out.append("")
        depth = ln.depth + 1 if ln.closes else ln.depth
        for text in leading.get(i, []):
            out.append(INDENT * depth + text)
        line = INDENT * ln.depth + ln.text
        if i in trailing:
            line += "  " + trailing[i]
        out.append(line)
    if tail:
        if out:
            out.append("")
        out.extend(tail)
    return "\n".join(out) + "\n" if out else ""
