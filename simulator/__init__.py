"""Monte Carlo simulator of loyalty programs: population -> vectorized engine -> trials -> report.

Entry points: `simulate(program, population, ...)` (simulator.montecarlo) returns a
`RunResult` (simulator.result); `load_population_file` reads a population file;
`simulator.cli.register` adds `loyalty simulate` to the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "simulate": "montecarlo", "SimulationError": "plan", "Population": "population",
    "PopulationError": "population", "default_population": "population", "load_population": "population",
    "load_population_file": "population", "RunResult": "result", "write_reports": "result",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `import simulator.cli` (done by every `loyalty` command) stays cheap."""
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Population", "PopulationError", "RunResult", "SimulationError", "default_population", "load_population",
    "load_population_file", "simulate", "write_reports",
]
