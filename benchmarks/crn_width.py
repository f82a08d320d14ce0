"""How much narrower paired intervals are than independent runs' (common random numbers).

Runs rules/coffee.loyalty and the same program with twice the earn rate on the coffee population:
paired = both on one seed, per-trial differences; independent = the variant on another seed.
Prints, per metric, the difference with its 95 % half-width each way and the width ratio.
Usage: python benchmarks/crn_width.py [--customers N] [--trials T]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rulelang.check.compiler import compile_source  # noqa: E402
from rulelang.syntax.parser import parse_text  # noqa: E402
from simulator.trials.montecarlo import simulate  # noqa: E402
from simulator.model.population import load_population_file  # noqa: E402
from simulator.trials.stats import t975  # noqa: E402

METRICS = ("program.revenue", "program.retention", "program.program_cost", "program.liability",
           "incremental.revenue", "incremental.profit")


def compiled(text: str):
    sf, diags = parse_text(text, "coffee.loyalty")
    program, diags = compile_source(sf)
    return program


def half(v: np.ndarray) -> float:
    return float(t975(v.size - 1) * np.std(v, ddof=1) / math.sqrt(v.size))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--trials", type=int, default=10)
    a = ap.parse_args()
    text = (ROOT / "rules/coffee.loyalty").read_text()
    one = compiled(text)
    two = compiled(text.replace("award 1 star per 1 USD", "award 2 stars per 1 USD"))
    pop = load_population_file(str(ROOT / "rules/populations/coffee.yaml"))
    kw = dict(customers=a.customers, months=12, trials=a.trials)
    r1 = simulate(one, pop, seed=1, **kw)
    r2 = simulate(two, pop, seed=1, **kw)
    r2i = simulate(two, pop, seed=2, **kw)
    print(f"{'metric':24} {'paired diff ± hw':>26} {'independent diff ± hw':>26} {'ratio':>6}")
    for m in METRICS:
        x1, x2, x2i = (np.array(r.per_trial[m], dtype=float) for r in (r1, r2, r2i))
        paired = x2 - x1
        hw_p = half(paired)
        n = x1.size
        hw_i = float(t975(2 * n - 2) * math.sqrt(np.var(x1, ddof=1) / n + np.var(x2i, ddof=1) / n))
        ratio = hw_i / hw_p if hw_p > 0 else float("inf")
        print(f"{m:24} {paired.mean():>14,.3f} ± {hw_p:>9,.3f} {x2i.mean() - x1.mean():>14,.3f} ± {hw_i:>9,.3f} {ratio:>6.1f}")


if __name__ == "__main__":
    main()
