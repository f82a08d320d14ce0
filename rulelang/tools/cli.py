"""Command line: `loyalty check | fmt | test | explain | convert` (and the simulator's commands).

Takes: the command-line arguments. Gives: output on stdout / stderr and an exit
code: 0 success, 1 findings (errors, failing tests, files that would change),
2 usage errors (argparse), 3 internal errors (a bug: "internal error: ...
please report"). Bad input never shows a traceback; it is reported as
diagnostics. Set LOYALTY_DEBUG=1 to see the traceback of an internal error.

Subcommands are registered from `COMMANDS`; the simulator plugs its commands
in through `simulator.simulate_command.register(subparsers)` when that module exists. A
registered subcommand sets `handler` (or `func`) to a callable taking the
parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import difflib
import gc
import importlib
import json
import os
import re
import stat
import sys
import tempfile
from typing import Callable, Sequence, TextIO

from rulelang.syntax import ast
from rulelang.check.checker import check
from rulelang.check.compiler import compile_program
from rulelang.diagnostics import Diagnostic, RulelangError, render_github, render_text, sort_key
from rulelang.tools.explain import explain, load_customer, load_events
from rulelang.syntax.formatter import format_source
from rulelang.syntax.loader import NO_PROGRAM, NOT_A_RULE_FILE, TEXT_SUFFIXES, discover, file_span, is_text_file, is_yaml_file, load_file, load_with_program, read_text, tested_program
from rulelang.syntax.parser import parse_text
from rulelang.tools.testing import Painter, render_report_github, render_report_json, render_report_text, run_paths
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.syntax.convert_comments import MODELINE, to_text_keeping_comments, to_yaml_keeping_comments
from rulelang.vocabulary import counted

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3

Handler = Callable[[argparse.Namespace], "int | None"]


class InternalError(Exception):
    """A bug in the tool (not in the user's input): reported with exit code 3."""


# ---------------------------------------------------------------- output helpers


def color_enabled(stream: TextIO) -> bool:
    """Colours only on a terminal, never when NO_COLOR is set or CI=true."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def painter(stream: TextIO) -> Painter:
    return Painter(color_enabled(stream))


_SEVERITY = re.compile(r"^(\S.*?: )(error|warning)(\[RL\d+\]: )", re.MULTILINE)


def paint_diagnostics(text: str, paint: Painter) -> str:
    if not paint.enabled:
        return text
    return _SEVERITY.sub(lambda m: m.group(1) + (paint.red if m.group(2) == "error" else paint.yellow)(
        m.group(2)) + m.group(3), text)


def show_diagnostics(diags: Sequence[Diagnostic], sources: dict[str, str], stream: TextIO) -> None:
    if diags:
        print(paint_diagnostics(render_text(sorted(diags, key=sort_key), sources), painter(stream)), file=stream)


class OutputError(Exception):
    """A file that cannot be written (exit 1, with the message)."""


def write_atomically(path: str, text: str) -> str:
    """Write `text` to `path` whole or not at all, and return the file written.

    A symlink is followed: its target is written and the link stays. A path that exists and is
    not a regular file (a directory, a device, a FIFO, a socket) is refused with `OutputError`,
    never replaced. The text goes to a temporary file in the target's folder, which is then
    renamed over the target, keeping the target's permissions (a new file gets the usual
    permissions for the umask)."""
    target = os.path.realpath(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise OutputError(f"cannot write {path}: it is {kind}; give the path of a file")
    directory = os.path.dirname(target)
    try:
        handle, temp = tempfile.mkstemp(dir=directory, prefix=".loyalty-", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc} ({directory})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        if info is not None:
            os.chmod(temp, stat.S_IMODE(info.st_mode))
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temp, 0o666 & ~umask)
        os.replace(temp, target)
    except OSError as exc:
        if os.path.exists(temp):
            os.unlink(temp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    return target


def same_meaning(a: ast.SourceFile, b: ast.SourceFile | None) -> bool:
    """Equal programs and tests (spans and comments are not part of equality)."""
    return b is not None and a.program == b.program and a.tests == b.tests


# ---------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    files, problems = discover(args.paths)
    sources: dict[str, str] = {}
    per_file: list[tuple[str, list[Diagnostic]]] = []
    seen: set[tuple[str, str, object]] = set()
    for d in problems:
        per_file.append((d.span.file, [d]))
    for path in files:
        loaded = load_with_program(path)
        sources.update(loaded.sources)
        diags = list(loaded.diagnostics)
        if loaded.source is not None and not loaded.has_errors:
            found = check(loaded.source)
            if loaded.borrows_program:  # the program's warnings belong to its own file's check
                found = [d for d in found if d.is_error or d.span.file != loaded.program_path]
            diags.extend(found)
        unique = []
        for d in sorted(diags, key=sort_key):
            key = (d.code, d.message, d.span)
            if key not in seen:
                seen.add(key)
                unique.append(d)
        per_file.append((path, unique))

    all_diags = [d for _, diags in per_file for d in diags]
    errors = sum(1 for d in all_diags if d.is_error)
    warnings = len(all_diags) - errors
    failing = _failing(all_diags, args.strict)
    shown = all_diags
    hidden = 0
    if args.max_errors is not None:
        shown, count = [], 0
        for d in all_diags:
            if d.is_error:
                count += 1
                if count > args.max_errors:
                    hidden += 1
                    continue
            shown.append(d)

    out = sys.stdout
    if args.format == "json":
        doc = {
            "format_version": "1.0",
            "valid": failing == 0,
            "strict": args.strict,
            "error_count": errors,
            "warning_count": warnings,
            "files": [
                {
                    "path": path,
                    "valid": _failing(diags, args.strict) == 0,
                    "error_count": sum(1 for d in diags if d.is_error),
                    "warning_count": sum(1 for d in diags if not d.is_error),
                }
                for path, diags in per_file
            ],
            "diagnostics": [d.to_json() for d in shown],
            "truncated": hidden > 0,
        }
        print(json.dumps(doc, indent=2), file=out)
    elif args.format == "github":
        if shown:
            print(render_github(_strict_annotations(shown) if args.strict else shown), file=out)
        print(_check_summary(len(files), errors, warnings, args.strict), file=out)
    else:
        paint = painter(out)
        if shown:
            print(paint_diagnostics(render_text(shown, sources), paint), file=out)
        if hidden:
            print(f"... and {counted(hidden, 'more error')} not shown (--max-errors {args.max_errors})", file=out)
        summary = _check_summary(len(files), errors, warnings, args.strict)
        print(paint.red(summary) if failing else summary, file=out)
    return EXIT_FINDINGS if failing else EXIT_OK


def _failing(diags: Sequence[Diagnostic], strict: bool) -> int:
    """The findings that fail `check`: its errors, and under `--strict` its warnings too."""
    return sum(1 for d in diags if d.is_error or strict)


def _check_summary(files: int, errors: int, warnings: int, strict: bool) -> str:
    """`checked 3 files: 0 errors, 1 warning`, saying when `--strict` makes the warnings fail."""
    summary = f"checked {counted(files, 'file')}: {counted(errors, 'error')}, {counted(warnings, 'warning')}"
    if strict and warnings:
        summary += " (--strict: warnings count as errors)"
    return summary


def _strict_annotations(diags: Sequence[Diagnostic]) -> list[Diagnostic]:
    """Under `--strict` a warning fails the run, so GitHub shows it as an error annotation."""
    return [d if d.is_error else dataclasses.replace(d, severity="error", message=f"{d.message} (a warning; "
                                                     "--strict makes it an error)") for d in diags]


def add_check(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("check", help="parse and check rule files",
                              description="Parse and check rule files; report every problem found.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories (searched recursively)")
    p.add_argument("--format", choices=("text", "json", "github"), default="text",
                   help="output: text (default), json, or github annotations")
    p.add_argument("--max-errors", type=_positive_int, metavar="N", help="show at most N errors")
    p.add_argument("--strict", action="store_true",
                   help="warnings are errors: exit 1 when there is any warning (for CI)")
    p.set_defaults(handler=cmd_check)


# ---------------------------------------------------------------- fmt


def _format_one(path: str, text: str) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of a file, or its syntax errors."""
    sf, diags = parse_text(text, path)
    if sf is None or any(d.is_error for d in diags):
        return None, [d for d in diags if d.is_error] or [
            Diagnostic("RL101", "error", f"{path} could not be parsed", file_span(path))]
    formatted = format_source(sf, tested=program_tested_by(path, sf))
    again, _ = parse_text(formatted, path)
    if not same_meaning(sf, again):
        errors = [d for d in check(sf) if d.is_error]
        if errors:  # a program the checker refuses may have no canonical text: say why
            return None, errors
        raise InternalError(f"formatting {path} would change its meaning; the file was left unchanged")
    return formatted, []


