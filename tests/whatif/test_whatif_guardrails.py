"""Guardrails: the YAML shape, located errors, and the statistics worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from rulelang import ir
from simulator.whatif.guardrails import evaluate_guardrails, load_guardrails, parse_rule
from simulator.whatif.runner import WhatIfRun

GOOD = """\
version: 1
guardrails:
  - name: cost share
    rule: program_cost / revenue <= 0.02 at p95
  - rule: liability at month 2 <= 50000
  - rule: incremental_profit > 0 with probability >= 0.9
    severity: warning
  - retention >= 60%
"""


def _run(totals: dict[str, list[float]], monthly: dict[str, list[list[float]]] | None = None,
         point_cost_cents: int = 1) -> WhatIfRun:
    prog = ir.Program(name="p", points_unit="points", currency="USD", point_cost_cents=point_cost_cents,
                      point_value_cents=None, stacking="multiply", rounding="down", pending_days=0, events=(),
                      attributes=(), counters=(), rules=(), tiers=None, expiry=(),
                      returns=ir.ReturnPolicy(False, False), rewards=(), pay_with_points=None, conversion=None)
    return WhatIfRun("p", prog, None,  # type: ignore[arg-type]
                     {k: np.array(v, dtype=float) for k, v in totals.items()},
                     {k: np.array(v, dtype=float) for k, v in (monthly or {}).items()})


def test_the_documented_shape_loads():
    rails, diags = load_guardrails(GOOD, "g.yaml")
    assert diags == []
    assert [g.title for g in rails] == ["cost share", "liability at month 2 <= 50000",
                                        "incremental_profit > 0 with probability >= 0.9", "retention >= 60%"]
    assert rails[0].statistic == "p95" and rails[0].limit == 0.02
    assert rails[1].metric.month == 2
    assert rails[2].probability == 0.9 and rails[2].severity == "warning"
    assert rails[3].limit == pytest.approx(0.6)
    assert rails[0].span.line == 4 and rails[0].span.column == 11


@pytest.mark.parametrize("text, code, line, words", [
    ("guardrails:\n  - rule: incremental_proft > 0\n", "RL724", 2, "did you mean `incremental_profit`?"),
    ("guardrails:\n  - rule: liability <=\n", "RL723", 2, "cannot read this rule"),
    ("guardrails:\n  - name: x\n", "RL722", 2, "needs `rule:`"),
    ("guardrails:\n  - rule: roi > 0\n    severty: error\n", "RL602", 3, "did you mean `severity`?"),
    ("guardrails:\n  - rule: roi > 0 at p95 with probability >= 0.5\n", "RL723", 2, "not both"),
    ("limits:\n  - roi > 0\n", "RL602", 1, "unknown key"),
    ("guardrails: [\n", "RL601", 2, "invalid YAML"),
])
def test_errors_are_located(text, code, line, words):
    _, diags = load_guardrails(text, "g.yaml")
    d = diags[0]
    assert d.code == code and d.span.file == "g.yaml" and d.span.line == line
    assert words in d.message + " " + (d.hint or "")


def test_statistics_by_hand():
    # incremental profit per trial: -10, 5, 20, 35, 50
    run = _run({"incremental.profit": [-10, 5, 20, 35, 50], "program.program_cost": [1, 2, 3, 4, 5],
                "program.revenue": [100, 100, 100, 100, 100]})

    def check(rule: str):
        g, problem = parse_rule(rule)
        assert problem is None
        return evaluate_guardrails(run, [g])[0]

    # 4 of 5 trials above 0: 80 %
    f = check("incremental_profit > 0 with probability >= 0.9")
    assert not f.passed and f.value == pytest.approx(0.8) and "80% of 5 trials" in f.message
    assert check("incremental_profit > 0 with probability >= 0.8").passed
    # mean 20
    f = check("incremental_profit >= 20")
    assert f.passed and f.value == pytest.approx(20.0)
    # cost share per trial 0.01 .. 0.05; p95 interpolates between sorted values at rank
    # 0.95 × (5 − 1) = 3.8 (counting from 0): 0.04 + 0.8 × 0.01 = 0.048
    f = check("program_cost / revenue <= 0.045 at p95")
    assert not f.passed and f.value == pytest.approx(0.048)
    assert "0.048 > 0.045" in f.message and f.failed
    # Monte Carlo precision of the mean profit: 20 ± t(0.975, 4 df) × sd / sqrt(5), t = 2.776445 (tables), with
    # sd² = (30² + 15² + 0 + 15² + 30²) / 4 = 562.5
    half = 2.776445 * (562.5 ** 0.5) / 5 ** 0.5
    f = check("incremental_profit > 0 at low")
    assert f.value == pytest.approx(20 - half) and not f.passed


def test_liability_at_a_month_by_hand():
    # outstanding 1000 points at the end of month 2, 100 redeemed and 100 expired by then:
    # breakage 0.5, point cost 1 cent -> liability 1000 × 0.5 × 0.01 = 5
    monthly = {"program.points_outstanding": [[500, 1000]], "program.points_redeemed": [[0, 100]],
               "program.points_expired": [[0, 100]]}
    run = _run({"program.liability": [5.0]}, monthly)
    g, _ = parse_rule("liability at month 2 <= 4")
    f = evaluate_guardrails(run, [g])[0]
    assert f.value == pytest.approx(5.0) and not f.passed
    g, _ = parse_rule("liability at month 3 <= 4")
    f = evaluate_guardrails(run, [g])[0]
    assert not f.passed and "outside the simulated 1..2" in f.message


def test_a_warning_does_not_fail():
    run = _run({"incremental.profit": [-1.0, -2.0]})
    rails, _ = load_guardrails("guardrails:\n  - rule: incremental_profit > 0\n    severity: warning\n", "g.yaml")
    f = evaluate_guardrails(run, rails)[0]
    assert not f.passed and not f.failed


def test_guardrails_on_a_plain_simulate_result(birthday, calm):
    from simulator.trials.montecarlo import simulate

    result = simulate(birthday.program, calm.base, customers=300, months=2, trials=3, seed=2, workers=1)
    rails, diags = load_guardrails(
        "guardrails:\n"
        "  - program_cost <= 1e9\n"
        "  - points_outstanding at month 2 >= 0\n"
        "  - liability at month 2 <= 1e9\n"
        "  - liability at month 2 <= 1e9 at p95\n", "g.yaml")
    assert diags == []
    findings = evaluate_guardrails(result, rails, program=birthday.program)
    assert [f.passed for f in findings] == [True, True, True, False]
    # the mean at the last month equals the run's own total
    assert findings[1].value == pytest.approx(result.totals["program.points_outstanding"]["mean"])
    assert "per-trial monthly values" in findings[3].message


def test_every_finding_says_what_its_limit_is_checked_against():
    """Profits -10, 5, 20, 35, 50: mean 20; range of outcomes p5 = -10 + 0.2 × 15 = -7, p95 = 50 − 0.2 × 15
    = 47 (ranks 0.2 and 3.8); Monte Carlo precision ±2.776445 × √562.5 / √5 = ±29.45."""
    run = _run({"incremental.profit": [-10.0, 5.0, 20.0, 35.0, 50.0]})
    want = {
        "incremental_profit > 0": "the mean",
        "incremental_profit > 0 at low": "the low end of the Monte Carlo precision of the mean",
        "incremental_profit < 100 at high": "the high end of the Monte Carlo precision of the mean",
        "incremental_profit > 0 at p5": "the 5th percentile of the trials (the low end of the range of outcomes)",
        "incremental_profit < 100 at p95": "the 95th percentile of the trials (the high end of the range of outcomes)",
        "incremental_profit > 0 at p50": "the 50th percentile of the trials",
        "incremental_profit > 0 with probability >= 0.8": "the share of trials that keep the limit",
    }
    for rule, against in want.items():
        g, problem = parse_rule(rule)
        assert problem is None
        f = evaluate_guardrails(run, [g])[0]
        assert f"checked against {against}" in f.message, rule
        assert f.to_json()["checked_against"] == against
        assert "mean 20 (range of outcomes -7 to 47; Monte Carlo precision ±29.45, 5 trials)" in f.message
    f = evaluate_guardrails(run, [parse_rule("incremental_profit > 0 at p5")[0]])[0]
    assert not f.passed and f.value == pytest.approx(-7.0)
