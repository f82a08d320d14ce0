"""The compiled steps around the purchase kernel (redemption, per-use perks, the purchase probability,
the cohort book's month fold) beside their numpy twins, in one process.

Takes: programs, customers, repeats. Gives: per program the wall time of one trial (12 months, 1
worker, the purchases on the kernel in both) with those steps on numpy (`PurchaseKernel.day_steps`
giving none) and compiled, alternating, min and median, and checks that both give the same report.
One process and alternating runs, so a shared machine's load drifts alike over both.

    python benchmarks/bench_kernel_steps.py                                   # coffee, cosmetics, 1e5
    python benchmarks/bench_kernel_steps.py --programs rules/online_shop.loyalty --repeats 7

This is a script, not a test: it never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_engine import compile_program, population_for  # noqa: E402
from simulator.kernel import dispatch  # noqa: E402
from simulator.trials.montecarlo import simulate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--programs", default="rules/coffee.loyalty,rules/cosmetics.loyalty")
    ap.add_argument("--customers", type=lambda s: int(float(s)), default=100_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    compiled = dispatch.PurchaseKernel.day_steps

    def numpy_steps(self, sim):
        return None, None

    print(f"customers {args.customers:,}, 12 months, 1 worker, {args.repeats} repeats; "
          f"load average {os.getloadavg()[0]:.1f} at start")
    for path in args.programs.split(","):
        program = compile_program(path)
        pop, _ = population_for(path, None)
        simulate(program, pop, customers=1000, months=12, trials=1, seed=1, workers=1)  # load the kernel
        times: dict[str, list[float]] = {"numpy": [], "compiled": []}
        reports = {}
        for _ in range(args.repeats):
            for mode in ("numpy", "compiled"):
                dispatch.PurchaseKernel.day_steps = numpy_steps if mode == "numpy" else compiled
                t = time.perf_counter()
                res = simulate(program, pop, customers=args.customers, months=12, trials=1, seed=1, workers=1)
                times[mode].append(time.perf_counter() - t)
                doc = res.to_json()
                doc.pop("meta")
                reports[mode] = doc
        dispatch.PurchaseKernel.day_steps = compiled
        a, b = times["numpy"], times["compiled"]
        print(f"{path}: steps on numpy {min(a):.2f} / {statistics.median(a):.2f} s, compiled {min(b):.2f} / "
              f"{statistics.median(b):.2f} s (min / median): {min(a) / min(b):.2f}x / "
              f"{statistics.median(a) / statistics.median(b):.2f}x; "
              f"same report: {reports['numpy'] == reports['compiled']}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