def program_tested_by(path: str, sf: ast.SourceFile) -> ast.Program | None:
    """For a tests-only file (`NAME.test.loyalty`), the program beside it that it tests, so that
    `fmt` keeps that program's points word (`stars`); None for any other file, or when the
    program file cannot be read."""
    if sf.program is not None or not sf.tests or path == "<stdin>":
        return None
    program_path = tested_program(path)
    if program_path is None:
        return None
    program_sf, diags, _ = load_file(program_path)
    if program_sf is None or any(d.is_error for d in diags):
        return None
    return program_sf.program


def cmd_fmt(args: argparse.Namespace) -> int:
    if args.check and args.write:
        raise _UsageError("--check and --write cannot be used together")
    write = args.write or not (args.check or args.diff)
    status = EXIT_OK
    if args.paths == ["-"]:
        text = sys.stdin.read()
        formatted, diags = _format_one("<stdin>", text)
        if formatted is None:
            show_diagnostics(diags, {"<stdin>": text}, sys.stderr)
            return EXIT_FINDINGS
        if args.check:
            return EXIT_FINDINGS if formatted != text else EXIT_OK
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), formatted.splitlines(True),
                                                       "<stdin>", "<stdin>"))
            return EXIT_OK
        sys.stdout.write(formatted)
        return EXIT_OK

    explicit_yaml = [p for p in args.paths if os.path.isfile(p) and is_yaml_file(p)]
    for p in explicit_yaml:
        print(f"skipped {p}: fmt formats the text form (.loyalty); "
              f"`loyalty convert {p} --to yaml` prints canonical YAML", file=sys.stderr)
    wanted = [p for p in args.paths if p not in explicit_yaml]
    if not wanted:
        return EXIT_OK
    files, problems = discover(wanted, suffixes=TEXT_SUFFIXES)
    if problems:
        show_diagnostics(problems, {}, sys.stderr)
        status = EXIT_FINDINGS
    changed: list[str] = []
    unchanged = 0
    for path in files:
        if not is_text_file(path):
            show_diagnostics([Diagnostic(NOT_A_RULE_FILE, "error", f"{path} is not a .loyalty file",
                                         file_span(path), "fmt formats .loyalty files")], {}, sys.stderr)
            status = EXIT_FINDINGS
            continue
        text, diags = read_text(path)
        if text is None:
            show_diagnostics(diags, {}, sys.stderr)
            status = EXIT_FINDINGS
            continue
        formatted, diags = _format_one(path, text)
        if formatted is None:
            show_diagnostics(diags, {path: text}, sys.stderr)
            status = EXIT_FINDINGS
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed.append(path)
        if args.diff:
            sys.stdout.writelines(difflib.unified_diff(text.splitlines(True), formatted.splitlines(True),
                                                       f"{path} (original)", f"{path} (formatted)"))
        if args.check:
            print(f"would reformat {path}", file=sys.stderr if args.diff else sys.stdout)
        if write:
            try:
                write_atomically(path, formatted)
            except OutputError as exc:
                print(f"error: {exc}", file=sys.stderr)
                status = EXIT_FINDINGS
                continue
            print(f"reformatted {path}", file=sys.stderr if args.diff else sys.stdout)
    summary_stream = sys.stderr if args.diff else sys.stdout
    if write:
        print(f"{counted(len(changed), 'file')} reformatted, {unchanged} left unchanged", file=summary_stream)
    else:
        print(f"{counted(len(changed), 'file')} would be reformatted, {unchanged} already formatted",
              file=summary_stream)
    if args.check and changed:
        status = EXIT_FINDINGS
    return status


