"""`loyalty compare | sweep | sensitivity | plan`: the what-if commands.

Takes: command-line arguments (`register(subparsers)` adds the four subcommands to the
`loyalty` parser; `main(argv)` runs them stand-alone). Gives: the commands — each loads
its programs and population, runs the simulations on common random numbers, prints a
table (text), Markdown or JSON, and writes reports (JSON, Markdown, HTML with charts).
Exit codes: 0 success; 1 errors in the input files, a program the simulator cannot
simulate, an output that cannot be written (RL620; `--out` and the plan's files are checked
writable before the run and written as one set, see `simulator.report.outputs`), or a failed
guardrail; 2 usage errors. `plan --detailed-exitcode`: 0 no
change, 1 error, 2 changes; the same for a whole change (`plan --base REV`, `plan BASE..HEAD`,
`simulator.whatif.plan_range`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

from rulelang.diagnostics import RulelangError, render_text

from simulator.cli_options import add_run_options, progress_printer, start_date

if TYPE_CHECKING:
    from simulator.whatif.sensitivity import SensitivityResult
    from simulator.whatif.sweep import SweepResult
    from simulator.whatif.runner import LoadedProgram, PopulationSource, Settings

    Progress = Callable[[int, int], None]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
USAGE_CODES = {"RL730", "RL731", "RL732", "RL733"}


# ---------------------------------------------------------------- argument types


def _fraction(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.5 or 50%, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("the range must lie between 0 and 1 (0.5 = ±50%)")
    return value


def _run_options(p: argparse.ArgumentParser, customers: int = 10_000, trials: int = 10) -> None:
    g = p.add_argument_group("simulation")
    g.add_argument("--population", metavar="FILE",
                   help="population file (default: the built-in retail population); numeric parameters may be "
                        "distributions, e.g. `goal_gradient: {uniform: [0.1, 0.3]}`, drawn once per trial")
    add_run_options(g, customers, trials)
    for action in g._group_actions:  # --customers: the customers file's count when the population names one
        if action.dest == "customers":
            action.default = None
            action.help = f"customers (default: every row of the population's customers file, else {customers})"
    p.set_defaults(default_customers=customers)
    g.add_argument("--start", type=start_date, metavar="DATE", help="first simulated day (default: the population's, else 2027-01-01)")


def _output_options(p: argparse.ArgumentParser, stem: str) -> None:
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="what to print (default text)")
    p.add_argument("--out", metavar="DIR", help=f"write {stem}.json, {stem}.md and {stem}.html (with charts) into DIR")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `compare`, `sweep`, `sensitivity` and `plan` to the `loyalty` command line."""
    p = subparsers.add_parser(
        "compare", help="compare program variants on the same simulated customers",
        description="Simulate two or more programs on the same customers and random draws and report every "
                    "metric for each, with the paired difference to the first; every figure with its range "
                    "of outcomes over trials and the Monte Carlo precision of its mean.")
    p.add_argument("programs", nargs="+", metavar="PROGRAM", help="program files (or REV:path from git); the first is the reference")
    _run_options(p)
    _output_options(p, "compare")
    p.set_defaults(handler=cmd_compare)

    p = subparsers.add_parser(
        "sweep", help="vary one or two parameters and find the best value",
        description="Run the program over a grid of values of one or two parameters (rule rates, tier thresholds, "
                    "costs, population assumptions) and report incremental profit, program cost and retention "
                    "with their range of outcomes and Monte Carlo precision, and the best value under the "
                    "constraints (only when its range of outcomes does not overlap the current setting's).")
    p.add_argument("program", metavar="PROGRAM")
    p.add_argument("--vary", action="append", required=True, metavar="NAME=FROM:TO:STEP",
                   help="parameter path and values, e.g. base.rate=1:3:0.5 or tier.Gold.threshold=300,400,500 "
                        "(once or twice; paths in docs/whatif.md)")
    p.add_argument("--max", action="append", default=[], metavar="METRIC=LIMIT",
                   help='constraint on the mean, e.g. --max "program_cost/revenue=0.02"')
    p.add_argument("--min", action="append", default=[], metavar="METRIC=LIMIT", help='e.g. --min "retention=0.6"')
    p.add_argument("--objective", default="incremental_profit", metavar="METRIC",
                   help="metric to maximise (default incremental_profit)")
    p.add_argument("--minimize", action="store_true", help="minimise the objective instead")
    _run_options(p)
    _output_options(p, "sweep")
    p.set_defaults(handler=cmd_sweep)

    p = subparsers.add_parser(
        "sensitivity", help="tornado chart: which population assumption matters most",
        description="Move each behavioural and economic assumption of the population to a low and a high value "
                    "(default ±50%) and report the paired change in incremental profit, with its range of outcomes "
                    "and Monte Carlo precision.")
    p.add_argument("program", metavar="PROGRAM")
    p.add_argument("--range", type=_fraction, default=0.5, dest="relative", metavar="FRACTION",
                   help="relative range of every assumption (default 0.5 = ±50%%)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=LOW:HIGH",
                   help="an absolute range for one assumption, e.g. response.goal_gradient=0.1:0.3")
    p.add_argument("--only", action="append", default=[], metavar="NAME", help="vary only these assumptions")
    p.add_argument("--metric", default="incremental_profit", metavar="METRIC", help="the metric to watch")
    _run_options(p, customers=5_000, trials=5)
    _output_options(p, "sensitivity")
    p.set_defaults(handler=cmd_sensitivity)

    p = subparsers.add_parser(
        "plan", help="what a rule change changes and what it costs",
        description="Show the rules and tiers a change adds, removes and changes, in words, and simulate both "
                    "programs on the same customers: the change in program cost, liability, incremental profit, "
                    "retention and tier mix, each with its range of outcomes and Monte Carlo precision. OLD and NEW are files or REV:path "
                    "(read with `git show`, e.g. origin/main:rules/coffee.loyalty). With `--base REV` (or one "
                    "argument BASE..HEAD), every program the change touches is planned on its own population, "
                    "in one Markdown comment with one exit code (docs/ci.md).")
    p.add_argument("old", metavar="OLD", nargs="?", help="the program before the change, or BASE..HEAD")
    p.add_argument("new", metavar="NEW", nargs="?", help="the program after the change")
    p.add_argument("--base", metavar="REV",
                   help="plan every rule file changed since the merge base of REV and HEAD (in the work tree)")
    p.add_argument("--rules", metavar="DIR", default="rules", help="where the rule files are (default rules)")
    p.add_argument("--populations", metavar="FILE",
                   help="YAML mapping of program path patterns to population files (docs/ci.md)")
    p.add_argument("--guardrails", metavar="FILE", help="limits the new program must keep (YAML, see docs/whatif.md)")
    p.add_argument("--detailed-exitcode", action="store_true", dest="detailed",
                   help="exit 0 when nothing changed, 1 on errors or failed guardrails, 2 when there are changes")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                   help="what to print: the Markdown plan (text, markdown) or the JSON document")
    p.add_argument("--out", metavar="FILE", help="write the plan as JSON to FILE (e.g. plan.json)")
    p.add_argument("--markdown", metavar="FILE", help="write the Markdown plan (a pull-request comment) to FILE")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML plan with charts to FILE")
    _run_options(p)
    p.set_defaults(handler=cmd_plan)


