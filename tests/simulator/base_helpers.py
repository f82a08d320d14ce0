"""Helpers for the tests of an existing customer base: customers files, populations, one trial."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simulator.trials import montecarlo as mc
from simulator.engine.day_loop import blocks_for
from simulator.model.population import load_population_file

HEADER = ("id", "segment", "frequency", "recency", "age", "mean_spend", "spend_count")


def write_customers(path: Path, columns: dict[str, list]) -> Path:
    names = list(columns)
    n = len(columns[names[0]])
    lines = [",".join(names)]
    for i in range(n):
        lines.append(",".join(str(columns[c][i]) for c in names))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def histories(n: int, seed: int, x_mean: float = 1.5, ages=(20.0, 60.0)) -> dict[str, list]:
    """Made-up but consistent histories: age T uniform, x ~ Poisson, t_x uniform in (0, T) when x > 0."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(ages[0], ages[1], n).round(3)
    x = rng.poisson(x_mean, n)
    t_x = np.where(x > 0, (rng.uniform(0.05, 1.0, n) * T).round(3), 0.0)
    spend = rng.gamma(6.0, 5.0, n).round(2)
    return {"id": [f"c{i}" for i in range(n)], "segment": ["main"] * n, "frequency": x.tolist(),
            "recency": t_x.tolist(), "age": T.tolist(), "mean_spend": spend.tolist(),
            "spend_count": (x + 1).tolist()}


def population(tmp_path: Path, segment: str, customers: str | None = "customers.csv", model: str = "bgnbd",
               extra: str = "") -> Path:
    text = (f"version: 1\ntime_unit: week\nmodel: {model}\nstart: 2027-01-01\nresponse: off\n"
            + (f"customers: {customers}\n" if customers else "") + extra
            + "segments:\n  - name: main\n    share: 1\n" + segment)
    p = tmp_path / "pop.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def one_trial(pop, customers: int, trial: int = 0, seed: int = 0, months: int = 12, program=None):
    """The merged ChunkResult of one trial (every block in one task, in this process)."""
    settings = mc.RunSettings(customers=customers, months=months, trials=1, seed=seed, workers=1)
    prog = program or mc.empty_program()
    return mc.run_task((prog, pop, settings, trial, blocks_for(customers), 0))


def load(path: Path):
    return load_population_file(path)
