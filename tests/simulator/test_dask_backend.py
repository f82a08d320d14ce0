"""Runs on a Dask cluster (`--scheduler`) give the numbers of the local process pool, bit for bit.

One LocalCluster of 2 single-threaded worker processes (2 GiB each) serves every test here. The
report documents are compared whole, as JSON text: report.json carries no timing, host or
backend field (its `meta` holds the settings, the hashes and the versions; `chunk_size` is the
same because the runs give the same --block-size), so there is nothing that may legitimately
differ between a local run and a cluster run of the same seed. A worker process is killed with
SIGKILL in the middle of a run (from the progress callback, once a first task has come back and
while a worker is processing another): Dask runs its tasks again and the report is still the
same. The errors of a cluster run (RL950-RL955) are exit 1 with a hint and no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")  # the dask extra (in the test extra, so CI runs these)

import dask  # noqa: E402

from rulelang.check.compiler import compile_source  # noqa: E402
from rulelang.diagnostics import RulelangError  # noqa: E402
from rulelang.syntax.loader import load_file  # noqa: E402
from sim_helpers import HERE, ROOT  # noqa: E402
from simulator.model.population import load_population_file  # noqa: E402
from simulator.simulate_command import register as register_simulate  # noqa: E402
from simulator.trials import backends  # noqa: E402
from simulator.trials.montecarlo import simulate  # noqa: E402
from simulator.whatif.commands import register as register_whatif  # noqa: E402

BLOCK_SIZE = 4096
WAIT = 120  # seconds: generous, the machine may be loaded


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="2GiB",
                                  dashboard_address=":0", silence_logs=logging.CRITICAL) as c:
        with distributed.Client(c.scheduler_address, set_as_default=False) as helper:
            helper.wait_for_workers(2, timeout=WAIT)
            yield c, helper
        backends.close_all()


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="loyalty")
    sub = parser.add_subparsers()
    register_simulate(sub)
    register_whatif(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code)
    return args.handler(args)


def _program(name: str):
    sf, _, _ = load_file(str(ROOT / "rules" / name))
    program, diags = compile_source(sf)
    assert program is not None, diags
    return program


def _document(result) -> str:
    return json.dumps(result.to_json(), sort_keys=True)  # NaN and -0.0 compared as written


SMALL_RUN = dict(customers=6 * BLOCK_SIZE, months=2, trials=2, seed=11, block_size=BLOCK_SIZE,
                 chunk_size=BLOCK_SIZE)  # 6 chunks a trial: 12 tasks


@pytest.fixture(scope="module")
def local_reference():
    """The in-process run (workers=1) every cluster run must equal."""
    program, pop = _program("cosmetics.loyalty"), load_population_file(HERE / "fixtures" / "busy.yaml")
    return program, pop, _document(simulate(program, pop, workers=1, **SMALL_RUN))


def _wait_for_two(helper) -> None:
    helper.wait_for_workers(2, timeout=WAIT)
    deadline = time.monotonic() + WAIT
    while len(helper.scheduler_info(n_workers=-1)["workers"]) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)


def _kill_a_busy_worker(helper, wait: float = WAIT) -> int | None:
    """SIGKILL the process of a worker that is processing a task; its pid. Waits up to `wait`
    seconds for a busy worker; with wait=0 it gives None when no worker is busy at the moment."""
    deadline = time.monotonic() + wait
    while True:
        busy = [addr for addr, keys in helper.processing().items() if keys]
        for addr in busy:
            try:
                pid = helper.run(os.getpid, workers=[addr])[addr]
            except (OSError, KeyError, ValueError):  # a worker killed before, not yet removed by the scheduler
                continue
            os.kill(pid, signal.SIGKILL)
            return pid
        if time.monotonic() >= deadline:
            if wait == 0:
                return None
            raise AssertionError("no worker was processing a task")
        time.sleep(0.01)


def test_the_cluster_gives_the_report_of_the_local_run_and_feeds_the_progress_bar(cluster, local_reference):
    c, helper = cluster
    program, pop, expected = local_reference
    seen: list[tuple[int, int]] = []
    result = simulate(program, pop, scheduler=c.scheduler_address, progress=lambda d, t: seen.append((d, t)),
                      **SMALL_RUN)
    assert _document(result) == expected
    assert seen == [(i, 12) for i in range(1, 13)]  # 2 trials × 6 chunks, each reported once as it completes


def test_the_command_line_gives_the_same_report_json_on_the_cluster(cluster, capsys, tmp_path):
    """The coffee example with its customers file (each task carries its own rows), 2 chunks a
    trial (65,536 customers and 4,464), 2 trials: `simulate` and `compare` print the same JSON."""
    c, _ = cluster
    common = ["--customers", "70000", "--months", "1", "--trials", "2", "--block-size", "65536",
              "--format", "json"]
    outs = []
    for where in (["--workers", "2"], ["--scheduler", c.scheduler_address]):
        assert run(["simulate", "rules/coffee.loyalty", *common, *where]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["meta"]["customers"] == 70000
    outs = []
    for where in (["--workers", "1"], ["--scheduler", c.scheduler_address]):
        assert run(["compare", "rules/coffee.loyalty", "rules/grocery.loyalty", "--customers", "3000",
                    "--months", "1", "--trials", "2", "--format", "json", *where]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]


def test_a_worker_killed_mid_run_is_retried_and_the_report_is_the_same(cluster, local_reference):
    c, helper = cluster
    program, pop, expected = local_reference
    before = set(helper.run(os.getpid).values())
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if not killed:  # once, after the first task came back: the other tasks are queued or running
            killed.append(_kill_a_busy_worker(helper))

    result = simulate(program, pop, scheduler=c.scheduler_address, progress=progress, **SMALL_RUN)
    assert _document(result) == expected
    assert killed and killed[0] in before
    _wait_for_two(helper)
    assert killed[0] not in set(helper.run(os.getpid).values())  # the nanny started a new process


def test_a_task_lost_beyond_the_allowed_failures_is_rl954(cluster, local_reference):
    c, helper = cluster
    program, pop, _ = local_reference
    scheduler = c.scheduler
    allowed = scheduler.allowed_failures
    scheduler.allowed_failures = 0  # the first death of a worker running a task loses the task
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        # The first report waits for a busy worker and kills it. Its task is then lost, but the
        # client may hear of that only after more tasks came back; by then the scheduler may have
        # no task running (the lost one failed, the rest released), so later reports kill a busy
        # worker only if there is one, and never wait.
        pid = _kill_a_busy_worker(helper, wait=0 if killed else WAIT)
        if pid is not None:
            killed.append(pid)

    try:
        with pytest.raises(RulelangError) as err:
            simulate(program, pop, scheduler=c.scheduler_address, progress=progress, **SMALL_RUN)
    finally:
        scheduler.allowed_failures = allowed
        _wait_for_two(helper)
    d = err.value.diagnostics[0]
    assert d.code == "RL954" and "a simulation task was lost" in d.message
    assert "same numbers" in d.hint


def test_a_task_larger_than_a_workers_memory_limit_is_rl950(cluster, capsys):
    """69 blocks of 65,536 customers in one task: more than 4.5 million customers at the estimate's
    400 or more bytes each is at least 1.7 GiB, above 80% of a worker's 2 GiB (1.6 GiB). Nothing is
    sent: the check comes first."""
    c, _ = cluster
    n = str(69 * 65536)
    assert run(["simulate", "rules/coffee.loyalty", "--customers", n, "--block-size", n, "--months", "1",
                "--trials", "1", "--scheduler", c.scheduler_address]) == 1
    err = capsys.readouterr().err
    # every worker is short (a worker the earlier tests killed may still be leaving or joining: not counted here)
    assert re.search(r"error\[RL950\]: (\d) of \1 Dask worker\(s\) have too little memory", err), err
    assert "its memory limit is 2.0 GiB" in err and "hint: use a smaller --block-size" in err
    assert "Traceback" not in err


def test_the_worker_memory_check_adds_process_bundle_and_running_tasks():
    need = backends.WorkerNeed(process=100 << 20, bundle=4 << 20, customers=262_144, per_customer=500)
    # 100 MiB + 4 MiB + 2 threads × 262,144 × 500 bytes = 109,051,904 + 262,144,000 = 371,195,904 bytes
    assert need.total(2) == 371_195_904
    fits = {"tcp://a:1": {"memory_limit": 464_000_000, "nthreads": 2}}  # 0.8 × 464e6 = 371.2e6 ≥ 371,195,904
    backends.check_worker_memory(fits, need, 0.8)
    backends.check_worker_memory({"tcp://a:1": {"memory_limit": 0, "nthreads": 8}}, need, 0.8)  # 0: no limit
    short = {"tcp://a:1": {"memory_limit": 463_000_000, "nthreads": 2}, "tcp://b:1": {"memory_limit": 8 << 30, "nthreads": 2}}
    with pytest.raises(RulelangError) as err:  # 0.8 × 463e6 = 370.4e6 < 371,195,904
        backends.check_worker_memory(short, need, 0.8)
    assert err.value.diagnostics[0].code == "RL950"
    assert err.value.diagnostics[0].message.startswith("1 of 2 Dask worker(s) have too little memory for this run: "
                                                       "tcp://a:1 runs 2 task(s) at once")


def test_an_unreachable_scheduler_is_rl951(capsys):
    with socket.socket() as s:  # a port nobody listens on: bound, never listened to
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            code = run(["simulate", "rules/coffee.loyalty", "--customers", "1000", "--months", "1", "--trials", "1",
                        "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"error[RL951]: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1s" in err
    assert "hint: start it (dask scheduler)" in err and "Traceback" not in err


def test_a_scheduler_without_workers_is_rl955(capsys):
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0",
                                  silence_logs=logging.CRITICAL) as empty:
        with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
            code = run(["simulate", "rules/coffee.loyalty", "--customers", "1000", "--months", "1", "--trials", "1",
                        "--scheduler", empty.scheduler_address])
    err = capsys.readouterr().err
    assert code == 1 and "error[RL955]:" in err and "has no workers (waited 1s)" in err
    assert "hint: start workers: dask worker" in err and "Traceback" not in err


def test_scheduler_without_dask_installed_is_rl953(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now raises ImportError
    code = run(["simulate", "rules/coffee.loyalty", "--customers", "1000", "--months", "1", "--trials", "1",
                "--scheduler", "local"])
    err = capsys.readouterr().err
    assert code == 1 and "error[RL953]: --scheduler needs Dask, which is not installed" in err
    assert 'pip install ".[dask]"' in err and "Traceback" not in err


def test_versions_other_than_this_machines_are_named():
    mine = {"numpy": "2.4.6", "engine": "2", "dask": "2026.8.0"}
    workers = {"tcp://b:1": {"numpy": "2.4.6", "engine": "2", "dask": "2026.8.0"},
               "tcp://a:1": {"numpy": "2.1.0", "engine": "2"}}
    assert backends.version_mismatches(mine, workers) == [
        "numpy: here 2.4.6, worker tcp://a:1 2.1.0", "dask: here 2026.8.0, worker tcp://a:1 missing"]
    assert backends.version_mismatches(mine, {"tcp://b:1": dict(mine)}) == []


def test_a_task_on_a_worker_with_other_versions_returns_rl952_instead_of_numbers():
    """A worker that joins after the run's check runs no task with versions other than the client's."""
    from simulator.trials.montecarlo import RunSettings, run_task

    program, pop = _program("coffee.loyalty"), load_population_file(HERE / "fixtures" / "busy.yaml")
    settings = RunSettings(customers=100, months=1, trials=1, block_size=100)
    client = dict(backends.worker_versions(), numpy="0.0.1")
    bundle = backends.Bundle((program,), (pop,), client)
    out = backends._run_chunk(bundle, 0, 0, None, settings, 0, [(0, 100)], 0)
    d = out.error.diagnostics[0]
    assert d.code == "RL952" and "numpy: here 0.0.1, worker (not a Dask worker) " in d.message
    same = backends._run_chunk(backends.Bundle((program,), (pop,), backends.worker_versions()), 0, 0, None,
                               settings, 0, [(0, 100)], 0)
    direct = run_task((program, pop, settings, 0, [(0, 100)], 0))  # the process pool's task function
    assert same.totals == direct.totals and same.totals


def test_the_cluster_workers_run_this_machines_versions(cluster):
    _, helper = cluster
    mine = backends.worker_versions()
    assert set(mine) == {"python", "numpy", "loyalty-rules", "engine", "dask", "distributed", "cloudpickle"}
    assert backends.version_mismatches(mine, helper.run(backends.worker_versions)) == []


@pytest.mark.parametrize("bad", ["tcp://", "somewhere", "http://h:8786/x", "tcp://h:port"])
def test_a_malformed_scheduler_address_is_a_usage_error(bad, capsys):
    assert run(["simulate", "rules/coffee.loyalty", "--scheduler", bad]) == 2
    assert "expected `local` or a scheduler address such as tcp://10.0.0.5:8786" in capsys.readouterr().err
