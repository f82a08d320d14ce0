"""Rule conditions as small opcode tables for the kernel (a postfix program per condition).

Takes: an `ir.Expr` (or None) and the `StringTable`. Gives: `CondCode` (opcodes, arguments,
constants, value sets) that `simulator.kernel.purchase` evaluates per customer on a float64
stack (customer attributes: rows of a per-customer table, `attributes` in the order read; an
`any line` condition per line of the purchase, its line attributes `line_attributes` in the order read),
with the values `simulator.engine.conditions` compares: strings as codes, dates as
ordinals, money as cents, bools as 0/1 (exact: every value is an integer below 2**53 or the
float the numpy path compares too). A construct the tables cannot express raises `Unsupported`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rulelang import ir
from simulator.engine.conditions import _guess_type, const_value
from simulator.model.strings import StringTable

# opcodes (ANY_LINE: the next `arg` opcodes are a condition on one line, true when it holds for a line;
# inside it PUSH_LINE reads a line's field (LINE_FIELDS) and PUSH_LINE_ATTR a line attribute)
(PUSH_COL, PUSH_STATE, PUSH_DAY, PUSH_CONST, CMP, INSET, NOTINSET, AND, OR, NOT, PUSH_ATTR, ANY_LINE, PUSH_LINE,
 PUSH_LINE_ATTR) = range(14)
# the fields of a line (simulator.engine.conditions.line_context): a purchase without lines is one line,
# its goods (amount − shipping), category and quantity; no line carries an sku in a simulation
LINE_FIELDS = ("amount", "category", "quantity", "sku")
GOODS = "@goods"  # the event column of amount - shipping: the one line of a purchase without lines
LINE_COLUMNS = {"amount": GOODS, "category": "category", "quantity": "quantity"}  # a flat `any line`
CMP_OPS = ("==", "!=", "<", "<=", ">", ">=")
# values read from the customer's state before the event
STATE_FIELDS = ("first_purchase", "purchases", "tier", "days_from_birthday", "balance")
# values of the day
DAY_FIELDS = ("weekday", "date", "month")
# values the purchase carries (a column of the batch), with the default when the data lacks it
EVENT_COLUMNS = {"amount": 0, "category": 0, "channel": 0, "store": 0, "items": 1, "quantity": 0, "shipping": 0,
                 "hour": 12}


class Unsupported(Exception):
    """A construct the kernel does not run (the message names it)."""


@dataclass
class CondCode:
    ops: list[int] = field(default_factory=list)
    args: list[int] = field(default_factory=list)
    consts: list[float] = field(default_factory=list)
    sets: list[list[float]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # event columns, by index
    counters: tuple[str, ...] = ()  # the program's counters (rows of the kernel's counter state)
    attribute_types: dict[str, str] = field(default_factory=dict)  # the customer attributes declared
    attributes: list[str] = field(default_factory=list)  # the attributes read, by index
    line_attribute_types: dict[str, str] = field(default_factory=dict)  # the line attributes declared
    line_attributes: list[str] = field(default_factory=list)  # the line attributes read, by index
    event_fields: frozenset[str] = frozenset()  # `event.<field>` names the event carries (columns)

    @classmethod
    def of(cls, program: ir.Program) -> "CondCode":
        """An empty code that knows the program's counters, customer and line attributes."""
        return cls(counters=tuple(c.name for c in program.counters), attribute_types=dict(program.attributes),
                   line_attribute_types=dict(program.line_attributes))

    def column(self, name: str) -> int:
        if name not in self.columns:
            self.columns.append(name)
        return self.columns.index(name)

    def attribute(self, name: str) -> int:
        if name not in self.attributes:
            self.attributes.append(name)
        return self.attributes.index(name)

    def line_attribute(self, name: str) -> int:
        if name not in self.line_attributes:
            self.line_attributes.append(name)
        return self.line_attributes.index(name)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        if isinstance(value, int) and abs(value) >= 2**53:
            raise Unsupported(f"{what} {value} beyond 2**53")
        return float(value)
    raise Unsupported(f"{what} of type {type(value).__name__}")


