"""Names and types of one condition.

Takes: an AST condition (`ast.Expr`), the `Scope` of its program, and the event the
condition is evaluated on. Gives: the condition as an `ir.Expr` (fields typed, money in
cents, numbers as `Fraction`, weekday and tier names as indices), or None when it has
errors; every error goes to the `DiagnosticBag` (RL201 unknown name, RL202 type error,
RL203 wrong currency, RL205 field not available on the event, RL401 nested too deep).
The checker uses it to report problems; the compiler uses it to build the IR.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from rulelang.syntax import ast
from rulelang.syntax.nodes import UnhandledNode
from rulelang import ir
from rulelang.fields import FIELD_BY_NAME
from rulelang.check.scope import WEEKDAYS, Scope, literal_type, type_word
from rulelang.check.scope import LINE_ATTRIBUTE_OUTSIDE as OUTSIDE_ANY_LINE, line_fields
from rulelang.diagnostics import DiagnosticBag, Span, did_you_mean

from rulelang.limits import MAX_NESTING as MAX_DEPTH

LINE_EVENTS = ("purchase",)  # the events that carry lines (docs/semantics.md §3.1)
ORDERED_TYPES = frozenset({"number", "money", "date", "weekday", "tier"})


@dataclass(frozen=True)
class _Name:
    """A bare name that is not a field: a weekday or tier name once the other side says which."""

    name: str
    span: Span


_Typed = tuple["ir.Expr | _Name | None", "str | None"]


def span_of(node: object, fallback: Span) -> Span:
    """The node's span, or `fallback` for hand-built nodes that have none."""
    span = node if isinstance(node, Span) else getattr(node, "span", None)
    if isinstance(span, Span) and span.line > 0:
        return span
    return fallback


def money_cents(money: ast.Money) -> Fraction:
    """Exact cents of a money literal (may be fractional: the caller checks)."""
    return Fraction(Decimal(money.amount)) * 100


