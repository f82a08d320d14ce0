"""Test runner: runs the `test` blocks written in or beside rule files.

Takes: rule files on disk (or a parsed `ast.SourceFile` and its compiled
`ir.Program`). Gives: one `TestOutcome` per test — passed, or every failing
expectation with the expected and actual values and a breakdown of where the
actual value came from — gathered in a `TestReport`, with renderers for text
(`PASS name` / `FAIL name`, ending in `N passed, N failed`), JSON and GitHub
annotations.

A test's `given` lines become an `interpreter.Customer`, its `when` lines
`interpreter.Event`s (in the order written; they must be in time order), and
its `expect` lines are compared with the interpreter's `Result`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Iterable, Sequence

from rulelang.syntax import ast
from rulelang.vocabulary import counted, singular, unit_words
from rulelang import ir
from rulelang.check.checker import check
from rulelang.check.compiler import compile_program
from rulelang.fields import canonical_event, given_keys
from rulelang.diagnostics import NO_SPAN, Diagnostic, RulelangError, Span, render_github, render_text
from rulelang.run.interpreter import Customer, Event, Result, run
from rulelang.run.state import Line
from rulelang.syntax.loader import discover, load_with_program, sibling_test_files
from rulelang.tools.expect_steps import StepRuns, check_event_expect, check_state_at_end, check_state_on

INVALID_VALUE = "RL012"
OUT_OF_ORDER = "RL501"

# expect kinds read from the result, in points
POINT_TOTALS = {
    "earned": "earned",
    "issued": "issued",
    "balance": "outstanding",
    "outstanding": "outstanding",
    "available": "available",
    "pending": "pending",
    "redeemed": "redeemed",
    "expired": "expired",
    "reversed": "reversed",
}
# expect kinds read from the result, in cents
MONEY_TOTALS = {"discount": "net_discount_cents", "cost": "cost_cents"}
COST_PARTS = (
    ("rewards", "reward_cents"),
    ("perks", "perk_cents"),
    ("vouchers", "voucher_cents"),
    ("points paid", "points_payment_cents"),
)
OPENING_BALANCE = "opening balance"


# ---------------------------------------------------------------- values


def format_money(cents: int, currency: str) -> str:
    """`150` cents -> `1.50 USD`."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{part:02d} {currency}"


def format_points(points: int, unit: str) -> str:
    """`8 stars`; `1 star` (the unit's singular) for one."""
    return f"{points} {singular(unit) if abs(points) == 1 else unit}"


def money_to_cents(money: ast.Money) -> int | None:
    """Exact cents of a money literal, or None when it has fractions of a cent."""
    cents = money.amount * 100
    if cents != cents.to_integral_value():
        return None
    return int(cents)


def _plain_value(value: object) -> object:
    """A test literal as the interpreter reads it: numbers as Fraction, money as cents."""
    if isinstance(value, ast.Literal):
        value = value.value
    if isinstance(value, ast.Money):
        cents = money_to_cents(value)
        return cents if cents is not None else Fraction(value.amount) * 100
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return Fraction(value)
    return value


def _line_attributes(values: dict[str, object]) -> tuple[tuple[str, object], ...]:
    """A test line's values beside its own fields: the program's line attributes (`brand "Own"`),
    as the interpreter reads them (the checker has checked their names and types, RL254)."""
    return tuple((k, _plain_value(v)) for k, v in values.items() if k not in ir.LINE_FIELDS)


def _whole(value: object) -> int | None:
    """An integer from a Decimal / int / Fraction literal, or None when it is not whole."""
    if isinstance(value, ast.Literal):
        value = value.value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (Decimal, Fraction)):
        return int(value) if value == int(value) else None
    return None


# ---------------------------------------------------------------- translation


