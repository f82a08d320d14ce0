"""Baskets with lines in the simulator: a segment's `lines` (docs/simulator.md), drawn from a
stream of their own only when the program reads lines; the lines add up to the purchase, and
their counts, categories and quantities follow the segment's figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from simulator.engine.lines import shares
from simulator.model.population import load_population
from simulator.trials.montecarlo import simulate

HERE = Path(__file__).resolve().parent
BUSY, BASKETS = HERE / "fixtures" / "busy.yaml", HERE / "fixtures" / "baskets.yaml"


def _pop(path: Path):
    pop, diags = load_population(path.read_text(), str(path))
    assert pop is not None, [d.message for d in diags]
    return pop


def _program(rules: str):
    sf, _ = parse_text(f'program "P" {{\n  points "points"\n  currency USD\n{rules}}}\n', "p.loyalty")
    prog, diags = compile_source(sf)
    assert prog is not None, [d.message for d in diags if d.is_error]
    return prog


PLAIN = "  earn base on purchase {\n    award 1 point per 1 USD\n  }\n"  # reads no lines
PER_LINE = ('  earn base on purchase {\n    award 1 point per 1 USD excluding category "tobacco"\n  }\n'
            '  earn fuel on purchase {\n    award 1 point per 2 litres in category "fuel"\n  }\n')


def test_lines_are_not_drawn_for_a_program_that_does_not_read_them() -> None:
    # the baskets population is the busy one plus `lines`: a program that reads no lines draws none,
    # so its results are the busy population's, bit for bit
    prog = _program(PLAIN)
    a = simulate(prog, _pop(BUSY), customers=300, months=6, trials=1, seed=3, workers=1)
    b = simulate(prog, _pop(BASKETS), customers=300, months=6, trials=1, seed=3, workers=1)
    ja, jb = a.to_json(), b.to_json()
    assert ja["per_trial"] == jb["per_trial"] and ja["monthly"] == jb["monthly"]
    assert ja["per_trial"]["program.purchases"][0] > 1000  # a real run, not two empty ones


def test_drawn_lines_follow_the_segment() -> None:
    prog = _program(PER_LINE)
    res = simulate(prog, _pop(BASKETS), customers=400, months=6, trials=1, seed=3, workers=1, record=400)
    busy = [e for r in res.records.values() for e in r["events"] if e["kind"] == "purchase" and len(e["lines"]) > 1]
    lines = [line for e in busy for line in e["lines"]]
    assert len(busy) > 500
    # every purchase's lines add up to its amount less shipping
    assert all(sum(a for a, _, _ in e["lines"]) == e["amount_cents"] - e.get("shipping_cents", 0)
               for r in res.records.values() for e in r["events"] if e["kind"] == "purchase")
    # the busy segment: 1 + Poisson(2) lines (at most 12), mean 3; purchases of one line (Poisson 0,
    # e^-2 = 13.5% of them) are left out above, so the mean here is (3 - 0.135) / (1 - 0.135) = 3.31
    counts = np.array([len(e["lines"]) for e in busy])
    assert abs(counts.mean() - 3.31) < 0.15
    # categories by share: fuel 0.15, grocery 0.5; fuel lines carry Poisson(40) litres
    cats = [c for _, c, _ in lines]
    assert abs(cats.count("fuel") / len(cats) - 0.15) < 0.02
    assert abs(cats.count("grocery") / len(cats) - 0.5) < 0.03
    litres = np.array([q for _, c, q in lines if c == "fuel"])
    assert abs(litres.mean() - 40) < 1.0 and all(q == 0 for _, c, q in lines if c != "fuel")
    # a purchase's quantity is the sum of its lines' (the fuel litres)
    assert all(e.get("quantity", sum(q for _, _, q in e["lines"])) == sum(q for _, _, q in e["lines"]) for e in busy)
    assert res.ledger_identity_ok


def test_the_engine_splits_amounts_in_whole_cents_that_add_up() -> None:
    # 100 over weights 6 : 4 : 10 -> 30, 20, 50; a row with no weight puts all on its last valid line
    out = shares(np.array([100, 7]), np.array([[600, 400, 1000], [0, 0, 0]]),
                 np.array([[True, True, True], [True, True, False]]))
    assert out.tolist() == [[30, 20, 50], [0, 7, 0]]


def test_lines_give_the_same_numbers_for_any_workers_and_chunks() -> None:
    # the line draws come per block from the block's own stream: the chunking does not change them
    from rulelang.syntax.loader import load_file
    sf, _, _ = load_file(str(HERE.parents[1] / "rules" / "grocery.loyalty"))
    prog, _ = compile_source(sf)
    pop = _pop(BASKETS)
    kw = dict(customers=3 * 256 + 50, months=2, trials=1, seed=4, block_size=256)
    runs = [simulate(prog, pop, workers=w, chunk_size=c * 256, **kw).to_json() for w, c in [(1, 1), (1, 3), (2, 2)]]
    for doc in runs[1:]:
        assert doc["per_trial"] == runs[0]["per_trial"] and doc["monthly"] == runs[0]["monthly"]
    assert runs[0]["per_trial"]["program.purchases"][0] > 1000
