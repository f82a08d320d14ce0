"""Checks of a program's line attributes (`line attribute brand: string`, docs/semantics.md §3.1).

Takes: a `CheckContext` and the `ast.Program`. Gives: diagnostics in the context's bag: RL204 an
attribute declared twice, RL256 a line attribute that cannot be declared (its name is a line's
own field, `amount`, `category`, `quantity` or `sku`, or its type is not string, number, bool or
money). `line_fields(scope)` is every field a line of the program carries, with its type: the
line's own (`rulelang.ir.LINE_FIELDS`) and the declared attributes. A line attribute read
outside `any line` (RL257) is reported by the condition resolver (`rulelang.check.expressions`).
"""

from __future__ import annotations

from rulelang import ir
from rulelang.check.base import CheckContext
from rulelang.check.scope import LINE_ATTRIBUTE_DECLARATION as DECLARATION, line_fields
from rulelang.diagnostics import did_you_mean
from rulelang.syntax import ast

__all__ = ["check_line_attributes", "line_fields", "DECLARATION"]

def check_line_attributes(ctx: CheckContext, p: ast.Program) -> None:
    ctx.duplicates(p.line_attributes, "line attribute")
    for decl in p.line_attributes:
        if decl.name in ir.LINE_FIELDS:
            ctx.error(DECLARATION, f"`{decl.name}` is a line's own field; a line attribute needs another name", decl,
                      f"a line already has {', '.join(f'`{f}`' for f in ir.LINE_FIELDS)}; "
                      f"name the attribute after what it says, e.g. `line attribute brand: string`", p)
        if decl.type not in ir.LINE_ATTRIBUTE_TYPES:
            hint = did_you_mean(decl.type, ir.LINE_ATTRIBUTE_TYPES)
            ctx.error(DECLARATION, f"a line attribute is a string, number, bool or money, not `{decl.type}`", decl,
                      hint or f"write `line attribute {decl.name}: string` (or number, bool, money)", p)
