"""Every purchase field of rulelang/fields.py is handled by each place of the simulator that lists
purchase fields, or marked as not handled there: a simulated purchase (`Basket`, its `data`, the
return schedule), the population model (segment keys, bounds, docs/simulator.md, the sweep), a
transaction file (column mapping, standard names, `Transactions`) and a replay (`Feed`)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from rulelang.check.compiler import compile_source
from rulelang.fields import FIELD_BY_NAME, FIELDS, carried_by, recorded_fields, simulated_fields
from rulelang.syntax.parser import parse_text
from sim_helpers import population_text
from simulator.engine import day_events, day_loop
from simulator.history.feed import BASKET_FIELDS, Feed
from simulator.model import population
from simulator.transactions import columns
from simulator.transactions.reader import RECORDED_FIELDS, ColumnMap, Transactions
from simulator.trials.montecarlo import simulate
from simulator.whatif.sweep import POPULATION_SEGMENT_FIELDS

ROOT = Path(__file__).resolve().parents[2]
PURCHASE = carried_by("purchase")
NOT_A_FIELD = {"uniforms", "ret"}  # the Basket's other draws


def _names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_a_simulated_purchase_draws_exactly_the_simulated_fields() -> None:
    basket = _names(day_loop.Basket) - NOT_A_FIELD
    assert basket == {f.name for f in PURCHASE if f.simulated}
    assert all(FIELD_BY_NAME[n].carried_by for n in basket)  # no draw that is not a purchase field
    assert not FIELD_BY_NAME["store"].simulated  # carried by purchases, deliberately not simulated
    assert day_loop.PURCHASE_FIELDS == simulated_fields("purchase") == day_events.ORDER_FIELDS


def test_only_carried_fields_are_simulated_or_recorded() -> None:
    for f in FIELDS:
        if not f.carried_by:
            assert not f.simulated and not f.recorded and f.population_key is None, f.name


def test_each_simulated_field_has_its_population_key_bound_and_doc_row() -> None:
    doc = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    table = doc[doc.index("### `segments:`"):]
    table = table[:table.index("\n\n", table.index("| key |"))]
    doc_keys = set(re.findall(r"^\| `(\w+)", table, re.M))
    for f in PURCHASE:
        if not f.simulated:
            assert f.population_key is None, f.name
            continue
        key = f.population_key
        assert key in population._SEG_KEYS, (f.name, key)
        assert key in doc_keys, (f.name, key)
        if f.type != "string":  # a number draws from a mean the population bounds
            assert key in population.BOUNDS or any(b.startswith(key + ".") for b in population.BOUNDS), key


def test_the_sweep_sets_the_mean_of_each_simulated_number_field() -> None:
    for f in PURCHASE:
        if f.simulated and f.type == "number":
            attr = POPULATION_SEGMENT_FIELDS[f.population_key]
            assert attr in _names(population.Segment), attr


def test_a_transaction_file_maps_exactly_the_recorded_fields() -> None:
    recorded = {f.name for f in recorded_fields("purchase")}
    field_names = {f.name for f in FIELDS}
    assert _names(ColumnMap) & field_names == recorded
    assert _names(Transactions) & field_names == recorded - {"amount"}  # its amount is `amount_cents`
    assert {n for n, _, _ in columns.FIELD_FLAGS} & field_names == recorded
    assert set(RECORDED_FIELDS) == recorded - {"amount"}
    for f in recorded_fields("purchase"):
        if f.name != "amount":
            assert columns.STANDARD_NAMES[f.name] == f.file_columns
            assert f.name in columns._MAP_KEYS


def test_a_replayed_purchase_carries_every_recorded_field() -> None:
    field_names = {f.name for f in PURCHASE}  # (it also keeps each row's `hour`, a derived field)
    assert _names(Feed) & field_names == {f.name for f in recorded_fields("purchase")}
    assert {f.name for f in BASKET_FIELDS} == set(RECORDED_FIELDS)


POP = """
segments:
  - {name: all, share: 1, purchase: {r: 8, alpha: 4}, dropout: {a: 1, b: 50}, items: 3, quantity: 20,
     categories: {fuel: 1}, channels: {app: 1}, shipping: {app: 1.50}}
response: off
"""


def test_a_recorded_simulated_purchase_gives_the_interpreter_each_simulated_field() -> None:
    sf, diags = parse_text('program "F" {\n  currency USD\n  earn fuel on purchase when quantity >= 0 {\n'
                           '    award 1 point per 1 litres\n  }\n}\n', "f.loyalty")
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags]
    res = simulate(program, population_text(POP), customers=20, months=1, trials=1, seed=3, workers=1, record=20)
    purchases = [ev for rec in res.records.values() for ev in rec["events"] if ev["kind"] == "purchase"]
    assert purchases
    for f in simulated_fields("purchase"):
        key = "amount_cents" if f.name == "amount" else f.interpreter_key
        assert all(key in ev for ev in purchases), f.name
    # the one category and channel of the segment; the app's fee 1.50 = 150 cents on each purchase
    assert {ev["category"] for ev in purchases} == {"fuel"} and {ev["channel"] for ev in purchases} == {"app"}
    assert {ev["shipping_cents"] for ev in purchases} == {150}
