"""Loader: finds rule files on disk and reads them into ASTs.

Takes: paths given on the command line (files or directories).
Gives: `load_file(path) -> (SourceFile | None, diagnostics, source_text)` for one
file (`.loyalty` through the text parser, `.yaml` / `.yml` through the YAML
loader); `discover(paths)`, which expands directories into rule files; and
`load_with_program(path)`, which binds a sibling test file
(`NAME.test.loyalty`, `NAME_test.yaml`) to the program it tests.

Problems with the file itself (rather than its contents) are diagnostics too:

- RL001 the file cannot be read (missing, a directory where a file is needed, no permission)
- RL002 the file is not UTF-8 text
- RL003 the file type is not a rule file (extension other than .loyalty / .yaml / .yml)
- RL004 no program: a tests-only file with no program beside it, or a command that needs a program
- RL005 a directory holds no rule files
- RL140 the file is empty: nothing but blank lines and comments (text or YAML form)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable

import yaml

from rulelang.syntax.expect_words import normalise_expect_words
from rulelang.syntax import ast
from rulelang.diagnostics import Diagnostic, Span
from rulelang.limits import MAX_FILE_BYTES
from rulelang.syntax.read_limits import yaml_too_deep

TEXT_SUFFIXES = (".loyalty",)
YAML_SUFFIXES = (".yaml", ".yml")
RULE_SUFFIXES = TEXT_SUFFIXES + YAML_SUFFIXES
SKIPPED_DIRECTORIES = frozenset({"populations", "__pycache__", "node_modules"})

CANNOT_READ = "RL001"
NOT_UTF8 = "RL002"
NOT_A_RULE_FILE = "RL003"
NO_PROGRAM = "RL004"
NO_RULE_FILES = "RL005"
EMPTY_FILE = "RL140"


def file_span(path: str) -> Span:
    """A span naming a whole file (no line): rendered as just the file name."""
    return Span(path, 0, 0, 0, 0)


def _error(code: str, message: str, path: str, hint: str | None = None) -> Diagnostic:
    return Diagnostic(code, "error", message, file_span(path), hint)


def is_text_file(path: str) -> bool:
    return path.endswith(TEXT_SUFFIXES)


def is_yaml_file(path: str) -> bool:
    return path.endswith(YAML_SUFFIXES)


def read_text(path: str) -> tuple[str | None, list[Diagnostic]]:
    """The file's text (UTF-8, a leading BOM dropped, CRLF turned into LF), or a diagnostic."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return None, [_error(CANNOT_READ, f"no such file: {path}", path, "check the path and its spelling")]
    except IsADirectoryError:
        return None, [_error(CANNOT_READ, f"{path} is a directory, a file is needed here", path)]
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, [_error(CANNOT_READ, f"cannot read {path}: {reason}", path)]
    if len(data) > MAX_FILE_BYTES:
        return None, [_error(CANNOT_READ, f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", path,
                             "a rule or events file is a few kilobytes; check the path")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        span = Span(path, line, column, line, column)
        return None, [
            Diagnostic(NOT_UTF8, "error", f"{path} is not UTF-8 text (byte 0x{data[exc.start]:02x})", span,
                       "save the file as UTF-8")
        ]
    return text.replace("\r\n", "\n"), []


def load_file(path: str) -> tuple[ast.SourceFile | None, list[Diagnostic], str]:
    """Read and parse one rule file.

    Args:
        path: a `.loyalty`, `.yaml` or `.yml` file.

    Returns:
        The parsed file (None when it could not be parsed at all), every
        diagnostic found while reading and parsing, and the source text ("" when
        the file could not be read) for rendering carets.
    """
    if not path.endswith(RULE_SUFFIXES):
        return None, [
            _error(NOT_A_RULE_FILE, f"{path} is not a rule file", path,
                   "rule files end in .loyalty (text form) or .yaml / .yml (YAML form)")
        ], ""
    text, problems = read_text(path)
    if text is None:
        return None, problems, ""
    if is_text_file(path):
        from rulelang.syntax.parser import parse_text

        sf, diags = parse_text(text, path)
    else:
        from rulelang.syntax.yaml_loader import load_yaml

        sf, diags = load_yaml(text, path)
    return sf, [*diags, *empty_file(sf, diags, path, text)], text


def empty_file(sf: ast.SourceFile | None, diags: Iterable[Diagnostic], path: str, text: str) -> list[Diagnostic]:
    """RL140 for a rule file that parsed to nothing: no program and no tests (an empty file,
    or one of blank lines and comments only). A file that already has errors is left to them."""
    if sf is None or sf.program is not None or sf.tests or any(d.is_error for d in diags):
        return []
    if is_text_file(path):
        hint = 'write the program (`program "Name" { ... }`) or tests (`test "..." { ... }`), or delete the file'
    else:
        hint = "write the program under a top-level `program:` key (or tests under `tests:`), or delete the file"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    only_comments = bool(lines) and all(line.startswith("#") for line in lines)
    what = "no program and no tests, only comments" if only_comments else "no program and no tests"
    return [Diagnostic(EMPTY_FILE, "error", f"{path} is empty: {what}",
                       Span(path, 1, 1, 1, 1), hint)]


# ---------------------------------------------------------------- sibling test files


def tested_program_candidates(path: str) -> list[str]:
    """For a sibling test file name, the program files it may test (in order of preference).

    `NAME.test.loyalty` tests `NAME.loyalty` (or `NAME.yaml` / `NAME.yml`);
    `NAME_test.yaml` tests `NAME.yaml` (or `NAME.yml` / `NAME.loyalty`).
    Any other name gives an empty list.
    """
    if path.endswith(".test.loyalty"):
        stem = path[: -len(".test.loyalty")]
        return [stem + ".loyalty", stem + ".yaml", stem + ".yml"]
    for suffix in ("_test.yaml", "_test.yml"):
        if path.endswith(suffix):
            stem = path[: -len(suffix)]
            return [stem + ".yaml", stem + ".yml", stem + ".loyalty"]
    return []


def is_test_file_name(path: str) -> bool:
    return bool(tested_program_candidates(path))


def tested_program(test_path: str) -> str | None:
    """The existing program file a sibling test file tests, or None."""
    return next((c for c in tested_program_candidates(test_path) if os.path.isfile(c)), None)


def sibling_test_files(program_path: str) -> list[str]:
    """Existing sibling test files that test this program file."""
    for suffix in RULE_SUFFIXES:
        if program_path.endswith(suffix) and not is_test_file_name(program_path):
            stem = program_path[: -len(suffix)]
            names = [stem + ".test.loyalty", stem + "_test.yaml", stem + "_test.yml"]
            return [name for name in names if os.path.isfile(name) and tested_program(name) == program_path]
    return []


@dataclass(frozen=True)
class LoadedFile:
    """One file ready to check or test: its own AST bound to the program it needs.

    `source` holds the program of its sibling when the file itself holds only tests;
    `program_path` says where that program came from (the file itself otherwise).
    `sources` maps every file read to its text, for rendering diagnostics.
    """

    path: str
    source: ast.SourceFile | None
    program_path: str | None
    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)

    @property
    def borrows_program(self) -> bool:
        return self.program_path is not None and self.program_path != self.path


