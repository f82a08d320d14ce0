"""Throughput and peak memory of the vectorized simulation engine.

Takes: command-line flags (population sizes, simulated days, worker processes,
programs). Gives: a table on stdout — for each program and population size, the
wall time of one Monte Carlo trial (program arm and baseline arm together), the
customer-days simulated per second, and the peak resident memory; then, for each
program, the reference interpreter (`rulelang.run.interpreter.run`) replaying the
recorded events of a sample of the same simulated customers, and the ratio of the
two throughputs.

This is a script, not a test: it never fails on a slow machine.

    python benchmarks/bench_engine.py                       # 1e5 and 1e6 customers, 365 days
    python benchmarks/bench_engine.py --customers 1e7 --workers 2
    python benchmarks/bench_engine.py --program rules/coffee.loyalty --customers 1e5

Definitions
- customer-days = customers × simulated days (the population's customers, not the
  spare slots kept for referred newcomers). Both arms (with and without the
  program) run in the same day loop on the same random draws; the figure counts
  each customer-day once.
- wall time covers `simulator.trials.montecarlo.simulate` for one trial: drawing the
  population, the day loop, the worker pool, merging and the result summary
  (not loading or compiling the program).
- peak memory is `resource.getrusage(...).ru_maxrss` (kernel high-water mark of the
  resident set): RUSAGE_SELF for the process that runs `simulate`, RUSAGE_CHILDREN
  for its worker processes (the largest one, as the kernel reports). Every size runs
  in a fresh process, so figures do not leak from one size into the next. "total"
  is the bound parent + workers × largest worker.
- interpreter customer-days/s = sample customers × simulated days / the time
  `rulelang.run.interpreter.run` takes over their recorded event streams (events,
  calendar work for every day up to the end of the run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DAYS_PER_MONTH = 30.4375
DEFAULT_SIZES = "1e5,1e6"


@dataclass(frozen=True)
class Measurement:
    program: str
    customers: int
    days: int
    workers: int
    wall_s: float
    customer_days_per_s: float
    parent_mib: float
    child_mib: float
    purchases: float

    @property
    def total_mib(self) -> float:
        return self.parent_mib + self.workers * self.child_mib


# ---------------------------------------------------------------- programs


# the engine's targets on a 2-core machine (issue 12)
TARGET_RATE = 2e8  # customer-days per second, both arms
TARGET_WALL_S = 30.0  # 1e7 customers x 365 days
TARGET_MIB = 1024.0  # peak memory of that run, all processes


def compile_program(path: str):
    """The IR of a rule file, or SystemExit with its diagnostics."""
    from rulelang.check.compiler import compile_source
    from rulelang.syntax.loader import load_file

    sf, diags, _ = load_file(path)
    program = None
    if sf is not None and not any(d.is_error for d in diags):
        program, diags = compile_source(sf)
    if program is None:
        messages = "; ".join(d.message for d in diags if d.is_error)
        raise SystemExit(f"bench_engine: cannot compile {path}: {messages}")
    return program


def complexity(program) -> int:
    """How much a program asks of the engine: rules and every construct they use."""
    score = 0
    for rule in program.rules:
        score += 1 + len(rule.actions) + len(rule.caps)
        score += sum(x is not None for x in (rule.condition, rule.budget, rule.every_nth, rule.streak,
                                             rule.group, rule.start))
    if program.tiers is not None:
        score += 2 + sum(1 + len(t.perks) + (t.multiplier is not None) + (t.discount_percent is not None)
                         + (t.expiry is not None) for t in program.tiers.tiers)
    score += len(program.expiry) + len(program.rewards) + len(program.counters) + len(program.events)
    score += sum(x is not None for x in (program.pay_with_points, program.conversion))
    score += (program.pending_days > 0) + program.returns.reverse
    return score


def most_complex_example(exclude: str) -> str:
    """The rules/*.loyalty example with the highest `complexity` (other than `exclude`)."""
    best, best_score = None, -1
    for path in sorted((ROOT / "rules").glob("*.loyalty")):
        rel = str(path.relative_to(ROOT))
        if rel == exclude or path.name.endswith(".test.loyalty"):
            continue
        try:
            score = complexity(compile_program(rel))
        except SystemExit:
            continue
        if score > best_score:
            best, best_score = rel, score
    if best is None:
        raise SystemExit("bench_engine: no example program in rules/ compiles")
    return best


def population_for(program_path: str, given: str | None):
    """--population when given, else rules/populations/<stem>.yaml when it exists, else the default."""
    from simulator.model.population import load_population_file

    if given:
        return load_population_file(given), given
    own = ROOT / "rules" / "populations" / (Path(program_path).stem + ".yaml")
    if own.exists():
        return load_population_file(own), str(own.relative_to(ROOT))
    return load_population_file(None), "simulator/model/populations/default.yaml"


def months_for(days: int) -> int:
    return max(1, round(days / DAYS_PER_MONTH))


# ---------------------------------------------------------------- one measurement (fresh process)


def measure_engine(program_path: str, population: str | None, customers: int, days: int, workers: int,
                   seed: int) -> dict:
    from simulator.trials.montecarlo import simulate

    program = compile_program(program_path)
    pop, pop_path = population_for(program_path, population)
    t0 = time.perf_counter()
    result = simulate(program, pop, customers=customers, months=months_for(days), trials=1, seed=seed,
                      workers=workers)
    wall = time.perf_counter() - t0
    sim_days = int(result.meta["days"])
    return {
        "program": program_path, "population": pop_path, "customers": customers, "days": sim_days,
        "workers": workers,
        "wall_s": wall, "customer_days_per_s": customers * sim_days / wall,
        "parent_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "child_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        "purchases": result.totals["program.purchases"]["mean"],
    }


def measure_interpreter(program_path: str, population: str | None, sample: int, days: int, seed: int) -> dict:
    """Record `sample` simulated customers, replay them through the interpreter, time both."""
    import datetime as dt

    from rulelang.run.interpreter import run
    from simulator.trials.montecarlo import simulate
    from simulator.engine.interpreter_check import FIELDS, to_customer, to_events

    program = compile_program(program_path)
    pop, _ = population_for(program_path, population)
    t0 = time.perf_counter()
    result = simulate(program, pop, customers=sample, months=months_for(days), trials=1, seed=seed,
                      workers=1, record=sample)
    engine_s = time.perf_counter() - t0
    start = dt.date.fromisoformat(result.meta["start"])
    end = dt.date.fromisoformat(result.meta["end"])
    sim_days = int(result.meta["days"])
    prepared = [(to_events(program, rec, start), to_customer(program, rec), rec) for rec in result.records.values()]
    events = sum(len(ev) for ev, _, _ in prepared)
    disagreements = 0
    t0 = time.perf_counter()
    outcomes = [run(program, ev, cust, until=end) if ev else None for ev, cust, _ in prepared]
    interp_s = time.perf_counter() - t0
    for (ev, _, rec), res in zip(prepared, outcomes):
        if res is None:
            continue
        got = rec["ledger"]
        if any(got.get(f) != getattr(res, f) for f in FIELDS):
            disagreements += 1
    return {
        "program": program_path, "sample": len(prepared), "days": sim_days, "events": events,
        "interpreter_s": interp_s, "interpreter_customer_days_per_s": len(prepared) * sim_days / interp_s,
        "engine_small_s": engine_s, "disagreements": disagreements,
    }


# ---------------------------------------------------------------- driver


def _in_fresh_process(args: list[str]) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"bench_engine: measurement failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _size(text: str) -> int:
    try:
        value = int(float(text.replace("_", "")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of customers such as 1e6, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the number of customers must be 1 or more")
    return value


def _sizes(text: str) -> list[int]:
    return [_size(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Engine throughput (customer-days per second) and peak memory.")
    p.add_argument("--customers", type=_sizes, default=_sizes(DEFAULT_SIZES),
                   help=f"comma-separated population sizes (default {DEFAULT_SIZES})")
    p.add_argument("--days", type=int, default=365, help="simulated days, rounded to whole months (default 365)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    p.add_argument("--program", action="append", default=None,
                   help="a rule file (repeatable; default rules/coffee.loyalty and the most complex example)")
    p.add_argument("--population", default=None,
                   help="population file (default rules/populations/<program>.yaml, else the built-in default)")
    p.add_argument("--sample", type=int, default=200, help="customers replayed through the interpreter (default 200)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None, metavar="FILE", help="also write the measurements as JSON")
    p.add_argument("--_engine", nargs=3, metavar=("PROGRAM", "CUSTOMERS", "WORKERS"), help=argparse.SUPPRESS)
    p.add_argument("--_interpreter", metavar="PROGRAM", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _common(ns: argparse.Namespace) -> list[str]:
    out = ["--days", str(ns.days), "--seed", str(ns.seed), "--sample", str(ns.sample)]
    if ns.population:
        out += ["--population", ns.population]
    return out


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    if ns._engine:
        prog, customers, workers = ns._engine
        print(json.dumps(measure_engine(prog, ns.population, int(customers), ns.days, int(workers), ns.seed)))
        return 0
    if ns._interpreter:
        print(json.dumps(measure_interpreter(ns._interpreter, ns.population, ns.sample, ns.days, ns.seed)))
        return 0
    programs = ns.program or ["rules/coffee.loyalty", most_complex_example("rules/coffee.loyalty")]
    import numpy

    for prog in programs:
        print(f"{prog}: complexity {complexity(compile_program(prog))}, "
              f"population {population_for(prog, ns.population)[1]}")

    print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, {os.cpu_count()} cores, "
          f"{ns.workers} workers, {ns.days} days, 1 trial (program + baseline arms)")
    print(f"memory: ru_maxrss of the simulating process and of its largest worker; "
          f"total = parent + {ns.workers} x worker")
    print()
    header = (f"{'program':<30} {'customers':>11} {'days':>5} {'wall s':>8} {'M cust-days/s':>14} "
              f"{'parent MiB':>11} {'worker MiB':>11} {'total MiB':>10}")
    print(header)
    print("-" * len(header))
    engine: dict[str, list[Measurement]] = {}
    for prog in programs:
        for n in ns.customers:
            r = _in_fresh_process(["--_engine", prog, str(n), str(ns.workers), *_common(ns)])
            m = Measurement(r["program"], r["customers"], r["days"], r["workers"], r["wall_s"],
                            r["customer_days_per_s"], r["parent_mib"], r["child_mib"], r["purchases"])
            engine.setdefault(prog, []).append(m)
            print(f"{prog:<30} {n:>11,} {m.days:>5} {m.wall_s:>8.2f} {m.customer_days_per_s / 1e6:>14.2f} "
                  f"{m.parent_mib:>11.0f} {m.child_mib:>11.0f} {m.total_mib:>10.0f}", flush=True)
    print()
    print(f"reference interpreter on the recorded events of {ns.sample} of the same simulated customers:")
    header = (f"{'program':<30} {'events':>8} {'interp s':>9} {'interp cust-days/s':>19} "
              f"{'engine cust-days/s':>19} {'engine/interp':>14} {'ledgers agree':>14}")
    print(header)
    print("-" * len(header))
    interp = []
    for prog in programs:
        r = _in_fresh_process(["--_interpreter", prog, *_common(ns)])
        interp.append(r)
        best = max(engine[prog], key=lambda m: m.customer_days_per_s).customer_days_per_s
        ratio = best / r["interpreter_customer_days_per_s"]
        agree = "yes" if r["disagreements"] == 0 else f"no ({r['disagreements']})"
        print(f"{prog:<30} {r['events']:>8,} {r['interpreter_s']:>9.2f} "
              f"{r['interpreter_customer_days_per_s']:>19,.0f} {best:>19,.0f} {ratio:>13.0f}x {agree:>14}",
              flush=True)
        r["engine_customer_days_per_s"] = best
        r["ratio"] = ratio
    print()
    print(f"targets (2-core machine): >= {TARGET_RATE:.0e} customer-days/s; 1e7 customers x 365 days in "
          f"<= {TARGET_WALL_S:.0f} s and <= {TARGET_MIB / 1024:.0f} GB peak memory")
    for prog, ms in engine.items():
        best = max(ms, key=lambda m: m.customer_days_per_s)
        rate = best.customer_days_per_s
        verdict = "meets" if rate >= TARGET_RATE else f"misses by {TARGET_RATE / rate:.1f}x"
        print(f"  {prog}: best {rate / 1e6:.1f} M customer-days/s ({best.customers:,} customers): {verdict}")
        for m in ms:
            if m.customers >= 10_000_000:
                time_ok = "meets" if m.wall_s <= TARGET_WALL_S else f"misses by {m.wall_s / TARGET_WALL_S:.1f}x"
                mem_ok = "meets" if m.total_mib <= TARGET_MIB else f"misses by {m.total_mib / TARGET_MIB:.1f}x"
                print(f"    {m.customers:,} customers: {m.wall_s:.0f} s ({time_ok} the {TARGET_WALL_S:.0f} s), "
                      f"{m.total_mib:.0f} MiB total ({mem_ok} the {TARGET_MIB / 1024:.0f} GB)")
    if ns.json:
        doc = {"engine": [m.__dict__ | {"total_mib": m.total_mib} for ms in engine.values() for m in ms],
               "interpreter": interp}
        Path(ns.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