def customer_from_givens(givens: Sequence[ast.Given], path: str) -> tuple[Customer | None, list[Diagnostic]]:
    """`given` lines -> the customer's starting state (None when there are no givens)."""
    if not givens:
        return None, []
    diags: list[Diagnostic] = []
    tier: str | None = None
    balance = 0
    purchases = 0
    metric: Fraction | int = 0
    birthday: tuple[int, int] | None = None
    attributes: dict[str, object] = {}
    counters: dict[str, int] = {}
    balances: dict[str, int] = {}

    def bad(g: ast.Given, what: str) -> None:
        diags.append(Diagnostic(INVALID_VALUE, "error", f"`given {g.kind}` needs {what}", g.span or NO_SPAN))

    for g in givens:
        if g.kind == "tier":
            tier = g.value if isinstance(g.value, str) else g.name
        elif g.kind in ("balance", "purchases"):
            number = _whole(g.value)
            if number is None or number < 0:
                bad(g, "a whole number, 0 or more")
            elif g.kind == "balance" and g.unit is not None:
                balances[g.unit] = number  # a word not the points' own: a balance beside them (the runner resolves it)
            elif g.kind == "balance":
                balance = number
            else:
                purchases = number
        elif g.kind == "metric":
            if isinstance(g.value, ast.Money):
                cents = money_to_cents(g.value)
                if cents is None:
                    bad(g, "an amount in whole cents")
                else:
                    metric = cents
            elif isinstance(g.value, Decimal):
                metric = int(g.value) if g.value == int(g.value) else Fraction(g.value)
            else:
                bad(g, "a number or an amount of money")
        elif g.kind == "birthday":
            if isinstance(g.value, tuple) and len(g.value) == 2:
                birthday = (int(g.value[0]), int(g.value[1]))
            elif isinstance(g.value, dt.date):
                birthday = (g.value.month, g.value.day)
            else:
                bad(g, "a month and day such as 05-04")
        elif g.kind == "attribute" and g.name:
            attributes[g.name] = _plain_value(g.value)
        elif g.kind == "counter" and g.name:
            number = _whole(g.value)
            if number is None:
                bad(g, "a whole number")
            else:
                counters[g.name] = number
    customer = Customer(
        tier=tier, balance=balance, attributes=attributes, purchases=purchases,
        metric=metric, birthday=birthday, counters=counters, balances=balances,
    )
    return customer, diags


def event_from_spec(spec: ast.EventSpec) -> tuple[Event | None, list[Diagnostic]]:
    """One `when` line -> an interpreter event."""
    kind = canonical_event(spec.kind)
    diags: list[Diagnostic] = []
    amount_cents: int | None = None
    if spec.amount is not None:
        amount_cents = money_to_cents(spec.amount)
        if amount_cents is None:
            diags.append(Diagnostic(INVALID_VALUE, "error", f"amount {spec.amount.amount} {spec.amount.currency} "
                                    "has fractions of a cent", spec.amount.span or spec.span,
                                    "write amounts with at most two decimals"))
    fields: dict[str, object] = {}
    event_id: str | None = None
    builtin = {f.spelling.test: f for f in given_keys(kind, "test") if f.spelling is not None}
    for name, literal in spec.fields:
        value = literal.value if isinstance(literal, ast.Literal) else literal
        known = builtin.get(name)
        key = known.interpreter_key or name if known is not None else name
        if name == "id":
            event_id = str(value)
        elif known is not None and known.form == "money" and isinstance(value, ast.Money):
            cents = money_to_cents(value)
            if cents is None:
                diags.append(Diagnostic(INVALID_VALUE, "error", f"{name} has fractions of a cent",
                                        getattr(literal, "span", spec.span)))
            else:
                fields[key] = cents
        elif known is not None and known.form == "whole":
            number = _whole(value)
            if number is None or number < 0:
                diags.append(Diagnostic(INVALID_VALUE, "error", f"{name} must be a whole number",
                                        getattr(literal, "span", spec.span)))
            else:
                fields[key] = number
        elif name in ("role", "as"):
            fields["role"] = str(value)
        else:
            fields[name] = _plain_value(value)
    if kind == "referral" and "role" not in fields and spec.name in ("referrer", "referee"):
        fields["role"] = spec.name
    lines: list[Line] = []
    for line in spec.lines:
        cents = money_to_cents(line.amount) if line.amount is not None else None
        if cents is None:
            diags.append(Diagnostic("RL250", "error", "this line has no amount in whole cents", line.span or spec.span,
                                    "give each line its amount first: `line 3.50 EUR category \"coffee\"`"))
            continue
        values = {k: (lit.value if isinstance(lit, ast.Literal) else lit) for k, lit in line.fields}
        quantity = _whole(values.get("quantity", 0))
        lines.append(Line(cents, str(values["category"]) if "category" in values else fields.get("category"),  # type: ignore[arg-type]
                          quantity or 0, str(values["sku"]) if "sku" in values else None,
                          attributes=_line_attributes(values)))
    if lines:
        goods = sum(line.amount_cents for line in lines)
        shipping = fields.get("shipping_cents", 0)
        total = goods + (shipping if isinstance(shipping, int) else 0)
        if amount_cents is None:
            amount_cents = total
        elif amount_cents != total:
            diags.append(Diagnostic("RL251", "error", "the lines do not add up to the purchase's amount", spec.span,
                                    "leave the purchase's amount out: it is the sum of its lines and shipping"))
        if any(line.quantity for line in lines) or "quantity" in fields:
            fields["quantity"] = sum(line.quantity for line in lines)
    if diags:
        return None, diags
    return Event(kind, spec.at, amount_cents=amount_cents, name=spec.name, fields=fields, id=event_id,
                 span=spec.span, lines=tuple(lines)), []


