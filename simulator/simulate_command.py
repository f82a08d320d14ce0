"""`loyalty simulate`: the simulator's command line.

Takes: parsed arguments from `rulelang.tools.cli` (which calls `register(subparsers)`).
Gives: the `simulate` subcommand — loads and compiles the program, loads the
population (the documented default without `--population`), runs the Monte Carlo
simulation, prints a summary table (text) or the report document (json), and writes
`report.json`, `report.md` and `report.html` into `--out` (checked writable before the
run; written as one set, see `simulator.report.outputs`). Exit codes: 0 success, 1 errors in the
input files, a program the simulator cannot simulate, or an output that cannot be written
(RL620: a read-only or full disk, a file named as `--out`, standard output on a full
device), 2 usage errors. A closed standard output (`| head`) ends quietly.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from rulelang.diagnostics import Diagnostic, RulelangError, Span, render_text

from simulator.cli_options import add_run_options, load_program, money_amount, progress_printer, start_date, unit_share

if TYPE_CHECKING:
    from simulator.trials.result import RunResult

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate", help="Monte Carlo simulation of what a program costs and returns",
        description="Simulate a population of customers with and without the program (same customers, "
                    "same random draws) and report revenue, cost, incremental profit, points and tiers "
                    "with their range of outcomes over trials and the Monte Carlo precision of each mean.")
    p.add_argument("program", metavar="PROGRAM", help="the program file (.loyalty or .yaml)")
    p.add_argument("--population", metavar="FILE",
                   help="population file (default: data/NAME/population.yaml beside the program NAME.loyalty "
                        "when it exists, else the built-in retail population)")
    add_run_options(p)
    for action in p._actions:  # --customers: the customers file's count when the population names one
        if action.dest == "customers":
            action.default = None
            action.help = ("customers (default: every row of the population's customers file, else 10000; "
                           "a count that differs from the file's samples its rows, see docs/simulator.md)")
    p.add_argument("--start", type=start_date, metavar="DATE",
                   help="first simulated day (default: the population's, else 2027-01-01)")
    p.add_argument("--out", metavar="DIR",
                   help="write report.json, report.md, report.html (charts), summary.csv, monthly.csv, per_trial.csv, "
                        "report.xlsx and the tables as Parquet into this directory")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text",
                   help="standard output: text (the table), json (report.json) or csv (summary.csv) (default text)")
    p.add_argument("--point-value", type=money_amount, metavar="AMOUNT", dest="point_value",
                   help="standalone selling price of one point for the contract liability, in the program's currency "
                        "(default: the program's `point value`, else its rewards' worth per point; docs/accounting.md)")
    p.add_argument("--expected-redemption", type=unit_share, metavar="RATE", dest="expected_redemption",
                   help="expected redemption rate (1 - expected breakage), 0..1, for the contract liability "
                        "(default: each trial's own redeemed / (redeemed + expired))")
    p.add_argument("--guardrails", metavar="FILE",
                   help="limits the program must keep (YAML, see docs/whatif.md); exit 1 when one fails")
    p.set_defaults(handler=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    from simulator.trials.montecarlo import program_hash, simulate

    program, errors, text, sf = load_program(args.program)
    if program is None:
        if not errors:
            errors = [Diagnostic("RL004", "error", "no program to simulate in this file", Span(args.program, 0, 0, 0, 0))]
        print(render_text(errors, {args.program: text} if text else {}), file=sys.stderr)
        return EXIT_FINDINGS
    start = args.start
    rails = []
    if args.guardrails:
        from simulator.whatif.guardrails import load_guardrails_file

        try:
            rails = load_guardrails_file(args.guardrails)
        except RulelangError as exc:
            print(render_text(exc.diagnostics, getattr(exc, "sources", {})), file=sys.stderr)
            return EXIT_FINDINGS
    from simulator.report.outputs import prepare_out_dir, print_stdout
    from simulator.whatif.runner import Arm, Settings, load_population_spec, run_programs

    if args.population is None:
        from simulator.model.population_beside import population_beside

        beside = population_beside(args.program)
        if beside is not None:
            args.population = str(beside)
            print(f"population: {beside} (fitted to the program's data; --population FILE for another)",
                  file=sys.stderr)
    try:
        source = load_population_spec(args.population)  # distributions become per-trial draws
        if args.out:
            prepare_out_dir(args.out)  # a folder that cannot be written fails now, not after the run
    except RulelangError as exc:
        print(render_text(exc.diagnostics, getattr(exc, "sources", {})), file=sys.stderr)
        return EXIT_FINDINGS
    customers_source = "--customers"
    if args.customers is None:
        if source.base.customers is not None:
            args.customers = source.base.customers.size
            customers_source = "every row of the population's customers file"
        else:
            args.customers = 10_000
            customers_source = "the default; no --customers given"
    try:
        if source.per_trial or source.base.customers is not None:
            settings = Settings(args.customers, args.months, args.trials, args.seed, args.workers, args.block_size, start,
                                scheduler=args.scheduler)
            result = run_programs([Arm(program.name, program)], source, settings, progress_printer(sys.stderr))[0].result
            result.meta["program_hash"] = program_hash(program, text)
        else:
            result = simulate(program, source.base, customers=args.customers, months=args.months, trials=args.trials,
                              seed=args.seed, workers=args.workers, chunk_size=args.block_size, start=start,
                              program_source_hash=program_hash(program, text), progress=progress_printer(sys.stderr),
                              scheduler=args.scheduler)
        from simulator.whatif.compare import legend_json
        from simulator.model.fit_warnings import diagnostics_json, fit_warnings, observed_from_run

        result.meta["uncertainty"] = legend_json(result.meta)  # what `range` and `mc_precision` mean
        result.meta["customers_source"] = customers_source  # the scale the figures assume (fixed costs)
        from simulator.accounting.views import attach_accounting

        attach_accounting(result, program, point_value_cents=None if args.point_value is None else args.point_value * 100,
                          expected_redemption=args.expected_redemption)

        fit = fit_warnings(program, observed_from_run(result, source.base), sf, text, args.program)
        result.fit_warnings = diagnostics_json(fit)
        if fit:
            print(render_text(fit, {args.program: text} if text else {}), file=sys.stderr)
        if args.out:
            from simulator.report.pages import write_reports  # matplotlib is loaded only when reports are written

            for path in write_reports(result, args.out):
                print(f"wrote {path}", file=sys.stderr)
        if args.format == "json":
            print_stdout(json.dumps(result.to_json(), indent=2) + "\n")
        elif args.format == "csv":
            from simulator.report.tables import csv_text, tables

            print_stdout(csv_text(*tables(result.to_json())["summary"]))
        else:
            print_stdout(summary_text(result))
    except RulelangError as exc:
        print(render_text(exc.diagnostics, getattr(exc, "sources", {})), file=sys.stderr)
        return EXIT_FINDINGS
    if not result.ledger_identity_ok:
        print(f"loyalty simulate: error: the ledger identity issued = redeemed + expired + reversed + outstanding "
              f"does not hold (max error {result.ledger_identity_max_abs_error:,}): these numbers are wrong; "
              "please report it with the program and population", file=sys.stderr)
        return EXIT_FINDINGS
    if rails:
        from simulator.whatif.guardrails import evaluate_guardrails, findings_failed

        findings = evaluate_guardrails(result, rails, program)
        for f in findings:
            mark = "ok  " if f.passed else ("FAIL" if f.failed else "warn")
            print(f"guardrail {mark} {f.message}", file=sys.stderr)
        if findings_failed(findings):
            print("loyalty simulate: a guardrail failed", file=sys.stderr)
            return EXIT_FINDINGS
    return EXIT_OK


SUMMARY_ROWS = [
    ("revenue", "program.revenue", "baseline.revenue", "incremental.revenue", "money"),
    ("gross profit", "program.gross_profit", "baseline.gross_profit", None, "money"),
    ("program cost", "program.program_cost", None, None, "money"),
    ("  discounts", "program.cost_discounts", None, None, "money"),
    ("  rewards", "program.cost_rewards", None, None, "money"),
    ("  points payments", "program.cost_points_payments", None, None, "money"),
    ("  perks", "program.cost_perks", None, None, "money"),
    ("  vouchers", "program.cost_vouchers", None, None, "money"),
    ("  fixed", "program.cost_fixed", None, None, "money"),
    ("  acquisition", "program.cost_acquisition", None, None, "money"),
    ("net profit", "program.net_profit", "baseline.net_profit", None, "money"),
    ("incremental profit", None, None, "incremental.profit", "money"),
    ("ROI", "program.roi", None, None, "ratio"),
    ("purchases", "program.purchases", "baseline.purchases", None, "count"),
    ("returns", "program.returns", "baseline.returns", None, "count"),
    ("average check", "program.average_check", "baseline.average_check", None, "ratio"),
    ("repeat-purchase rate", "program.repeat_purchase_rate", "baseline.repeat_purchase_rate", None, "pct"),
    ("retention at end", "program.retention", "baseline.retention", None, "pct"),
    ("opening balances", "program.points_opening", None, None, "count"),
    ("points issued", "program.points_issued", None, None, "count"),
    ("points redeemed", "program.points_redeemed", None, None, "count"),
    ("points expired", "program.points_expired", None, None, "count"),
    ("points reversed", "program.points_reversed", None, None, "count"),
    ("points outstanding", "program.points_outstanding", None, None, "count"),
    ("breakage rate", "program.breakage_rate", None, None, "pct"),
    ("liability", "program.liability", None, None, "money"),
    ("  at declared point cost", "program.liability_at_declared_cost", None, None, "money"),
    ("cost per redeemed point", "program.cost_per_redeemed_point", None, None, "ratio4"),
    ("vouchers issued", "program.vouchers_issued", None, None, "count"),
    ("vouchers used", "program.vouchers_used", None, None, "count"),
    ("vouchers expired", "program.vouchers_expired", None, None, "count"),
    ("vouchers outstanding", "program.vouchers_outstanding", None, None, "count"),
    ("voucher liability", "program.voucher_liability", None, None, "money"),
]
GROUPS = ["program", "baseline", "difference"]


def cell_parts(s: dict | None, kind: str, signed: bool = False, precision: bool = True) -> tuple[str, str, str] | None:
    """(mean, `p5..p95`, `±h`) of a summary, as `fmt_interval` prints them (a part narrower than the
    printed digits left empty)."""
    from simulator.whatif.compare import fmt

    if s is None:
        return None
    mean = fmt(s.get("mean"), kind, signed)
    if s.get("mean") is None:
        return mean, "", ""
    rng = ""
    p5, p95 = (s.get("range") or [None, None])
    if p5 is not None and p95 is not None:
        low, high = fmt(p5, kind, signed), fmt(p95, kind, signed)
        rng = f"{low}..{high}" if low != high else ""
    pm = ""
    if precision and s.get("low") is not None and s.get("high") is not None:
        shown = fmt((s["high"] - s["low"]) / 2, kind)
        if fmt(s["low"], kind, signed) != fmt(s["high"], kind, signed) and shown.strip("0.,%p -") != "":
            pm = f"±{shown}"
    return mean, rng, pm


def scale_lines(result: RunResult) -> list[str]:
    """What count of customers the figures assume and where the real one is set: fixed costs do not
    grow with the customers, so ROI and incremental profit depend on the count."""
    m = result.meta
    where = m.get("customers_source") or "--customers"
    lines = [f"scale: these figures are for {m['customers']:,} customers ({where}); set your real number of "
             f"customers with --customers N (or the population's customers file)"]
    fixed = (result.totals.get("program.cost_fixed") or {}).get("mean")
    if fixed:
        lines.append("  the program's fixed costs do not grow with the customers, so ROI and incremental "
                     "profit change with the count: simulate the count you will run")
    return lines


def headline_lines(result: RunResult) -> list[str]:
    """The answer first: incremental profit and ROI with their range of outcomes and precision."""
    from simulator.trials.stats import PRECISION, RANGE

    cur = result.meta["currency"]
    out = []
    for label, key, kind in (("incremental profit", "incremental.profit", "money"), ("ROI", "program.roi", "ratio")):
        parts = cell_parts(result.totals.get(key), kind, signed=kind == "money")
        if parts is None:
            continue
        mean, rng, pm = parts
        unit = f" {cur}" if kind == "money" else ""
        extra = [f"{RANGE} {rng}" if rng else "", f"{PRECISION} {pm}" if pm else ""]
        extra = [x for x in extra if x]
        out.append(f"{label}: {mean}{unit}" + (f" ({'; '.join(extra)})" if extra else ""))
    return out


def summary_text(result: RunResult, width: int | None = None) -> str:
    """The terminal table: the headline (incremental profit, ROI), the scale the figures assume, then
    per metric the program's, the baseline's and the paired difference's mean, range of outcomes and
    Monte Carlo precision (see `simulator.trials.stats`), in the widest layout that fits `width`
    (`simulator.report.terminal`)."""
    from simulator.report.terminal import fit_table, terminal_width
    from simulator.whatif.compare import fmt_interval, legend_lines
    from simulator.trials.stats import RANGE

    m = result.meta
    lines = [
        f"{m['program']} on {m['population']}: {m['customers']:,} customers, {m['months']} months "
        f"({m['start']} .. {m['end']}), {m['trials']} trials, seed {m['seed']}",
        f"money in {m['currency']}",
        *legend_lines(m),
        *([f"drawn per trial: {', '.join(m['uncertain_parameters'])}"] if m.get("uncertain_parameters") else []),
        "",
        *headline_lines(result),
        *scale_lines(result),
        "",
    ]

    def cell(key: str | None, kind: str, precision: bool, signed: bool = False):
        if key is None or key not in result.totals:
            return None
        return cell_parts(result.totals[key], kind, signed, precision)

    rows = []
    balances = [(f"{name} {what}", f"program.balance.{name}.{what}", None, None, "count")
                for name in result.program_balances for what in ("issued", "expired", "reversed", "outstanding")]
    for label, prog, base, diff, kind in SUMMARY_ROWS + balances:  # balances beside the points: no liability
        if (prog or diff) not in result.totals:
            continue
        rows.append((label, [cell(prog, kind, True), cell(base, kind, False), cell(diff, kind, True, True)]))
    lines.append(fit_table(GROUPS, rows, width or terminal_width()))
    if result.tier_names:
        from simulator.trials.stats import last_month  # not the report pages: they load matplotlib

        last = {n: last_month(result.tier_mix["share"][n]) for n in result.tier_names}
        lines.append(f"tier mix at end (share of members, mean [{RANGE}]): "
                     + ", ".join(f"{n} {fmt_interval(v, 'pct', precision=False) if v else '-'}" for n, v in last.items()))
    opening = "opening + " if "program.points_opening" in result.totals else ""
    lines.append(f"ledger identity {opening}issued = redeemed + expired + reversed + outstanding: "
                 f"{'holds' if result.ledger_identity_ok else 'BROKEN (max error %d)' % result.ledger_identity_max_abs_error}")
    lines += accounting_lines(result)
    lines += fit_lines(result.fit_warnings)
    for w in result.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines) + "\n"


def accounting_lines(result: RunResult) -> list[str]:
    """The contract liability in one line: deferred, recognized, breakage over the run and the closing."""
    cl = (result.accounting or {}).get("contract_liability")
    if not cl:
        return []
    from simulator.whatif.compare import fmt

    t = cl["totals"]
    parts = ", ".join(f"{k} {fmt(t[k]['mean'], 'money')}" for k in ("opening", "deferred", "recognized", "breakage", "closing"))
    check = "holds" if cl["identity_ok"] else "BROKEN"
    return [f"contract liability (IFRS 15, {result.meta['currency']}, mean): {parts}; "
            f"opening + deferred - recognized - breakage = closing: {check}"]


def fit_lines(fit: list[dict]) -> list[str]:
    """The population-fit warnings as table footnotes (the full located text goes to stderr)."""
    if not fit:
        return []
    return ["does the population fit the program? no:"] + [f"  warning[{w['code']}] {w['location']}: {w['message']}"
                                                             for w in fit]