def load_with_program(path: str) -> LoadedFile:
    """Load a file; a tests-only file gets the program of its sibling program file.

    The returned `source` has the file's own tests and, for a tests-only file,
    the sibling's program. Diagnostics of the sibling program are not repeated
    here (checking the program file reports them) unless they stop the program
    from loading at all.
    """
    sf, diags, text = load_file(path)
    sources = {path: text} if text else {}
    if sf is None or sf.program is not None:
        return LoadedFile(path, sf, path if sf is not None else None, tuple(diags), sources)
    if not sf.tests:
        return LoadedFile(path, sf, None, tuple(diags), sources)
    candidates = tested_program_candidates(path)
    program_path = tested_program(path)
    if program_path is None:
        if candidates:
            hint = f"put the program in {candidates[0]}, beside this file"
        else:
            hint = ("tests without a program belong in NAME.test.loyalty or NAME_test.yaml "
                    "beside NAME.loyalty / NAME.yaml")
        diags.append(_error(NO_PROGRAM, f"{path} holds tests but no program to run them on", path, hint))
        return LoadedFile(path, None, None, tuple(diags), sources)
    program_sf, program_diags, program_text = load_file(program_path)
    if program_text:
        sources[program_path] = program_text
    if program_sf is None or program_sf.program is None or any(d.is_error for d in program_diags):
        diags.extend(program_diags)
        if program_sf is not None and program_sf.program is None:
            diags.append(_error(NO_PROGRAM, f"{program_path} holds no program", program_path,
                                f"it is the program file that {path} tests"))
        return LoadedFile(path, None, program_path, tuple(diags), sources)
    unit = program_sf.program.points_unit
    metric = program_sf.program.tiers.metric if program_sf.program.tiers is not None else None
    tests = tuple(normalise_expect_words(t, unit, metric) for t in sf.tests)  # the program's points word, as one file does
    bound = ast.SourceFile(path=path, program=program_sf.program, tests=tests, comments=sf.comments)
    return LoadedFile(path, bound, program_path, tuple(diags), sources)


