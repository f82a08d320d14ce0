"""rulelang: a declarative language for loyalty programs.

Takes: rule files in the text form (`*.loyalty`) or the YAML form (`*.yaml`).
Gives: the public API — parse (`parse_text`, `load_yaml`, `load_file`), check
(`check`), compile to the IR (`compile_source`), run one customer's events
through the reference interpreter (`run`, `Event`, `Customer`, `Result`), and
write a program back out (`format_source`, `to_yaml`). Everything reports
problems as `Diagnostic` values; the error types form one tree under
`RulelangError`. The `ast` and `ir` modules hold the data types.

    sf, diags = parse_text(source, "coffee.loyalty")
    program, diags = compile_source(sf)
    result = run(program, [Event("purchase", datetime(2027, 5, 4, 9, 30), amount_cents=740)])
"""

from __future__ import annotations

from rulelang.syntax import ast
from rulelang import ir
from rulelang.check.checker import check
from rulelang.check.compiler import compile_source
from rulelang.diagnostics import Diagnostic, EvaluationError, RuleCheckError, RulelangError, RuleSyntaxError, Span
from rulelang.syntax.formatter import format_source
from rulelang.run.interpreter import Customer, Event, Result, run
from rulelang.syntax.loader import load_file
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml

__all__ = [
    "Customer",
    "Diagnostic",
    "EvaluationError",
    "Event",
    "Result",
    "RuleCheckError",
    "RuleSyntaxError",
    "RulelangError",
    "Span",
    "ast",
    "check",
    "compile_source",
    "format_source",
    "ir",
    "load_file",
    "load_yaml",
    "parse_text",
    "run",
    "to_yaml",
]
