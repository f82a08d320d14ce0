"""Benchmark: `loyalty fit` on 1 million transactions of 100,000 customers (synthetic, made here).

The history is drawn by the simulator's own customer model (`simulated_rows` of the synthetic module, the default
retail population: BG/NBD purchases and dropout, gamma-gamma spend, three categories, three
channels, returns), with a fixed seed, and written once as CSV and as Parquet into a cache
folder (`--data`, default a folder in the system's temp directory); later runs reuse it.
Each measured run is a fresh Python process running the `loyalty fit` command as a user
would (`rulelang.tools.cli.main(["fit", FILE, "--out", ..., "--report", ...])`), with and without
`--holdout-from`; the process times every stage of the command and reports its own peak
resident memory (`ru_maxrss`), so the figure is the command's, not this script's.

    python benchmarks/bench_fit.py                                  # 100,000 customers, 8 months (~1M rows)
    python benchmarks/bench_fit.py --customers 10000 --formats csv  # a quick run
    python benchmarks/bench_fit.py --json /tmp/fit.json

Target (issue 9): fit on 1 million transactions of 100,000 customers in <= 30 s and <= 2 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START = dt.date(2026, 1, 1)
PROGRAM = ROOT / "rules" / "coffee.loyalty"  # only its currency and calendar matter to the history

# (modules, attribute, stage label): the functions of the command path that are timed, each in
# the first of its modules that imports (the package layout moves). A stage's time excludes the
# timed stages it calls (the checks inside the report, say).
STAGES = [
    (("simulator.transactions.columns",), "file_header", "read"),
    (("simulator.transactions.reader",), "read_transactions", "read"),
    (("simulator.fit.summary",), "summarise", "summarise"),
    (("simulator.model.estimation.bgnbd",), "fit", "fit BG/NBD"),
    (("simulator.model.estimation.pareto_nbd",), "fit", "fit Pareto/NBD"),
    (("simulator.model.estimation.gamma_gamma",), "fit", "fit gamma-gamma"),
    (("simulator.fit.fitting",), "estimate_mixes", "mixes"),
    (("simulator.fit.command",), "_iso_dates", "customer dates"),
    (("simulator.fit.population_file",), "write_population", "write population"),
    (("simulator.fit.command",), "_check_loads", "write population"),
    (("simulator.fit.report",), "all_checks", "fit checks"),
    (("simulator.fit.report",), "build_report", "report (build)"),
    (("simulator.fit.charts",), "all_charts", "report (charts)"),
    (("simulator.fit.report",), "write_fit_report", "report (write)"),
]


# ------------------------------------------------------------------ the data

def data_files(folder: Path, customers: int, months: int, seed: int) -> tuple[Path, Path]:
    """The CSV and Parquet files of the history, made if they are not in `folder` yet."""
    stem = f"fit-{customers}c-{months}m-s{seed}"
    csv_path, pq_path = folder / f"{stem}.csv", folder / f"{stem}.parquet"
    if not csv_path.exists():
        from rulelang.check.compiler import compile_source
        from rulelang.syntax.loader import load_file
        from simulator.model.population import load_population_file
        from simulator.transactions.synthetic import simulated_rows, write_transactions_csv

        t = time.perf_counter()
        sf, diags, _ = load_file(str(PROGRAM))
        program, diags = compile_source(sf)
        rows = simulated_rows(load_population_file(None), program, customers=customers, months=months, seed=seed,
                              start=START)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = csv_path.with_suffix(".csv.part")
        write_transactions_csv(rows, tmp)
        tmp.rename(csv_path)
        print(f"made {len(rows):,} rows of {customers:,} customers over {months} months in "
              f"{time.perf_counter() - t:.1f} s -> {csv_path}")
    if not pq_path.exists():
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = pacsv.read_csv(str(csv_path), convert_options=pacsv.ConvertOptions(
            column_types={"customer_id": pa.string(), "order_id": pa.string(), "date": pa.date32()}))
        tmp = pq_path.with_suffix(".parquet.part")
        pq.write_table(table, str(tmp))
        tmp.rename(pq_path)
    return csv_path, pq_path


def holdout_date(months: int) -> dt.date:
    """The first day of the last months // 3 months of the history (at least one)."""
    m = START.month - 1 + months - max(1, months // 3)
    return dt.date(START.year + m // 12, m % 12 + 1, 1)


# ------------------------------------------------------------------ the measured process

def child(file: str, out: str, holdout: str | None, result: str) -> int:
    """Run `loyalty fit` here with every stage timed; write the timings and ru_maxrss to `result`."""
    import importlib

    times: dict[str, float] = {}
    cpu: dict[str, float] = {}
    calls: dict[str, int] = {}
    stack: list[tuple[float, float]] = []  # (wall, CPU) time spent in timed callees of each open stage

    def wrap(fn, label):
        def timed(*a, **k):
            stack.append((0.0, 0.0))
            t, c = time.perf_counter(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent, spent_cpu = time.perf_counter() - t, time.process_time() - c
                inner, inner_cpu = stack.pop()
                times[label] = times.get(label, 0.0) + spent - inner
                cpu[label] = cpu.get(label, 0.0) + spent_cpu - inner_cpu
                calls[label] = calls.get(label, 0) + 1
                if stack:
                    stack[-1] = (stack[-1][0] + spent, stack[-1][1] + spent_cpu)
        return timed

    missing = []
    for (module,), attr, label in STAGES:
        m = importlib.import_module(module)
        if hasattr(m, attr):
            setattr(m, attr, wrap(getattr(m, attr), label))
        else:
            missing.append(f"{module}.{attr}")  # a stage renamed: printed, so the table does not hide it
    from rulelang.tools.cli import main

    argv = ["fit", file, "--out", str(Path(out) / "population.yaml"), "--report", str(Path(out) / "report")]
    if holdout:
        argv += ["--holdout-from", holdout]
    t, c = time.perf_counter(), time.process_time()
    with open(os.devnull, "w") as sink:
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        try:
            code = main(argv)
        finally:
            sys.stdout, sys.stderr = saved
    wall, wall_cpu = time.perf_counter() - t, time.process_time() - c
    Path(result).write_text(json.dumps({
        "exit": code, "command_s": wall, "command_cpu_s": wall_cpu, "stages": times, "stages_cpu": cpu, "calls": calls, "not_timed": missing,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))
    return 0


def measure(file: Path, holdout: str | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", str(file), "--child-out", tmp, "--child-result", str(result)]
        if holdout:
            cmd += ["--child-holdout", holdout]
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        process_s = time.perf_counter() - t
        out = json.loads(result.read_text())
        pop = (Path(tmp) / "population.yaml").read_text(encoding="utf-8")
    out["process_s"] = process_s
    out["params"] = [line.split("#")[0].strip() for line in pop.splitlines()
                     if line.strip().startswith(("purchase:", "dropout:", "spend:"))]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=8, help="months of history from 2026-01-01 (default 8: ~1M rows)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "loyalty-bench-fit",
                    help="folder that caches the generated files")
    ap.add_argument("--formats", default="csv,parquet", help="comma-separated: csv, parquet")
    ap.add_argument("--holdout", choices=("both", "with", "without"), default="both",
                    help="runs with --holdout-from (the last months // 3 months held out), without, or both")
    ap.add_argument("--json", type=Path, help="write the measurements as JSON too")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    ap.add_argument("--child-holdout", help=argparse.SUPPRESS)
    ap.add_argument("--child-result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.child_out, args.child_holdout, args.child_result)

    csv_path, pq_path = data_files(args.data, args.customers, args.months, args.seed)
    rows = sum(1 for _ in open(csv_path, encoding="utf-8")) - 1
    print(f"history: {rows:,} rows, {args.customers:,} customers, {args.months} months from {START} "
          f"(CSV {csv_path.stat().st_size / 2**20:.0f} MiB, Parquet {pq_path.stat().st_size / 2**20:.0f} MiB)")
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} cores")
    files = {"csv": csv_path, "parquet": pq_path}
    holdouts = {"both": [None, str(holdout_date(args.months))], "with": [str(holdout_date(args.months))],
                "without": [None]}[args.holdout]
    runs = []
    for fmt in args.formats.split(","):
        for h in holdouts:
            r = measure(files[fmt.strip()], h)
            r.update(format=fmt, holdout_from=h, rows=rows, customers=args.customers)
            runs.append(r)
            label = f"{fmt}, " + (f"--holdout-from {h}" if h else "no holdout")
            if r["exit"] != 0:
                print(f"{label}: loyalty fit exited {r['exit']}")
                continue
            print(f"\n{label}: command {r['command_s']:.2f} s wall, {r['command_cpu_s']:.2f} s CPU (process "
                  f"{r['process_s']:.2f} s with start-up), {rows / r['command_s']:,.0f} rows/s, peak memory "
                  f"{r['peak_mib']:,.0f} MiB")
            print(f"  {'stage':<18} {'wall s':>7} {'CPU s':>7}")
            for stage, s in r["stages"].items():
                n = r["calls"][stage]
                print(f"  {stage:<18} {s:7.2f} {r['stages_cpu'][stage]:7.2f}  ({n} call{'s' if n > 1 else ''})")
            other = r["command_s"] - sum(r["stages"].values())
            other_cpu = r["command_cpu_s"] - sum(r["stages_cpu"].values())
            print(f"  {'other':<18} {other:7.2f} {other_cpu:7.2f}")
            if r["not_timed"]:
                print(f"  (not found, not timed: {', '.join(r['not_timed'])})")
            print("  fitted: " + "; ".join(r["params"]))
    print(f"\nload average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    ok = [r for r in runs if r["exit"] == 0]
    if ok:
        worst_s = max(r["command_s"] for r in ok)
        worst_mib = max(r["peak_mib"] for r in ok)
        print(f"target <= 30 s and <= 2048 MiB: worst {worst_s:.1f} s, {worst_mib:,.0f} MiB -> "
              f"{'met' if worst_s <= 30 and worst_mib <= 2048 else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0 if len(ok) == len(runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
