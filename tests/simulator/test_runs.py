"""Whole runs: reproducibility, programs that give nothing, earn-rate scaling, the ledger identity."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from rulelang import ir
from sim_helpers import program_with, population_text, rate_rule
from simulator.engine.day_loop import BLOCK
from simulator.trials.montecarlo import simulate
from simulator.engine.program_plan import SimulationError
from simulator.report.pages import write_reports

QUIET = """
name: quiet
segments:
  - name: all
    share: 1
    purchase: {r: 2, alpha: 4}
    dropout: {a: 1, b: 8}
    spend: {p: 6, q: 4, gamma: 15}
    categories: {a: 0.5, b: 0.5}
economics: {gross_margin: 0.3}
response: off
"""


def _numbers(result) -> str:
    doc = result.to_json()
    doc["meta"] = {k: v for k, v in doc["meta"].items() if k not in ("chunk_size",)}
    return json.dumps(doc, sort_keys=True)


def test_same_seed_is_bit_identical_for_workers_and_chunk_sizes():
    from rulelang.check.compiler import compile_source
    from rulelang.syntax.loader import load_file

    sf, _, _ = load_file("rules/coffee.loyalty")
    program, _ = compile_source(sf)
    pop = population_text(QUIET.replace("response: off", "").replace("{a: 0.5, b: 0.5}", "{coffee: 0.5, tea: 0.5}"))
    kw = dict(customers=BLOCK + 3000, months=1, trials=2, seed=11)
    one = simulate(program, pop, workers=1, chunk_size=BLOCK, **kw)
    two = simulate(program, pop, workers=2, chunk_size=2 * BLOCK, **kw)
    assert one.totals["program.points_issued"]["mean"] > 0
    assert _numbers(one) == _numbers(two)
    other = simulate(program, pop, workers=1, chunk_size=BLOCK, **{**kw, "seed": 12})
    assert _numbers(other) != _numbers(one)


def test_a_program_that_gives_nothing_costs_nothing_and_changes_nothing():
    pop = population_text(QUIET.replace("response: off", ""))  # response on: still nothing to respond to
    nothing = program_with([ir.Rule(name="nothing", order=0, event="purchase", condition=None, actions=(ir.FixedAward(points=0),), rounding="down", priority=0, group=None,
                                    start=None, end=None, caps=(), budget=None, every_nth=None, streak=None)])
    res = simulate(nothing, pop, customers=3000, months=3, trials=3, seed=1, workers=1)
    assert res.totals["program.program_cost"] == {"mean": 0.0, "low": 0.0, "high": 0.0, "mc_precision": [0.0, 0.0],
                                                  "range": [0.0, 0.0]}
    for k in ("incremental.revenue", "incremental.profit"):
        assert res.per_trial[k] == [0.0, 0.0, 0.0]
    assert res.totals["program.points_issued"]["mean"] == 0.0


def test_doubling_the_earn_rate_doubles_points_issued():
    pop = population_text(QUIET)
    one = simulate(program_with([rate_rule("base", Fraction(1))]), pop, customers=2000, months=3, trials=2, workers=1)
    two = simulate(program_with([rate_rule("base", Fraction(2))]), pop, customers=2000, months=3, trials=2, workers=1)
    issued1 = one.per_trial["program.points_issued"]
    issued2 = two.per_trial["program.points_issued"]
    assert issued1[0] > 0
    assert issued2 == [2 * x for x in issued1]
    # 1 point per cent of gross: points issued = revenue in cents, exactly
    assert issued1 == [round(100 * r) for r in one.per_trial["program.revenue"]]


def test_ledger_identity_holds_in_every_trial(busy_population):
    from rulelang.check.compiler import compile_source
    from rulelang.syntax.loader import load_file

    for name in ("rules/coffee.loyalty", "rules/supermarket.loyalty"):
        sf, _, _ = load_file(name)
        program, _ = compile_source(sf)
        res = simulate(program, busy_population, customers=400, months=13, trials=2, workers=1)
        assert res.ledger_identity_ok and res.ledger_identity_max_abs_error == 0
        for t in range(2):
            issued = res.per_trial["program.points_issued"][t]
            rest = sum(res.per_trial[f"program.points_{k}"][t] for k in ("redeemed", "expired", "reversed", "outstanding"))
            assert issued == rest and issued > 0


def test_report_json_is_written(tmp_path):
    pop = population_text(QUIET)
    res = simulate(program_with([rate_rule("base", Fraction(1, 100))]), pop, customers=500, months=2, trials=2, workers=1)
    paths = write_reports(res, tmp_path / "out")
    doc = json.loads(paths[0].read_text())
    assert doc["schema"] == "loyalty-simulation/1"
    assert doc["meta"]["seed"] == 0 and len(doc["meta"]["program_hash"]) == 64
    assert len(doc["months"]) == 2 and len(doc["monthly"]["program.revenue"]["mean"]) == 2
    assert doc["ledger_identity_ok"] is True


def test_bad_settings_are_errors_not_tracebacks():
    with pytest.raises(SimulationError):
        simulate(None, population_text(QUIET), customers=100, chunk_size=1000)
    with pytest.raises(SimulationError) as exc:
        simulate(program_with([ir.Rule(name="odd", order=0, event="teleport", condition=None, actions=(ir.FixedAward(points=1),), rounding="down", priority=0, group=None, start=None,
                                       end=None, caps=(), budget=None, every_nth=None, streak=None)]), population_text(QUIET), customers=10)
    assert "odd" in exc.value.diagnostics[0].message


def test_tier_mix_counts_the_members_at_month_end():
    # the tier mix is taken over the members at month end (enrolled, not churned): its counts
    # add up to the `members` series month by month; churned members leave it
    from rulelang.check.compiler import compile_source
    from rulelang.syntax.loader import load_file
    from simulator.model.population import load_population_file

    path = "rules/coffee.loyalty"
    sf, _, _ = load_file(path)
    program, _ = compile_source(sf)
    pop = load_population_file("rules/populations/coffee.yaml")
    res = simulate(program, pop, customers=3000, months=6, trials=2, seed=11, workers=1)
    counts = sum(np.array(res.tier_mix["counts"][name]["mean"]) for name in res.tier_names)
    members = np.array(res.monthly["program.members"]["mean"])
    assert np.array_equal(counts, members)
    # and some members did churn over the six months: the two definitions differ here
    assert res.totals["program.churn_rate"]["mean"] > 0


def _quiet_population():
    """The default population without referrals or custom events: nothing pre-drawn per customer."""
    from dataclasses import replace

    from simulator.model.population import default_population

    pop = default_population()
    return replace(pop, segments=tuple(replace(s, refer_per_day=0.0, events=()) for s in pop.segments))


def test_automatic_chunks_keep_workers_busy_and_memory_bounded():
    from simulator.trials.montecarlo import RunSettings, customer_bytes, plan_tasks

    program = program_with([rate_rule("base", 1)])
    sizes = lambda s: [len(c) for c in plan_tasks(program, s)]  # noqa: E731
    # 10 blocks, one worker: chunks of at most 4 blocks
    assert sizes(RunSettings(customers=10 * BLOCK, trials=1, workers=1)) == [4, 4, 2]
    # 3 blocks, one trial, two workers: one block a task, so both workers have work
    assert sizes(RunSettings(customers=3 * BLOCK, trials=1, workers=2)) == [1, 1, 1]
    # with 4 trials there are tasks enough: whole trials in one chunk
    assert sizes(RunSettings(customers=3 * BLOCK, trials=4, workers=2)) == [3]
    # a given chunk size is kept
    assert sizes(RunSettings(customers=3 * BLOCK, trials=1, workers=1, chunk_size=BLOCK)) == [1, 1, 1]
    # no lots by earn day, no referrals: about 400 bytes a customer
    # 400 for traits, state and lots, and the points by issue-month cohort: 8 x (12 months + 3) = 120
    assert customer_bytes(program, RunSettings(), _quiet_population()) == 400 + 120


def test_automatic_chunks_shrink_for_programs_with_many_lot_buckets():
    from rulelang.check.compiler import compile_source
    from rulelang.syntax.loader import load_file
    from simulator.trials.montecarlo import AUTO_WORKER_BYTES, RunSettings, customer_bytes, plan_tasks

    sf, _, _ = load_file("rules/online_shop.loyalty")  # expiry 12 months after each earn day, 14 days pending
    program, _ = compile_source(sf)
    per_customer = customer_bytes(program, RunSettings(), _quiet_population())
    assert per_customer == 400 + 8 * (366 + 14) + 8 * (12 + 3)  # int64 buckets and cohorts: 3,560 bytes
    chunks = plan_tasks(program, RunSettings(customers=10 * BLOCK, trials=1, workers=1), population=_quiet_population())
    assert len(chunks[0]) == AUTO_WORKER_BYTES // (per_customer * BLOCK) == 1  # 384 MiB / (3,560 x 65,536) = 1.73


def test_a_run_that_does_not_fit_in_memory_is_refused_before_it_starts(monkeypatch):
    from simulator.kernel import dispatch
    from simulator.trials.montecarlo import RunSettings, check_memory, plan_tasks

    monkeypatch.setattr(dispatch, "kernel_compiled", lambda: True)  # no compiler memory: the kernel is cached

    from simulator.trials.montecarlo import (KERNEL_PROCESS_BYTES, MAIN_PROCESS_BYTES, TRIAL_BYTES, TRIAL_MONTH_BYTES,
                                             WORKER_PROCESS_BYTES)

    program = program_with([rate_rule("base", 1)])
    pop = _quiet_population()
    settings = RunSettings(customers=10 * BLOCK, trials=1, workers=2)
    chunks = plan_tasks(program, settings, population=pop)  # chunks of 4, 4 and 2 blocks... at most 2 running at once
    assert [len(c) for c in chunks] == [4, 4, 2]
    # the main process, two tasks of 4 blocks at 520 bytes a customer (400 + 120 for the cohorts), two worker processes with the
    # engine kernel's code each (the program runs on the kernel), one trial's results (12 months)
    need = (MAIN_PROCESS_BYTES + 2 * 4 * BLOCK * 520 + 2 * WORKER_PROCESS_BYTES + 2 * KERNEL_PROCESS_BYTES
            + (TRIAL_BYTES + 12 * TRIAL_MONTH_BYTES))
    assert check_memory(program, settings, chunks, len(chunks), available=need, population=pop).total == need
    with pytest.raises(SimulationError) as err:
        check_memory(program, settings, chunks, len(chunks), available=need - 1, population=pop)
    d = err.value.diagnostics[0]
    assert d.code == "RL612" and "--workers" in d.hint and "2 worker(s)" in d.message


def test_a_budget_program_too_large_for_memory_names_the_budget():
    from simulator.trials.montecarlo import RunSettings, check_memory, plan_tasks

    rule = rate_rule("base", 1)
    from dataclasses import replace
    budgeted = program_with([replace(rule, budget=ir.Budget(points=1000, cents=None))])
    settings = RunSettings(customers=10 * BLOCK, trials=1, workers=2)
    chunks = plan_tasks(budgeted, settings)
    assert len(chunks) == 1  # the whole trial in one task
    with pytest.raises(SimulationError) as err:
        check_memory(budgeted, settings, chunks, 1, available=1 << 20)
    assert "budget" in err.value.diagnostics[0].hint