# ---------------------------------------------------------------- helpers


def _settings(args: argparse.Namespace, population: PopulationSource | None = None) -> Settings:
    """The run settings; without --customers, every row of the population's customers file
    (when it names one), else the command's default count."""
    from simulator.whatif.runner import Settings

    customers = args.customers
    if customers is None:
        base = population.base.customers if population is not None else None
        customers = base.size if base is not None else args.default_customers
    return Settings(customers, args.months, args.trials, args.seed, args.workers, args.block_size, args.start,
                    scheduler=args.scheduler)


def _fail(exc: RulelangError, command: str) -> int:
    sources = dict(getattr(exc, "sources", {}) or {})
    for d in exc.diagnostics:
        if d.span.file not in sources and d.span.line and os.path.isfile(d.span.file):
            try:
                with open(d.span.file, encoding="utf-8", errors="replace") as fh:
                    sources[d.span.file] = fh.read()
            except OSError:
                pass
    print(render_text(exc.diagnostics, sources), file=sys.stderr)
    if exc.diagnostics and all(d.code in USAGE_CODES for d in exc.diagnostics) and command != "plan":
        return EXIT_USAGE
    return EXIT_ERROR


def _emit(x: Any, args: argparse.Namespace, stem: str, text: Callable[[Any], str]) -> None:
    """Write the reports into --out and print the result; OutputError (RL620) when either fails."""
    from simulator.whatif import report as whatif_report
    from simulator.report.outputs import print_stdout

    if args.out:
        for path in whatif_report.write_reports(x, args.out, stem):
            print(f"wrote {path}", file=sys.stderr)
    if args.format == "json":
        print_stdout(json.dumps(x.to_json(), indent=2) + "\n")
    elif args.format == "markdown":
        print_stdout(whatif_report.markdown(x))
    else:
        print_stdout(text(x))


