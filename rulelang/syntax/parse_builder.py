"""Builds the AST from the parse tree of the text form.

Takes: a lark tree produced by `rulelang/syntax/grammar/rulelang.lark` and a position mapper.
Gives: `Builder().transform(tree)` -> `(Program | None, tests)` (or one condition),
with a `Span` on every node; invalid numbers and dates (RL103) and statements given
twice (RL101) are collected in `Builder.errors` instead of raised, and statements
with no node of their own are recorded in `Builder.stmt_spans` for the formatter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from lark import Token, Transformer, v_args

from rulelang.syntax import ast
from rulelang.syntax.slips import MONEY_SLIP, FlatClause, currency_word
from rulelang.diagnostics import Diagnostic, Span, did_you_mean
from rulelang.vocabulary import unit_words
from rulelang.syntax.balances import balance_metric, normalise_test_units, tier_units_dropped, points_unit_dropped as _points_unit_dropped
from rulelang.syntax.expect_words import EventRef, OnDate, normalise_expect_words
from rulelang.syntax.read_limits import NUMBER_HINT, NUMBER_TOO_LONG, number_too_long
from rulelang.syntax.lifecycle_words import (STATUS_DATE_HINT, STATUS_DATE_TOO_EARLY, UNKNOWN_ACTIVITY,
                                             activity_hint, status_date_problem)

__all__ = ["Builder", "Where", "unquote"]


# ---------------------------------------------------------------- positions


class Where:
    """Maps lark positions (1-based, within the parsed text) to spans in the file."""

    def __init__(self, path: str, line: int = 1, column: int = 1, end_word: str = "the end of the file") -> None:
        self.path, self.line0, self.col0, self.end_word = path, line, column, end_word

    def pos(self, line: int, col: int) -> tuple[int, int]:
        return line + self.line0 - 1, (col + self.col0 - 1 if line == 1 else col)

    def span(self, line: int, col: int, end_line: int, end_col: int) -> Span:
        l1, c1 = self.pos(line, col)
        l2, c2 = self.pos(end_line, end_col)
        return Span(self.path, l1, c1, l2, max(c2, 1))

    def of_token(self, tok: Token) -> Span:
        return self.span(tok.line or 1, tok.column or 1, tok.end_line or tok.line or 1, (tok.end_column or 2) - 1)

    def of_meta(self, meta: object) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.path, 0, 0, 0, 0)
        m = meta  # lark Meta: end_column is exclusive
        return self.span(m.line, m.column, m.end_line, m.end_column - 1)  # type: ignore[attr-defined]


# ---------------------------------------------------------------- tree -> AST


class _S(NamedTuple):
    """A statement that sets one field of its block (`priority 10`, `currency USD`)."""

    kind: str
    value: object
    span: Span


class _Clause(NamedTuple):
    kind: str  # per | of | excluding | to | sums | when | eom
    value: object
    span: Span | None = None  # where the clause is written (`of` and `excluding`)


_UNESCAPE = re.compile(r'\\(["\\])')
_MONEY = re.compile(r"(\d+(?:_\d+)*(?:\.\d+)?)[ \t]*([A-Z]{3})")
_NOON = dt.time(12, 0)


def unquote(text: str) -> str:
    return _UNESCAPE.sub(r"\1", text[1:-1])


@dataclass(frozen=True)
class _Lines:
    """The `{ line ...; line ... }` block of a purchase in a test, while the event is built."""

    items: tuple[ast.LineSpec, ...]


@v_args(meta=True)
class Builder(Transformer):  # type: ignore[type-arg]
    """Turns the lark tree into AST nodes; collects RL101/RL103 errors instead of raising."""

    def __init__(self, where: Where) -> None:
        super().__init__(visit_tokens=False)
        self.w = where
        self.errors: list[Diagnostic] = []
        self.missing: list[Diagnostic] = []  # "has no action"-like errors; dropped after syntax errors
        self.stmt_spans: list[tuple[tuple[int, int, str], Span]] = []
        self.tier_rate_units: list[tuple[str, Span]] = []
        self.flat_awards: list[FlatClause] = []  # `award 3 points of net amount`: reported by the parser

    # ------------------------------------------------------------ helpers

    def _err(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.errors.append(Diagnostic(code, "error", message, span, hint))

    def _missing(self, message: str, span: Span, hint: str) -> None:
        self.missing.append(Diagnostic("RL101", "error", message, span, hint))

    def _dec(self, tok: Token, text: str | None = None) -> Decimal:
        raw = (text if text is not None else str(tok)).replace("_", "")
        too_long = number_too_long(raw)
        if too_long:
            self._err(NUMBER_TOO_LONG, too_long, self.w.of_token(tok), NUMBER_HINT)
            return Decimal(0)
        try:
            return Decimal(raw)
        except InvalidOperation:
            self._err("RL103", f"invalid number `{tok}`", self.w.of_token(tok))
            return Decimal(0)

    def _int(self, tok: Token, what: str) -> int:
        value = self._dec(tok)
        if value != value.to_integral_value():
            self._err("RL103", f"{what} must be a whole number, not `{tok}`", self.w.of_token(tok),
                      f"write a whole number such as `{int(value)}`")
        return int(value)

    def _money(self, tok: Token) -> ast.Money:
        m = _MONEY.fullmatch(str(tok).strip())
        if not m:  # the lexer only produces matching text; keep a value anyway
            self._err("RL103", f"invalid amount of money `{tok}`", self.w.of_token(tok))
            return ast.Money(Decimal(0), "USD", span=self.w.of_token(tok))
        return ast.Money(self._dec(tok, m.group(1)), m.group(2), span=self.w.of_token(tok))

    def _date(self, tok: Token) -> dt.date:
        y, mo, d = (int(p) for p in str(tok).split("-"))
        try:
            return dt.date(y, mo, d)
        except ValueError:
            if not 1 <= mo <= 12:
                why = f"month {mo} does not exist (months are 01 to 12)"
            else:
                why = f"day {d} does not exist in {y}-{mo:02d}"
            self._err("RL103", f"invalid date `{tok}`: {why}", self.w.of_token(tok), "write dates as YYYY-MM-DD, e.g. 2027-05-04")
            return dt.date(1970, 1, 1)

    def _month_day(self, tok: Token) -> tuple[int, int]:
        mo, d = (int(p) for p in str(tok).split("-"))
        try:
            dt.date(2000, mo, d)  # a leap year, so 02-29 is accepted
        except ValueError:
            self._err("RL103", f"invalid month and day `{tok}`", self.w.of_token(tok), "write MM-DD, e.g. 12-31")
            return (1, 1)
        return (mo, d)

    def _time(self, tok: Token) -> dt.time:
        h, m = (int(p) for p in str(tok).split(":"))
        if not (0 <= h <= 23 and 0 <= m <= 59):
            self._err("RL103", f"invalid time `{tok}`", self.w.of_token(tok), "write HH:MM between 00:00 and 23:59")
            return _NOON
        return dt.time(h, m)

    def _owner_key(self, span: Span, kind: str) -> tuple[int, int, str]:
        return (span.line, span.column, kind)

    def _remember(self, owner: Span, stmt: _S) -> None:
        self.stmt_spans.append((self._owner_key(owner, stmt.kind), stmt.span))

    def _once(self, seen: dict[str, Span], stmt: _S, where: str) -> bool:
        if stmt.kind in seen:
            self._err("RL101", f"`{stmt.kind.replace('_', ' ')}` is given twice in {where}", stmt.span,
                      f"keep one (the first is on line {seen[stmt.kind].line})")
            return False
        seen[stmt.kind] = stmt.span
        return True

    def _stmt(self, meta: object, kind: str, value: object) -> _S:
        return _S(kind, value, self.w.of_meta(meta))

    # ------------------------------------------------------------ expressions

    def condition(self, meta, ch):
        return ch[0]

    def or_expr(self, meta, ch):
        return ast.BoolOp("or", tuple(ch), span=self.w.of_meta(meta))

    def and_expr(self, meta, ch):
        return ast.BoolOp("and", tuple(ch), span=self.w.of_meta(meta))

    def not_op(self, meta, ch):
        return ast.Not(ch[0], span=self.w.of_meta(meta))

    def any_line(self, meta, ch):
        return ast.AnyLine(ch[0], span=self.w.of_meta(meta))

    def compare(self, meta, ch):
        return ast.Compare(str(ch[1]), ch[0], ch[2], span=self.w.of_meta(meta))  # type: ignore[arg-type]

    def in_list(self, meta, ch):
        return ast.InList(ch[0], ch[1], False, span=self.w.of_meta(meta))

    def not_in_list(self, meta, ch):
        return ast.InList(ch[0], ch[1], True, span=self.w.of_meta(meta))

    def value_list(self, meta, ch):
        return tuple(ch)

    def ref(self, meta, ch):
        return ast.Ref((ch[0], *(str(t)[1:] for t in ch[1:])), span=self.w.of_meta(meta))

    def ref_head(self, meta, ch):
        return str(ch[0])

    def string(self, meta, ch):
        return ast.Literal(unquote(ch[0]), span=self.w.of_meta(meta))

    def number(self, meta, ch):
        return ast.Literal(self._dec(ch[0]), span=self.w.of_meta(meta))

    def money(self, meta, ch):
        return ast.Literal(self._money(ch[0]), span=self.w.of_meta(meta))

    def date(self, meta, ch):
        return ast.Literal(self._date(ch[0]), span=self.w.of_meta(meta))

    def true(self, meta, ch):
        return ast.Literal(True, span=self.w.of_meta(meta))

    def false(self, meta, ch):
        return ast.Literal(False, span=self.w.of_meta(meta))

    # ------------------------------------------------------------ small enums (keep the word)

    def _word(self, meta, ch):
        return str(ch[0])

    stacking = rounding = field_type = event_name = base = side = period = streak_period = _word
    unit = metric_word = perk_per = review_freq = allowance = conv_period = given_word = _word
    valid_unit = voucher_count_kind = _word
    ev_kind = expect_ev_kind = field_key = points_kind = money_kind = _word

    # ------------------------------------------------------------ program header

    def points_decl(self, meta, ch):
        return self._stmt(meta, "points", unquote(ch[0]))

    def not_redeemable(self, meta, ch):
        return _Clause("not_redeemable", True)

    def balance_decl(self, meta, ch):
        return ast.Balance(unquote(ch[0]), not any(isinstance(c, _Clause) for c in ch[1:]), span=self.w.of_meta(meta))

    def currency_decl(self, meta, ch):
        code = str(ch[0])
        if not re.fullmatch(r"[A-Z]{3}", code):
            self._err("RL101", f"`{code}` is not a currency code", self.w.of_token(ch[0]),
                      f"write `{currency_word(code)}`: a currency code is three capital letters" if currency_word(code)
                      else "write three capital letters, e.g. `USD`")
        return self._stmt(meta, "currency", code)

    def point_cost(self, meta, ch):
        return self._stmt(meta, "point_cost", self._money(ch[0]))

    def point_value(self, meta, ch):
        return self._stmt(meta, "point_value", self._money(ch[0]))

    def multipliers_decl(self, meta, ch):
        return self._stmt(meta, "multipliers", ch[0])

    def round_stmt(self, meta, ch):
        return self._stmt(meta, "round", ch[0])

    def pending_decl(self, meta, ch):
        return self._stmt(meta, "pending", self._int(ch[0], "pending days"))

    def attribute_decl(self, meta, ch):
        return ast.FieldDecl(str(ch[0]), ch[1], span=self.w.of_meta(meta))

    def line_attribute_decl(self, meta, ch):
        return ast.LineAttributeDecl(str(ch[0]), ch[1], span=self.w.of_meta(meta))

    def field_decl(self, meta, ch):
        return ast.FieldDecl(str(ch[0]), ch[1], span=self.w.of_meta(meta))

    def event_decl(self, meta, ch):
        return ast.EventDecl(ch[0], tuple(ch[1:]), span=self.w.of_meta(meta))

    def sums(self, meta, ch):
        return _Clause("sums", str(ch[0]))

    def when_clause(self, meta, ch):
        return _Clause("when", ch[0])

    def counter_decl(self, meta, ch):
        name, rest = str(ch[0]), ch[1:]
        sums = next((c.value for c in rest if isinstance(c, _Clause) and c.kind == "sums"), None)
        cond = next((c.value for c in rest if isinstance(c, _Clause) and c.kind == "when"), None)
        event = next(c for c in rest if isinstance(c, str))
        return ast.CounterDecl(name, event, sums, cond, span=self.w.of_meta(meta))  # type: ignore[arg-type]

    # ------------------------------------------------------------ earn rules

    def per_clause(self, meta, ch):
        return _Clause("per", self._money(ch[0]))

    def per_quantity(self, meta, ch):
        code = currency_word(str(ch[1]))
        if code is not None:
            self._err(MONEY_SLIP, f"`{ch[0]} {ch[1]}`: currency codes are written in capitals", self.w.of_meta(meta),
                      f"write `per {ch[0]} {code}` (`{ch[1]}` would be read as a unit of quantity)")
        return _Clause("per", ast.Quantity(self._dec(ch[0]), str(ch[1]), span=self.w.of_meta(meta)))

    def of_clause(self, meta, ch):
        return _Clause("of", ch[0], self.w.of_meta(meta))

    def excluding(self, meta, ch):
        return _Clause("excluding", tuple(unquote(t) for t in ch), self.w.of_meta(meta))

    def in_category(self, meta, ch):
        return _Clause("in", tuple(unquote(t) for t in ch))

    def to_clause(self, meta, ch):
        return _Clause("to", ch[0])

    @staticmethod
    def _clauses(ch: list) -> dict[str, object]:
        return {c.kind: c.value for c in ch if isinstance(c, _Clause)}

    def _flat_award(self, ch: list) -> None:
        """Remember the `of ... amount` / `excluding ...` of an award without `per`: they would change nothing."""
        found = [c for c in ch if isinstance(c, _Clause) and c.kind in ("of", "excluding") and c.span is not None]
        if found:
            first, last = found[0].span, found[-1].span
            span = Span(first.file, first.line, first.column, last.end_line, last.end_column)
            self.flat_awards.append(FlatClause(str(ch[0]), str(ch[1]), tuple((c.kind, c.value) for c in found), span))

    def award(self, meta, ch):
        c = self._clauses(ch)
        if c.get("per") is None:
            self._flat_award(ch)
        return ast.Award(self._dec(ch[0]), c.get("per"), c.get("of", "net"), c.get("excluding", ()),  # type: ignore[arg-type]
                         c.get("to", "customer"), unit=ch[1], only=c.get("in", ()),  # type: ignore[arg-type]
                         span=self.w.of_meta(meta))

    def cashback(self, meta, ch):
        c = self._clauses(ch)
        return ast.Cashback(self._dec(ch[0], str(ch[0])[:-1]), c.get("of", "net"), c.get("excluding", ()),  # type: ignore[arg-type]
                            span=self.w.of_meta(meta))

    def multiply(self, meta, ch):
        c = self._clauses(ch)
        return ast.Multiply(self._dec(ch[0], str(ch[0])[:-1]), c.get("in", ()),  # type: ignore[arg-type]
                            span=self.w.of_meta(meta))

    def discount(self, meta, ch):
        c = self._clauses(ch)
        tok = ch[0]
        base, excl, only = c.get("of", "net"), c.get("excluding", ()), c.get("in", ())
        if tok.type == "PERCENT":
            return ast.Discount(percent=self._dec(tok, str(tok)[:-1]), base=base, excluding=excl,  # type: ignore[arg-type]
                                only=only, span=self.w.of_meta(meta))  # type: ignore[arg-type]
        return ast.Discount(amount=self._money(tok), base=base, excluding=excl, only=only,  # type: ignore[arg-type]
                            span=self.w.of_meta(meta))

    def perk(self, meta, ch):
        return ast.Perk(str(ch[0]), self._money(ch[1]), span=self.w.of_meta(meta))

    def priority_stmt(self, meta, ch):
        return self._stmt(meta, "priority", self._int(ch[0], "a priority"))

    def group_stmt(self, meta, ch):
        tok = ch[0]
        return self._stmt(meta, "group", unquote(tok) if tok.type == "STRING" else str(tok))

    def during_stmt(self, meta, ch):
        return ast.DateWindow(self._date(ch[0]), self._date(ch[1]), span=self.w.of_meta(meta))

    def cap_stmt(self, meta, ch):
        return ast.Cap(self._int(ch[0], "a cap"), "points", ch[-1], span=self.w.of_meta(meta))

    def limit_stmt(self, meta, ch):
        return ast.Cap(self._int(ch[0], "a limit"), "times", ch[-1], span=self.w.of_meta(meta))

    def budget_stmt(self, meta, ch):
        if ch[0].type == "MONEY":
            return ast.Budget(money=self._money(ch[0]), span=self.w.of_meta(meta))
        return ast.Budget(points=self._int(ch[0], "a budget"), span=self.w.of_meta(meta))

    def every_stmt(self, meta, ch):
        tok = ch[0]
        errors_before = len(self.errors)
        n = int(self._dec(tok, re.match(r"\d+", str(tok)).group(0)))  # type: ignore[union-attr]
        if n < 1 and len(self.errors) == errors_before:
            self._err("RL103", f"`{tok}` is not a valid position", self.w.of_token(tok), "write e.g. `every 10th purchase`")
        return self._stmt(meta, "every", n)

    def streak_stmt(self, meta, ch):
        period = ch[1].rstrip("s")
        return ast.Streak(self._int(ch[0], "a streak"), period, span=self.w.of_meta(meta))  # type: ignore[arg-type]

    def earn_rule(self, meta, ch):
        span = self.w.of_meta(meta)
        name, event = str(ch[0]), ch[1]
        where = f"rule `{name}`"
        fields: dict[str, object] = {}
        actions: list[object] = []
        caps: list[ast.Cap] = []
        cond = None
        seen: dict[str, Span] = {}
        for item in ch[2:]:
            if isinstance(item, _Clause):
                cond = item.value
            elif isinstance(item, (ast.Award, ast.Cashback, ast.Multiply, ast.Discount, ast.Perk)):
                actions.append(item)
            elif isinstance(item, ast.Cap):
                caps.append(item)
            elif isinstance(item, _S):
                if self._once(seen, item, where):
                    self._remember(span, item)
                    key = {"round": "rounding", "every": "every_nth"}.get(item.kind, item.kind)
                    fields[key] = item.value
            else:
                kind = {ast.DateWindow: "during", ast.Budget: "budget", ast.Streak: "streak"}[type(item)]
                if self._once(seen, _S(kind, None, item.span), where):
                    fields[{"during": "window"}.get(kind, kind)] = item
        if not actions:
            self._missing(f"rule `{name}` has no action", span,
                      "add one, e.g. `award 1 point per 1 USD`, `multiply 2x`, `discount 10%` or `perk NAME costs 1 USD`")
        return ast.EarnRule(name, event, cond, tuple(actions), caps=tuple(caps), span=span, **fields)  # type: ignore[arg-type]

    # ------------------------------------------------------------ tiers

    def metric(self, meta, ch):
        return ch[0]

    def before_discounts(self, meta, ch):
        return self._stmt(meta, "spend", "before_discounts")

    def after_discounts(self, meta, ch):
        return self._stmt(meta, "spend", "after_discounts")

    def returns_keep_tier(self, meta, ch):
        return self._stmt(meta, "returns", "keep_until_review")

    def returns_lower_tier(self, meta, ch):
        return self._stmt(meta, "returns", "lower_at_once")

    def calendar_year(self, meta, ch):
        return ast.TierWindow("calendar_year", span=self.w.of_meta(meta))

    def rolling(self, meta, ch):
        return ast.TierWindow("rolling", self._int(ch[0], "a number of months"), span=self.w.of_meta(meta))

    def lifetime(self, meta, ch):
        return ast.TierWindow("lifetime", span=self.w.of_meta(meta))

    def tier_discount(self, meta, ch):
        return self._stmt(meta, "discount", self._dec(ch[0], str(ch[0])[:-1]))

    def tier_perk(self, meta, ch):
        per = ch[2] if len(ch) > 2 else "use"
        return ast.TierPerk(str(ch[0]), self._money(ch[1]), per, span=self.w.of_meta(meta))  # type: ignore[arg-type]

    def tier_rate(self, meta, ch):
        """`award 1.2 stars per 1 USD` inside a tier: the tier's own earn rate."""
        self.tier_rate_units.append((str(ch[1]), self.w.of_meta(meta)))
        return self._stmt(meta, "award", (self._dec(ch[0]), self._money(ch[2])))

    def never_expire(self, meta, ch):
        return ast.Expiry("never", span=self.w.of_meta(meta))

    def tier_def(self, meta, ch):
        span = self.w.of_meta(meta)
        name, tok = str(ch[0]), ch[1]
        money = self._money(tok) if tok.type == "MONEY" else None
        threshold = money.amount if money else self._dec(tok)
        fields: dict[str, object] = {}
        expiry: list[ast.Expiry] = []
        perks: list[ast.TierPerk] = []
        seen: dict[str, Span] = {}
        for item in ch[2:]:
            if isinstance(item, ast.Multiply):
                if item.only:
                    self._err("RL255", f"a tier's multiplier scales every line; `in category` does not go in tier "
                                       f"`{name}`", item.span,
                              "write a rule instead: `earn coffee_double on purchase when tier == "
                              f"{name} {{ multiply 2x in category \"coffee\" }}`")
                if self._once(seen, _S("multiply", None, item.span), f"tier `{name}`"):
                    self._remember(span, _S("multiply", None, item.span))
                    fields["multiplier"] = item.factor
            elif isinstance(item, _S) and item.kind == "award":
                if self._once(seen, item, f"tier `{name}`"):
                    self._remember(span, item)
                    fields["rate"], fields["rate_per"] = item.value
            elif isinstance(item, _S):
                if self._once(seen, item, f"tier `{name}`"):
                    self._remember(span, item)
                    fields["discount"] = item.value
            elif isinstance(item, ast.Expiry):
                expiry.append(item)
            elif isinstance(item, ast.TierPerk):
                perks.append(item)
        return ast.Tier(name, threshold, money, expiry=tuple(expiry), perks=tuple(perks), span=span, **fields)  # type: ignore[arg-type]

    def review_stmt(self, meta, ch):
        return self._stmt(meta, "review", ch[0])

    def one_step(self, meta, ch):
        return "one_step"

    def to_base(self, meta, ch):
        return "to_base"

    def to_qualified(self, meta, ch):
        return "to_qualified"

    def no_downgrade(self, meta, ch):
        return "never"

    def downgrade_stmt(self, meta, ch):
        return self._stmt(meta, "downgrade", ch[0])

    def grace_stmt(self, meta, ch):
        return self._stmt(meta, "grace", self._int(ch[0], "grace"))

    def valid_stmt(self, meta, ch):
        return self._stmt(meta, "valid", self._int(ch[0], "validity"))

    def next_year(self, meta, ch):
        return 1

    def year_after_next(self, meta, ch):
        return 2

    def qualification_year(self, meta, ch):
        return 0

    def years_after(self, meta, ch):
        return self._int(ch[0], "a number of years")

    def years_before(self, meta, ch):
        return -self._int(ch[0], "a number of years")

    def then_one_step(self, meta, ch):
        return "one_step"

    def then_to_qualified(self, meta, ch):
        return "to_qualified"

    def status_stmt(self, meta, ch):
        """`status valid through 01-31 of the year after next [then one step]`."""
        span = self.w.of_meta(meta)
        month_day, years = self._month_day(ch[0]), ch[1]
        drop = ch[2] if len(ch) > 2 else "to_qualified"
        if years < 1:
            self._err(STATUS_DATE_TOO_EARLY, status_date_problem(month_day, years), span, STATUS_DATE_HINT)
        return self._stmt(meta, "status", (month_day, years, drop))

    def tiers(self, meta, ch):
        span = self.w.of_meta(meta)
        metric, rest = ch[0], list(ch[1:])
        tiers: list[ast.Tier] = []
        fields: dict[str, object] = {}
        seen: dict[str, Span] = {}
        names = {"review": "review", "downgrade": "downgrade", "grace": "grace_months", "valid": "validity_months",
                 "spend": "spend_basis", "returns": "on_return"}
        window = next(x for x in rest if isinstance(x, ast.TierWindow))
        for item in rest:
            if isinstance(item, ast.Tier):
                tiers.append(item)
            elif isinstance(item, _S) and self._once(seen, item, "the tiers block"):
                self._remember(span, item)
                if item.kind == "status":
                    fields["status_through"], fields["status_years"], fields["status_drop"] = item.value
                else:
                    fields[names[item.kind]] = item.value
        if not tiers:
            self._missing("the tiers block has no tier", span, "add e.g. `tier Base from 0`")
        return ast.TierSystem(metric, window, tuple(tiers), span=span, **fields)  # type: ignore[arg-type]

    # ------------------------------------------------------------ lifecycle

    def end_of_month(self, meta, ch):
        return _Clause("eom", True)

    def after_earning(self, meta, ch):
        return {"kind": "after_earning", "months": self._int(ch[0], "a number of months"), "end_of_month": len(ch) > 1}

    def inactivity(self, meta, ch):
        return {"kind": "inactivity", "months": self._int(ch[0], "a number of months")}

    def fixed_date(self, meta, ch):
        return {"kind": "fixed_date", "date": self._date(ch[0])}

    def yearly(self, meta, ch):
        return {"kind": "yearly", "month_day": self._month_day(ch[0])}

    def expire_stmt(self, meta, ch):
        return ast.Expiry(**ch[1], unit=str(ch[0]), span=self.w.of_meta(meta))  # `unit` normalised in `program`

    def returns_stmt(self, meta, ch):
        return ast.ReturnPolicy(True, span=self.w.of_meta(meta))

    def negative_balance(self, meta, ch):
        return self._stmt(meta, "negative_balance", ch[0])

    def returns_lower_stmt(self, meta, ch):
        return self._stmt(meta, "returns_lower", True)

    # ------------------------------------------------------------ redemption

    def price_stmt(self, meta, ch):
        return self._stmt(meta, "price", (self._int(ch[0], "a price"), str(ch[1]) if len(ch) > 1 else None))

    def worth_stmt(self, meta, ch):
        return self._stmt(meta, "worth", self._money(ch[0]))

    def costs_us_stmt(self, meta, ch):
        return self._stmt(meta, "costs_us", self._money(ch[0]))

    def reward_voucher_stmt(self, meta, ch):
        return self._stmt(meta, "voucher", (self._money(ch[0]), ch[1]))

    def reward(self, meta, ch):
        span = self.w.of_meta(meta)
        name = str(ch[0])
        seen: dict[str, Span] = {}
        values: dict[str, object] = {}
        for item in ch[1:]:
            if self._once(seen, item, f"reward `{name}`"):
                self._remember(span, item)
                values[item.kind] = item.value
        if "price" not in values:
            self._missing(f"reward `{name}` has no price", span, "add e.g. `price 150 points`")
        price, price_unit = values.get("price") or (0, None)  # type: ignore[misc]
        voucher, (valid, unit) = values.get("voucher") or (None, (None, "years"))  # type: ignore[misc]
        return ast.Reward(name, price, values.get("worth"), values.get("costs_us"),  # type: ignore[arg-type]
                          voucher, valid, unit, unit=price_unit, span=span)

    def exchange_stmt(self, meta, ch):
        return self._stmt(meta, "exchange", (self._int(ch[0], "points"), self._money(ch[2])))

    def minimum_stmt(self, meta, ch):
        return self._stmt(meta, "minimum", self._int(ch[0], "a minimum balance"))

    def at_most_stmt(self, meta, ch):
        return self._stmt(meta, "at_most", self._dec(ch[0], str(ch[0])[:-1]))

    def pay_with_points(self, meta, ch):
        span = self.w.of_meta(meta)
        seen: dict[str, Span] = {}
        values: dict[str, object] = {}
        for item in ch[1:]:
            if self._once(seen, item, "`pay with points`"):
                self._remember(span, item)
                values[item.kind] = item.value
        points, money = values.get("exchange") or (0, ast.Money(Decimal(1), "USD"))  # type: ignore[misc]
        if "exchange" not in values:
            self._missing("`pay with points` does not say what points are worth", span, "add e.g. `100 points = 1 USD`")
        return ast.PayWithPoints(points, money, values.get("minimum", 0),  # type: ignore[arg-type]
                                 values.get("at_most", Decimal(100)), unit=str(ch[0]), span=span)  # type: ignore[arg-type]

    def convert_stmt(self, meta, ch):
        valid, valid_unit = (ch[3] if isinstance(ch[3], tuple) else (None, "years"))
        when = ch[-1]
        period, months = ("months", tuple(when)) if isinstance(when, list) else (str(when), ())
        return ast.Conversion(self._int(ch[0], "points"), self._money(ch[2]), period, months,  # type: ignore[arg-type]
                              valid, valid_unit, unit=str(ch[1]), span=self.w.of_meta(meta))

    def voucher_valid(self, meta, ch):
        unit = str(ch[1])
        return (self._int(ch[0], "validity"), unit if unit.endswith("s") else unit + "s")

    def conv_months(self, meta, ch):
        return [str(t) for t in ch]

    def activity_named(self, meta, ch):
        word = str(ch[0])
        if word not in ("purchase", "redemption"):
            self._err(UNKNOWN_ACTIVITY, f"`{word}` is not a kind of activity", self.w.of_token(ch[0]),
                      activity_hint(word))
            return None
        return word

    def activity_earning(self, meta, ch):
        return "earning"

    def activity_stmt(self, meta, ch):
        """`activity is purchase, redemption, any earning event`."""
        kinds = tuple(dict.fromkeys(k for k in ch if k is not None))
        return self._stmt(meta, "activity", kinds)

    # ------------------------------------------------------------ program

    def program(self, meta, ch):
        span = self.w.of_meta(meta)
        header: dict[str, object] = {}
        lists: dict[str, list[object]] = {"events": [], "attributes": [], "counters": [], "rules": [],
                                          "expiry": [], "rewards": [], "line_attributes": []}
        seen: dict[str, Span] = {}
        returns: ast.ReturnPolicy | None = None
        negative: _S | None = None
        lower: _S | None = None
        lists["balances"] = []
        kinds = {ast.EventDecl: "events", ast.FieldDecl: "attributes", ast.CounterDecl: "counters",
                 ast.EarnRule: "rules", ast.Expiry: "expiry", ast.Reward: "rewards", ast.Balance: "balances",
                 ast.LineAttributeDecl: "line_attributes"}
        singles = {ast.TierSystem: ("tiers", "tiers"), ast.PayWithPoints: ("pay with points", "pay_with_points"),
                   ast.Conversion: ("convert", "conversion"), ast.ReturnPolicy: ("returns", "returns")}
        for item in ch[1:]:
            if isinstance(item, _S):
                if not self._once(seen, item, "the program"):
                    continue
                self._remember(span, item)
                if item.kind == "negative_balance":
                    negative = item
                elif item.kind == "returns_lower":
                    lower = item
                else:
                    header[item.kind] = item.value
            elif type(item) in kinds:
                lists[kinds[type(item)]].append(item)
            elif type(item) in singles:
                word, key = singles[type(item)]
                if self._once(seen, _S(word, None, item.span), "the program"):
                    if key == "returns":
                        returns = item
                    else:
                        header[key] = item
        unit = str(header.get("points", "points"))
        if negative is not None:
            if returns is not None:
                returns = ast.ReturnPolicy(True, negative.value, span=returns.span)  # type: ignore[arg-type]
            else:
                returns = ast.ReturnPolicy(False, negative.value, span=negative.span)  # type: ignore[arg-type]
        if lower is not None:
            returns = (ast.ReturnPolicy(False, lower_metrics=True, span=lower.span) if returns is None else
                       ast.ReturnPolicy(returns.reverse, returns.negative_balance, True, span=returns.span))
        tiers = header.get("tiers")
        if isinstance(tiers, ast.TierSystem) and tiers.metric in unit_words(unit):
            tiers = dataclasses.replace(tiers, metric="points")
        for word, where in self.tier_rate_units:
            if word not in unit_words(unit):
                self._err("RL202", f"`{word}` is not this program's points unit", where,
                          did_you_mean(word, sorted(unit_words(unit))) or f"write `{unit}`")
        balances = tuple(lists["balances"])
        words = unit_words(unit)
        tiers = tier_units_dropped(balance_metric(tiers, balances), words)  # type: ignore[arg-type]
        lists["expiry"] = [_points_unit_dropped(e, words) for e in lists["expiry"]]
        lists["rewards"] = [_points_unit_dropped(r, words) for r in lists["rewards"]]
        for key in ("pay_with_points", "conversion"):
            if header.get(key) is not None:
                header[key] = _points_unit_dropped(header[key], words)
        return ast.Program(
            unquote(ch[0]),
            points_unit=unit,
            currency=str(header.get("currency", "USD")),
            balances=balances,  # type: ignore[arg-type]
            point_cost=header.get("point_cost"),  # type: ignore[arg-type]
            point_value=header.get("point_value"),  # type: ignore[arg-type]
            stacking=header.get("multipliers", "multiply"),  # type: ignore[arg-type]
            rounding=header.get("round", "down"),  # type: ignore[arg-type]
            pending_days=header.get("pending", 0),  # type: ignore[arg-type]
            events=tuple(lists["events"]),  # type: ignore[arg-type]
            attributes=tuple(lists["attributes"]),  # type: ignore[arg-type]
            counters=tuple(lists["counters"]),  # type: ignore[arg-type]
            rules=tuple(lists["rules"]),  # type: ignore[arg-type]
            tiers=tiers,  # type: ignore[arg-type]
            expiry=tuple(lists["expiry"]),  # type: ignore[arg-type]
            returns=returns,
            rewards=tuple(lists["rewards"]),  # type: ignore[arg-type]
            pay_with_points=header.get("pay_with_points"),  # type: ignore[arg-type]
            conversion=header.get("conversion"),  # type: ignore[arg-type]
            activity=header.get("activity", ()),  # type: ignore[arg-type]
            line_attributes=tuple(lists["line_attributes"]),  # type: ignore[arg-type]
            span=span,
        )

    # ------------------------------------------------------------ tests

    def given_tier(self, meta, ch):
        return ast.Given("tier", None, str(ch[0]), span=self.w.of_meta(meta))

    def given_attribute(self, meta, ch):
        return ast.Given("attribute", str(ch[0]), ch[1].value, span=self.w.of_meta(meta))

    def given_counter(self, meta, ch):
        return ast.Given("counter", str(ch[0]), self._dec(ch[1]), span=self.w.of_meta(meta))

    def given_birthday(self, meta, ch):
        return ast.Given("birthday", None, self._month_day(ch[0]), span=self.w.of_meta(meta))

    def given_amount(self, meta, ch):
        span = self.w.of_meta(meta)
        word, tok = ch[0], ch[1]
        value: object = self._money(tok) if tok.type == "MONEY" else self._dec(tok)
        unit = str(ch[2]) if len(ch) > 2 else None
        if word in ("balance", "purchases"):
            if tok.type == "MONEY":
                self._err("RL101", f"`given {word}` takes a number, not money", self.w.of_token(tok),
                          f"write e.g. `given {word} 500`")
            return ast.Given(word, None, value, unit=unit, span=span)  # type: ignore[arg-type]
        return ast.Given("metric", word, value, unit=unit, span=span)  # type: ignore[arg-type]

    def ev_time(self, meta, ch):
        day = self._date(ch[0])
        return dt.datetime.combine(day, self._time(ch[1]) if len(ch) > 1 else _NOON)

    def ev_field(self, meta, ch):
        return (ch[0], ch[1])

    def _event(self, meta, kind: str, ch: list, amount: ast.Money | None = None, name: str | None = None,
               extra: tuple = ()) -> ast.EventSpec:
        at = next(c for c in ch if isinstance(c, dt.datetime))
        fields = list(extra)
        for key, lit in (c for c in ch if isinstance(c, tuple)):
            if key == "amount" and amount is None and isinstance(lit.value, ast.Money):
                amount = lit.value
            else:
                fields.append((key, lit))
        return ast.EventSpec(kind, at, amount, name, tuple(fields), span=self.w.of_meta(meta))

    def ev_return(self, meta, ch):
        return self._event(meta, "return", ch, name=unquote(ch[0]))

    def ev_redeem(self, meta, ch):
        return self._event(meta, "redeem", ch, name=str(ch[0]))

    def ev_pay(self, meta, ch):
        return self._event(meta, "pay", ch, amount=self._money(ch[0]))

    def ev_use_perk(self, meta, ch):
        return self._event(meta, "use_perk", ch, name=str(ch[0]))

    def ev_use_voucher(self, meta, ch):
        return self._event(meta, "use_voucher", ch)

    def ev_referral(self, meta, ch):
        extra = ((("role", ast.Literal(ch[0])),) if isinstance(ch[0], str) else ())
        return self._event(meta, "referral", ch, extra=extra)

    def ev_generic(self, meta, ch):
        amount = self._money(ch[1]) if isinstance(ch[1], Token) and ch[1].type == "MONEY" else None
        spec = self._event(meta, ch[0], ch, amount=amount)
        lines = next((c for c in ch if isinstance(c, _Lines)), None)
        if lines is None:
            return spec
        return ast.EventSpec(spec.kind, spec.at, spec.amount, spec.name, spec.fields, lines.items, span=spec.span)

    def ev_lines(self, meta, ch):
        return _Lines(tuple(c for c in ch if isinstance(c, ast.LineSpec)))

    def ev_line(self, meta, ch):
        amount = self._money(ch[0]) if ch and isinstance(ch[0], Token) and ch[0].type == "MONEY" else None
        return ast.LineSpec(amount, tuple(c for c in ch if isinstance(c, tuple)), span=self.w.of_meta(meta))

    def when_stmt(self, meta, ch):
        spec: ast.EventSpec = ch[0]
        return ast.EventSpec(spec.kind, spec.at, spec.amount, spec.name, spec.fields, spec.lines,
                             span=self.w.of_meta(meta))

    def until_stmt(self, meta, ch):
        return self._stmt(meta, "until", self._date(ch[0]))

    def _points_value(self, ch: list) -> tuple[int, str | None]:
        """`[MINUS] NUMBER [unit]` after the kind word: the points and the unit word written."""
        negative = isinstance(ch[1], Token) and ch[1].type == "MINUS"
        points = self._int(ch[2] if negative else ch[1], "points")
        rest = ch[3 if negative else 2:]
        unit = next((str(c) for c in rest if isinstance(c, str)), None)
        return (-points if negative else points), unit

    @staticmethod
    def _on(ch: list) -> dt.date | None:
        return next((c.day for c in ch if isinstance(c, OnDate)), None)

    def expect_on(self, meta, ch):
        return OnDate(self._date(ch[0]))

    def expect_points(self, meta, ch):
        points, unit = self._points_value([c for c in ch if not isinstance(c, OnDate)])
        return ast.Expect(ch[0], points, unit=unit, on=self._on(ch), span=self.w.of_meta(meta))

    def expect_tier(self, meta, ch):
        return ast.Expect("tier", str(ch[0]), on=self._on(ch), span=self.w.of_meta(meta))

    def expect_money(self, meta, ch):
        return ast.Expect(ch[0], self._money(ch[1]), on=self._on(ch), span=self.w.of_meta(meta))

    def expect_counter(self, meta, ch):
        return ast.Expect("counter", self._dec(ch[1]), name=str(ch[0]), on=self._on(ch), span=self.w.of_meta(meta))

    def expect_metric(self, meta, ch):
        word, tok = str(ch[0]), ch[1]
        value: object = self._money(tok) if tok.type == "MONEY" else self._dec(tok)
        unit = next((str(c) for c in ch[2:] if isinstance(c, str) and not isinstance(c, OnDate)), None)
        return ast.Expect("metric", value, name=None if word == "metric" else word, unit=unit,  # type: ignore[arg-type]
                          on=self._on(ch), span=self.w.of_meta(meta))

    def expect_event(self, meta, ch):
        kind = str(ch[0])
        if isinstance(ch[1], Token) and ch[1].type == "STRING":
            return EventRef(kind, unquote(ch[1]), None, None)
        return EventRef(kind, None, self._date(ch[1]), self._time(ch[2]) if len(ch) > 2 else None)

    def event_points(self, meta, ch):
        points, unit = self._points_value(ch)
        return ast.Expect(ch[0], points, unit=unit, span=self.w.of_meta(meta))

    def event_money(self, meta, ch):
        """`discount 3 USD`, or `discount -75 RUB`: what one event moved, negative on a return."""
        money = self._money(ch[-1])
        if len(ch) == 3:  # MINUS
            money = dataclasses.replace(money, amount=-money.amount)
        return ast.Expect(ch[0], money, span=self.w.of_meta(meta))

    def expect_event_stmt(self, meta, ch):
        ref: EventRef = ch[0]
        return [ast.Expect(x.kind, x.value, unit=x.unit, on=ref.on, event=ref.kind, event_id=ref.id, at=ref.at,
                           span=x.span) for x in ch[1:]]

    def expect_fired(self, meta, ch):
        return ast.Expect("fired", str(ch[0]), span=self.w.of_meta(meta))

    def expect_not_fired(self, meta, ch):
        return ast.Expect("fired", str(ch[0]), True, span=self.w.of_meta(meta))

    def expect_vouchers(self, meta, ch):
        span = self.w.of_meta(meta)
        return [ast.Expect(f"vouchers_{ch[i]}", self._int(ch[i + 1], "vouchers"), span=span)
                for i in range(0, len(ch), 2)]

    def expect_voucher_balance(self, meta, ch):
        return ast.Expect("voucher_balance", self._money(ch[0]), span=self.w.of_meta(meta))

    def expect_stmt(self, meta, ch):
        return [x for c in ch for x in (c if isinstance(c, list) else [c])]

    def test(self, meta, ch):
        span = self.w.of_meta(meta)
        givens: list[ast.Given] = []
        events: list[ast.EventSpec] = []
        expects: list[ast.Expect] = []
        until = None
        seen: dict[str, Span] = {}
        for item in ch[1:]:
            if isinstance(item, ast.Given):
                givens.append(item)
            elif isinstance(item, ast.EventSpec):
                events.append(item)
            elif isinstance(item, list):
                expects.extend(item)
            elif isinstance(item, _S) and self._once(seen, item, "the test"):
                self._remember(span, item)
                until = item.value
        return ast.TestCase(unquote(ch[0]), tuple(givens), tuple(events), tuple(expects), until, span=span)  # type: ignore[arg-type]

    def start(self, meta, ch):
        program = next((c for c in ch if isinstance(c, ast.Program)), None)
        tests = tuple(c for c in ch if isinstance(c, ast.TestCase))
        if program is not None:
            units = unit_words(program.points_unit)
            metric = program.tiers.metric if program.tiers is not None else None
            tests = tuple(normalise_expect_words(_normalise_metric(t, units), program.points_unit, metric)
                          for t in tests)
        tests = tuple(normalise_test_units(t, program) for t in tests)
        return program, tests


def _normalise_metric(test: ast.TestCase, units: set[str]) -> ast.TestCase:
    """`given stars 300` sets the points metric: record it as `points`."""
    if not any(g.kind == "metric" and g.name in units and g.name != "points" for g in test.givens):
        return test
    givens = tuple(
        ast.Given("metric", "points", g.value, span=g.span) if g.kind == "metric" and g.name in units else g
        for g in test.givens
    )
    return ast.TestCase(test.name, givens, test.events, test.expects, test.until, span=test.span)
