"""rulelang: a declarative language for loyalty programs.

Takes: rule files in the text form (`*.loyalty`) or the YAML form (`*.yaml`).
Gives: the public API — parse (`parse_text`, `load_yaml`, `load_file`; `load_with_program` binds a
test-only file to the program it tests, `tested_program_candidates` names them), check
(`check`), compile to the IR (`compile_source`), run one customer's events
through the reference interpreter (`run`, `Event`, `Customer`, `Result`; several
customers sharing global budgets: `run_together`, `BudgetState`), and
write a program back out (`format_source`, `to_yaml`), compare two programs
(`diff_programs`), and locate YAML nodes in their file (`mark_span`, `position_in`,
`syntax_error_point`: the simulator's population and guardrails files use them). Everything reports
problems as `Diagnostic` values; the error types form one tree under
`RulelangError`. The `ast` and `ir` modules hold the data types, `fields` the table of
built-in events and fields.

    sf, diags = parse_text(source, "coffee.loyalty")
    program, diags = compile_source(sf)
    result = run(program, [Event("purchase", datetime(2027, 5, 4, 9, 30), amount_cents=740)])
"""

from __future__ import annotations

from rulelang.syntax import ast
from rulelang import fields, ir
from rulelang.check.checker import check
from rulelang.check.compiler import compile_source, program_hash
from rulelang.diagnostics import Diagnostic, EvaluationError, RuleCheckError, RulelangError, RuleSyntaxError, Span
from rulelang.syntax.formatter import format_source
from rulelang.run.interpreter import BudgetState, Customer, Event, Result, normalize, run, run_together
from rulelang.run.state import Line
from rulelang.syntax.loader import load_file, load_with_program, read_text, tested_program_candidates
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_nodes import mark_span, position_in, syntax_error_point
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.diff import ProgramDiff, diff_programs

__all__ = [
    "BudgetState",
    "Customer",
    "Diagnostic",
    "EvaluationError",
    "Event",
    "Line",
    "ProgramDiff",
    "Result",
    "RuleCheckError",
    "RuleSyntaxError",
    "RulelangError",
    "Span",
    "ast",
    "check",
    "compile_source",
    "diff_programs",
    "fields",
    "format_source",
    "ir",
    "load_file",
    "load_with_program",
    "load_yaml",
    "mark_span",
    "normalize",
    "parse_text",
    "position_in",
    "program_hash",
    "read_text",
    "run",
    "run_together",
    "syntax_error_point",
    "tested_program_candidates",
    "to_yaml",
]
