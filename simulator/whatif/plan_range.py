"""`loyalty plan --base REV` and `loyalty plan BASE..HEAD`: one plan for a whole change.

Takes: a git range (the merge base of BASE and HEAD, against the work tree with `--base`, or
against the commit HEAD with `BASE..HEAD`), the rules directory, an optional population mapping
file, run settings and guardrails. Gives: `ChangePlan` — every rule file the change adds,
changes, renames or removes (`git diff --name-status`; programs `*.loyalty`, YAML programs,
and test-only files `NAME.test.loyalty` / `NAME_test.yaml`), the check errors of every file
the change leaves, and for each changed program the single-program plan
(`simulator.whatif.plan_command.make_plan`) on that program's own population; its Markdown
(`markdown`, one pull-request comment), its JSON (`to_json`, `schema: loyalty-plan-change/1`)
and one exit code: 0 no change, 1 errors (a file with errors, a failed guardrail), 2 changes
(with `--detailed-exitcode`; without it, 0).

A program's population, first found of (docs/ci.md):
1. the mapping file (`--populations FILE`): `populations: {PATTERN: POPULATION}`, patterns
   matched with `fnmatch` against the program's path (`rules/coffee.loyalty`, `rules/promo/*`);
2. `DIR/data/NAME/population.yaml` beside `DIR/NAME.loyalty` (the layout of rules/data/,
   as `loyalty simulate` uses it);
3. `DIR/populations/NAME.yaml`;
4. `--population FILE`, else the built-in retail population.
Populations are read from the work tree.

Codes: RL840 git cannot give the range (not a repository, an unknown revision); RL841 a
population mapping file that cannot be used.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from rulelang.diagnostics import Diagnostic, RulelangError, Span, render_text
from rulelang.vocabulary import counted

from simulator.trials.backends import shared_pool
from simulator.whatif.plan_command import EXIT_CHANGES, EXIT_ERROR, EXIT_NO_CHANGES, Plan, make_plan
from simulator.whatif.plan_command import markdown as plan_markdown

SCHEMA = "loyalty-plan-change/1"
GIT_FAILED = "RL840"
BAD_MAPPING = "RL841"
RULE_SUFFIXES = (".loyalty", ".yaml", ".yml")
SKIPPED_PARTS = frozenset({"populations", "__pycache__", "node_modules"})  # as `loyalty check` skips them


class ChangeError(RulelangError):
    """The range or the mapping file cannot be used (exit 1, with the diagnostics)."""

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None):
        super().__init__(diagnostics)
        self.sources = sources or {}


def _whole_file(path: str) -> Span:
    return Span(path, 0, 0, 0, 0)


# ---------------------------------------------------------------- git


def git(*args: str) -> str:
    """The output of `git ARGS` (run in the current directory); ChangeError RL840 when it fails."""
    try:
        proc = subprocess.run(["git", "-c", "core.quotepath=off", *args], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ChangeError([Diagnostic(GIT_FAILED, "error", f"cannot run git: {exc}", _whole_file("git"),
                                      "install git; `plan --base` reads the change with it")]) from None
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ChangeError([Diagnostic(GIT_FAILED, "error", f"`git {' '.join(args)}` failed: {reason}",
                                      _whole_file("git"),
                                      "run it inside the repository of the rules, with a base that exists "
                                      "(in CI fetch it: `actions/checkout` with `fetch-depth: 0`)")])
    return proc.stdout


@dataclass(frozen=True)
class Range:
    """The two sides of a change: the merge base, and a commit (`head`) or the work tree (None)."""

    base: str
    merge_base: str  # a short commit id, usable as a revision
    head: str | None
    at_root: bool = True  # run from the repository's top folder: `REV:path`, else `REV:./path`

    def spec(self, rev: str, path: str) -> str:
        """`REV:path` for `git show` (paths are relative to the current folder)."""
        return f"{rev}:{path}" if self.at_root else f"{rev}:./{path}"


def resolve_range(base: str | None, spec: str | None) -> Range:
    """`--base REV` (against the work tree) or `BASE..HEAD` / `BASE...HEAD` (against HEAD)."""
    head: str | None = None
    if spec is not None:
        left, _, right = spec.replace("...", "..").partition("..")
        base, head = left or "HEAD", right or "HEAD"
    assert base is not None
    merge_base = git("merge-base", base, head or "HEAD").strip()
    short = git("rev-parse", "--short", merge_base).strip()
    return Range(base, short, head, at_root=git("rev-parse", "--show-prefix").strip() == "")


# ---------------------------------------------------------------- the files a change touches


@dataclass(frozen=True)
class ChangedFile:
    """One rule file of the change: `change` is added, changed, renamed or removed; `kind` is
    program or tests (a test-only file, `NAME.test.loyalty` / `NAME_test.yaml`)."""

    change: str
    path: str  # the path after the change (before it, for a removed file)
    old_path: str | None
    kind: str


def is_test_only_name(path: str) -> bool:
    from rulelang import tested_program_candidates

    return bool(tested_program_candidates(path))


def _is_rule_path(path: str) -> bool:
    parts = Path(path).parts
    return path.endswith(RULE_SUFFIXES) and not any(p in SKIPPED_PARTS or p.startswith(".") for p in parts[:-1]) \
        and not parts[-1].startswith(".")


def _is_rule_text(path: str, text: str | None) -> bool:
    """A `.loyalty` file always; a YAML file when it holds `program:` or `tests:` (population,
    events and guardrail files do not), or cannot be read as a mapping (check will say why)."""
    if path.endswith(".loyalty") or text is None:
        return True
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return True
    return not isinstance(data, dict) or not data or "program" in data or "tests" in data


def changed_files(rng: Range, rules_dir: str) -> list[ChangedFile]:
    """Every rule file under `rules_dir` that the change adds, changes, renames or removes."""
    args = ["diff", "--name-status", "-M", "--relative", rng.merge_base] + ([rng.head] if rng.head else [])
    out = git(*args, "--", rules_dir)
    entries: list[tuple[str, str, str | None]] = []
    for line in out.splitlines():
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        status = fields[0][:1]
        if status in ("R", "C") and len(fields) == 3:
            entries.append(("renamed" if status == "R" else "added", fields[2], fields[1] if status == "R" else None))
        elif status == "A":
            entries.append(("added", fields[1], None))
        elif status == "D":
            entries.append(("removed", fields[1], fields[1]))
        elif status in ("M", "T"):
            entries.append(("changed", fields[1], fields[1]))
    if rng.head is None:  # new files not yet added to git are part of the change too
        for path in git("ls-files", "--others", "--exclude-standard", "--", rules_dir).splitlines():
            entries.append(("added", path, None))
    found: list[ChangedFile] = []
    seen: set[str] = set()
    for change, path, old in entries:
        if path in seen or not _is_rule_path(path):
            continue
        text = read_side(rng, rng.merge_base if change == "removed" else rng.head, path)
        if not _is_rule_text(path, text):
            continue
        seen.add(path)
        found.append(ChangedFile(change, path, old, "tests" if is_test_only_name(path) else "program"))
    return sorted(found, key=lambda f: f.path)


def read_side(rng: Range, rev: str | None, path: str) -> str | None:
    """A file's text at `rev` (`git show`), or in the work tree (None); None when it is not there."""
    if rev is None:
        try:
            return Path(path).read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        except (OSError, UnicodeDecodeError):
            return None
    try:
        return git("show", rng.spec(rev, path)).replace("\r\n", "\n")
    except ChangeError:
        return None


