"""Where a trial's time goes by size: the fixed cost of each simulated day and the cost per customer-day.

Takes: programs, population sizes, repeats. Gives: per program, the CPU time of one trial (12
months, 1 worker, in this process: `simulator.trials.montecarlo.simulate`) at each size, the least of
the repeats, and a least-squares line through them, time = fixed + per_customer × customers:
- `fixed per day`: the intercept over the simulated days, in µs — what a day costs whatever the
  population (Python between the day's steps, calls into the compiled kernel, small numpy calls);
- `ns per customer-day`: the slope over the days, in ns — the work that grows with the customers
  (the daily draws, the purchases and their rules, the month ends);
- the share of the largest size's time that the fixed part is.
CPU time (`time.process_time`), not wall time: on a shared machine other work stretches the wall
clock but not this process's CPU time (it still shares caches and memory bandwidth). Sizes stay
within one chunk (at most 262,144 customers), so the line is one day loop's.

    python benchmarks/bench_overhead.py                               # coffee, grocery; 1e3, 1e4, 3e4, 1e5
    python benchmarks/bench_overhead.py --programs rules/airline.loyalty --sizes 1e3,1e4,1e5 --repeats 5

This is a script, not a test: it never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_engine import compile_program, population_for  # noqa: E402
from simulator.trials.montecarlo import simulate  # noqa: E402

DAYS = 365  # 12 months from the population's start (2027-01-01)


def trial_cpu(program, pop, customers: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        simulate(program, pop, customers=customers, months=12, trials=1, workers=1)
        best = min(best, time.process_time() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", default="rules/coffee.loyalty,rules/grocery.loyalty")
    ap.add_argument("--sizes", default="1e3,1e4,3e4,1e5")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    print("| program | " + " | ".join(f"{n:,} cust. CPU s" for n in sizes)
          + " | fixed per day µs | ns per customer-day | fixed share at the largest |")
    print("|---" * (len(sizes) + 4) + "|")
    for path in args.programs.split(","):
        program = compile_program(path)
        pop = population_for(path, None)[0]
        simulate(program, pop, customers=1000, months=12, trials=1, workers=1)  # compile / load the kernel
        times = [trial_cpu(program, pop, n, args.repeats) for n in sizes]
        slope, intercept = np.polyfit(np.array(sizes, dtype=float), np.array(times), 1)
        share = intercept / times[-1]
        print(f"| {path} | " + " | ".join(f"{t:.3f}" for t in times)
              + f" | {intercept / DAYS * 1e6:.0f} | {slope / DAYS * 1e9:.1f} | {share:.0%} |", flush=True)


if __name__ == "__main__":
    main()
