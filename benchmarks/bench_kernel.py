"""The engine kernel (numba) beside the numpy path it replaces and the reference interpreter.

Takes: command-line flags (sizes, days, workers). Gives: a table on stdout — for the coffee
example and the most complex example the kernel runs, at each size: wall time of one trial on
the numpy path and on the kernel (both arms, everything `simulate` does), customer-days/s,
events/s (the program arm's purchases, the events the kernel handles), peak memory, the ratio;
the time the purchase step itself takes on each (where the time goes); the kernel's compile
time (empty cache) and its load time (warm cache), separately; and the reference interpreter
on the recorded events of a small sample of the same customers, extrapolated per event.

This is a script, not a test: it never fails on a slow machine.

The same run then times the what-if commands end to end (`bench_whatif.py`): `sensitivity` with
its 17 assumptions and `sweep` with 7 points at 100,000 customers × 10 trials, and one 10,000-customer
10-trial `simulate` (the fixed costs: imports, the population, the pool, the report). The table
gives the engine beside the numpy path ("x numpy": the numpy path's wall time over the kernel's) and
beside the reference interpreter ("x interp": customer-days per second over the interpreter's).

    python benchmarks/bench_kernel.py                      # 1e5, 1e6 and 1e7 customers, 365 days, 2 workers
    python benchmarks/bench_kernel.py --customers 1e5 --workers 1
    python benchmarks/bench_kernel.py --customers 1e5 --workers 1 --programs rules/grocery.loyalty
    python benchmarks/bench_kernel.py --numpy-max 1e6 --no-whatif   # the numpy path only up to 1e6
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "benchmarks")):
    if p not in sys.path:
        sys.path.insert(0, p)

from bench_engine import (_sizes, compile_program, complexity, measure_interpreter, months_for,  # noqa: E402
                          population_for)

COFFEE = "rules/coffee.loyalty"


def kernel_examples() -> list[str]:
    """The coffee example and the most complex rules/*.loyalty example the kernel runs."""
    import datetime as dt

    from simulator.engine.calendar import Calendar
    from simulator.engine.program_plan import build_plan
    from simulator.kernel import kernel_supports
    from simulator.model.strings import StringTable

    cal = Calendar.make(dt.date(2027, 1, 1), 365)
    best, score = None, -1
    for path in sorted((ROOT / "rules").glob("*.loyalty")):
        rel = str(path.relative_to(ROOT))
        if rel == COFFEE:
            continue
        program = compile_program(rel)
        pop, _ = population_for(rel, None)
        if kernel_supports(build_plan(program, cal, StringTable()), pop):
            continue
        if complexity(program) > score:
            best, score = rel, complexity(program)
    return [COFFEE] + ([best] if best else [])


def measure(program_path: str, customers: int, days: int, workers: int, seed: int) -> dict:
    """One trial in this process (LOYALTY_ENGINE chooses the engine); the purchase step timed apart."""
    from simulator.engine import program_arm
    from simulator.trials.montecarlo import simulate

    spent = {"s": 0.0}
    apply = program_arm.ProgramArm.apply

    def timed(self, kind, idx, data):
        if kind != "purchase":
            return apply(self, kind, idx, data)
        t = time.perf_counter()
        out = apply(self, kind, idx, data)
        spent["s"] += time.perf_counter() - t
        return out

    warm()  # both engines: the kernel's load from the cache is reported apart (`compile_seconds`)
    program_arm.ProgramArm.apply = timed  # with 1 worker only: workers import the module afresh
    program = compile_program(program_path)
    pop, _ = population_for(program_path, None)
    t0 = time.perf_counter()
    res = simulate(program, pop, customers=customers, months=months_for(days), trials=1, seed=seed, workers=workers)
    wall = time.perf_counter() - t0
    sim_days = int(res.meta["days"])
    doc = res.to_json()
    doc.pop("meta")
    return {"engine": res.meta["engine"], "wall_s": wall, "customer_days_per_s": customers * sim_days / wall,
            "purchases": res.totals["program.purchases"]["mean"], "days": sim_days,
            "purchase_step_s": spent["s"] if workers == 1 else None,
            "parent_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "child_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
            "digest": hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()}


def compile_seconds() -> dict:
    """The kernel's compile time (an empty cache folder) and its load time (the same folder, warm)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("compile_s", "load_s"):
            code = ("import time, numpy as np; t = time.perf_counter(); "
                    "import simulator.kernel.purchase as k; from simulator.kernel.dispatch import PurchaseKernel; "
                    "t1 = time.perf_counter(); "
                    "import sys; sys.argv = ['x']; from bench_kernel import warm; warm(); "
                    "print(time.perf_counter() - t1)")
            env = dict(os.environ, NUMBA_CACHE_DIR=tmp, LOYALTY_ENGINE="auto",
                       PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]))
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
            if proc.returncode != 0:
                raise SystemExit(proc.stderr)
            out[label] = float(proc.stdout.strip().splitlines()[-1])
    return out


def warm() -> None:
    """Run the kernel once on a tiny population (compiles it, or loads it from the cache)."""
    from simulator.trials.montecarlo import simulate
    simulate(compile_program(COFFEE), population_for(COFFEE, None)[0], customers=50, months=1, trials=1, workers=1)


def _fresh(args: list[str], engine: str) -> dict:
    env = dict(os.environ, LOYALTY_ENGINE=engine, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "benchmarks")]))
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench_kernel: measurement failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="The engine kernel beside the numpy path and the interpreter.")
    p.add_argument("--customers", default="1e5,1e6,1e7", help="comma-separated sizes (default 1e5,1e6,1e7)")
    p.add_argument("--numpy-max", type=float, default=None,
                   help="run the numpy path only up to this many customers (default: at every size)")
    p.add_argument("--whatif", action=argparse.BooleanOptionalAction, default=True,
                   help="time sensitivity, sweep and a small simulate end to end too (default: yes)")
    p.add_argument("--whatif-customers", type=int, default=100_000)
    p.add_argument("--whatif-trials", type=int, default=10)
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sample", type=int, default=200, help="customers replayed through the interpreter")
    p.add_argument("--programs", default=None,
                   help="comma-separated examples (default: coffee and the most complex example the kernel runs)")
    p.add_argument("--_measure", nargs=2, metavar=("PROGRAM", "CUSTOMERS"), help=argparse.SUPPRESS)
    ns = p.parse_args(argv)
    if ns._measure:
        print(json.dumps(measure(ns._measure[0], int(ns._measure[1]), ns.days, ns.workers, ns.seed)))
        return 0
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, {ns.days} days, {ns.workers} worker(s)")
    c = compile_seconds()
    print(f"kernel compile (empty cache): {c['compile_s']:.1f} s; load from the cache: {c['load_s']:.2f} s "
          "(each includes one tiny simulation);\n"
          "each measurement below runs in a fresh process after that tiny simulation (its workers load the kernel "
          "within the wall time)")
    programs = ns.programs.split(",") if ns.programs else kernel_examples()
    print(f"reference interpreter on the recorded events of {ns.sample} customers (extrapolated per event):")
    interp = {}
    for prog in programs:
        r = interp[prog] = measure_interpreter(prog, None, ns.sample, ns.days, ns.seed)
        per_event = r["interpreter_s"] / max(r["events"], 1)
        print(f"{prog:<26} {r['events']:>8,} events in {r['interpreter_s']:.2f} s: {1 / per_event / 1e3:,.1f} k events/s, "
              f"{r['interpreter_customer_days_per_s'] / 1e6:.3f} M cust-days/s; disagreements {r['disagreements']}",
              flush=True)
    head = (f"{'program':<26} {'customers':>10} {'engine':>7} {'wall s':>7} {'M cust-days/s':>13} "
            f"{'M events/s':>10} {'purchase step s':>15} {'peak MiB':>9} {'x numpy':>8} {'x interp':>8} {'same':>5}")
    print(head)
    for prog in programs:
        for n in _sizes(ns.customers):
            rows = {}
            engines = ("numpy", "auto") if ns.numpy_max is None or n <= ns.numpy_max else ("auto",)
            for engine in engines:
                rows[engine] = _fresh(["--_measure", prog, str(n), "--days", str(ns.days), "--workers",
                                       str(ns.workers), "--seed", str(ns.seed)], engine)
            for engine, r in rows.items():
                step = f"{r['purchase_step_s']:.2f}" if r["purchase_step_s"] is not None else "-"
                ratio = f"{rows['numpy']['wall_s'] / r['wall_s']:.2f}" if "numpy" in rows else "-"
                over = r["customer_days_per_s"] / interp[prog]["interpreter_customer_days_per_s"]
                peak = r["parent_mib"] + ns.workers * r["child_mib"] if ns.workers > 1 else r["parent_mib"]
                same = str(rows["numpy"]["digest"] == rows["auto"]["digest"]) if "numpy" in rows else "-"
                print(f"{prog:<26} {n:>10,} {('kernel' if engine == 'auto' else 'numpy'):>7} {r['wall_s']:>7.2f} "
                      f"{r['customer_days_per_s'] / 1e6:>13.1f} {r['purchases'] / r['wall_s'] / 1e6:>10.2f} "
                      f"{step:>15} {peak:>9.0f} {ratio:>8} {over:>8.0f} {same:>5}", flush=True)
    if ns.whatif:
        import bench_whatif

        print(f"what-if commands end to end (fresh processes; {ns.whatif_customers:,} customers x "
              f"{ns.whatif_trials} trials for sensitivity and sweep), load average {os.getloadavg()[0]:.1f}:")
        bench_whatif.main(["--customers", str(ns.whatif_customers), "--trials", str(ns.whatif_trials),
                           "--workers", str(ns.workers)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
