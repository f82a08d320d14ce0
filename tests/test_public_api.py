"""The public API is small and pinned: changing `rulelang.__all__` must be a deliberate act."""

from __future__ import annotations

import rulelang

# the simulator uses only these (tests/test_layout.py); a name added here is a promise to keep it
PUBLIC = [
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


def test_all_is_pinned() -> None:
    assert sorted(rulelang.__all__) == PUBLIC


def test_every_public_name_is_importable() -> None:
    for name in rulelang.__all__:
        assert getattr(rulelang, name) is not None, name


def test_errors_form_one_tree() -> None:
    for error in (rulelang.RuleSyntaxError, rulelang.RuleCheckError, rulelang.EvaluationError):
        assert issubclass(error, rulelang.RulelangError)
    assert issubclass(rulelang.RulelangError, Exception)


def test_text_to_result_through_the_public_api() -> None:
    source = (
        'program "Tiny" {\n'
        '  points "points"\n'
        "  currency USD\n"
        "  earn base on purchase {\n"
        "    award 1 point per 1 USD\n"
        "  }\n"
        "}\n"
    )
    sf, diags = rulelang.parse_text(source, "tiny.loyalty")
    assert sf is not None and not [d for d in diags if d.is_error]
    program, diags = rulelang.compile_source(sf)
    assert program is not None and not [d for d in diags if d.is_error]
    import datetime as dt

    result = rulelang.run(program, [rulelang.Event("purchase", dt.datetime(2027, 5, 4, 12), amount_cents=740)])
    assert isinstance(result, rulelang.Result)
    assert result.earned == 7  # 740 cents x 1/100 point per cent = 7.4, rounded down
    again, _ = rulelang.parse_text(rulelang.format_source(sf), "tiny.loyalty")
    assert again is not None and again.program == sf.program
    from_yaml, _ = rulelang.load_yaml(rulelang.to_yaml(sf), "tiny.yaml")
    assert from_yaml is not None and from_yaml.program == sf.program