def _analyse(args: argparse.Namespace, command: str, specs: Sequence[str],
             run: Callable[[list[LoadedProgram], PopulationSource, Settings, Progress | None], Any],
             text: Callable[[Any], str]) -> int:
    """Load the programs `specs` and the population, `run(programs, population, settings, progress)`,
    then print and write the result; bad input: its diagnostics and the exit code."""
    from simulator.report.outputs import prepare_out_dir
    from simulator.whatif.runner import load_population_spec, load_program_spec

    try:
        programs = [load_program_spec(p) for p in specs]
        population = load_population_spec(args.population)
        if args.out:
            prepare_out_dir(args.out)  # a folder that cannot be written fails now, not after the run
        result = run(programs, population, _settings(args, population), progress_printer(sys.stderr))
        _print_fit(result)
        _emit(result, args, command, text)
    except RulelangError as exc:
        return _fail(exc, command)
    broken = [r for r in getattr(result, "runs", []) if not r.result.ledger_identity_ok]
    for r in broken:
        print(f"loyalty {command}: error: the ledger identity issued = redeemed + expired + reversed + outstanding "
              f"does not hold in {r.label} (max error {r.result.ledger_identity_max_abs_error:,}): "
              "these numbers are wrong; please report it with the program and population", file=sys.stderr)
    return EXIT_ERROR if broken else EXIT_OK


def _print_fit(result: Any) -> None:
    """The population-fit warnings of a comparison or plan (`simulator.model.fit_warnings`), located, on stderr."""
    cmp = getattr(result, "comparison", result)
    diags = cmp.fit_diagnostics() if hasattr(cmp, "fit_diagnostics") else []
    if diags:
        print(render_text(diags, cmp.sources), file=sys.stderr)


# ---------------------------------------------------------------- commands


def cmd_compare(args: argparse.Namespace) -> int:
    from simulator.whatif.compare import compare_programs, text_table

    if len(args.programs) < 2:
        print("loyalty compare: error: give at least two programs (the first is the reference)", file=sys.stderr)
        return EXIT_USAGE
    return _analyse(args, "compare", args.programs, compare_programs, text_table)


def cmd_sweep(args: argparse.Namespace) -> int:
    from simulator.whatif.sweep import run_sweep, text_table

    if len(args.vary) > 2:
        print("loyalty sweep: error: give one or two --vary", file=sys.stderr)
        return EXIT_USAGE

    def run(programs: list[LoadedProgram], population: PopulationSource, settings: Settings,
            progress: Progress | None) -> SweepResult:
        return run_sweep(programs[0], args.vary, population, settings, objective=args.objective,
                         minimize=args.minimize, maxes=args.max, mins=args.min, progress=progress)

    return _analyse(args, "sweep", [args.program], run, text_table)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from simulator.whatif.sensitivity import run_sensitivity, text_table

    def run(programs: list[LoadedProgram], population: PopulationSource, settings: Settings,
            progress: Progress | None) -> SensitivityResult:
        return run_sensitivity(programs[0], population, settings, relative=args.relative, params=args.param,
                               metric=args.metric, only=args.only, progress=progress)

    return _analyse(args, "sensitivity", [args.program], run, text_table)