# ---------------------------------------------------------------- discovery


def _yaml_top_level_keys(path: str) -> tuple[set[str], yaml.Node | None] | None:
    """Top-level keys and the `events` node of a YAML file; None if it cannot be read as a mapping."""
    text, _ = read_text(path)
    if text is None or yaml_too_deep(text) is not None:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if not isinstance(node, yaml.MappingNode):
        return None
    keys: set[str] = set()
    events: yaml.Node | None = None
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode):
            keys.add(key.value)
            if key.value == "events":
                events = value
    return keys, events


def looks_like_rule_yaml(path: str) -> bool:
    """False for YAML files that are clearly not rules: populations (top-level `segments`)
    and events files for `explain` (top-level `customer`, or `events` listing `type:` entries).
    Files that cannot be read or parsed count as rule files, so `check` reports them."""
    found = _yaml_top_level_keys(path)
    if found is None:
        return True
    keys, events = found
    if "segments" in keys:
        return False
    if "customer" in keys and "program" not in keys:
        return False
    if isinstance(events, yaml.SequenceNode) and events.value:
        first = events.value[0]
        if isinstance(first, yaml.MappingNode):
            if any(isinstance(k, yaml.ScalarNode) and k.value == "type" for k, _ in first.value):
                return False
    return True


def _walk(directory: str) -> list[str]:
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRECTORIES and not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            full = os.path.join(root, name)
            if name.endswith(TEXT_SUFFIXES):
                found.append(full)
            elif name.endswith(YAML_SUFFIXES) and looks_like_rule_yaml(full):
                found.append(full)
    return found


def discover(paths: Iterable[str], suffixes: tuple[str, ...] = RULE_SUFFIXES) -> tuple[list[str], list[Diagnostic]]:
    """Expand command-line paths into rule files.

    Files named explicitly are kept as they are (a wrong extension is reported
    when the file is loaded). Directories are searched recursively for
    `.loyalty`, `.yaml` and `.yml` files, skipping hidden directories,
    `populations/` directories, population files (top-level `segments`) and
    events files. Each file appears once, in the order found.

    Args:
        paths: files or directories.
        suffixes: the file endings wanted from directories (e.g. only `.loyalty` for `fmt`).

    Returns:
        The files, and diagnostics for paths that do not exist or hold no rule files.
    """
    files: list[str] = []
    diags: list[Diagnostic] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = os.path.normpath(p)
        if key not in seen:
            seen.add(key)
            files.append(p)

    for path in paths:
        if os.path.isdir(path):
            inside = [p for p in _walk(path) if p.endswith(suffixes)]
            if not inside:
                kinds = " or ".join(f"*{s}" for s in suffixes)
                diags.append(_error(NO_RULE_FILES, f"no rule files ({kinds}) in {path}", path))
            for p in inside:
                add(p)
        elif os.path.exists(path):
            add(path)
        else:
            diags.append(_error(CANNOT_READ, f"no such file or directory: {path}", path,
                                "check the path and its spelling"))
    return files, diags