# ---------------------------------------------------------------- populations


@dataclass(frozen=True)
class PopulationChoice:
    path: str | None  # None: the built-in retail population
    why: str


def load_mapping(path: str | None) -> list[tuple[str, str]]:
    """The (pattern, population) pairs of a mapping file; ChangeError RL841 when it cannot be used."""
    if path is None:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ChangeError([Diagnostic(BAD_MAPPING, "error", f"cannot read the population mapping {path}: "
                                      f"{exc.strerror or exc}", _whole_file(path), "check the path")]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        span = Span.point(path, mark.line + 1, mark.column + 1) if mark else _whole_file(path)
        raise ChangeError([Diagnostic(BAD_MAPPING, "error", "the population mapping is not valid YAML", span)],
                          {path: text}) from None
    hint = "write `populations:` with one `PATTERN: POPULATION_FILE` per line, e.g. `rules/coffee.loyalty: ci/coffee.yaml`"
    top = {k.value: v for k, v in node.value} if isinstance(node, yaml.MappingNode) else None
    if top is None or set(top) != {"populations"} or not isinstance(top["populations"], yaml.MappingNode):
        where = Span.point(path, node.start_mark.line + 1, node.start_mark.column + 1) if node else Span.point(path, 1, 1)
        raise ChangeError([Diagnostic(BAD_MAPPING, "error", "a population mapping has one key, `populations`, "
                                      "mapping program paths to population files", where, hint)], {path: text})
    pairs: list[tuple[str, str]] = []
    problems: list[Diagnostic] = []
    for key, value in top["populations"].value:
        at = Span.point(path, value.start_mark.line + 1, value.start_mark.column + 1)
        if not isinstance(key, yaml.ScalarNode) or not isinstance(value, yaml.ScalarNode) or not value.value:
            problems.append(Diagnostic(BAD_MAPPING, "error", "each entry maps a path pattern to a population file",
                                       at, hint))
        elif not os.path.isfile(value.value):
            problems.append(Diagnostic(BAD_MAPPING, "error", f"no such population file: {value.value}", at,
                                       "paths are relative to the directory `loyalty plan` runs in"))
        else:
            pairs.append((key.value, value.value))
    if problems:
        raise ChangeError(problems, {path: text})
    return pairs


def population_for(program: str, mapping: Sequence[tuple[str, str]], fallback: str | None) -> PopulationChoice:
    """The population a program is planned on (the order is in the module docstring)."""
    for pattern, population in mapping:
        if fnmatch.fnmatch(program, pattern) or os.path.normpath(program) == os.path.normpath(pattern):
            return PopulationChoice(population, f"mapped by `{pattern}`")
    p = Path(program)
    stem = p.stem
    for candidate in (p.parent / "data" / stem / "population.yaml", p.parent / "populations" / f"{stem}.yaml"):
        if candidate.is_file():
            return PopulationChoice(str(candidate), "the program's own")
    if fallback is not None:
        return PopulationChoice(fallback, "--population")
    return PopulationChoice(None, "built-in retail population: none of the program's own was found")


# ---------------------------------------------------------------- checking the files the change leaves


def check_files(rng: Range, files: Sequence[ChangedFile]) -> tuple[dict[str, list[Diagnostic]], dict[str, str]]:
    """The errors of each file the change leaves (removed files aside), as `loyalty check` finds
    them; at a commit, the files (and the programs that test-only files test) are read from it."""
    from rulelang import check, load_with_program, tested_program_candidates

    wanted = [f.path for f in files if f.change != "removed"]
    root = None
    mapping = {p: p for p in wanted}
    if rng.head is not None and wanted:
        root = tempfile.mkdtemp(prefix="loyalty-plan-")
        needed = set(wanted) | {c for p in wanted for c in tested_program_candidates(p)}
        for path in needed:
            text = read_side(rng, rng.head, path)
            if text is not None:
                target = Path(root, path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
        mapping = {p: str(Path(root, p)) for p in wanted}
    back = {v: k for k, v in mapping.items()}
    errors: dict[str, list[Diagnostic]] = {}
    sources: dict[str, str] = {}
    seen: set[tuple[str, str, Span]] = set()  # a program's error is told once, not again for its tests
    try:
        for path, where in mapping.items():
            loaded = load_with_program(where)
            found = [d for d in loaded.diagnostics if d.is_error]
            if loaded.source is not None and not loaded.has_errors:
                found += [d for d in check(loaded.source) if d.is_error]
            for name, text in loaded.sources.items():
                sources[_restore(name, root, back)] = text
            errors[path] = []
            for d in found:
                d = replace(d, span=replace(d.span, file=_restore(d.span.file, root, back)))
                if (d.code, d.message, d.span) not in seen:
                    seen.add((d.code, d.message, d.span))
                    errors[path].append(d)
    finally:
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
    return errors, sources


def _restore(name: str, root: str | None, back: dict[str, str]) -> str:
    if name in back:
        return back[name]
    if root is not None and name.startswith(root + os.sep):
        return os.path.relpath(name, root)
    return name


# ---------------------------------------------------------------- the plan of the change


@dataclass
class FileOutcome:
    file: ChangedFile
    errors: list[Diagnostic] = field(default_factory=list)
    population: PopulationChoice | None = None
    plan: Plan | None = None
    note: str = ""

    @property
    def program_changed(self) -> bool:
        if self.file.kind != "program":
            return False
        if self.file.change in ("added", "removed"):
            return True
        return self.plan is None or self.plan.changed

    @property
    def failed(self) -> bool:
        return bool(self.errors) or (self.plan is not None and self.plan.guardrails_failed)


@dataclass
class ChangePlan:
    range: Range
    outcomes: list[FileOutcome]
    sources: dict[str, str] = field(default_factory=dict)

    def exit_code(self, detailed: bool) -> int:
        if any(o.failed for o in self.outcomes):
            return EXIT_ERROR
        if detailed and any(o.program_changed for o in self.outcomes):
            return EXIT_CHANGES
        return EXIT_NO_CHANGES

    def counts(self) -> str:
        programs = [o for o in self.outcomes if o.file.kind == "program"]
        words = [f"{sum(1 for o in programs if o.file.change == c)} {c}"
                 for c in ("changed", "renamed", "added", "removed") if any(o.file.change == c for o in programs)]
        tests = sum(1 for o in self.outcomes if o.file.kind == "tests")
        parts = [f"{counted(len(programs), 'program')} ({', '.join(words)})" if programs else "no program"]
        if tests:
            parts.append(counted(tests, "test file"))
        failing = sum(1 for o in self.outcomes if o.errors)
        if failing:
            parts.append(f"{counted(failing, 'file')} with errors")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "base": self.range.base, "merge_base": self.range.merge_base,
            "head": self.range.head, "summary": self.counts(),
            "files": [{
                "path": o.file.path, "old_path": o.file.old_path, "change": o.file.change, "kind": o.file.kind,
                "errors": [d.to_json() for d in o.errors],
                "population": o.population.path if o.population else None,
                "note": o.note or None,
                "plan": o.plan.to_json() if o.plan is not None else None,
            } for o in self.outcomes],
        }


def plan_change(rng: Range, rules_dir: str, settings_for: Callable[[Any], Any], guardrails: Sequence[Any] = (),
                mapping: Sequence[tuple[str, str]] = (), fallback_population: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> ChangePlan:
    """List the change's rule files, check those it leaves, and plan each changed program."""
    files = changed_files(rng, rules_dir)
    errors, sources = check_files(rng, files)
    outcomes: list[FileOutcome] = []
    with shared_pool():  # one worker pool for every changed program's comparison
        for f in files:
            _plan_file(rng, f, errors, sources, outcomes, settings_for, guardrails, mapping, fallback_population,
                       progress)
    return ChangePlan(rng, outcomes, sources)


def _plan_file(rng: Range, f: ChangedFile, errors: dict[str, list[Diagnostic]], sources: dict[str, str],
               outcomes: list[FileOutcome], settings_for: Callable[[Any], Any], guardrails: Sequence[Any],
               mapping: Sequence[tuple[str, str]], fallback_population: str | None,
               progress: Callable[[int, int], None] | None) -> None:
    """One file of the change: its outcome (errors, or the plan of a changed program) appended to `outcomes`."""
    from simulator.whatif.runner import load_population_spec, load_program_spec

    outcome = FileOutcome(f, errors.get(f.path, []))
    outcomes.append(outcome)
    if f.kind != "program" or f.change not in ("changed", "renamed") or outcome.errors:
        return
    outcome.population = population_for(f.path, mapping, fallback_population)
    new_spec = f.path if rng.head is None else rng.spec(rng.head, f.path)
    try:
        old = load_program_spec(rng.spec(rng.merge_base, f.old_path or f.path))
    except RulelangError as exc:
        outcome.note = (f"not simulated: the version at {rng.merge_base} does not load "
                        f"({counted(len(exc.diagnostics), 'error')})")
        return
    try:
        new = load_program_spec(new_spec)
        population = load_population_spec(outcome.population.path)
        outcome.plan = make_plan(old, new, population, settings_for(population), guardrails, progress)
    except RulelangError as exc:
        outcome.errors = list(exc.diagnostics)
        sources.update(getattr(exc, "sources", {}) or {})


# ---------------------------------------------------------------- Markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _outcome_text(o: FileOutcome) -> str:
    if o.errors:
        return f"**{counted(len(o.errors), 'error')}** (below)"
    if o.file.kind == "tests":
        return "tests only: checks clean" if o.file.change != "removed" else "tests removed"
    if o.file.change == "removed":
        return "program removed"
    if o.file.change == "added":
        return "new program: checks clean (nothing to compare it with; `loyalty simulate` it)"
    if o.note:
        return o.note
    if o.plan is None:
        return ""
    line = o.plan.summary_line()
    if o.plan.guardrails_failed:
        line = "**guardrail failed** — " + line
    return line


def markdown(change: ChangePlan, detailed: bool = True) -> str:
    """The whole change as one Markdown comment: a table of the files, the errors, each plan."""
    code = change.exit_code(True)
    verdict = {EXIT_ERROR: "**errors** — the change cannot be merged as it is",
               EXIT_CHANGES: "changes", EXIT_NO_CHANGES: "no change to any program"}[code]
    lines = [f"## Loyalty plan: `{change.range.base}` → {('`' + change.range.head + '`') if change.range.head else 'the work tree'}",
             "", f"Merge base `{change.range.merge_base}`. {change.counts()}. Result: {verdict}.", ""]
    if not change.outcomes:
        lines += ["No rule file changed.", ""]
        return "\n".join(lines)
    lines += ["| file | change | outcome | population |", "|---|---|---|---|"]
    for o in change.outcomes:
        f = o.file
        name = f"`{f.path}`" + (f" (was `{f.old_path}`)" if f.change == "renamed" else "")
        kind = f.change if f.kind == "program" else f"{f.change} (tests)"
        population = f"`{o.population.path}`" if o.population and o.population.path else \
            ("built-in" if o.population else "")
        lines.append(f"| {name} | {kind} | {_cell(_outcome_text(o))} | {population} |")
    failing = [o for o in change.outcomes if o.errors]
    if failing:
        lines += ["", "### Errors", "", "```text"]
        for o in failing:
            lines.append(render_text(o.errors, change.sources))
        lines += ["```"]
    for o in change.outcomes:
        if o.plan is not None:
            lines += ["", plan_markdown(o.plan).rstrip("\n")]
            if o.population is not None:
                lines += ["", f"Population: {('`' + o.population.path + '`') if o.population.path else 'built-in'} "
                              f"({o.population.why})."]
    return "\n".join(lines) + "\n"
