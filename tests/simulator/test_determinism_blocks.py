"""Same seed, same numbers, whatever the workers and the chunking: over many RNG blocks.

A population of seven small RNG blocks (a test-sized block; the command line's is 65 536
customers) is run with 1 and 2 workers and with chunks of 1, 2 and 3 blocks, and every number
of report.json is compared, field by field. Only `meta.chunk_size` may differ (it says how the
run was split). The population has a fixed cost per month, so a quantity of the trial as a
whole that was charged once per chunk (F18) changes the numbers here.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from sim_helpers import HERE, ROOT, population_text
from simulator.trials.montecarlo import simulate

BLOCK_SIZE = 256
CUSTOMERS = 6 * BLOCK_SIZE + 100  # seven blocks, the last one partly filled
RUN_SPECIFIC = {("meta", "chunk_size")}  # the only field that may differ between these runs

FIXED_PER_MONTH = 123.45  # USD
PER_MEMBER = 0.07  # USD per member and month


def _population():
    text = (HERE / "fixtures" / "busy.yaml").read_text()
    text = text.replace(
        "economics: {gross_margin: 0.3}",
        f"economics: {{gross_margin: 0.3, fixed_cost_per_month: {FIXED_PER_MONTH}, "
        f"fixed_cost_per_member_per_month: {PER_MEMBER}, acquisition_cost: 2.5}}")
    text = text.replace("response:\n", "response:\n  goal_gradient: 0.3\n  post_reward_lift: 0.1\n"
                                       "  tier_dropout_reduction: 0.2\n  satisfaction: true\n")
    assert "fixed_cost_per_month" in text and "satisfaction: true" in text
    return population_text(text)


def _program(name: str):
    sf, _, _ = load_file(str(ROOT / name))
    program, diags = compile_source(sf)
    assert program is not None, diags
    return program


def _leaves(doc: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every scalar of a JSON document with its path (dict keys and list positions)."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _leaves(v, path + (i,))
    else:
        yield path, doc


def _differences(a: dict, b: dict) -> list[str]:
    la, lb = dict(_leaves(a)), dict(_leaves(b))
    out = [f"only in one run: {p}" for p in sorted(set(la) ^ set(lb), key=str)]
    for p in la.keys() & lb.keys():
        if p[:2] in RUN_SPECIFIC:
            continue
        x, y = la[p], lb[p]
        same = x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        if not same or type(x) is not type(y):
            out.append(f"{'.'.join(map(str, p))}: {x!r} != {y!r}")
    return sorted(out)


@pytest.mark.parametrize("program_file", ["rules/coffee.loyalty", "rules/supermarket.loyalty",
                                          "tests/simulator/fixtures/vouchers.loyalty"])
def test_every_number_of_report_json_is_the_same_for_workers_and_chunks(program_file):
    program, pop = _program(program_file), _population()
    kw = dict(customers=CUSTOMERS, months=3, trials=2, seed=7, block_size=BLOCK_SIZE)
    runs = {(w, c): simulate(program, pop, workers=w, chunk_size=c * BLOCK_SIZE, **kw).to_json()
            for w, c in [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]}
    ref = runs[1, 1]
    assert ref["meta"]["block_size"] == BLOCK_SIZE and ref["meta"]["chunk_size"] == BLOCK_SIZE
    assert runs[2, 3]["meta"]["chunk_size"] == 3 * BLOCK_SIZE
    # the run does something: points move, and the per-trial fixed cost is there
    assert ref["totals"]["program.points_issued"]["mean"] > 0
    if "vouchers" in program_file:  # vouchers with a life are used (stream 4) and expire
        assert ref["totals"]["program.vouchers_used"]["mean"] > 0
        assert ref["totals"]["program.vouchers_expired"]["mean"] > 0
    for key, doc in runs.items():
        assert _differences(ref, doc) == [], key
    # the fixed cost is charged once a month per trial, plus once per member-month: by definition
    members = ref["monthly"]["program.members"]["mean"]  # a mean over 2 trials
    for month, cost in enumerate(ref["monthly"]["program.cost_fixed"]["mean"]):
        # report.json holds money rounded to the cent
        assert cost == pytest.approx(FIXED_PER_MONTH + PER_MEMBER * members[month], abs=0.005 + 1e-9)
    assert ref["totals"]["program.cost_fixed"]["mean"] == pytest.approx(
        3 * FIXED_PER_MONTH + PER_MEMBER * sum(members), abs=0.005 + 1e-9)


def test_another_seed_gives_other_numbers():
    # the comparison above could not pass by accident: a different seed changes report.json
    program, pop = _program("rules/coffee.loyalty"), _population()
    kw = dict(customers=CUSTOMERS, months=2, trials=1, workers=1, block_size=BLOCK_SIZE)
    a = simulate(program, pop, seed=1, **kw).to_json()
    b = simulate(program, pop, seed=2, **kw).to_json()
    assert _differences(a, b) != []
