"""What the liability by issue-month cohort costs the simulation: wall time and peak memory with the
cohort book on against a run without cohort bookkeeping.

Takes: command-line flags (programs, customers, months, repeats). Gives: a table on stdout — per
program and mode, the wall time of one trial (median and range over the repeats) and the peak
resident memory, then the cost of the cohorts in per cent of the run without them.

This is a script, not a test: it never fails on a slow machine.

    python benchmarks/bench_cohorts.py                                  # airline and coffee, 1e5 x 24 months
    python benchmarks/bench_cohorts.py --program rules/coffee.loyalty --repeats 5

Definitions
- "on" is the product as it ships: `simulator.trials.montecarlo.simulate` with 1 worker (the day loop
  runs in the measuring process).
- "off" is the same run with the cohort bookkeeping taken out by this script only (no switch in the
  product): the day loop's `CohortBook` is replaced by a stand-in that holds no per-customer array
  and answers the month ends with nothing, the lots are given no cohort book (`LotStore.cohorts` is
  None, so neither the lots nor the compiled kernel report to one) and the cohort check of the
  ledger error is skipped. Everything else — the draws, the lots, the ledger — runs unchanged.
- wall time covers `simulate` (drawing the population, the day loop, merging, the summary), not
  loading or compiling the program; every measurement runs in a fresh process, modes alternate.
- peak memory is `resource.getrusage(RUSAGE_SELF).ru_maxrss` of that process (kernel high-water mark).
- the population is the program's own (rules/data/NAME/population.yaml, as `loyalty simulate` picks
  it), else rules/populations/NAME.yaml, else the built-in one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_PROGRAMS = "rules/airline.loyalty,rules/coffee.loyalty"


def population_path(program: str) -> str | None:
    stem = Path(program).stem
    for cand in (ROOT / "rules" / "data" / stem / "population.yaml", ROOT / "rules" / "populations" / f"{stem}.yaml"):
        if cand.exists():
            return str(cand)
    return None


class _NoCohorts:
    """The day loop's cohort book with nothing kept (mode "off")."""

    def __init__(self, n, month_of_day, months, granularity, record=0):
        self.months = months
        self.month = 0

    def month_end(self, mo, debt):
        pass

    def flows(self):
        from simulator.engine.cohorts import MATRIX
        return {k: np.zeros((self.months + 2, self.months), dtype=np.int64) for k in MATRIX}


def _switch_off() -> None:
    from simulator.engine import day_loop

    day_loop.CohortBook = _NoCohorts
    day_loop.cohort_error = lambda arm, book: 0
    setup = day_loop.ChunkSim._setup

    def _setup(self):
        setup(self)
        self.arm.lots.cohorts = None

    day_loop.ChunkSim._setup = _setup


def measure(program_path: str, customers: int, months: int, mode: str, seed: int) -> dict:
    from benchmarks.bench_engine import compile_program
    from simulator.model.population import load_population_file
    from simulator.trials.montecarlo import simulate

    if mode == "off":
        _switch_off()
    program = compile_program(program_path)
    pop = load_population_file(population_path(program_path))
    t0 = time.perf_counter()
    result = simulate(program, pop, customers=customers, months=months, trials=1, seed=seed, workers=1)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "issued": result.totals["program.points_issued"]["mean"],
            "redeemed": result.totals["program.points_redeemed"]["mean"]}


def _fresh(args: list[str]) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench_cohorts: measurement failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--program", default=DEFAULT_PROGRAMS, help="comma-separated rule files")
    ap.add_argument("--customers", type=lambda s: int(float(s)), default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--_one", nargs=2, metavar=("PROGRAM", "MODE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._one:
        print(json.dumps(measure(a._one[0], a.customers, a.months, a._one[1], a.seed)))
        return
    print(f"customers {a.customers:,}, {a.months} months, 1 worker, {a.repeats} repeats; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'program':<24} {'mode':<4} {'wall s (median)':>15} {'range':>13} {'peak MiB':>9}")
    for prog in a.program.split(","):
        runs: dict[str, list[dict]] = {"off": [], "on": []}
        for _ in range(a.repeats):
            for mode in ("off", "on"):
                runs[mode].append(_fresh(["--_one", prog, mode, "--customers", str(a.customers),
                                          "--months", str(a.months), "--seed", str(a.seed)]))
        med = {}
        for mode in ("off", "on"):
            w = [r["wall_s"] for r in runs[mode]]
            med[mode] = statistics.median(w)
            peak = max(r["peak_mib"] for r in runs[mode])
            print(f"{Path(prog).name:<24} {mode:<4} {med[mode]:>15.2f} {min(w):>6.2f}-{max(w):<6.2f} {peak:>9.0f}")
        same = all(r["issued"] == runs["off"][0]["issued"] and r["redeemed"] == runs["off"][0]["redeemed"]
                   for r in runs["on"] + runs["off"])
        mem = max(r["peak_mib"] for r in runs["on"]) - max(r["peak_mib"] for r in runs["off"])
        print(f"{'':<24} cohorts cost {100 * (med['on'] / med['off'] - 1):+.1f}% wall time (medians), "
              f"{mem:+.0f} MiB peak; same ledger totals on and off: {same}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
