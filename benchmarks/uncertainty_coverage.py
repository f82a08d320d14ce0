"""Interval coverage over repeated full simulations: the range of outcomes and the Monte Carlo precision.

An assumption is uncertain: the spend scale γ of the calm test population is written as
`{uniform: [5, 15]}` and every trial draws its own γ. The truth of each repeated run is a world the
script draws itself: γ* ~ Uniform(5, 15) and a world simulated on its own seed with γ fixed, so
its baseline revenue is γ*/10 × the baseline revenue of that world at γ = 10 (spend is proportional
to γ and nothing else depends on it without a behavioural response: tests/simulator/test_uncertainty.py
checks this trial by trial).

Prints, over R repeated runs of K trials (the R runs are R groups of K trials of one simulation:
each trial has its own random streams and its own γ draw, so the groups are independent runs):
- how often the range of outcomes (5th..95th percentile) contains the truth, against the exact
  rate (j − i)/(K + 1) of K exchangeable trials (K = 20m + 1; 18/22 = 0.818 at K = 21, tending to
  0.90), with its binomial standard deviation;
- the same for a run whose γ is fixed at 10 (chance alone), which misses the truth far more often;
- how often the Monte Carlo precision contains the mean of the truth distribution (nominal 0.95;
  the true mean is estimated from all the truth worlds), and the ratio of its mean half-width at
  4K trials to K trials (1/√4 = 0.5 times the t quantiles' ratio).
- throughput (trials per second) and peak memory.
Usage: python benchmarks/uncertainty_coverage.py [--runs 100] [--trials 21] [--customers 50] [--workers 1]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.trials.stats import summarize, t975  # noqa: E402
from simulator.whatif.runner import Arm, Settings, load_population_spec, load_program_spec, run_programs  # noqa: E402

FIXTURES = ROOT / "tests" / "whatif" / "fixtures"


def revenue(pop_file: Path, trials: int, seed: int, args) -> tuple[np.ndarray, list]:
    program = load_program_spec(str(FIXTURES / "gift.loyalty")).program
    settings = Settings(customers=args.customers, months=args.months, trials=trials, seed=seed, workers=args.workers)
    run = run_programs([Arm("a", program)], load_population_spec(str(pop_file)), settings)[0]
    return run.trial_totals["baseline.revenue"], run.populations


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--trials", type=int, default=21, help="trials per run, 20m + 1")
    ap.add_argument("--customers", type=int, default=50)
    ap.add_argument("--months", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    R, K = args.runs, args.trials
    if (K - 1) % 20:
        ap.error("--trials must be 20m + 1 (21, 41, 101, ...)")
    text = (FIXTURES / "calm.yaml").read_text(encoding="utf-8")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fixed_file, unc_file = Path(tmp) / "fixed.yaml", Path(tmp) / "uncertain.yaml"
        fixed_file.write_text(text, encoding="utf-8")
        unc_file.write_text(text.replace("gamma: 10.0", "gamma: {uniform: [5, 15]}"), encoding="utf-8")
        unc, _ = revenue(unc_file, R * K, 1, args)          # R runs of K trials, γ drawn per trial
        chance, _ = revenue(fixed_file, R * K, 2, args)     # the same with γ fixed at 10
        world, _ = revenue(fixed_file, R, 3, args)           # the truth worlds at γ = 10
        wide, _ = revenue(unc_file, 4 * K * (R // 4), 4, args)  # for the 1/√trials ratio
    elapsed = time.perf_counter() - start
    total_trials = 2 * R * K + R + 4 * K * (R // 4)
    gamma_star = np.random.default_rng(2026).uniform(5, 15, R)
    truth = gamma_star / 10 * world

    i, j = 1 + 0.05 * (K - 1), 1 + 0.95 * (K - 1)
    rate = (j - i) / (K + 1)
    sd = math.sqrt(rate * (1 - rate) / R)

    def coverage(values: np.ndarray) -> float:
        p5, p95 = (np.array(x) for x in summarize(values.reshape(R, K).T)["range"])
        return float(np.mean((p5 <= truth) & (truth <= p95)))

    print(f"{R} runs of {K} trials, {args.customers} customers, {args.months} month(s), {args.workers} worker(s)")
    print(f"range of outcomes contains the truth, gamma drawn per trial: {coverage(unc):.3f} "
          f"(exact rate {rate:.3f} ± {sd:.3f} binomial sd; nominal 0.90 as trials grow)")
    print(f"range of outcomes contains the truth, gamma fixed (chance only): {coverage(chance):.3f}")
    true_mean = float(np.mean(unc))  # E[revenue] under the assumptions, from all R·K trials
    s = summarize(unc.reshape(R, K).T)
    lo, hi = np.array(s["low"]), np.array(s["high"])
    print(f"Monte Carlo precision contains the mean ({true_mean:,.0f}): {np.mean((lo <= true_mean) & (true_mean <= hi)):.3f} "
          f"(nominal 0.95 ± {math.sqrt(0.95 * 0.05 / R):.3f})")
    q = R // 4
    h4 = summarize(wide.reshape(q, 4 * K).T)
    h1 = summarize(wide.reshape(4 * q, K).T)
    half4 = float(np.mean(np.array(h4["high"]) - np.array(h4["low"]))) / 2
    half1 = float(np.mean(np.array(h1["high"]) - np.array(h1["low"]))) / 2
    print(f"Monte Carlo precision half-width: {half1:,.1f} at {K} trials, {half4:,.1f} at {4 * K}: ratio "
          f"{half4 / half1:.3f} (1/√4 × t ratio = {0.5 * t975(4 * K - 1) / t975(K - 1):.3f})")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{total_trials} trials in {elapsed:.1f} s: {total_trials / elapsed:.1f} trials/s; peak memory {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
