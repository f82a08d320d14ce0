"""The bundled example data (rules/data/): a synthetic transaction file and a fitted population
per example program, the population `loyalty simulate rules/NAME.loyalty` finds beside the
program, and the small extension of simulator/transactions/synthetic.py that writes birthdays and currency."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from rulelang.tools.cli import main
from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from simulator.model.population import load_population, load_population_file
from simulator.model.population_beside import population_beside
from simulator.transactions.synthetic import simulated_rows, write_transactions_csv

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
EXAMPLES = sorted(p.stem for p in RULES.glob("*.loyalty"))
MAX_ROWS = 10_000  # "a small bundled transaction file": the repository stays light
# The population-fit checks that are about the population (currency, tiers nobody reaches, rules
# that never fire, custom events without a rate). RL667/RL668 compare the program's own declared
# point cost with what its rewards cost: a property of the program, not of its population.
POPULATION_FIT = {"RL660", "RL661", "RL662", "RL663", "RL664", "RL665", "RL666"}


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _program(name: str):
    sf, _, _ = load_file(str(RULES / f"{name}.loyalty"))
    program, _ = compile_source(sf)
    return program


def test_there_is_data_for_every_example():
    assert set(EXAMPLES) == {"airline", "airline_status", "coffee", "cosmetics", "fashion_discount", "grocery", "online_shop",
                             "supermarket"}
    for name in EXAMPLES:
        folder = RULES / "data" / name
        for f in ("transactions.csv", "population.yaml", "population.customers.csv"):
            assert (folder / f).is_file(), folder / f
    assert (RULES / "data" / "README.md").is_file() and (RULES / "data" / "make_transactions.py").is_file()


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_history_is_small_and_in_the_programs_currency(name):
    rows = _rows(RULES / "data" / name / "transactions.csv")
    assert 1_000 <= len(rows) <= MAX_ROWS
    assert {r["currency"] for r in rows} == {_program(name).currency}
    pop = load_population_file(RULES / "data" / name / "population.yaml")
    assert pop.currency == _program(name).currency
    customers = _rows(RULES / "data" / name / "population.customers.csv")
    assert len(customers) == len({r["customer_id"] for r in rows}) == pop.customers.size


def test_the_population_beside_a_program_is_found_for_text_and_yaml(tmp_path):
    assert population_beside(str(RULES / "coffee.loyalty")) == RULES / "data" / "coffee" / "population.yaml"
    assert population_beside(str(RULES / "coffee.yaml")) == RULES / "data" / "coffee" / "population.yaml"
    alone = tmp_path / "coffee.loyalty"
    alone.write_text((RULES / "coffee.loyalty").read_text(encoding="utf-8"), encoding="utf-8")
    assert population_beside(str(alone)) is None  # no data/coffee/ beside it: the built-in default
    assert population_beside(str(tmp_path / "missing.loyalty")) is None


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_example_simulates_on_its_fitted_population_without_a_fit_warning(name, capsys):
    code = main(["simulate", f"rules/{name}.loyalty", "--trials", "2", "--workers", "1", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err.startswith(f"population: {Path('rules/data') / name / 'population.yaml'}")
    doc = json.loads(out)
    codes = {w["code"] for w in doc.get("fit_warnings", [])}
    assert not codes & POPULATION_FIT, doc["fit_warnings"]


def _tiny_population(known: float):
    text = f"""version: 1
currency: EUR
time_unit: week
model: bgnbd
response: off
segments:
  - name: all
    share: 1
    purchase: {{r: 4.0, alpha: 2.0}}
    dropout: {{a: 0.5, b: 8.0}}
    spend: {{p: 6.0, q: 5.0, gamma: 20.0}}
    birthday_known: {known}
"""
    pop, diags = load_population(text, "tiny.yaml")
    assert pop is not None, diags
    return pop


def test_synthetic_rows_carry_one_birthday_per_customer_and_the_currency(tmp_path):
    program = _program("supermarket")
    rows = simulated_rows(_tiny_population(1.0), program, customers=30, months=2, seed=3, start=dt.date(2026, 1, 1))
    by_customer: dict[str, set[str]] = {}
    for r in rows:
        by_customer.setdefault(r.customer, set()).add(r.birthday)
    assert len(by_customer) == 30
    for days in by_customer.values():
        assert len(days) == 1  # the same birthday on every row of a customer
        born = dt.date.fromisoformat(next(iter(days)))
        assert 1950 <= born.year <= 2005
    path = write_transactions_csv(rows, tmp_path / "t.csv", currency="EUR", birthdays=True)
    written = _rows(path)
    assert len(written) == len(rows)
    assert {r["currency"] for r in written} == {"EUR"}
    assert [r["birthday"] for r in written] == [r.birthday for r in rows]
    unknown = simulated_rows(_tiny_population(0.0), program, customers=10, months=1, seed=3, start=dt.date(2026, 1, 1))
    assert {r.birthday for r in unknown} == {""}
    plain = _rows(write_transactions_csv(unknown, tmp_path / "u.csv"))
    assert "currency" not in plain[0] and "birthday" not in plain[0]  # the columns are only there when asked


def test_the_generation_script_reproduces_the_bundled_history():
    spec = importlib.util.spec_from_file_location("make_transactions", RULES / "data" / "make_transactions.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_transactions"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["make_transactions"]
    rows = module.history("supermarket", module.BUSINESSES["supermarket"])
    bundled = _rows(RULES / "data" / "supermarket" / "transactions.csv")
    assert len(rows) == len(bundled)
    assert [(r.customer, r.date.isoformat(), f"{abs(r.amount_cents) / 100:.2f}", r.kind, r.order) for r in rows] == \
        [(b["customer_id"], b["date"], b["amount"], b["kind"], b["order_id"]) for b in bundled]


def test_fit_writes_the_files_currency_as_a_key_the_simulator_reads(tmp_path):
    rows = simulated_rows(_tiny_population(1.0), _program("supermarket"), customers=120, months=6, seed=5,
                          start=dt.date(2026, 1, 1))
    path = write_transactions_csv(rows, tmp_path / "t.csv", currency="EUR")
    out = tmp_path / "pop.yaml"
    assert main(["fit", str(path), "--out", str(out), "--model", "bgnbd"]) == 0
    assert re.search(r"^currency: EUR\b", out.read_text(), re.MULTILINE)
    assert load_population_file(out).currency == "EUR"
