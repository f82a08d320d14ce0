"""The purchases' `quantity`: a Poisson draw per purchase with the segment's mean, from a stream
of its own, made only when the program reads `quantity` (simulator.engine.day_loop)."""

from __future__ import annotations

import math

from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from sim_helpers import population_text
from simulator.model.population import load_population
from simulator.trials.montecarlo import simulate

POP = """
segments:
  - {{name: cars, share: 0.5, purchase: {{r: 4, alpha: 4}}, dropout: {{a: 1, b: 50}}{cars}}}
  - {{name: vans, share: 0.5, purchase: {{r: 4, alpha: 4}}, dropout: {{a: 1, b: 50}}{vans}}}
response: off
"""


def _program(rules: str):
    sf, diags = parse_text(f'program "F" {{\n  currency USD\n{rules}}}\n', "f.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return program


PER_LITRE = _program("  earn fuel on purchase {\n    award 1 point per 1 litres\n  }\n")
PER_DOLLAR = _program("  earn shop on purchase {\n    award 1 point per 1 USD\n  }\n")


def test_each_segments_quantity_has_its_mean() -> None:
    pop = population_text(POP.format(cars=", quantity: 12", vans=", quantity: 60"))
    res = simulate(PER_LITRE, pop, customers=300, months=2, trials=1, seed=8, workers=1, record=300)
    litres = [ev["quantity"] for rec in res.records.values() for ev in rec["events"] if ev["kind"] == "purchase"]
    assert len(litres) > 2000
    # two Poisson segments of equal share: the mixture's mean is (12 + 60) / 2 = 36 and its variance
    # the mean of the Poisson variances plus the spread of the means: 36 + 24² = 612
    n = len(litres)
    mean = sum(litres) / n
    var = sum((q - mean) ** 2 for q in litres) / (n - 1)
    # the segments' purchase counts differ by chance: allow 5 standard errors of the mean (sqrt(612 / n))
    assert abs(mean - 36) < 5 * math.sqrt(612 / n) + 2.0
    assert 0.7 * 612 < var < 1.3 * 612
    assert min(litres) >= 0


def test_a_single_segment_quantity_mean_within_a_tolerance() -> None:
    pop = population_text(POP.format(cars=", quantity: 20", vans=", quantity: 20"))
    res = simulate(PER_LITRE, pop, customers=300, months=2, trials=1, seed=9, workers=1, record=300)
    litres = [ev["quantity"] for rec in res.records.values() for ev in rec["events"] if ev["kind"] == "purchase"]
    n = len(litres)
    assert n > 2000
    # Poisson(20): standard error sqrt(20 / n) < 0.1; 5 of them
    assert abs(sum(litres) / n - 20) < 5 * math.sqrt(20 / n)
    # every litre earns a point: the points issued are the litres bought by members
    assert res.per_trial["program.points_issued"][0] > 0


def test_a_program_that_does_not_read_quantity_draws_none() -> None:
    # the same run with and without `quantity` in the population: bit for bit the same numbers
    plain = population_text(POP.format(cars="", vans=""))
    with_quantity = population_text(POP.format(cars=", quantity: 40", vans=", quantity: 5"))
    a = simulate(PER_DOLLAR, plain, customers=400, months=3, trials=2, seed=3, workers=1)
    b = simulate(PER_DOLLAR, with_quantity, customers=400, months=3, trials=2, seed=3, workers=1)
    assert a.per_trial == b.per_trial


def test_reading_quantity_leaves_the_baseline_and_the_other_draws_alone() -> None:
    pop = population_text(POP.format(cars=", quantity: 40", vans=", quantity: 5"))
    a = simulate(PER_DOLLAR, pop, customers=400, months=3, trials=2, seed=3, workers=1)
    both = _program("  earn shop on purchase {\n    award 1 point per 1 USD\n  }\n"
                    "  earn fuel on purchase when quantity >= 1000 {\n    award 1 points\n  }\n")
    b = simulate(both, pop, customers=400, months=3, trials=2, seed=3, workers=1)
    # no purchase has 1000 litres: the second rule never fires, and nothing else changes
    assert a.per_trial == b.per_trial


def test_a_negative_mean_quantity_is_a_located_error() -> None:
    pop, diags = load_population(POP.format(cars=", quantity: -2", vans=""), "pop.yaml")
    assert pop is None
    [d] = [d for d in diags if d.is_error]
    assert "quantity" in d.message and d.span.line == 3


def test_a_replay_without_a_quantity_column_says_every_transaction_reads_0() -> None:
    from types import SimpleNamespace

    from simulator.history.feed import needed_warnings

    tx = SimpleNamespace(category=None, channel=None, store=None, items=None, quantity=None, customer_table={})
    [warning] = needed_warnings(PER_LITRE, tx, "tx.csv", hours_known=True)
    assert warning.severity == "warning" and "every transaction reads 0" in warning.message
    assert "--quantity-column" in warning.hint
    assert needed_warnings(PER_DOLLAR, tx, "tx.csv", hours_known=True) == []
    with_column = SimpleNamespace(category=None, channel=None, store=None, items=None, quantity=object(),
                                  customer_table={})
    assert needed_warnings(PER_LITRE, with_column, "tx.csv", hours_known=True) == []


def test_a_replay_feeds_each_transactions_quantity(tmp_path, capsys) -> None:
    import json

    from rulelang.tools.cli import main

    rules = tmp_path / "fuel.loyalty"
    rules.write_text('program "Fuel" {\n  currency USD\n  earn fuel on purchase {\n'
                     '    award 1 point per 2 litres\n  }\n}\n', encoding="utf-8")
    tx = tmp_path / "tx.csv"
    tx.write_text("customer_id,date,amount,quantity\nA,2027-05-03,50.00,41\nB,2027-05-04,30.00,9\n"
                  "A,2027-05-10,10.00,\n", encoding="utf-8")
    assert main(["replay", str(rules), "--transactions", str(tx), "--redeem", "never", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # 1 point per 2 litres, rounded down: floor(41 / 2) = 20, floor(9 / 2) = 4, no quantity given: 0
    assert doc["runs"][0]["totals"]["points_issued"] == 20 + 4 + 0
