"""Round trip: transactions drawn by the simulator from a known population -> `loyalty fit` -> the
fitted population file -> transactions drawn from it -> `loyalty fit` again.

Each fit must recover the parameters of the population its data came from within 3 of its own
standard errors: the first the known BG/NBD (r, α, a, b) = (2, 4, 0.8, 2.5), per week; the second
the first fit's point estimates, as the fitted population file carries them (its `uncertainty:`
block is set aside, so that the second history is drawn from the point estimates, not from a
draw around them). 1,000 customers over 9 months, one fixed seed per history.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import json
from pathlib import Path

import numpy as np

from rulelang.tools.cli import main
from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from fit_helpers import KNOWN
from simulator.model.population import load_population_file
from simulator.transactions.synthetic import simulated_rows, write_transactions_csv

ROOT = Path(__file__).resolve().parents[2]
TRUTH = np.array([2.0, 4.0, 0.8, 2.5])


def draw_and_fit(program, population, seed: int, folder: Path, tag: str) -> tuple[np.ndarray, np.ndarray, Path]:
    rows = simulated_rows(population, program, customers=1000, months=9, seed=seed, start=dt.date(2026, 1, 1))
    csv_path = write_transactions_csv(rows, folder / f"{tag}.csv")
    out = folder / f"{tag}.yaml"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        code = main(["fit", str(csv_path), "--out", str(out), "--model", "bgnbd", "--no-customers", "--format", "json"])
    assert code == 0
    fit = json.loads(stdout.getvalue())["segments"][0]["purchase"]
    assert fit["model"] == "bgnbd" and fit["converged"] and fit["customers"] == 1000
    return np.array(fit["params"]), np.array(fit["se"]), out


def test_fit_simulate_fit_recovers_the_parameters(tmp_path: Path) -> None:
    sf, _, _ = load_file(str(ROOT / "rules" / "coffee.loyalty"))
    program, _ = compile_source(sf)
    (tmp_path / "known.yaml").write_text(KNOWN, encoding="utf-8")
    first, se1, fitted = draw_and_fit(program, load_population_file(tmp_path / "known.yaml"), 1, tmp_path, "one")
    assert np.all(np.abs(first - TRUTH) <= 3 * se1), (first, se1)

    pop = load_population_file(fitted)
    seg = pop.segments[0]
    assert seg.uncertainty is not None  # written by the fit; set aside for the point estimates
    assert np.allclose([seg.r, seg.alpha_days / 7, seg.a, seg.b], first, rtol=1e-5)
    pop = dataclasses.replace(pop, segments=tuple(dataclasses.replace(s, uncertainty=None) for s in pop.segments))
    second, se2, _ = draw_and_fit(program, pop, 101, tmp_path, "two")
    assert np.all(np.abs(second - first) <= 3 * se2), (second, first, se2)