def events_from_specs(specs: Sequence[ast.EventSpec]) -> tuple[list[Event], list[Diagnostic]]:
    """All `when` lines of a test; they must be written in time order."""
    events: list[Event] = []
    diags: list[Diagnostic] = []
    previous: ast.EventSpec | None = None
    for spec in specs:
        if previous is not None and spec.at < previous.at:
            diags.append(Diagnostic(
                OUT_OF_ORDER, "error",
                f"events out of order: {spec.at:%Y-%m-%d %H:%M} comes after {previous.at:%Y-%m-%d %H:%M}",
                spec.span, "write the `when` lines in time order"))
        previous = spec
        event, problems = event_from_spec(spec)
        diags.extend(problems)
        if event is not None:
            events.append(event)
    return events, diags


# ---------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold."""

    kind: str
    expected: object
    actual: object
    message: str
    span: Span


@dataclass(frozen=True)
class TestOutcome:
    """The result of one test: failures (expectations) and diagnostics (the test could not run)."""

    __test__ = False  # not a pytest test class

    name: str
    path: str
    span: Span
    failures: tuple[Failure, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    result: Result | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and not any(d.is_error for d in self.diagnostics)

    @property
    def status(self) -> str:
        if any(d.is_error for d in self.diagnostics):
            return "error"
        return "fail" if self.failures else "pass"


def _earned_by_rule(result: Result) -> dict[str, int]:
    """Points earned by events, per rule (tier bonuses as `tier NAME`), the opening balance left out."""
    recorded = getattr(result, "points_by_rule", None)
    if recorded:
        return {rule: int(points) for rule, points in recorded.items() if rule != OPENING_BALANCE}
    by_rule: dict[str, int] = {}
    for lot in getattr(result, "lots", ()):
        rule = getattr(lot, "rule", None)
        if rule is None or rule == OPENING_BALANCE:
            continue
        by_rule[rule] = by_rule.get(rule, 0) + int(getattr(lot, "points", 0))
    return by_rule


def _rule_reasons(result: Result, rule: str) -> list[str]:
    """What the trace says about one rule on each event: `2027-05-04 purchase: condition false: ...`."""
    lines: list[str] = []
    for event in getattr(result, "trace", ()):
        for candidate in getattr(event, "rules", ()):
            if getattr(candidate, "rule", None) != rule:
                continue
            when = getattr(event, "date", "")
            kind = getattr(event, "kind", "")
            if getattr(candidate, "fired", False):
                lines.append(f"{when} {kind}: fired, {getattr(candidate, 'points', 0)} points")
            else:
                lines.append(f"{when} {kind}: {getattr(candidate, 'reason', None) or 'did not fire'}")
    return lines


def _balance_of(word: str, program: ir.Program) -> str | None:
    """The balance beside the points that `word` names (its name or its singular), or None."""
    return next((b.name for b in program.balances if word in (b.name, singular(b.name))), None)


def _check_balance_expectation(expect: ast.Expect, result: Result, program: ir.Program) -> Failure | None:
    """`expect earned 300 qualifying_dollars`, `expect balance 1200 qualifying_dollars`."""
    kind, word = expect.kind, str(expect.unit)
    name = _balance_of(word, program)
    if name is None:
        known = ", ".join([program.points_unit] + list(program.balance_names()))
        return Failure(kind, expect.value, None, f"unknown unit `{word}`: this program counts {known}", expect.span)
    totals = result.balances[name]
    attr = {"earned": "earned", "issued": "issued", "balance": "outstanding", "outstanding": "outstanding",
            "expired": "expired", "reversed": "reversed"}.get(kind)
    if attr is None:
        return Failure(kind, expect.value, None, f"{name} is never {kind}: it is not redeemable", expect.span)
    expected = _whole(expect.value)
    actual = int(getattr(totals, attr))
    if expected == actual:
        return None
    detail = ", ".join(f"{k} {getattr(totals, k)}" for k in ("issued", "expired", "reversed", "outstanding"))
    return Failure(kind, expected, actual, f"expected {kind} {expect.value} {name}, got {actual} ({detail})", expect.span)


def check_expectation(expect: ast.Expect, result: Result, program: ir.Program) -> Failure | None:
    """Compare one `expect` line with the interpreter's result; None when it holds."""
    unit = program.points_unit
    kind = expect.kind
    if kind in POINT_TOTALS and expect.unit is not None and expect.unit not in unit_words(unit):
        return _check_balance_expectation(expect, result, program)
    if kind in POINT_TOTALS:
        expected = _whole(expect.value)
        actual = int(getattr(result, POINT_TOTALS[kind]))
        if expected == actual:
            return None
        if kind == "earned":
            parts = _earned_by_rule(result)
            detail = ", ".join(f"rule {name} {points}" for name, points in parts.items()) or "no rule earned points"
        else:
            detail = ", ".join(f"{name} {int(getattr(result, name))}"
                               for name in ("issued", "redeemed", "expired", "reversed", "pending"))
        message = (f"expected {kind} {format_points(expected or 0, unit) if expected is not None else expect.value}, "
                   f"got {actual} ({detail})")
        return Failure(kind, expected, actual, message, expect.span)
    if kind in MONEY_TOTALS:
        if isinstance(expect.value, ast.Money):
            expected_cents = money_to_cents(expect.value)
        else:  # a bare number is in currency units
            number = _whole(expect.value * 100) if isinstance(expect.value, Decimal) else _whole(expect.value)
            expected_cents = number if isinstance(expect.value, Decimal) else (number * 100 if number is not None else None)
        actual_cents = int(getattr(result, MONEY_TOTALS[kind]))
        if expected_cents == actual_cents:
            return None
        currency = program.currency
        detail = ""
        if kind == "cost":
            detail = " (" + ", ".join(f"{label} {format_money(int(getattr(result, attr, 0)), currency)}"
                                      for label, attr in COST_PARTS) + ")"
        expected_text = format_money(expected_cents, currency) if expected_cents is not None else str(expect.value)
        message = f"expected {kind} {expected_text}, got {format_money(actual_cents, currency)}{detail}"
        return Failure(kind, expected_cents, actual_cents, message, expect.span)
    if kind == "tier":
        expected_tier = str(expect.value)
        actual_tier = str(result.tier)
        if expected_tier == actual_tier:
            return None
        changes = [f"{getattr(h, 'date', '')} {getattr(h, 'from_tier', getattr(h, 'old', '?'))} -> "
                   f"{getattr(h, 'to_tier', getattr(h, 'new', '?'))}"
                   for h in getattr(result, "tier_history", ())]
        detail = "tier changes: " + "; ".join(changes) if changes else "no tier changes"
        return Failure(kind, expected_tier, actual_tier,
                       f"expected tier {expected_tier}, got {actual_tier} ({detail})", expect.span)
    if kind == "fired":
        rule = str(expect.value)
        fired = rule in result.fired
        if fired != expect.negated:
            return None
        reasons = _rule_reasons(result, rule)
        detail = f" ({'; '.join(reasons)})" if reasons else ""
        if expect.negated:
            message = f"expected {rule} not to fire, but it fired{detail}"
        else:
            message = f"expected {rule} to fire, but it did not{detail or ' (it was never a candidate)'}"
        return Failure("not fired" if expect.negated else "fired", not expect.negated, fired, message, expect.span)
    if kind.startswith("vouchers_") or kind == "voucher_balance":
        return _voucher_expectation(expect, result, program)
    return Failure(kind, expect.value, None, f"unknown expectation `{kind}`", expect.span)


def _voucher_expectation(expect: ast.Expect, result: Result, program: ir.Program) -> Failure | None:
    """`expect vouchers issued 2 used 1 expired 0 outstanding 1`, `expect voucher balance 5 EUR`
    (the face value of the vouchers outstanding)."""
    v = result.vouchers
    kind = expect.kind
    if v is None:  # the checker refuses these in a program without vouchers with a life (RL263)
        return Failure(kind, expect.value, None, "the program's vouchers have no life", expect.span)
    counts = f"issued {v.issued}, used {v.used}, expired {v.expired}, outstanding {v.outstanding}"
    if kind == "voucher_balance":
        expected = money_to_cents(expect.value) if isinstance(expect.value, ast.Money) else None
        actual = v.outstanding_cents
        if expected == actual:
            return None
        shown = format_money(expected, program.currency) if expected is not None else str(expect.value)
        return Failure(kind, expected, actual, f"expected voucher balance {shown}, got "
                       f"{format_money(actual, program.currency)} ({counts})", expect.span)
    what = kind.removeprefix("vouchers_")
    expected_n = _whole(expect.value)
    actual_n = int(getattr(v, what))
    if expected_n == actual_n:
        return None
    return Failure(kind, expected_n, actual_n, f"expected vouchers {what} {expect.value}, got {actual_n} ({counts})",
                   expect.span)


def _balances_resolved(customer: Customer, case: ast.TestCase, program: ir.Program) -> tuple[Customer, list[Diagnostic]]:
    """`given balance N WORD`: WORD the points' (a tests-only file keeps it as written) or a balance's."""
    diags: list[Diagnostic] = []
    balance, balances = customer.balance, {}
    for word, amount in customer.balances.items():
        name = _balance_of(word, program)
        if word in unit_words(program.points_unit):
            balance += amount
        elif name is not None:
            balances[name] = amount
        else:
            span = next((g.span for g in case.givens if g.kind == "balance" and g.unit == word), case.span)
            diags.append(Diagnostic("RL430", "error", f"unknown unit `{word}` in `given balance`", span or NO_SPAN,
                                    f"this program counts {', '.join([program.points_unit, *program.balance_names()])}"))
    return dataclasses.replace(customer, balance=balance, balances=balances), diags


def run_test(case: ast.TestCase, program: ir.Program, path: str) -> TestOutcome:
    """Run one test against a compiled program."""
    customer, diags = customer_from_givens(case.givens, path)
    if customer is not None and customer.balances:
        customer, balance_diags = _balances_resolved(customer, case, program)
        diags.extend(balance_diags)
    events, event_diags = events_from_specs(case.events)
    diags.extend(event_diags)
    if any(d.is_error for d in diags):
        return TestOutcome(case.name, path, case.span, diagnostics=tuple(diags))
    try:
        result = run(program, events, customer=customer, until=case.until)
        runs = StepRuns(program, events, customer)
        failures = tuple(f for f in (_check_one(e, case, result, runs, program) for e in case.expects)
                         if f is not None)
    except RulelangError as exc:
        located = tuple(d if d.span.line else Diagnostic(d.code, d.severity, d.message, case.span, d.hint)
                        for d in exc.diagnostics)
        if not located:
            located = (Diagnostic("RL500", "error", str(exc), case.span),)
        return TestOutcome(case.name, path, case.span, diagnostics=located)
    return TestOutcome(case.name, path, case.span, failures=failures, result=result)


def _check_one(expect: ast.Expect, case: ast.TestCase, result: Result, runs: StepRuns,
               program: ir.Program) -> Failure | None:
    """One expectation: on one event, on the state at a date, or at the end of the test."""
    if expect.event is not None:
        found = check_event_expect(expect, case, runs, program)
    elif expect.on is not None:
        found = check_state_on(expect, runs, program)
    elif expect.kind in ("counter", "metric"):
        found = check_state_at_end(expect, result, program)
    else:
        return check_expectation(expect, result, program)
    if found is None:
        return None
    expected, actual, message = found
    return Failure(expect.kind, _json_number(expected), _json_number(actual), message, expect.span)


def _json_number(value: object) -> object:
    """A Fraction as an int when whole, else as a float (for the JSON report)."""
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    return value


def run_tests(sf: ast.SourceFile, program: ir.Program, pattern: re.Pattern[str] | None = None) -> list[TestOutcome]:
    """Run every test of a file (those whose name matches `pattern`, if given)."""
    return [run_test(case, program, sf.path) for case in sf.tests
            if pattern is None or pattern.search(case.name)]


# ---------------------------------------------------------------- many files


@dataclass
class FileReport:
    """The tests of one file, or the diagnostics that kept them from running."""

    path: str
    program_path: str | None = None
    outcomes: list[TestOutcome] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


@dataclass
class TestReport:
    """Every file's tests; `ok` when all passed and every file could be tested."""

    __test__ = False  # not a pytest test class
    files: list[FileReport] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    points_units: dict[str, str] = field(default_factory=dict)

    @property
    def outcomes(self) -> list[TestOutcome]:
        return [o for f in self.files for o in f.outcomes]

    @property
    def passed(self) -> int:
        return sum(1 for o in self.outcomes if o.passed)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.passed)

    @property
    def file_errors(self) -> int:
        return sum(1 for f in self.files if f.has_errors)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.file_errors == 0