def add_fmt(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("fmt", help="format .loyalty files in the canonical style",
                              description="Rewrite .loyalty files in the canonical style, keeping comments. "
                                          "YAML files are skipped (use `convert --to yaml`).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories; `-` reads stdin, writes stdout")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if any file would change")
    p.add_argument("--diff", action="store_true", help="print a unified diff of the changes instead of writing")
    p.add_argument("-w", "--write", action="store_true",
                   help="write the files (the default when neither --check nor --diff is given)")
    p.set_defaults(handler=cmd_fmt)


# ---------------------------------------------------------------- test


def cmd_test(args: argparse.Namespace) -> int:
    report = run_paths(args.paths, args.run)
    if args.format == "json":
        print(render_report_json(report))
    elif args.format == "github":
        print(render_report_github(report))
    else:
        print(render_report_text(report, verbose=args.verbose, paint=painter(sys.stdout)))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def add_test(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("test", help="run the tests written in and beside rule files",
                              description="Run `test` blocks (in the rule file, NAME.test.loyalty or "
                                          "NAME_test.yaml). Ends with `N passed, N failed`.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="rule files or directories")
    p.add_argument("-v", "--verbose", action="store_true", help="show file names and the trace of failing tests")
    p.add_argument("--run", type=_regex, metavar="REGEX", help="run only tests whose name matches REGEX")
    p.add_argument("--format", choices=("text", "json", "github"), default="text", help="output format")
    p.set_defaults(handler=cmd_test)


# ---------------------------------------------------------------- explain


def load_program(path: str) -> tuple[ast.SourceFile | None, list[Diagnostic], dict[str, str]]:
    """A program file, parsed and checked (errors only); a tests-only file is refused."""
    sf, diags, text = load_file(path)
    sources = {path: text} if text else {}
    errors = [d for d in diags if d.is_error]
    if errors or sf is None:
        return None, errors, sources
    if sf.program is None:
        return None, [Diagnostic(NO_PROGRAM, "error", f"{path} holds no program", file_span(path),
                                 'give the file that has `program "..." { ... }`')], sources
    program_only = ast.SourceFile(path=sf.path, program=sf.program, tests=(), comments=sf.comments)
    errors = [d for d in check(program_only) if d.is_error]
    return (None if errors else sf), errors, sources


def cmd_explain(args: argparse.Namespace) -> int:
    sf, diags, sources = load_program(args.program)
    if sf is None or sf.program is None:
        show_diagnostics(diags, sources, sys.stderr)
        return EXIT_FINDINGS
    program = compile_program(sf.program)
    text, diags = read_text(args.events)
    if text is None:
        show_diagnostics(diags, {}, sys.stderr)
        return EXIT_FINDINGS
    sources[args.events] = text
    events_file, diags = load_events(text, args.events, program)
    customer = None
    if args.customer:
        customer_text, customer_diags = read_text(args.customer)
        if customer_text is not None:
            sources[args.customer] = customer_text
            customer, customer_diags = load_customer(customer_text, args.customer, program)
        diags = [*diags, *customer_diags]
    if events_file is None or any(d.is_error for d in diags):
        show_diagnostics([d for d in diags if d.is_error], sources, sys.stderr)
        return EXIT_FINDINGS
    try:
        result = explain(program, events_file, customer=customer, until=args.until)
    except RulelangError as exc:
        show_diagnostics(exc.diagnostics, sources, sys.stderr)
        return EXIT_FINDINGS
    if args.format == "json":
        doc = result.to_json()
        print(doc if isinstance(doc, str) else json.dumps(doc, indent=2, default=str))
    else:
        print(result.render_text())
    return EXIT_OK


def add_explain(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("explain", help="run one customer's events and show what fired and why",
                              description="Run one customer's events through a program and print the trace: "
                                          "which rules fired, with how many points, and why the others did not.")
    p.add_argument("program", metavar="PROGRAM", help="the program file (.loyalty or .yaml)")
    p.add_argument("--events", required=True, metavar="FILE", help="events file (YAML or JSON)")
    p.add_argument("--customer", metavar="FILE", help="starting customer (overrides the events file's)")
    p.add_argument("--until", type=_date, metavar="DATE", help="run the calendar up to this date (YYYY-MM-DD)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(handler=cmd_explain)


# ---------------------------------------------------------------- convert


def cmd_convert(args: argparse.Namespace) -> int:
    sf, diags, text = load_file(args.program)
    errors = [d for d in diags if d.is_error]
    if sf is None or errors:
        show_diagnostics(errors, {args.program: text} if text else {}, sys.stderr)
        return EXIT_FINDINGS
    output, again = _converted(sf, text, args.to)
    if not same_meaning(sf, again):
        errors = [d for d in check(sf) if d.is_error]
        if errors:  # the other form cannot hold what the checker refuses (an unknown test field...)
            show_diagnostics(errors, {args.program: text} if text else {}, sys.stderr)
            return EXIT_FINDINGS
        raise InternalError(f"converting {args.program} to {args.to} would change its meaning; nothing was written")
    if args.output:
        try:
            write_atomically(args.output, output)
        except OutputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FINDINGS
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(output if output.endswith("\n") else output + "\n")
    return EXIT_OK


def _read_back(output: str, sf: ast.SourceFile, to: str) -> ast.SourceFile | None:
    return (load_yaml(output, sf.path) if to == "yaml" else parse_text(output, sf.path))[0]


def _converted(sf: ast.SourceFile, text: str, to: str) -> tuple[str, ast.SourceFile | None]:
    """The other form of `sf`, with the comments of the file (`text`), and that output read back.
    Should the comments not find a place that reads back the same, they are left out (with a note)."""
    from_text = is_text_file(sf.path)
    if to == "yaml" and not from_text:  # YAML to canonical YAML: its comments go through the text form
        via, _ = parse_text(to_text_keeping_comments(sf, text), sf.path)
        output = to_yaml_keeping_comments(via) if via is not None else to_yaml(sf)
        modeline = next((line for line in text.splitlines()[:1] if line.startswith(MODELINE)), None)
        if modeline is not None:  # the editor's schema line stays on top
            output = modeline + "\n" + output
    elif to == "yaml":
        output = to_yaml_keeping_comments(sf)
    else:
        output = format_source(sf) if from_text else to_text_keeping_comments(sf, text)
    again = _read_back(output, sf, to)
    if same_meaning(sf, again):
        return output, again
    plain = to_yaml(sf) if to == "yaml" else format_source(dataclasses.replace(sf, comments=()))
    if plain != output:
        print(f"note: the comments of {sf.path} were left out: they could not be placed", file=sys.stderr)
    return plain, _read_back(plain, sf, to)


def add_convert(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("convert", help="convert a program between the text and YAML forms",
                              description="Print (or write with -o) a program in the other form.")
    p.add_argument("program", metavar="PROGRAM", help="a .loyalty or .yaml file")
    p.add_argument("--to", required=True, choices=("yaml", "text"), help="the form to produce")
    p.add_argument("-o", "--output", metavar="OUT", help="write to this file instead of stdout")
    p.set_defaults(handler=cmd_convert)


# ---------------------------------------------------------------- registration


COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [add_check, add_fmt, add_test, add_explain,
                                                                  add_convert]
# The simulator's modules and the commands each one adds (a module that fails to load offers its
# commands as unavailable, with the reason, instead of leaving `invalid choice`).
PLUGIN_MODULES: dict[str, tuple[str, ...]] = {
    "simulator.simulate_command": ("simulate",),
    "simulator.whatif.commands": ("compare", "sweep", "sensitivity", "plan"),
    "simulator.fit.command": ("fit",),
    "simulator.history.command": ("replay",),
}


CORE_COMMANDS = ("check", "fmt", "test", "explain", "convert")  # what `COMMANDS` add


def add_plugins(subparsers: argparse._SubParsersAction, modules: Sequence[str] | None = None) -> None:
    """Commands from other packages (`simulate`, `compare`, `plan`): `module.register(subparsers)`, for
    every module of `PLUGIN_MODULES` (or only `modules`)."""
    for name, commands in PLUGIN_MODULES.items():
        if modules is not None and name not in modules:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # the module is not there: its commands are simply not offered
            _add_unavailable(subparsers, exc, commands)
            continue
        try:
            module.register(subparsers)
        except Exception as exc:  # a broken plugin must not take `check` and `test` down with it
            _add_unavailable(subparsers, exc, commands)


def _add_unavailable(subparsers: argparse._SubParsersAction, exc: Exception, commands: tuple[str, ...]) -> None:
    def handler(args: argparse.Namespace) -> int:
        print(f"error: `loyalty {args.command_name}` is unavailable: the simulator could not be loaded "
              f"({type(exc).__name__}: {exc})\n     = hint: reinstall the package (pip install .)", file=sys.stderr)
        return EXIT_INTERNAL

    for command in commands:
        if command in subparsers.choices:
            continue
        p = subparsers.add_parser(command, help="(unavailable: the simulator could not be loaded)")
        p.add_argument("rest", nargs=argparse.REMAINDER)
        p.set_defaults(handler=handler, command_name=command)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("loyalty-rules")
    except Exception:  # not installed: running from a checkout
        return "0.1.0"


def plugins_for(argv: Sequence[str]) -> list[str] | None:
    """The plugin modules a command line needs: none for a core command, the one module that adds a
    plugin's command, every module (None) otherwise (no command, an option first such as --help, or a
    misspelt command, whose error lists every command). Loading only what runs keeps `simulate` from
    importing pyarrow for `fit` and the replay engine for `replay`."""
    if not argv or argv[0] not in CORE_COMMANDS + tuple(c for cs in PLUGIN_MODULES.values() for c in cs):
        return None
    return [name for name, commands in PLUGIN_MODULES.items() if argv[0] in commands]


def build_parser(plugins: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The `loyalty` parser with every command (or, of the simulator's, only those of `plugins`)."""
    parser = argparse.ArgumentParser(
        prog="loyalty",
        description="Write, check, test and explain loyalty programs.",
        epilog="exit codes: 0 success, 1 findings (errors, failing tests, files to reformat), "
               "2 usage error, 3 internal error. See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"loyalty {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    add_plugins(subparsers, plugins)
    return parser


# ---------------------------------------------------------------- argument types


class _UsageError(Exception):
    """A combination of arguments that argparse cannot express; exit code 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {value}")
    return value


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"not a valid regular expression: {exc}") from None


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date such as 2027-05-04, got {text!r}") from None


# ---------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code (the console script exits with it). Without
    `argv` (the console script and `python -m rulelang`: the command line of this process, which
    ends next), the objects left are then frozen for the garbage collector, so that the interpreter's
    exit does not walk them all (0.2 s after a simulation, which loads numba and scipy; their memory
    is freed as before)."""
    code = _main(argv)
    if argv is None:
        gc.freeze()
    return code


def _main(argv: Sequence[str] | None) -> int:
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        parser = build_parser(plugins_for(argv))
        try:
            args = parser.parse_args(argv)
        except SystemExit as stop:  # argparse: --help / --version (0) or a usage error (2)
            return stop.code if isinstance(stop.code, int) else (EXIT_OK if stop.code is None else EXIT_USAGE)
        handler: Handler | None = getattr(args, "handler", None) or getattr(args, "func", None)
        if handler is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        try:
            code = handler(args)
        except _UsageError as exc:
            parser.print_usage(sys.stderr)
            print(f"loyalty {args.command}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except SystemExit as stop:  # a plugin's handler may call parser.error() or sys.exit()
            return stop.code if isinstance(stop.code, int) else (EXIT_OK if stop.code is None else EXIT_FINDINGS)
        return EXIT_OK if code is None else int(code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FINDINGS
    except RulelangError as exc:
        show_diagnostics(exc.diagnostics, {}, sys.stderr)
        return EXIT_FINDINGS
    except Exception as exc:  # a bug, never the user's input
        if os.environ.get("LOYALTY_DEBUG"):
            raise
        detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, InternalError) else str(exc)
        print(f"internal error: {detail}\nplease report this, with the command you ran and its input files "
              "(LOYALTY_DEBUG=1 shows the details)", file=sys.stderr)
        return EXIT_INTERNAL


def _silence_stdout() -> None:
    """After a closed pipe (`loyalty ... | head`), send the rest of the output nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
