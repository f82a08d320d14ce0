"""Benchmark: `loyalty replay` over 1 million recorded transactions (synthetic, made here).

A history of 100,000 customers over one year (2027): each customer buys on random days at
random times, in three categories and two channels; 8 % of purchases come back, in part
or whole, a few days later (named by their order id). The history is written to a CSV file
(as a user's file would be) and replayed by the `loyalty replay` code path: read the file,
build the feed, replay, once for coffee.loyalty and once for online_shop.loyalty (pay with
points, a pending period, a discount on free delivery). Prints the time of each stage,
the throughput (transactions per second) and the peak memory (resident set size).

    python benchmarks/bench_replay.py [--rows 1000000] [--customers 100000]

Target (issue 9): 1 million transactions in at most 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_history(rows: int, customers: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Columns of a synthetic transaction file (purchases then returns, any order)."""
    rng = np.random.default_rng(seed)
    n_ret = int(rows * 0.08)
    n_buy = rows - n_ret
    cust = rng.integers(0, customers, n_buy)
    secs = rng.integers(0, 365 * 86400 - 20 * 86400, n_buy)
    amount = np.maximum(1, np.rint(rng.gamma(2.0, 900.0, n_buy))).astype(np.int64)
    cats = np.array(["coffee", "food", "gift_card"])[rng.choice(3, n_buy, p=[0.6, 0.35, 0.05])]
    chans = np.array(["store", "app"])[rng.integers(0, 2, n_buy)]
    order = np.arange(n_buy)
    back = rng.choice(n_buy, n_ret, replace=False)
    r_secs = secs[back] + rng.integers(3600, 14 * 86400, n_ret)
    r_amount = np.where(rng.random(n_ret) < 0.5, amount[back], np.maximum(1, amount[back] // 2))
    t0 = np.datetime64("2027-01-01T00:00:00")
    return {
        "customer_id": np.concatenate([cust, cust[back]]),
        "date": np.concatenate([t0 + secs.astype("timedelta64[s]"), t0 + r_secs.astype("timedelta64[s]")]),
        "amount": np.concatenate([amount, r_amount]) / 100.0,
        "kind": np.concatenate([np.full(n_buy, "purchase"), np.full(n_ret, "return")]),
        "order_id": np.concatenate([order, order[back]]),
        "category": np.concatenate([cats, cats[back]]),
        "channel": np.concatenate([chans, chans[back]]),
    }


def write_csv(columns: dict[str, np.ndarray], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.table({
        "customer_id": pa.array([f"C{c:06d}" for c in columns["customer_id"].tolist()]),
        "date": pa.array(np.datetime_as_string(columns["date"], unit="s")),
        "amount": pa.array(np.round(columns["amount"], 2)),
        "kind": pa.array(columns["kind"]),
        "order_id": pa.array([f"O{o}" for o in columns["order_id"].tolist()]),
        "category": pa.array(columns["category"]),
        "channel": pa.array(columns["channel"]),
    })
    pacsv.write_csv(table, str(path))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def worker_peak_mib() -> float:
    """The largest peak of the worker processes that have ended (the replay forks two for big files)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU seconds of this process and of its ended workers (the machine may be shared: wall time is not CPU)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=100_000)
    args = ap.parse_args()
    from simulator.history.command import load_history, replay_program

    t = time.perf_counter()
    cols = make_history(args.rows, args.customers)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transactions.csv"
        write_csv(cols, path)
        print(f"made {args.rows:,} transactions of {args.customers:,} customers in {time.perf_counter() - t:.1f} s "
              f"({path.stat().st_size / 2**20:.0f} MiB CSV)")
        import os

        print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; {os.cpu_count()} cores")
        t, c = time.perf_counter(), cpu_s()
        tx = load_history(str(path))  # kind, order_id, category, channel: standard column names
        read_s, read_cpu = time.perf_counter() - t, cpu_s() - c
        print(f"read: {read_s:.2f} s wall, {read_cpu:.2f} s CPU")
        for name in ("coffee.loyalty", "online_shop.loyalty"):
            t, c = time.perf_counter(), cpu_s()
            result, stages = replay_program(str(ROOT / "rules" / name), tx, timings=True)
            total, total_cpu = time.perf_counter() - t, cpu_s() - c
            issued = int(result.monthly["points_issued"].sum())
            print(f"{name}: feed + replay {stages['replay']:.2f} s wall, {total_cpu:.2f} s CPU (all processes); "
                  f"read + replay {read_s + total:.2f} s = {args.rows / (read_s + total):,.0f} transactions/s; "
                  f"{issued:,} points issued; peak memory {peak_mib():,.0f} MiB (this process), "
                  f"{worker_peak_mib():,.0f} MiB (largest worker)")
        print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
