"""The memory estimate of a run (`simulator.trials.montecarlo.estimate_memory`, what RL612 compares with
the memory available) is not below what a run really uses: the peak resident memory
(`ru_maxrss`) of `loyalty simulate` run as a child process, on a small run and on one of two
blocks of customers.

Tolerance: the peak is allowed to pass the estimate by 5% (the allocator's rounding and the
pages the interpreter touches differ a little from run to run); the estimate must also not be
more than twice the peak, or RL612 would refuse runs that fit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from sim_helpers import ROOT
from simulator.trials import montecarlo as mc
from simulator.model.population import default_population

MONTHS = 3
TOLERANCE = 1.05

# A fresh Python runs the command and reports its child's peak, so the peaks of processes this
# test process started before cannot enter the number (RUSAGE_CHILDREN keeps the largest).
MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)  # KiB on Linux
"""


def _peak_bytes(customers: int) -> int:
    # the population the estimate is made for (the example's own fitted population is the default otherwise)
    argv = [sys.executable, "-m", "rulelang", "simulate", "rules/coffee.loyalty",
            "--population", "simulator/model/populations/default.yaml", "--customers", str(customers),
            "--months", str(MONTHS), "--trials", "1", "--workers", "1", "--format", "json"]
    done = subprocess.run([sys.executable, "-c", MEASURE, *argv], cwd=ROOT, capture_output=True, text=True,
                          check=True, timeout=300)
    return int(done.stdout.strip())


def _estimate(customers: int) -> mc.MemoryEstimate:
    sf, _, _ = load_file(str(ROOT / "rules" / "coffee.loyalty"))
    program, diags = compile_source(sf)
    assert program is not None, diags
    pop = default_population()
    settings = mc.RunSettings(customers=customers, months=MONTHS, trials=1, seed=0, workers=1)
    chunks = mc.plan_tasks(program, settings, population=pop)
    return mc.estimate_memory([program], [pop], settings, [chunks], len(chunks))


@pytest.fixture(scope="module")
def peaks() -> dict[int, int]:
    # a first run compiles the engine kernel once per machine (its memory is in the estimate while the
    # kernel is not compiled, see test_a_kernel_not_compiled_yet_adds_the_compiler): compile it first,
    # so both peaks and the estimates below are of runs that load it from the cache
    _peak_bytes(100)
    return {n: _peak_bytes(n) for n in (1_000, 2 * mc.BLOCK)}


@pytest.mark.parametrize("customers", [1_000, 2 * mc.BLOCK])
def test_the_estimate_is_not_below_the_peak_of_a_run(peaks, customers):
    est = _estimate(customers)
    peak = peaks[customers]
    assert peak <= est.total * TOLERANCE, f"peak {peak / 2**20:.0f} MiB, estimate {est.total / 2**20:.0f} MiB"
    assert est.total <= 2 * peak, f"peak {peak / 2**20:.0f} MiB, estimate {est.total / 2**20:.0f} MiB"


def test_the_estimate_of_the_customers_covers_what_they_add(peaks):
    """Two blocks of customers more add to the peak what the estimate says they hold (its
    customer part), not more: the part that grows with `--customers` is counted."""
    small, large = _estimate(1_000), _estimate(2 * mc.BLOCK)
    grown = peaks[2 * mc.BLOCK] - peaks[1_000]
    assert grown > 0
    assert grown <= (large.worker_bytes - small.worker_bytes) * TOLERANCE, (
        f"customers added {grown / 2**20:.1f} MiB, estimated {(large.worker_bytes - small.worker_bytes) / 2**20:.1f} MiB")


def test_a_kernel_not_compiled_yet_adds_the_compiler(monkeypatch):
    from simulator.kernel import dispatch

    monkeypatch.setattr(dispatch, "kernel_compiled", lambda: True)
    cached = _estimate(1_000)
    monkeypatch.setattr(dispatch, "kernel_compiled", lambda: False)
    cold = _estimate(1_000)
    if cached.kernel == 0:  # numba is not installed: the numpy path runs, no kernel to compile
        assert cold.kernel == 0
        return
    assert cached.kernel == mc.KERNEL_PROCESS_BYTES  # one process (1 worker runs in the main process)
    assert cold.kernel - cached.kernel == mc.KERNEL_COMPILE_BYTES
