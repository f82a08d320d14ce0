"""Wall time and peak memory of the what-if commands and of a small `simulate`, end to end.

Takes: command-line flags (customers and trials of the what-if runs, the program, the population,
repeats). Gives: a table on stdout — for each command, the smallest wall time over the repeats
(other work on the machine only ever adds time), and the peak resident memory of the command's
process and of its largest worker process:

- `loyalty sensitivity PROGRAM` with every assumption of `simulator.whatif.sensitivity.ASSUMPTIONS`
  (17; 35 variants with the base run);
- `loyalty sweep PROGRAM --vary base.rate=0.5:2:0.25` (7 points);
- `loyalty simulate PROGRAM --customers 10000 --trials 10` (the population beside the program, as
  the command line picks it, unless --population is given).

Each run is a fresh Python process that calls the command line's `main` (imports, parsing, the
population, the worker pool, the simulation, the JSON written to /dev/null), so the figures are
what a user waits for. This is a script, not a test: it never fails on a slow machine.

    python benchmarks/bench_whatif.py                                  # 100,000 customers, 10 trials
    python benchmarks/bench_whatif.py --customers 5000 --trials 5 --repeat 3
    python benchmarks/bench_whatif.py --only simulate --repeat 5 --profile

Definitions
- wall s: `time.perf_counter()` around `rulelang.tools.cli.main(argv)` in the child, plus the
  interpreter's start and the imports (measured from the child's start).
- memory: `resource.getrusage(...).ru_maxrss` — RUSAGE_SELF of the command's process, and
  RUSAGE_CHILDREN (the largest worker process, as the kernel reports it).
- `--profile` prints the 25 functions of the command's own process with the most cumulative time
  (cProfile; worker processes are not profiled: their time shows as waiting for results).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
argv, profile = json.loads(sys.argv[1]), sys.argv[2] == "1"
import contextlib, io
from rulelang.tools.cli import main
with open("/dev/null", "w") as sink, contextlib.redirect_stdout(sink):
    if profile:
        import cProfile, pstats
        prof = cProfile.Profile()
        code = prof.runcall(main, argv)
    else:
        code = main(argv)
wall = time.perf_counter() - t0
if profile:
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
    print(out.getvalue(), file=sys.stderr)
kib = lambda who: resource.getrusage(who).ru_maxrss / 1024
print(json.dumps({"code": code, "wall_s": wall, "self_mib": kib(resource.RUSAGE_SELF),
                  "worker_mib": kib(resource.RUSAGE_CHILDREN)}))
"""


def commands(args: argparse.Namespace) -> dict[str, list[str]]:
    pop = ["--population", args.population] if args.population else []
    run = ["--customers", str(args.customers), "--trials", str(args.trials), "--seed", str(args.seed),
           "--format", "json"] + (["--workers", str(args.workers)] if args.workers else [])
    sim_pop = ["--population", args.simulate_population] if args.simulate_population else []
    small = ["--customers", "10000", "--trials", "10", "--seed", str(args.seed), "--format", "json"] + \
            (["--workers", str(args.workers)] if args.workers else [])
    return {
        "sensitivity": ["sensitivity", args.program, *pop, *run],
        "sweep": ["sweep", args.program, "--vary", "base.rate=0.5:2:0.25", *pop, *run],
        "simulate": ["simulate", args.program, *sim_pop, *small],
    }


def measure(argv: list[str], profile: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(argv), "1" if profile else "0"],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0 or not proc.stdout.strip():
        sys.exit(f"bench_whatif: `loyalty {' '.join(argv)}` failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if profile:
        res["profile"] = proc.stderr[proc.stderr.find("   Ordered by"):]
    if res["code"] != 0:
        sys.exit(f"bench_whatif: `loyalty {' '.join(argv)}` exited {res['code']}:\n{proc.stderr[-3000:]}")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=lambda s: int(float(s)), default=100_000,
                    help="customers of the sensitivity and sweep runs (default 100,000)")
    ap.add_argument("--trials", type=int, default=10, help="trials of the sensitivity and sweep runs (default 10)")
    ap.add_argument("--program", default="rules/coffee.loyalty")
    ap.add_argument("--population", default="rules/populations/coffee.yaml",
                    help="population of the sensitivity and sweep runs")
    ap.add_argument("--simulate-population", default=None,
                    help="population of the simulate run (default: the one the command line picks)")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each command; the table shows the fastest")
    ap.add_argument("--only", action="append", choices=("sensitivity", "sweep", "simulate"),
                    help="run only these commands (repeatable)")
    ap.add_argument("--profile", action="store_true", help="print a profile of the command's own process")
    ap.add_argument("--json", metavar="FILE", help="write the measurements as JSON too")
    args = ap.parse_args(argv)
    rows = []
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; sensitivity and sweep on "
          f"{args.customers:,} customers x {args.trials} trials; best of {args.repeat}")
    print(f"{'command':<12} {'wall s (min)':>12} {'all runs s':>24} {'process MiB':>12} {'worker MiB':>11}")
    for name, cmd in commands(args).items():
        if args.only and name not in args.only:
            continue
        runs = [measure(cmd, args.profile and i == 0) for i in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall_s"])
        walls = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
        print(f"{name:<12} {best['wall_s']:>12.2f} {walls:>24} {max(r['self_mib'] for r in runs):>12.0f} "
              f"{max(r['worker_mib'] for r in runs):>11.0f}")
        rows.append({"command": name, "argv": cmd, "wall_s": [r["wall_s"] for r in runs],
                     "self_mib": max(r["self_mib"] for r in runs), "worker_mib": max(r["worker_mib"] for r in runs)})
        if args.profile:
            print(runs[0]["profile"])
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
