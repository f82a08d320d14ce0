"""Shared state and small helpers of the checker passes.

Takes: a `SourceFile` and the `Scope` of its program. Gives: `CheckContext`, which the
passes (`checker`, `check_tiers`, `check_warnings`, `check_tests`) use to report
diagnostics at the right place and to check money amounts, points quantities and
duplicate names in one consistent way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Iterable

from rulelang.syntax import ast
from rulelang import ir
from rulelang.check.expressions import money_cents, span_of
from rulelang.check.scope import Scope
from rulelang.diagnostics import DiagnosticBag, Span
from rulelang.limits import MAX_MONEY_CENTS


@dataclass
class CheckContext:
    sf: ast.SourceFile
    scope: Scope
    bag: DiagnosticBag
    # rule index (source order) -> its resolved condition; rules whose condition has
    # errors are absent, so the warning passes skip them.
    conditions: dict[int, ir.Expr | None] = field(default_factory=dict)

    @property
    def program(self) -> ast.Program | None:
        return self.sf.program

    @property
    def unit(self) -> str:
        return self.program.points_unit if self.program is not None else "points"

    def file_span(self) -> Span:
        return Span(self.sf.path, 1, 1, 1, 1)

    def span(self, node: object, parent: object = None) -> Span:
        """The node's span, else its parent's, else the start of the file."""
        fallback = self.file_span()
        if parent is not None:
            fallback = span_of(parent, fallback)
        return span_of(node, fallback)

    def statement_span(self, owner: object, keyword: str) -> Span:
        """Where the statement `keyword` of `owner` was written (`price 0` of a reward: a value without
        a node of its own), else the owner's span."""
        span = self.span(owner)
        for (line, column, kind), where in self.sf.statement_spans:
            if kind == keyword and (line, column) == (span.line, span.column):
                return where
        return span

    def error(self, code: str, message: str, node: object, hint: str | None = None, parent: object = None) -> None:
        self.bag.error(code, message, self.span(node, parent), hint)

    def warning(self, code: str, message: str, node: object, hint: str | None = None, parent: object = None) -> None:
        self.bag.warning(code, message, self.span(node, parent), hint)

    # ------------------------------------------------------------ quantities

    def money(
        self,
        money: ast.Money | None,
        what: str,
        parent: object,
        *,
        positive: bool = False,
        fractional_cents: bool = False,
    ) -> bool:
        """Currency (RL203), whole cents, and sign (RL202) of a money amount. True when fine."""
        if money is None:
            return True
        ok = True
        if money.currency != self.scope.currency:
            self.error(
                "RL203",
                f"{what} is in {money.currency}, but the program's currency is {self.scope.currency}",
                money,
                f"write it in {self.scope.currency}, e.g. `{money.amount} {self.scope.currency}`",
                parent,
            )
            ok = False
        cents = money_cents(money)
        if cents < 0 or (positive and cents == 0):
            self.error(
                "RL202",
                f"{what} must be {'more than' if positive else 'at least'} 0 {money.currency}",
                money,
                None,
                parent,
            )
            ok = False
        elif cents > MAX_MONEY_CENTS:
            self.error(
                "RL410",
                f"{what} is {money.amount} {money.currency}, more than the {MAX_MONEY_CENTS // 100:,} "
                f"{money.currency} the engines hold exactly",
                money,
                "the engines hold amounts exactly only within these bounds (see docs/errors/RL410.md)",
                parent,
            )
            ok = False
        elif not fractional_cents and cents.denominator != 1:
            self.error(
                "RL202",
                f"{what} `{money.amount} {money.currency}` has fractions of a cent",
                money,
                "write money with at most 2 decimals",
                parent,
            )
            ok = False
        return ok

    def count(self, value: object, what: str, node: object, *, minimum: int = 0, whole: bool = True,
              hint: str | None = None) -> bool:
        """A quantity such as points, days or months: a number >= minimum (RL202)."""
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, Fraction)):
            self.error("RL202", f"{what} must be a number", node)
            return False
        if value < minimum:
            words = "negative" if minimum == 0 else f"less than {minimum}"
            self.error("RL202", f"{what} cannot be {words} (got {value})", node,
                       f"write `{abs(value)}`: {what} cannot go below zero" if value < 0 and minimum == 0 else hint)
            return False
        if whole and Fraction(value).denominator != 1:
            self.error("RL202", f"{what} must be a whole number (got {value})", node)
            return False
        return True

    def percent(self, value: Decimal | None, what: str, node: object) -> bool:
        if value is None:
            return True
        if value < 0 or value > 100:
            self.error(
                "RL202",
                f"{what} of {value}% is not between 0% and 100%",
                node,
                "a percentage is at most 100%",
            )
            return False
        return True

    def duplicates(self, nodes: Iterable[object], kind: str, name_of=lambda n: n.name) -> None:  # type: ignore[no-untyped-def]
        """RL204 for every node whose name was already used by an earlier one."""
        seen: dict[str, object] = {}
        for node in nodes:
            name = name_of(node)
            if name in seen:
                first = self.span(seen[name])
                where = f" (first defined on line {first.line})" if first.line else ""
                self.error("RL204", f"{kind} `{name}` is defined twice{where}", node, f"rename one of the two {kind}s")
            else:
                seen[name] = node