class ConditionResolver:
    """Resolves one condition on one event; collects diagnostics in `bag`."""

    def __init__(self, scope: Scope, event: str, bag: DiagnosticBag, fallback: Span):
        self.scope = scope
        self.event = event
        self.bag = bag
        self.fallback = fallback
        self.failed = False
        self._too_deep_reported = False
        self.in_line = False  # inside `any line`: refs are the line's fields

    # ------------------------------------------------------------ reporting

    def _error(self, code: str, message: str, node: object, hint: str | None = None) -> None:
        self.failed = True
        self.bag.error(code, message, span_of(node, self.fallback), hint)

    # ------------------------------------------------------------ entry

    def condition(self, expr: ast.Expr) -> ir.Expr | None:
        """Resolve a whole condition; it must be a yes/no value."""
        result = self._bool(expr, 1)
        return None if self.failed else result

    # ------------------------------------------------------------ yes/no positions

    def _bool(self, expr: ast.Expr, depth: int) -> ir.Expr | None:
        if depth > MAX_DEPTH:
            if not self._too_deep_reported:
                self._too_deep_reported = True
                self._error(
                    "RL401",
                    f"this condition is nested more than {MAX_DEPTH} levels deep",
                    expr,
                    "split it into simpler conditions or several rules",
                )
            return None
        if isinstance(expr, ast.BoolOp):
            items = [self._bool(item, depth + 1) for item in expr.items]
            if any(item is None for item in items):
                return None
            clean = tuple(item for item in items if item is not None)
            return ir.And(items=clean) if expr.op == "and" else ir.Or(items=clean)
        if isinstance(expr, ast.Not):
            item = self._bool(expr.item, depth + 1)
            return None if item is None else ir.Not(item=item)
        if isinstance(expr, ast.AnyLine):
            return self._any_line(expr, depth)
        node, typ = self._typed(expr, depth)
        if isinstance(node, _Name):
            self._unknown_name(node, None)
            return None
        if node is None or typ is None:
            return None
        if typ != "bool":
            self._error(
                "RL202",
                f"`{_show(expr)}` is {type_word(typ)}, not a yes/no condition",
                expr,
                "compare it with a value, e.g. `category == \"coffee\"`",
            )
            return None
        return node

    # ------------------------------------------------------------ values

    def _typed(self, expr: ast.Expr, depth: int) -> _Typed:
        if isinstance(expr, ast.Literal):
            return self._literal(expr)
        if isinstance(expr, ast.Ref):
            return self._ref(expr)
        if isinstance(expr, ast.Compare):
            return self._compare(expr, depth)
        if isinstance(expr, ast.InList):
            return self._in_list(expr, depth)
        if isinstance(expr, (ast.BoolOp, ast.Not, ast.AnyLine)):
            return self._bool(expr, depth), "bool"
        raise UnhandledNode("checker: condition", expr)  # every expression type has a branch above

    def _literal(self, lit: ast.Literal) -> _Typed:
        value = lit.value
        typ = literal_type(value)
        if typ is None:
            self._error("RL202", f"`{value!r}` is not a value the language knows", lit)
            return None, None
        if isinstance(value, ast.Money):
            if not self._money_ok(value, lit):
                return None, None
            return ir.Const(value=int(money_cents(value)), type="money"), "money"
        if typ == "number":
            return ir.Const(value=Fraction(Decimal(value)), type="number"), "number"  # type: ignore[arg-type]
        return ir.Const(value=value, type=typ), typ  # type: ignore[arg-type]

    def _money_ok(self, money: ast.Money, node: object) -> bool:
        ok = True
        node = span_of(money, span_of(node, self.fallback))
        if money.currency != self.scope.currency:
            self._error(
                "RL203",
                f"this amount is in {money.currency}, but the program's currency is {self.scope.currency}",
                node,
                f"write the amount in {self.scope.currency}",
            )
            ok = False
        if money_cents(money).denominator != 1:
            self._error(
                "RL202",
                f"`{money.amount} {money.currency}` has fractions of a cent",
                node,
                "write money with at most 2 decimals",
            )
            ok = False
        return ok

    def _any_line(self, expr: ast.AnyLine, depth: int) -> ir.Expr | None:
        """`any line COND`: a purchase's condition over its lines; COND reads line fields only."""
        if self.in_line:
            self._error("RL252", "`any line` inside `any line` reads the same lines", expr,
                        "write one `any line (...)` with the conditions joined by `and`")
            return None
        if self.event not in LINE_EVENTS:
            self._error("RL253", f"`any line` reads the lines of a purchase, and `{self.event}` events have none",
                        expr, "make the rule `on purchase`")
            return None
        self.in_line = True
        try:
            item = self._bool(expr.item, depth + 1)
        finally:
            self.in_line = False
        return None if item is None else ir.AnyLine(item=item)

    def _line_ref(self, ref: ast.Ref) -> _Typed:
        name = ".".join(ref.path)
        line = line_fields(self.scope)  # the line's own fields and the program's line attributes
        if len(ref.path) == 1 and name in line:
            typ = line[name]
            return ir.Field(name=name, type=typ), typ  # type: ignore[arg-type]
        fields = ", ".join(f"`{f}`" for f in line)
        near = did_you_mean(name, list(line)) if name not in self.scope.tiers and name.lower() not in WEEKDAYS else None
        if len(ref.path) == 1 and name not in self.scope.fields_of(self.event) and not self.scope.events_with_field(name) \
                and near is None:
            return _Name(name, span_of(ref, self.fallback)), None  # a bare word: a weekday, a tier, or unknown
        self._error("RL252", f"`{name}` is not a field of a line; inside `any line` a condition reads {fields}",
                    ref, did_you_mean(name, list(line))
                    or f"move it out of `any line`, e.g. `any line category == \"coffee\" and {name} ...`")
        return None, None

    def _line_attribute_outside(self, name: str, ref: ast.Ref) -> None:
        """RL257: a line attribute read where there is no line (outside `any line`)."""
        if self.event in LINE_EVENTS:
            hint = f"a condition reads a line attribute inside `any line`: `any line {name} == ...`"
        else:
            hint = f"lines are a purchase's: make the rule `on purchase` and write `any line {name} == ...`"
        self._error(OUTSIDE_ANY_LINE, f"`{name}` is an attribute of a purchase's lines, not of the `{self.event}`",
                    ref, hint)

    def _ref(self, ref: ast.Ref) -> _Typed:
        if self.in_line:
            return self._line_ref(ref)
        path = tuple(ref.path)
        if len(path) == 1:
            name = path[0]
            fields = self.scope.fields_of(self.event)
            if name in fields:
                typ = fields[name]
                builtin = name in FIELD_BY_NAME and FIELD_BY_NAME[name].on(self.event)
                return ir.Field(name=name if builtin else f"event.{name}", type=typ), typ  # type: ignore[arg-type]
            elsewhere = self.scope.events_with_field(name)
            if elsewhere:
                self._not_here(name, elsewhere, ref)
                return None, None
            if name in self.scope.line_attributes:
                self._line_attribute_outside(name, ref)
                return None, None
            return _Name(name, span_of(ref, self.fallback)), None
        if len(path) == 2 and path[0] == "customer":
            attrs = self.scope.attributes
            if path[1] in attrs:
                typ = attrs[path[1]]
                return ir.Field(name=f"customer.{path[1]}", type=typ), typ  # type: ignore[arg-type]
            hint = did_you_mean(path[1], attrs) or (
                "declare it in the program: `attribute NAME: TYPE`" if not attrs else f"declared attributes: {', '.join(attrs)}"
            )
            self._error("RL201", f"unknown customer attribute `{path[1]}`", ref, hint)
            return None, None
        if len(path) == 2 and path[0] == "event":
            own = self.scope.events.get(self.event, {})
            if path[1] in own:
                typ = own[path[1]]
                return ir.Field(name=f"event.{path[1]}", type=typ), typ  # type: ignore[arg-type]
            elsewhere = [e for e, fields in self.scope.events.items() if path[1] in fields]
            if elsewhere:
                self._not_here(path[1], elsewhere, ref)
                return None, None
            if path[1] in self.scope.fields_of(self.event):
                self._error(
                    "RL201",
                    f"`event.{path[1]}` is not a declared field of `{self.event}`",
                    ref,
                    f"write `{path[1]}` without `event.`",
                )
                return None, None
            self._error(
                "RL201",
                f"unknown field `{path[1]}` of event `{self.event}`",
                ref,
                did_you_mean(path[1], own)
                or (
                    f"`{self.event}` events have no declared fields; write the field without `event.`"
                    if self.event not in self.scope.events
                    else f"declare it: `event {self.event} {{ {path[1]}: number }}`"
                ),
            )
            return None, None
        self._error(
            "RL201",
            f"unknown name `{'.'.join(path)}`",
            ref,
            "fields are written `category`, `customer.ATTRIBUTE` or `event.FIELD`",
        )
        return None, None

    def _not_here(self, name: str, events: list[str], node: object) -> None:
        listed = ", ".join(f"`{e}`" for e in events)
        self._error(
            "RL205",
            f"`{name}` is not available on `{self.event}` events (only on {listed})",
            node,
            f"remove `{name}` from the condition or make the rule `on {events[0]}`",
        )

    def _unknown_name(self, node: _Name, other_type: str | None) -> None:
        name = node.name
        fields = self.scope.fields_of(self.event)
        if name in self.scope.tiers:
            hint = f"`{name}` is a tier: compare it with the tier, e.g. `tier == {name}`"
        elif name.lower() in WEEKDAYS:
            hint = f"`{name}` is a weekday: compare it with the weekday, e.g. `weekday == {name.lower()}`"
        elif other_type == "string":
            hint = did_you_mean(name, fields) or f"if you meant the text \"{name}\", put it in double quotes"
        else:
            hint = did_you_mean(name, list(fields) + list(self.scope.tiers))
        self.failed = True
        self.bag.error("RL201", f"unknown name `{name}` in the condition of a `{self.event}` rule", node.span, hint)

    def _enum(self, node: _Name, typ: str) -> ir.Const | None:
        """Resolve a bare name as a weekday or tier name."""
        if typ == "weekday":
            day = WEEKDAYS.get(node.name.lower())
            if day is None:
                self.failed = True
                self.bag.error(
                    "RL201",
                    f"unknown weekday `{node.name}`",
                    node.span,
                    did_you_mean(node.name.lower(), list(WEEKDAYS)[:7]) or "weekdays are mon, tue, wed, thu, fri, sat, sun",
                )
                return None
            return ir.Const(value=day, type="weekday")
        index = self.scope.tiers.get(node.name)
        if index is None:
            tiers = list(self.scope.tiers)
            self.failed = True
            self.bag.error(
                "RL201",
                f"unknown tier `{node.name}`",
                node.span,
                did_you_mean(node.name, tiers)
                or (f"the tiers are {', '.join(tiers)}" if tiers else "the program has no tiers"),
            )
            return None
        return ir.Const(value=index, type="tier")

    def _compare(self, cmp: ast.Compare, depth: int) -> _Typed:
        left, lt = self._typed(cmp.left, depth + 1)
        right, rt = self._typed(cmp.right, depth + 1)
        if isinstance(left, _Name) and isinstance(right, _Name):
            self._unknown_name(left, None)
            self._unknown_name(right, None)
            return None, "bool"
        if isinstance(right, _Name):
            right, rt = self._side_name(right, lt)
        if isinstance(left, _Name):
            left, lt = self._side_name(left, rt)
        if left is None or right is None or lt is None or rt is None:
            return None, "bool"
        if lt != rt:
            self._mismatch(cmp, lt, rt)
            return None, "bool"
        if cmp.op not in ("==", "!=") and lt not in ORDERED_TYPES:
            self._error(
                "RL202",
                f"`{cmp.op}` cannot compare {type_word(lt)}",
                cmp,
                "use `==`, `!=` or `in [...]` for text and true/false values",
            )
            return None, "bool"
        return ir.Cmp(op=cmp.op, left=left, right=right), "bool"  # type: ignore[arg-type]

    def _side_name(self, node: _Name, other_type: str | None) -> _Typed:
        if other_type in ("weekday", "tier"):
            const = self._enum(node, other_type)
            return const, (other_type if const is not None else None)
        if other_type is not None:
            self._unknown_name(node, other_type)
        else:
            self.failed = True
        return None, None

    def _mismatch(self, cmp: ast.Compare, lt: str, rt: str) -> None:
        hint: str | None = None
        pair = {lt, rt}
        other = cmp.right if rt != "tier" and rt != "weekday" else cmp.left
        if pair == {"tier", "string"}:
            text = _string_of(other)
            hint = f"tier names are written without quotes: `tier {cmp.op} {text or 'Gold'}`"
        elif pair == {"weekday", "string"}:
            text = _string_of(other)
            hint = f"weekdays are written without quotes: `weekday {cmp.op} {(text or 'sat').lower()}`"
        elif pair == {"money", "number"}:
            hint = f"write the amount with its currency, e.g. `10 {self.scope.currency}`"
        elif "string" in pair:
            hint = "text values are written in double quotes and compared with text fields"
        self._error(
            "RL202",
            f"cannot compare {type_word(lt)} with {type_word(rt)}",
            cmp,
            hint,
        )

    def _in_list(self, node: ast.InList, depth: int) -> _Typed:
        left, lt = self._typed(node.left, depth + 1)
        if isinstance(left, _Name):
            self._unknown_name(left, None)
            return None, "bool"
        values: list[object] = []
        first_type: str | None = None
        for item in node.items:
            value, typ = self._list_item(item, lt)
            if value is None or typ is None:
                continue
            if lt is not None and typ != lt:
                self._error(
                    "RL202",
                    f"this list item is {type_word(typ)}, but `{_show(node.left)}` is {type_word(lt)}",
                    item,
                    "every item of the list must be the same kind of value as the field",
                )
                continue
            if first_type is None:
                first_type = typ
            elif typ != first_type:
                self._error("RL202", f"the list mixes {type_word(first_type)} and {type_word(typ)}", item)
                continue
            values.append(value)
        if left is None or lt is None or self.failed:
            return None, "bool"
        return ir.InSet(left=left, values=frozenset(values), negated=node.negated), "bool"  # type: ignore[arg-type]

    def _list_item(self, item: ast.Expr, left_type: str | None) -> tuple[object | None, str | None]:
        if isinstance(item, ast.Ref) and len(item.path) == 1 and left_type in ("weekday", "tier"):
            const = self._enum(_Name(item.path[0], span_of(item, self.fallback)), left_type)
            return (const.value, left_type) if const is not None else (None, None)
        if isinstance(item, ast.Literal):
            const, typ = self._literal(item)
            if isinstance(const, ir.Const):
                return const.value, typ
            return None, None
        self._error("RL202", "items of an `in [...]` list must be fixed values", item, "write values such as \"coffee\" or 10 USD")
        return None, None