def cmd_plan(args: argparse.Namespace) -> int:
    from simulator.whatif import report as whatif_report
    from simulator.whatif.runner import load_population_spec, load_program_spec
    from simulator.whatif.guardrails import load_guardrails_file
    from simulator.report.outputs import prepare_out_files, print_stdout, write_files
    from simulator.whatif.plan_command import make_plan, markdown

    if args.base is not None or (args.old is not None and args.new is None and ".." in args.old):
        return cmd_plan_change(args)
    if args.old is None or args.new is None:
        print("loyalty plan: error: give OLD and NEW, or BASE..HEAD, or --base REV", file=sys.stderr)
        return EXIT_USAGE
    targets = [p for p in (args.out, args.markdown, args.html) if p]
    try:
        old = load_program_spec(args.old)
        new = load_program_spec(args.new)
        rails = load_guardrails_file(args.guardrails) if args.guardrails else []
        population = load_population_spec(args.population)
        prepare_out_files(targets)  # files that cannot be written fail now, not after the run
        plan = make_plan(old, new, population, _settings(args, population), rails, progress_printer(sys.stderr))
        _print_fit(plan)
        renders = [(args.out, lambda: json.dumps(plan.to_json(), indent=2) + "\n"),
                   (args.markdown, lambda: markdown(plan)), (args.html, lambda: whatif_report.html(plan))]
        for path in write_files({path: render() for path, render in renders if path}):
            print(f"wrote {path}", file=sys.stderr)
        print_stdout(json.dumps(plan.to_json(), indent=2) + "\n" if args.format == "json" else markdown(plan))
    except RulelangError as exc:
        return _fail(exc, "plan")
    for f in plan.findings:
        if f.failed:
            print(f"error: guardrail failed: {f.message}", file=sys.stderr)
    return plan.exit_code(args.detailed)


def cmd_plan_change(args: argparse.Namespace) -> int:
    """`plan --base REV` / `plan BASE..HEAD`: every changed program, one comment, one exit code."""
    from simulator.report.outputs import prepare_out_files, print_stdout, write_files
    from simulator.whatif.guardrails import load_guardrails_file
    from simulator.whatif.plan_range import load_mapping, markdown, plan_change, resolve_range

    if args.base is not None and args.old is not None:
        print("loyalty plan: error: give --base REV or BASE..HEAD, not both", file=sys.stderr)
        return EXIT_USAGE
    if args.html:
        print("loyalty plan: error: --html plans one program; use --markdown or --out for a change", file=sys.stderr)
        return EXIT_USAGE
    targets = [p for p in (args.out, args.markdown) if p]
    try:
        rng = resolve_range(args.base, args.old)
        rails = load_guardrails_file(args.guardrails) if args.guardrails else []
        mapping = load_mapping(args.populations)
        prepare_out_files(targets)
        change = plan_change(rng, args.rules, lambda population: _settings(args, population), rails, mapping,
                             args.population, progress_printer(sys.stderr))
        text = markdown(change)
        renders = [(args.out, lambda: json.dumps(change.to_json(), indent=2) + "\n"), (args.markdown, lambda: text)]
        for path in write_files({path: render() for path, render in renders if path}):
            print(f"wrote {path}", file=sys.stderr)
        print_stdout(json.dumps(change.to_json(), indent=2) + "\n" if args.format == "json" else text)
    except RulelangError as exc:
        return _fail(exc, "plan")
    for o in change.outcomes:
        if o.errors:
            print(render_text(o.errors, change.sources), file=sys.stderr)
        for f in (o.plan.findings if o.plan is not None else []):
            if f.failed:
                print(f"error: guardrail failed ({o.file.path}): {f.message}", file=sys.stderr)
    return change.exit_code(args.detailed)


# ---------------------------------------------------------------- stand-alone entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run one of the what-if commands without the rest of the `loyalty` command line."""
    parser = argparse.ArgumentParser(prog="loyalty", description="What-if analysis of loyalty programs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(handler(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