def _with_siblings(files: Iterable[str]) -> list[str]:
    out: list[str] = []
    for path in files:
        for candidate in [path, *sibling_test_files(path)]:
            if candidate not in out:
                out.append(candidate)
    return out


def run_file(path: str, pattern: re.Pattern[str] | None = None) -> tuple[FileReport, dict[str, str]]:
    """Load, check and compile one file, then run its tests."""
    loaded = load_with_program(path)
    report = FileReport(path, loaded.program_path, diagnostics=[d for d in loaded.diagnostics if d.is_error])
    sf = loaded.source
    if report.has_errors or sf is None or sf.program is None or not sf.tests:
        return report, loaded.sources
    problems = [d for d in check(sf) if d.is_error]
    if problems:
        report.diagnostics.extend(problems)
        return report, loaded.sources
    program = compile_program(sf.program)
    report.outcomes = run_tests(sf, program, pattern)
    return report, loaded.sources


def run_paths(paths: Sequence[str], pattern: re.Pattern[str] | None = None) -> TestReport:
    """Run the tests of every rule file under `paths` (sibling test files included)."""
    files, diags = discover(paths)
    report = TestReport()
    if diags:
        for d in diags:
            report.files.append(FileReport(d.span.file, diagnostics=[d]))
    for path in _with_siblings(files):
        file_report, sources = run_file(path, pattern)
        report.sources.update(sources)
        report.files.append(file_report)
    return report


