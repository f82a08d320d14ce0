"""The cost of running on a Dask cluster: a LocalCluster against this machine's process pool.

Takes: command-line flags (customers, months, trials, workers, repeats). Gives: a table on stdout
— for `loyalty simulate rules/coffee.loyalty` (its fitted population and customers file,
rules/data/coffee) run end to end in a fresh process, once on the process pool (`--workers W`)
and once on a LocalCluster of W single-threaded worker processes (`--scheduler local --workers W`):
the wall time (the fastest of `--repeat` runs; other work on the machine only adds time) and the
CPU time of all its processes (the least of the runs), the LocalCluster's overhead in % of the
pool's, the peak resident memory (the command's process
and its largest worker), and whether the two report.json documents are identical. Then what
travels: the task count, the bytes of the scattered bundle (programs and populations, sent once
to every worker), of one task's own arguments (its blocks and its customers-file rows) and of one
task's result, for this run and computed for a 10-million-customer run.

This is a script, not a test: it never fails on a slow machine.

    python benchmarks/bench_cluster.py                          # 1,000,000 customers, 12 months, 2 trials
    python benchmarks/bench_cluster.py --customers 200000 --trials 1 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROGRAM = "rules/coffee.loyalty"
POPULATION = "rules/data/coffee/population.yaml"

# A fresh Python runs the command and reports its wall time, its descendants' peak (RUSAGE_CHILDREN
# keeps the largest process that ended: the command's own process or one of its workers) and their CPU
# time (user + system of the command, its workers and, for a LocalCluster, its scheduler and nannies).
MEASURE = """
import hashlib, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
wall = time.perf_counter() - t
use = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, use.ru_maxrss * 1024, use.ru_utime + use.ru_stime, hashlib.sha256(done.stdout).hexdigest())
"""


def run_once(args: argparse.Namespace, cluster: bool) -> tuple[float, int, float, str]:
    argv = [sys.executable, "-m", "rulelang", "simulate", PROGRAM, "--population", POPULATION,
            "--customers", str(args.customers), "--months", str(args.months), "--trials", str(args.trials),
            "--seed", "1", "--workers", str(args.workers), "--format", "json"]
    if cluster:
        argv += ["--scheduler", "local"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), CI="1")
    out = subprocess.run([sys.executable, "-c", MEASURE, *argv], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True, timeout=3600)
    wall, peak, cpu, digest = out.stdout.split()
    return float(wall), int(peak), float(cpu), digest


def payload(customers: int, args: argparse.Namespace, with_result: bool) -> dict[str, int]:
    """Task count and bytes of what a run of `customers` sends and receives (one task simulated here)."""
    from simulator.cli_options import load_program
    from simulator.model.customers_file import for_task
    from simulator.trials import backends
    from simulator.trials import montecarlo as mc
    from simulator.whatif.runner import load_population_spec

    program, errors, _, _ = load_program(str(ROOT / PROGRAM))
    assert program is not None, errors
    source = load_population_spec(str(ROOT / POPULATION))
    settings = mc.RunSettings(customers, args.months, args.trials, 1, args.workers)
    pops = [source.for_trial(1, t) for t in range(args.trials)]
    chunks = mc.plan_tasks(program, settings, population=source.base)
    tasks = [(program, for_task(pops[t], customers, 1, blocks, settings.block_size), settings, t, blocks, 0)
             for t in range(args.trials) for blocks in chunks]
    bundle, parts = backends.bundle_tasks(tasks)
    task_bytes = max(len(pickle.dumps(p, protocol=5)) for p in parts[:len(chunks)])
    out = {"tasks": len(tasks), "chunks_per_trial": len(chunks), "bundle": len(pickle.dumps(bundle, protocol=5)),
           "task": task_bytes}
    if with_result:  # every task returns the same monthly sums, whatever its customers
        out["result"] = len(pickle.dumps(mc.run_task(tasks[0]), protocol=5))
    return out


def fmt_bytes(b: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:,.1f} {unit}"
    return f"{b:,.0f} B"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="runs of each backend, interleaved; the fastest counts")
    ap.add_argument("--no-result", dest="result", action="store_false",
                    help="do not simulate one task here to measure the size of its result")
    args = ap.parse_args()

    print(f"loyalty simulate {PROGRAM} (population {POPULATION}): {args.customers:,} customers, {args.months} months, "
          f"{args.trials} trial(s), {args.workers} workers; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    runs: dict[str, list[tuple[float, int, float, str]]] = {"process pool": [], "LocalCluster": []}
    for _ in range(args.repeat):
        for name in runs:  # interleaved, so a change of load on the machine hits both
            runs[name].append(run_once(args, cluster=name == "LocalCluster"))
    best = {name: min(r) for name, r in runs.items()}
    cpu = {name: min(c for _, _, c, _ in r) for name, r in runs.items()}
    pool = best["process pool"][0]
    print("\n| backend | wall s (fastest of %d) | all runs s | wall overhead | CPU s (least) | CPU overhead | "
          "peak MiB (largest process) |" % args.repeat)
    print("|---|---|---|---|---|---|---|")
    for name, (wall, peak, _, _) in best.items():
        over = "-" if name == "process pool" else f"{100 * (wall - pool) / pool:+.1f}%"
        cpu_over = "-" if name == "process pool" else f"{100 * (cpu[name] - cpu['process pool']) / cpu['process pool']:+.1f}%"
        print(f"| {name} | {wall:.1f} | {', '.join(f'{w:.1f}' for w, _, _, _ in runs[name])} | {over} | "
              f"{cpu[name]:.1f} | {cpu_over} | {peak / 2**20:.0f} |")
    digests = {d for r in runs.values() for _, _, _, d in r}
    print(f"\nreport.json identical across all {sum(len(r) for r in runs.values())} runs: {'yes' if len(digests) == 1 else 'NO'}")

    print("\n| run | tasks | chunks a trial | scattered bundle (once per worker) | one task's arguments | one result |")
    print("|---|---|---|---|---|---|")
    result = None
    for customers in (args.customers, 10_000_000):
        p = payload(customers, args, args.result and result is None)
        result = p.get("result", result)
        shown = fmt_bytes(result) if result is not None else "-"
        print(f"| {customers:,} customers × {args.trials} trial(s) | {p['tasks']:,} | {p['chunks_per_trial']} | "
              f"{fmt_bytes(p['bundle'])} | {fmt_bytes(p['task'])} | {shown} |")


if __name__ == "__main__":
    main()