def _string_of(expr: ast.Expr) -> str | None:
    if isinstance(expr, ast.Literal) and isinstance(expr.value, str):
        return expr.value
    return None


def _show(expr: ast.Expr) -> str:
    """A short text form of an expression for messages."""
    if isinstance(expr, ast.Ref):
        return ".".join(expr.path)
    if isinstance(expr, ast.Literal):
        v = expr.value
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, ast.Money):
            return f"{v.amount} {v.currency}"
        return str(v)
    if isinstance(expr, ast.Compare):
        return f"{_show(expr.left)} {expr.op} {_show(expr.right)}"
    if isinstance(expr, ast.InList):
        neg = "not in" if expr.negated else "in"
        return f"{_show(expr.left)} {neg} [{', '.join(_show(i) for i in expr.items)}]"
    if isinstance(expr, ast.Not):
        return f"not {_show(expr.item)}"
    if isinstance(expr, ast.AnyLine):
        return f"any line {_show(expr.item)}"
    if isinstance(expr, ast.BoolOp):
        return f" {expr.op} ".join(_show(i) for i in expr.items)
    raise UnhandledNode("checker: condition wording", expr)


def resolve_condition(
    expr: ast.Expr, scope: Scope, event: str, bag: DiagnosticBag, fallback: Span
) -> ir.Expr | None:
    """Resolve `expr` as the condition of a rule or counter on `event`."""
    return ConditionResolver(scope, event, bag, fallback).condition(expr)