# ---------------------------------------------------------------- rendering


def summary_line(report: TestReport) -> str:
    return f"{report.passed} passed, {report.failed} failed"


def render_report_text(report: TestReport, verbose: bool = False, paint: "Painter | None" = None) -> str:
    """`PASS name` / `FAIL name` lines, failing expectations, diagnostics, then `N passed, N failed`."""
    paint = paint or Painter(False)
    out: list[str] = []
    for file_report in report.files:
        if verbose and (file_report.outcomes or file_report.diagnostics):
            out.append(paint.bold(file_report.path))
        if file_report.diagnostics:
            out.append(render_text(file_report.diagnostics, report.sources))
        for outcome in file_report.outcomes:
            if outcome.passed:
                out.append(f"{paint.green('PASS')} {outcome.name}")
                continue
            out.append(f"{paint.red('FAIL')} {outcome.name} ({_where(outcome)})")
            for failure in outcome.failures:
                out.append(f"  {_location(failure.span)}{failure.message}")
            if outcome.diagnostics:
                text = render_text(list(outcome.diagnostics), report.sources)
                out.extend("  " + line for line in text.splitlines())
            if verbose and outcome.result is not None:
                out.extend("    " + line for line in outcome.result.render_text().splitlines())
        out.extend(_file_summary(file_report))
    if report.file_errors:
        out.append(paint.red(f"{counted(report.file_errors, 'file')} could not be tested"))
    if not report.outcomes and not report.file_errors:
        out.append("no tests found")
    out.append(summary_line(report))
    return "\n".join(out)


