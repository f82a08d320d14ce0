"""`loyalty fit TRANSACTIONS --out POPULATION.yaml`: a population fitted to a business's own history.

Takes: parsed arguments from `rulelang.tools.cli` (which calls `register(subparsers)`). Gives: the
`fit` subcommand — reads the transaction file (simulator.transactions.reader), summarises each
customer (simulator.fit.summary), fits the purchase, dropout and spend models and the mixes
(simulator.fit.fitting), writes the population file and its customers file
(simulator.fit.population_file) and, with `--report DIR`, the fit report (simulator.fit.report).
Prints a summary (text) or the report document (json). The population written is loaded
back with the simulator's own reader before the command succeeds.

Exit codes: 0 success, 1 bad input (a located diagnostic: RL800–RL849 for the file and the
options, RL85x for a fit that cannot be trusted), 2 usage errors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np

from rulelang.diagnostics import Diagnostic, RulelangError, Span, render_text

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    from simulator.transactions.columns import add_column_options

    p = subparsers.add_parser(
        "fit", help="fit a population (purchase, dropout, spend, mixes) to a transaction history",
        description="Read a transaction file (CSV or Parquet: one row per purchase or return), fit the "
                    "BG/NBD or Pareto/NBD purchase model and the gamma-gamma spend model by maximum likelihood, "
                    "estimate the category, channel, item and return mixes, and write a population file "
                    "(with the customers file beside it) that `loyalty simulate --population` reads as it is.")
    p.add_argument("transactions", metavar="TRANSACTIONS", help="the transaction file (.csv or .parquet)")
    p.add_argument("--out", metavar="POPULATION.yaml", required=True, help="the population file to write")
    p.add_argument("--holdout-from", metavar="DATE",
                   help="check the model on the history from this date on (the calibration period ends the day before)")
    p.add_argument("--report", metavar="DIR", help="write report.json, report.md and report.html (charts) here")
    p.add_argument("--model", choices=("auto", "bgnbd", "pareto_nbd"), default="auto",
                   help="purchase and dropout model (default auto: the higher log-likelihood, on the calibration "
                        "period when there is a holdout)")
    p.add_argument("--segment-by", metavar="COLUMN", help="fit one segment per value of this customer column")
    p.add_argument("--time-unit", choices=("week", "day", "month"), default="week",
                   help="unit of the rates in the population file (default week)")
    p.add_argument("--no-customers", action="store_true",
                   help="do not write the customers file: the population describes new customers only")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default text)")
    add_column_options(p)
    p.set_defaults(handler=cmd_fit)


def _usage(message: str) -> int:
    print(f"loyalty fit: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _iso_dates(values: np.ndarray, column: str, path: str) -> np.ndarray:
    """Per-customer date texts (birthday, signup) as ISO dates ("" unknown); RL804 when one does not parse."""
    import pyarrow as pa

    from simulator.transactions.dates import DateProblem, parse_dates, shown
    from simulator.transactions.reader import TransactionsError

    try:
        parsed = parse_dates(pa.array(values.tolist(), pa.string()))
    except DateProblem as p:
        hint = f"expected {p.expected}"
        if p.kind == "ambiguous":
            hint = (f"the dates could be day-first or month-first (`{shown(p.value)}`, `{shown(p.other_value)}`); write them as "
                    "ISO dates (1985-03-14)")
        raise TransactionsError([Diagnostic("RL804", "error", f"column `{column}`: the date `{shown(p.value)}` does not "
                                            "parse", Span(path, 0, 0, 0, 0), hint)]) from None
    days = parsed.values.astype("datetime64[D]").astype(str)
    return np.where(parsed.missing, "", days)


def _columns_used(columns) -> dict[str, str]:
    out = {k: v for k, v in columns.row_fields().items()}
    out.update({k: v for k, v in columns.customer_fields().items()})
    return out


def cmd_fit(args: argparse.Namespace) -> int:
    from simulator.transactions.reader import TransactionsError

    holdout = None
    if args.holdout_from:
        try:
            holdout = dt.date.fromisoformat(args.holdout_from)
        except ValueError:
            return _usage(f"--holdout-from expects a date such as 2026-07-01, got {args.holdout_from!r}")
    try:
        return _run(args, holdout)
    except RulelangError as exc:
        print(render_text(exc.diagnostics, getattr(exc, "sources", {})), file=sys.stderr)
        return EXIT_FINDINGS
    except TransactionsError as exc:  # pragma: no cover - TransactionsError is a RulelangError
        print(render_text(exc.diagnostics, exc.sources), file=sys.stderr)
        return EXIT_FINDINGS


def _prepare_outputs(out: Path, args: argparse.Namespace) -> None:
    """Before anything is fitted: the population file (and its customers file) and the report folder
    can be written (RL620 otherwise, as `simulate` checks its --out first)."""
    from simulator.fit.population_file import customers_path
    from simulator.report.outputs import OutputError, prepare_out_dir, prepare_out_files

    if not out.parent.is_dir():
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError.of(str(out), f"create the folder {out.parent}", exc) from None
    prepare_out_files([out] + ([] if args.no_customers else [customers_path(out)]))
    if args.report:
        prepare_out_dir(args.report)


def _run(args: argparse.Namespace, holdout: dt.date | None) -> int:
    from simulator.fit.population_file import write_population
    from simulator.fit.report import build_report, json_text, write_fit_report
    from simulator.fit.fitting import run_fit
    from simulator.fit.summary import summarise
    from simulator.report.outputs import print_stdout
    from simulator.transactions.columns import read_from_args

    out = Path(args.out)
    _prepare_outputs(out, args)
    loaded = read_from_args(args, args.transactions, args.segment_by)
    tx, columns, filled = loaded.transactions, loaded.columns, loaded.filled
    s = summarise(tx, holdout, args.time_unit)
    segment_key = next((k for k, v in columns.customer_fields().items() if v == args.segment_by), None)
    attributes = tuple(c for c in columns.customer_columns)
    outcome = run_fit(tx, s, args.model, segment_key, attributes)
    dates = {k: _iso_dates(tx.customer_table[k], columns.customer_fields()[k], tx.path)
             for k in ("birthday", "signup") if k in tx.customer_table}

    warnings: list[Diagnostic] = []
    here = Span(tx.path, 0, 0, 0, 0)
    if tx.skipped:
        detail = "; ".join(f"{r}: {c:,}" for r, c in tx.skipped)
        warnings.append(Diagnostic("RL830", "warning", f"{sum(c for _, c in tx.skipped):,} of {tx.rows_read:,} rows "
                                   f"were not used ({detail})", here,
                                   "the fit report lists them; check the column mapping if the number is large"))
    for seg in outcome.segments:
        r = seg.spend_correlation
        from simulator.fit.fitting import CORRELATION_WARNING

        if r is not None and abs(r) >= CORRELATION_WARNING:
            where = f"segment `{seg.name}`: " if len(outcome.segments) > 1 else ""
            warnings.append(Diagnostic("RL831", "warning", f"{where}frequency and mean spend are correlated "
                                       f"(r = {r:.2f}): the gamma-gamma spend model assumes they are independent",
                                       here, "segment the customers (--segment-by) so that each segment is closer "
                                       "to independent, or read the spend forecast of heavy buyers with care"))
    for m, why in outcome.failed_models:
        warnings.append(Diagnostic("RL832", "warning", f"{m} could not be fitted ({why}); "
                                   f"{outcome.model} is used", here, None))
    if s.holdout and s.new_in_holdout:
        warnings.append(Diagnostic("RL833", "warning", f"{s.new_in_holdout:,} customers first bought in the holdout "
                                   "period: they are in the population but not in the holdout checks", here,
                                   "an earlier --holdout-from checks more of them"))
    notes = [d.message for d in warnings]
    notes.append("economics (gross margin, fixed costs) are not in the data: the population file has defaults; "
                 "set them before trusting profit figures")
    written = write_population(outcome, out, dates, with_customers=not args.no_customers)
    _check_loads(out)
    used = _columns_used(columns)
    report = build_report(outcome, used, notes)
    report["meta"]["columns_found_by_name"] = filled
    if args.report:
        written += write_fit_report(report, args.report)
    if warnings:
        print(render_text(warnings, {}), file=sys.stderr)
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    print_stdout(json_text(report) if args.format == "json" else summary_text(report))
    return EXIT_OK


def _check_loads(path: Path) -> None:
    """The file just written must load in the simulator as it is (a failure here is a bug of `fit`)."""
    from simulator.model.population import load_population_file

    load_population_file(path)


def summary_text(report: dict) -> str:
    from simulator.fit.report import VERDICT_ORDER, VERDICT_TITLES

    m = report["meta"]
    lines = [f"{m['file']}: {m['rows_used']:,} rows used of {m['rows_read']:,}, {m['customers']:,} customers, "
             f"{m['first_day']} .. {m['last_day']}", f"dates: {m['date_note']}",
             f"model: {(m.get('model_choice') or {}).get('why') or m['model_name']}" + (f", checked on the holdout {m['holdout_from']} .. {m['last_day']}"
                                            if m["holdout_from"] else " (no holdout: --holdout-from checks a forecast)")]
    for seg in report["segments"]:
        f = seg["calibration"] or seg["purchase"]
        which = "calibration" if seg["calibration"] else "whole history"
        params = ", ".join(f"{n.split('.', 1)[1]} {v:.4g} (SE {se:.2g})" for n, v, se in zip(f["names"], f["params"], f["se"]))
        lines.append(f"segment {seg['name']} ({seg['customers']:,} customers), {which}: {params}; "
                     f"log-likelihood {f['loglik']:,.1f}")
    for key in VERDICT_ORDER:
        lines.append(f"{VERDICT_TITLES[key]}: {report['checks'][key]['verdict']}")
    return "\n".join(lines) + "\n"
