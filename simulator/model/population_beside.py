"""The population an example program brings with it.

Takes: a program path (`DIR/NAME.loyalty` or `DIR/NAME.yaml`). Gives: `population_beside(path)`,
the population fitted to the program's own transactions when one sits beside it, at
`DIR/data/NAME/population.yaml` (the layout of rules/data/, made by
rules/data/make_transactions.py with `loyalty fit`), else None. `loyalty simulate` uses it
when `--population` is not given, and says so; without one it falls back to the built-in
retail population.
"""

from __future__ import annotations

from pathlib import Path


def population_beside(program: str) -> Path | None:
    p = Path(program)
    if p.suffix not in (".loyalty", ".yaml", ".yml") or not p.is_file():
        return None
    found = p.parent / "data" / p.stem / "population.yaml"
    return found if found.is_file() else None