def _where(outcome: TestOutcome) -> str:
    """The file and line of a test (`rules/coffee.test.loyalty:12`), named without `-v` too."""
    return f"{outcome.span.file or outcome.path}:{outcome.span.line}" if outcome.span.line else outcome.path


def _file_summary(file_report: FileReport) -> list[str]:
    """`rules/coffee.test.loyalty: 3 passed, 1 failed` after each file's tests."""
    if not file_report.outcomes:
        return []
    passed = sum(1 for o in file_report.outcomes if o.passed)
    return [f"{file_report.path}: {passed} passed, {len(file_report.outcomes) - passed} failed"]


def _location(span: Span) -> str:
    return f"{span.file}:{span.line}:{span.column}: " if span.line else ""


def _range(span: Span) -> dict[str, object] | None:
    return span.to_json() if span.line else None


def render_report_json(report: TestReport) -> str:
    """One JSON document: counts, then per file its diagnostics and tests (documented in docs/cli.md)."""
    doc = {
        "format_version": "1.0",
        "passed": report.passed,
        "failed": report.failed,
        "file_errors": report.file_errors,
        "files": [
            {
                "path": f.path,
                "program": f.program_path,
                "diagnostics": [d.to_json() for d in f.diagnostics],
                "tests": [
                    {
                        "name": o.name,
                        "status": o.status,
                        "range": _range(o.span),
                        "failures": [
                            {"kind": x.kind, "expected": x.expected, "actual": x.actual,
                             "message": x.message, "range": _range(x.span)}
                            for x in o.failures
                        ],
                        "diagnostics": [d.to_json() for d in o.diagnostics],
                    }
                    for o in f.outcomes
                ],
            }
            for f in report.files
        ],
    }
    return json.dumps(doc, indent=2, default=str)


def render_report_github(report: TestReport) -> str:
    """GitHub annotations for failing tests and file errors, then the summary line."""
    out: list[str] = []
    for f in report.files:
        if f.diagnostics:
            out.append(render_github(f.diagnostics))
        for o in f.outcomes:
            for x in o.failures:
                loc = f"file={x.span.file}"
                if x.span.line:
                    loc += f",line={x.span.line},col={x.span.column}"
                title = f"FAIL {o.name}".replace(",", "%2C").replace(":", "%3A")
                message = x.message.replace("%", "%25").replace("\n", "%0A")
                out.append(f"::error {loc},title={title}::{message}")
            if o.diagnostics:
                out.append(render_github(list(o.diagnostics)))
    out.append(summary_line(report))
    return "\n".join(out)


class Painter:
    """ANSI colours, or plain text when `enabled` is False."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.enabled else text

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)
