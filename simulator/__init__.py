"""Monte Carlo simulator of loyalty programs: population -> vectorized engine -> trials -> report.

Entry points: `simulate(program, population, ...)` (simulator.montecarlo) returns a
`RunResult` (simulator.result); `load_population_file` reads a population file;
`simulator.cli.register` adds `loyalty simulate` to the command line.
"""

from __future__ import annotations

from .montecarlo import simulate
from .plan import SimulationError
from .population import Population, PopulationError, default_population, load_population, load_population_file
from .result import RunResult, write_reports

__all__ = [
    "Population", "PopulationError", "RunResult", "SimulationError", "default_population", "load_population",
    "load_population_file", "simulate", "write_reports",
]
