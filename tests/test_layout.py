"""The layout shows the architecture: stages in order, no import cycles, the simulator on the public API.

Reads the import statements of every module of `rulelang/` and `simulator/` (with `ast`, nothing is
imported) and checks: each stage imports only from the stages listed before it; no two modules import
each other at module level, directly or round a longer cycle; the simulator takes from `rulelang`
only its public API (the names in `rulelang.__all__`) and the bottom modules listed below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rulelang

ROOT = Path(__file__).resolve().parent.parent

# Bottom first: a module may import its own stage and the stages before it, never one after it.
STAGES = {
    "rulelang": ["diagnostics", "limits", "fields", "vocabulary", "ir", "syntax", "check", "run", "tools",
                 "__init__", "__main__"],
    "simulator": ["machine", "model", "engine", "kernel", "trials", "accounting", "report", "transactions", "fit", "cli_options", "whatif", "history",
                  "simulate_command", "__init__"],
}
# What the simulator may import from the language besides `from rulelang import <public name>`.
SIMULATOR_MAY_IMPORT = {"rulelang", "rulelang.ir", "rulelang.diagnostics", "rulelang.limits", "rulelang.fields",
                        "rulelang.vocabulary"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for pkg in STAGES for p in (ROOT / pkg).rglob("*.py")}


def stage_of(module: str) -> tuple[str, str]:
    package, _, rest = module.partition(".")
    return package, (rest.split(".")[0] if rest else "__init__")


def imports(path: Path, module_level_only: bool) -> list[tuple[int, str]]:
    """(line, imported module) of every import in the file; `from X import name` gives `X.name`
    when that is a module, else `X`. Imports under `if TYPE_CHECKING:` are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if module_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; write the absolute module name"
            for a in node.names:
                full = f"{node.module}.{a.name}"
                found.append((node.lineno, full if full in MODULES else node.module or ""))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def own(name: str) -> bool:
    return name.split(".")[0] in STAGES


def test_every_module_is_in_a_known_stage() -> None:
    unknown = sorted(m for m in MODULES if stage_of(m)[1] not in STAGES[stage_of(m)[0]])
    assert not unknown, f"modules outside the listed stages (add the stage to STAGES in order): {unknown}"


def test_stages_import_only_the_stages_before_them() -> None:
    wrong = []
    for module, path in MODULES.items():
        package, stage = stage_of(module)
        for line, name in imports(path, module_level_only=False):
            if not own(name):
                continue
            other_package, other_stage = stage_of(name)
            if other_package != package:
                continue
            order = STAGES[package]
            if other_stage in order and order.index(other_stage) > order.index(stage):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {stage} imports {name} ({other_stage} comes after it)")
    assert not wrong, "\n".join(wrong)


def test_the_language_does_not_import_the_simulator() -> None:
    wrong = [f"{p.relative_to(ROOT)}:{line}: {name}" for m, p in MODULES.items() if m.startswith("rulelang")
             for line, name in imports(p, module_level_only=False)
             if name.startswith("simulator")]
    # the command line finds the simulator's commands by name at run time (rulelang.tools.cli.PLUGIN_MODULES)
    assert not wrong, "\n".join(wrong)


def test_simulator_uses_only_the_public_api_of_the_language() -> None:
    public = set(rulelang.__all__)
    wrong = []
    for module, path in MODULES.items():
        if not module.startswith("simulator"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "rulelang":
                if node.module not in SIMULATOR_MAY_IMPORT:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: from {node.module} import ...")
                elif node.module == "rulelang":
                    for a in node.names:
                        if a.name not in public and f"rulelang.{a.name}" not in SIMULATOR_MAY_IMPORT:
                            wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: rulelang.{a.name} is not public")
            elif isinstance(node, ast.Import):
                wrong += [f"{path.relative_to(ROOT)}:{node.lineno}: import {a.name}" for a in node.names
                          if a.name.split(".")[0] == "rulelang" and a.name not in SIMULATOR_MAY_IMPORT]
    assert not wrong, "the simulator reaches into the language's internals:\n" + "\n".join(wrong)


def test_no_import_cycles_at_module_level() -> None:
    graph = {m: {n for _, n in imports(p, module_level_only=True) if n in MODULES and n != m}
             for m, p in MODULES.items()}
    # a package's __init__ importing its own modules is not a cycle with them
    for m in graph:
        graph[m] = {n for n in graph[m] if not n.startswith(m + ".")}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                walk(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("package", sorted({module_name(p.parent / "__init__.py") for p in MODULES.values()}))
def test_every_package_says_what_it_takes_and_gives(package: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[package].read_text(encoding="utf-8"))) or ""
    assert "Takes" in doc and "Gives" in doc, f"{package}/__init__.py: docstring must say what it takes and gives"
