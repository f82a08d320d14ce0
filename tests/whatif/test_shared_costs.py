"""What-if commands pay their fixed costs once, counted (never timed): one worker pool for every
variant (and for every program of a `plan` over a change), one population draw per trial, one engine
plan per distinct program, and no simulation for a variant the engine sees as another."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from simulator.trials import backends
from simulator.trials import montecarlo as mc
from simulator.whatif.runner import Arm, PopulationSource, Settings, run_programs
from simulator.whatif.sensitivity import run_sensitivity
from simulator.whatif.sweep import run_sweep


@pytest.fixture()
def counts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counters of pools started, plans built, population draws and tasks run in this process."""
    seen = {"pools": 0, "plans": 0, "draws": 0, "tasks": 0}

    class CountingPool(backends.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            seen["pools"] += 1
            super().__init__(*args, **kwargs)

    build, draw, run = mc.build_plan, PopulationSource.for_trial, mc.run_task

    def counting_build(*args, **kwargs):
        seen["plans"] += 1
        return build(*args, **kwargs)

    def counting_draw(self, seed, trial):
        seen["draws"] += 1
        return draw(self, seed, trial)

    def counting_run(task):
        seen["tasks"] += 1  # counts the tasks run in this process (a worker's count stays in the worker)
        return run(task)

    counting_run.__module__, counting_run.__qualname__ = mc.__name__, "run_task"  # pickled by name, as the original

    monkeypatch.setattr(backends, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(mc, "build_plan", counting_build)
    monkeypatch.setattr(mc, "_plans", [])  # an empty plan cache: every plan counted
    monkeypatch.setattr(PopulationSource, "for_trial", counting_draw)
    monkeypatch.setattr(mc, "run_task", counting_run)
    return seen


def test_a_sweep_of_3_points_starts_one_pool(birthday, calm, counts):
    settings = Settings(customers=300, months=2, trials=2, seed=4, workers=2)
    res = run_sweep(birthday, ["base.rate=1:3:1"], calm, settings)
    assert [p.values for p in res.points] == [(1,), (2,), (3,)]
    assert counts["pools"] == 1  # not one per point
    assert counts["draws"] == 2  # one per trial, for all points


def test_a_sweep_builds_each_distinct_plan_once_and_draws_each_trial_once(birthday, calm, counts):
    # in this process (workers=1), so that the tasks' plans are counted too: 3 points x 3 trials = 9 tasks;
    # the point `base.rate=1` is the loaded program (compiled again from the grid, equal to it), so 3
    # distinct programs, 3 plans
    settings = Settings(customers=300, months=2, trials=3, seed=4, workers=1)
    run_sweep(birthday, ["base.rate=1:3:1"], calm, settings)
    assert counts["tasks"] == 9
    assert counts["plans"] == 3
    assert counts["draws"] == 3
    assert counts["pools"] == 0  # one process: no pool at all


def test_sensitivity_simulates_only_the_variants_the_engine_tells_apart(birthday, calm, counts):
    # base, and each assumption's low and high: 7 variants; the two economics assumptions change only what
    # is computed after the run, so 3 simulations (base, goal gradient low, high) x 2 trials = 6 tasks
    settings = Settings(customers=300, months=2, trials=2, seed=4, workers=1)
    only = ["economics.gross_margin", "economics.fixed_cost_per_member_per_month", "response.goal_gradient"]
    res = run_sensitivity(birthday, calm, settings, only=only,
                          params=["economics.fixed_cost_per_member_per_month=0.01:0.05",
                                  "response.goal_gradient=0.1:0.3"])  # calm's are 0: absolute ranges
    assert len(res.bars) == 3
    assert counts["tasks"] == 3 * 2
    assert counts["plans"] == 1  # one program for every variant
    assert counts["draws"] == 2  # one per trial, for all 7 variants


def test_a_workers_task_reuses_the_plan_of_an_equal_program(birthday, calm, counts):
    """A worker gets each task's program unpickled anew: an equal program still finds its plan."""
    settings = Settings(customers=100, months=2, trials=1, seed=4, workers=1, block_size=100)
    pop = calm.base
    tasks = [pickle.loads(pickle.dumps((birthday.program, pop, settings, t, [(0, 100)], 0))) for t in range(3)]
    assert tasks[0][0] is not tasks[1][0] and tasks[0][0] == tasks[1][0]
    cached = [mc.run_task(t) for t in tasks]
    assert counts["plans"] == 1
    # and the result is the one of a plan built for the task alone
    mc._plans.clear()
    fresh = mc.run_task(tasks[2])
    assert cached[2].totals == fresh.totals
    for k in fresh.monthly:
        assert (cached[2].monthly[k] == fresh.monthly[k]).all(), k


def _pid_recording_run(path: Path):
    run = mc.run_task

    def recording(task):
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        return run(task)

    recording.__module__, recording.__qualname__ = mc.__name__, "run_task"  # pickled by name, as the original
    return recording


def test_runs_in_one_shared_pool_scope_use_the_same_processes(birthday, birthday_v2, calm, counts, tmp_path,
                                                              monkeypatch):
    """`plan` over a change with several programs compares them one after the other in one pool."""
    pids = tmp_path / "pids"
    monkeypatch.setattr(mc, "run_task", _pid_recording_run(pids))
    settings = Settings(customers=200, months=2, trials=2, seed=4, workers=2)
    with backends.shared_pool():
        first = run_programs([Arm("a", birthday.program), Arm("b", birthday_v2.program)], calm, settings)
        second = run_programs([Arm("a", birthday.program), Arm("b", birthday_v2.program)], calm, settings)
    assert counts["pools"] == 1
    ran = pids.read_text().split()
    assert len(ran) == 2 * 2 * 2  # 2 runs x 2 programs x 2 trials, one chunk each
    assert os.getpid() not in {int(p) for p in ran} and len(set(ran)) <= 2  # the pool's two processes, twice
    assert first[1].result.to_json() == second[1].result.to_json()
    # outside a scope every run has its own pool again
    run_programs([Arm("a", birthday.program)], calm, settings)
    assert counts["pools"] == 2
