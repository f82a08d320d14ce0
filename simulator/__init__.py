"""Monte Carlo simulator of loyalty programs: population -> vectorized engine -> trials -> report.

Takes: a compiled program (`rulelang.ir`), a population file, run settings; or a business's
transactions (`fit`, `history`). Gives: run results with their range of outcomes and Monte Carlo
precision, reports, and the `simulate`, what-if, `fit` and `replay` commands.

Entry points: `simulate(program, population, ...)` (simulator.trials.montecarlo) returns a
`RunResult` (simulator.trials.result); `load_population_file` reads a population file;
`dataframes(report)` gives a run's tables as pandas DataFrames (simulator.report.tables);
`simulator.simulate_command.register` adds `loyalty simulate` to the command line.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "simulate": "trials.montecarlo", "SimulationError": "engine.program_plan", "Population": "model.population",
    "PopulationError": "model.population", "default_population": "model.population",
    "load_population": "model.population", "load_population_file": "model.population",
    "RunResult": "trials.result", "write_reports": "report.pages", "dataframes": "report.tables",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `import simulator.simulate_command` (done by every `loyalty` command) stays cheap."""
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Population", "PopulationError", "RunResult", "SimulationError", "dataframes", "default_population", "load_population",
    "load_population_file", "simulate", "write_reports",
]