def compile_condition(expr: ir.Expr | None, strings: StringTable, code: CondCode,
                      flat: bool = False) -> tuple[int, int]:
    """Append `expr`'s program to `code`; returns its (start, stop) in the opcode list. `flat`: for a
    purchase without drawn lines, whose one line is its goods: `any line (...)` reads the purchase's
    goods, category and quantity columns (no per-line loop; Unsupported for other line fields)."""
    lo = len(code.ops)
    if expr is not None:
        _emit(expr, strings, code, flat=flat)
    return lo, len(code.ops)


def _emit(expr: ir.Expr, strings: StringTable, code: CondCode, line: bool = False, flat: bool = False,
          flat_line: bool = False) -> None:
    kw = {"flat": flat, "flat_line": flat_line}
    if isinstance(expr, ir.Const):
        code.ops.append(PUSH_CONST)
        code.args.append(len(code.consts))
        code.consts.append(_number(const_value(expr.value, expr.type, strings), "a constant"))
    elif isinstance(expr, ir.Field):
        name = expr.name
        if flat_line:  # the one line of a purchase without lines
            if name not in LINE_COLUMNS:
                raise Unsupported(f"line field `{name}` in a flat `any line`")
            code.ops.append(PUSH_COL)
            code.args.append(code.column(LINE_COLUMNS[name]))
            return
        if line:
            if name in LINE_FIELDS:
                code.ops.append(PUSH_LINE)
                code.args.append(LINE_FIELDS.index(name))
            elif name in code.line_attribute_types:
                code.ops.append(PUSH_LINE_ATTR)
                code.args.append(code.line_attribute(name))
            else:
                raise Unsupported(f"line field `{name}` in `any line`")
            return
        attribute = name[len("customer."):] if name.startswith("customer.") else None
        if attribute is not None and attribute in code.attribute_types:
            code.ops.append(PUSH_ATTR)
            code.args.append(code.attribute(attribute))
        elif name in STATE_FIELDS:
            code.ops.append(PUSH_STATE)
            code.args.append(STATE_FIELDS.index(name))
        elif name in DAY_FIELDS:
            code.ops.append(PUSH_DAY)
            code.args.append(DAY_FIELDS.index(name))
        elif name in EVENT_COLUMNS or name in code.event_fields:
            code.ops.append(PUSH_COL)
            code.args.append(code.column(name))
        else:
            raise Unsupported(f"condition field `{name}`")
    elif isinstance(expr, ir.Cmp):
        _emit(expr.left, strings, code, line, **kw)
        _emit(expr.right, strings, code, line, **kw)
        code.ops.append(CMP)
        code.args.append(CMP_OPS.index(expr.op))
    elif isinstance(expr, ir.InSet):
        _emit(expr.left, strings, code, line, **kw)
        ltype = getattr(expr.left, "type", None)
        vals = [_number(const_value(v, ltype or _guess_type(v), strings), "a set value") for v in expr.values]
        code.ops.append(NOTINSET if expr.negated else INSET)
        code.args.append(len(code.sets))
        code.sets.append(vals)
    elif isinstance(expr, (ir.And, ir.Or)):
        for item in expr.items:
            _emit(item, strings, code, line, **kw)
        code.ops.append(AND if isinstance(expr, ir.And) else OR)
        code.args.append(len(expr.items))
    elif isinstance(expr, ir.Not):
        _emit(expr.item, strings, code, line, **kw)
        code.ops.append(NOT)
        code.args.append(0)
    elif isinstance(expr, ir.AnyLine):
        if line or flat_line:
            raise Unsupported("`any line` inside `any line`")
        if flat:
            _emit(expr.item, strings, code, flat=True, flat_line=True)
            return
        at = len(code.ops)
        code.ops.append(ANY_LINE)
        code.args.append(0)
        _emit(expr.item, strings, code, line=True)
        code.args[at] = len(code.ops) - at - 1  # the line's condition: the opcodes after this one
    else:
        raise Unsupported(f"condition {type(expr).__name__}")
