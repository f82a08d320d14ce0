"""Monte Carlo simulator of loyalty programs: population -> vectorized engine -> trials -> report.

Entry points: `simulate(program, population, ...)` (simulator.trials.montecarlo) returns a
`RunResult` (simulator.trials.result); `load_population_file` reads a population file;
`simulator.simulate_command.register` adds `loyalty simulate` to the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "simulate": "trials.montecarlo", "SimulationError": "engine.program_plan", "Population": "model.population",
    "PopulationError": "model.population", "default_population": "model.population",
    "load_population": "model.population", "load_population_file": "model.population",
    "RunResult": "trials.result", "write_reports": "trials.result",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `import simulator.simulate_command` (done by every `loyalty` command) stays cheap."""
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Population", "PopulationError", "RunResult", "SimulationError", "default_population", "load_population",
    "load_population_file", "simulate", "write_reports",
]
