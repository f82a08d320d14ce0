"""`loyalty replay`: what a program would have done over the recorded history.

Takes: parsed arguments from `rulelang.tools.cli` (which calls `register(subparsers)`): the
program, `--transactions FILE` with the column flags of `loyalty fit`, `--redeem`,
`--reward`, `--compare OTHER`, `--out DIR`, `--format`, `--workers`. Gives: the `replay`
subcommand — reads the file (`simulator.transactions.reader`), lays it out for the engine
(`simulator.history.feed`), runs the program arm over it (`simulator.history.replay_engine`), in two
processes over two halves of the customers when that helps (customers are independent in
a replay; a program with a global budget runs in one process, since its budget is shared),
and prints or writes the report (`simulator.history.report`). Exit codes: 0 success, 1 bad
input (located diagnostics on stderr), 2 usage errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from typing import Any

import numpy as np

from rulelang.diagnostics import Diagnostic, RulelangError, Span, render_text

from simulator.history.feed import COMPARE_CURRENCY, DEFAULT_REDEEM, REDEEM_POLICIES, UNMATCHED_RETURN, ReplayError, ReplayOptions, build_feed, history_span, unmatched_warning
from simulator.history.replay_engine import HistoryResult, replay
from simulator.transactions.reader import RECORDED_FIELDS

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
PARALLEL_ROWS = 200_000  # below this, a second process costs more than it saves


def register(subparsers: argparse._SubParsersAction) -> None:
    from simulator.transactions.columns import add_column_options

    p = subparsers.add_parser(
        "replay", help="what a program would have cost over the recorded transactions",
        description="Run the program over the real purchase and return history, exactly as the reference "
                    "interpreter would, with no behaviour model: what it would have cost had customers "
                    "behaved exactly as they did. Points issued, redeemed, expired and reversed, costs, "
                    "tier mix and liability, month by month.")
    p.add_argument("program", metavar="PROGRAM", help="the program file (.loyalty or .yaml)")
    p.add_argument("--transactions", metavar="FILE", required=True, help="transaction file (CSV or Parquet)")
    p.add_argument("--compare", metavar="OTHER", help="a second program replayed on the same history; shows the differences")
    p.add_argument("--redeem", choices=REDEEM_POLICIES, default=DEFAULT_REDEEM,
                   help="when members redeem, since a transaction file records no redemptions: "
                        "when-affordable (default: the reward at the next purchase once the balance covers it; "
                        "pay with points when the program has no reward) or never")
    p.add_argument("--reward", metavar="NAME", help="the reward --redeem when-affordable redeems (default: the cheapest)")
    p.add_argument("--workers", type=int, choices=(1, 2), default=None,
                   help="processes (default: 2 for large files, 1 for small ones or a program with a budget)")
    p.add_argument("--out", metavar="DIR", help="write report.json, report.md and report.html (charts) into this directory")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    add_column_options(p)
    p.set_defaults(handler=cmd_replay)


# ---------------------------------------------------------------- steps (also used by the benchmark)


def load_history(path: str, columns=None, *, date_format: str | None = None, decimal: str = "."):
    """The transactions of `path` (standard column names filled in, as `loyalty fit` does)."""
    from simulator.transactions.columns import ReadOptions, read_file
    from simulator.transactions.reader import ColumnMap

    return read_file(path, ReadOptions(columns or ColumnMap(), date_format, decimal)).transactions


def _load_program(path: str):
    from simulator.cli_options import load_program as load

    program, errors, text, _ = load(path)
    if program is None and not errors:
        errors = [Diagnostic("RL004", "error", "no program to replay in this file", Span(path, 0, 0, 0, 0))]
    return program, errors, text


def _part(tx, lo: int, hi: int):
    """Customers lo..hi-1 of `tx` (its rows are in customer order) as a Transactions record."""
    rows = np.searchsorted(tx.customer, [lo, hi])
    r0, r1 = int(rows[0]), int(rows[1])

    def cut(a):
        return None if a is None else a[r0:r1]

    return dataclasses.replace(
        tx, customer_ids=tx.customer_ids[lo:hi], customer=tx.customer[r0:r1] - lo, time=tx.time[r0:r1],
        amount_cents=tx.amount_cents[r0:r1], is_return=tx.is_return[r0:r1], order=cut(tx.order),
        **{name: cut(getattr(tx, name)) for name in RECORDED_FIELDS},  # each purchase field of the file
        customer_table={k: v[lo:hi] for k, v in tx.customer_table.items()})


_WORK: dict[str, Any] = {}


def _replay_part(bounds: tuple[int, int]) -> HistoryResult:
    from simulator.model.strings import StringTable

    w = _WORK
    strings = StringTable()
    feed = build_feed(_part(w["tx"], *bounds), w["program"], strings, w["path"], span=w["span"])
    return replay(w["program"], feed, strings, w["options"])


def _merge(parts: list[HistoryResult]) -> HistoryResult:
    first = parts[0]
    monthly = {k: sum(p.monthly[k] for p in parts) for k in first.monthly}
    ledgers = {k: np.concatenate([p.ledgers[k] for p in parts]) for k in first.ledgers}
    seen: dict[tuple[str, str], Diagnostic] = {}
    for p in parts:
        for d in p.warnings:
            if d.code != UNMATCHED_RETURN:
                seen.setdefault((d.code, d.message), d)
    warnings = list(seen.values())
    unmatched = sum(p.unmatched_returns for p in parts)
    if unmatched:
        warnings.append(unmatched_warning(unmatched, _WORK["tx"].order is not None, _WORK["path"]))
    return dataclasses.replace(first, monthly=monthly, tier_counts=sum(p.tier_counts for p in parts),
                               customer_ids=np.concatenate([p.customer_ids for p in parts]), ledgers=ledgers,
                               enroll_day=np.concatenate([p.enroll_day for p in parts]), warnings=warnings,
                               unmatched_returns=unmatched)


def replay_loaded(program, tx, options: ReplayOptions = ReplayOptions(), workers: int | None = None,
                  path: str | None = None) -> HistoryResult:
    """Replay `program` over `tx`: one process, or two over two halves of the customers."""
    from simulator.model.strings import StringTable

    path = path or str(getattr(tx, "path", "<transactions>"))
    budgets = any(r.budget is not None for r in program.rules)
    n_rows = int(tx.customer.size)
    if workers is None:
        workers = 2 if (n_rows >= PARALLEL_ROWS and (os.cpu_count() or 1) > 1) else 1
    if budgets or workers == 1 or tx.customer_ids.size < 2:
        strings = StringTable()
        return replay(program, build_feed(tx, program, strings, path), strings, options)
    import multiprocessing as mp

    from simulator.history.feed import check_currency

    check_currency(program, tx, path)  # an error before the processes start
    n = int(tx.customer_ids.size)
    mid = int(tx.customer[min(n_rows // 2, n_rows - 1)])  # split the rows, not the customers, in two
    mid = min(max(mid, 1), n - 1)
    _WORK.update(tx=tx, program=program, options=options, path=path, span=history_span(tx))
    try:
        ctx = mp.get_context("fork")
        with ctx.Pool(2) as pool:
            parts = pool.map(_replay_part, [(0, mid), (mid, n)])
        return _merge(parts)
    finally:
        _WORK.clear()


def replay_program(program_path: str, tx, options: ReplayOptions = ReplayOptions(), timings: bool = False,
                   workers: int | None = None):
    """Load and replay a program file (for the benchmark): (result, {stage: seconds})."""
    t = time.perf_counter()
    program, errors, _ = _load_program(program_path)
    if program is None:
        raise RulelangError(errors)
    t1 = time.perf_counter()
    result = replay_loaded(program, tx, options, workers)
    return result, {"load": t1 - t, "replay": time.perf_counter() - t1}


# ---------------------------------------------------------------- the command


def _fail(exc: RulelangError) -> int:
    print(render_text(exc.diagnostics, getattr(exc, "sources", {})), file=sys.stderr)
    return EXIT_FINDINGS


def cmd_replay(args: argparse.Namespace) -> int:
    from simulator.trials.montecarlo import program_hash
    from simulator.report.outputs import prepare_out_dir, print_stdout
    from simulator.history.report import build_document, summary_text, write_reports
    from simulator.transactions.columns import read_from_args

    programs = []
    for path in [args.program] + ([args.compare] if args.compare else []):
        program, errors, text = _load_program(path)
        if program is None:
            print(render_text(errors, {path: text} if text else {}), file=sys.stderr)
            return EXIT_FINDINGS
        programs.append((program, path, program_hash(program, text)))
    if len(programs) == 2 and programs[0][0].currency != programs[1][0].currency:
        (a, fa, _), (b, fb, _) = programs
        return _fail(ReplayError([Diagnostic(
            COMPARE_CURRENCY, "error", f"{fb} counts money in {b.currency}, {fa} in {a.currency}: "
            f"one transaction file cannot be replayed in both, and their costs cannot be subtracted",
            Span(fb, 0, 0, 0, 0), "compare programs written in the same currency")]))
    options = ReplayOptions(redeem=args.redeem, reward=args.reward)
    try:
        if args.out:
            prepare_out_dir(args.out)
        tx = read_from_args(args, args.transactions).transactions
        results = [(replay_loaded(p, tx, options, args.workers, args.transactions), f, h) for p, f, h in programs]
    except RulelangError as exc:
        return _fail(exc)
    shown: set[tuple[str, str]] = set()
    for r, _, _ in results:
        for d in r.warnings:
            if (d.code, d.message) not in shown:
                shown.add((d.code, d.message))
                print(render_text([d], {}), file=sys.stderr)
    history = {"file": args.transactions, "rows": int(tx.customer.size), "customers": int(tx.customer_ids.size),
               "currency": tx.currency, "skipped": [list(s) for s in tx.skipped],
               "buyers": int(np.unique(tx.customer[~tx.is_return]).size)}
    doc = build_document(results, history)
    try:
        if args.out:
            for path in write_reports(doc, args.out):
                print(f"wrote {path}", file=sys.stderr)
        print_stdout(json.dumps(doc, indent=2) + "\n" if args.format == "json" else summary_text(doc))
    except RulelangError as exc:
        return _fail(exc)
    return EXIT_OK


__all__ = ["cmd_replay", "load_history", "register", "replay_loaded", "replay_program"]
