"""A customers file in whole runs: determinism, sampling, opening balances and tiers, the fitted
parameters' uncertainty, synthetic ages, and located errors for bad files."""

from __future__ import annotations

import argparse
import json
import pickle

import fit_formulas as ff
import numpy as np
import pytest
from scipy import integrate
from scipy.stats import beta as beta_dist

from base_helpers import histories, load, one_trial, population, write_customers
from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from simulator.trials import montecarlo as mc
from simulator.simulate_command import register
from simulator.model.customers_file import ChunkRows
from simulator.engine.day_loop import BLOCK
from simulator.model.history_model import draw_parameters
from simulator.whatif.runner import Arm, Settings, load_population_spec, run_programs

BG = "    purchase: {r: 0.5, alpha: 5}\n    dropout: {a: 2, b: 6}\n"


def compile_program(text: str):
    sf, diags = parse_text(text, "test.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, more = compile_source(sf)
    assert program is not None, [d.message for d in more]
    return program


TIERED = compile_program("""program "Test" {
  points "points"
  currency USD
  point cost 0.01 USD
  earn base on purchase { award 1 point per 1 USD of net amount }
  tiers by points over rolling 12 months {
    tier Green from 0
    tier Gold from 1000000
    review monthly
    downgrade one step
  }
  expire points 2 months after earning
  reward gift {
    price 100000 points
    worth 1 USD
    costs us 1 USD
  }
}
""")


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="loyalty")
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.handler(args)


# ---------------------------------------------------------------- determinism and sampling


def test_same_numbers_for_any_worker_count_and_block_size(tmp_path):
    """3,000 rows simulated as 140,000 customers (3 RNG blocks, rows drawn with replacement):
    1 or 2 workers, chunks of 1, 2 or 3 blocks give identical per-trial numbers."""
    cols = histories(3000, seed=2)
    cols["balance"] = [(i % 5) * 40 for i in range(3000)]
    write_customers(tmp_path / "customers.csv", cols)
    pop = load(population(tmp_path, BG))
    kw = dict(customers=140_000, months=2, trials=2, seed=7)
    runs = [mc.simulate(TIERED, pop, workers=w, chunk_size=c, **kw)
            for w, c in ((1, BLOCK), (2, 2 * BLOCK), (2, BLOCK), (1, None))]
    first = runs[0].per_trial
    assert first["program.points_opening"][0] > 0
    for other in runs[1:]:
        assert other.per_trial == first
    assert runs[0].ledger_identity_ok


@pytest.mark.parametrize("customers", [3000, 2000, 7000])
def test_same_numbers_for_any_worker_count_and_chunk_with_small_blocks(tmp_path, customers):
    """RNG blocks of 500 customers: the file's 3,000 rows (every row, a subset, rows drawn with
    replacement) in 4 to 14 blocks; 1 or 2 workers and chunks of 1, 2 or 3 blocks agree exactly."""
    cols = histories(3000, seed=9)
    cols["balance"] = [(i % 3) * 70 for i in range(3000)]
    cols["tier"] = ["Gold" if i % 11 == 0 else "" for i in range(3000)]
    write_customers(tmp_path / "customers.csv", cols)
    pop = load(population(tmp_path, BG))
    kw = dict(customers=customers, months=2, trials=2, seed=3, block_size=500)
    runs = [mc.simulate(TIERED, pop, workers=w, chunk_size=c, **kw) for w, c in ((1, 500), (2, 1000), (2, 1500), (1, None))]
    for other in runs[1:]:
        assert other.per_trial == runs[0].per_trial
    assert runs[0].per_trial["program.points_opening"][0] > 0


def test_rows_of_a_smaller_and_a_larger_count(tmp_path):
    write_customers(tmp_path / "customers.csv", histories(3000, seed=3))
    base = load(population(tmp_path, BG)).customers
    N = base.size
    assert N == 3000
    assert (base.block_rows(N, 0, 0, 0, N) == np.arange(N)).all()
    # smaller: without replacement, keyed by the seed only
    small = base.block_rows(1000, 5, 0, 0, 1000)
    assert np.unique(small).size == 1000 and small.min() >= 0 and small.max() < N
    assert (base.block_rows(1000, 5, 0, 0, 1000) == small).all()
    assert not (base.block_rows(1000, 6, 0, 0, 1000) == small).all()
    # larger: with replacement, each block from its own stream; every row equally likely, so the
    # count of each row is binomial(n, 1/N): mean n/N, variance n/N (1 − 1/N)
    n = 3 * BLOCK
    rows = np.concatenate([base.block_rows(n, 5, b, b * BLOCK, BLOCK) for b in range(3)])
    counts = np.bincount(rows, minlength=N)
    assert counts.sum() == n and rows.max() < N
    mean, var = n / N, n / N * (1 - 1 / N)
    assert abs(counts.mean() - mean) < 1e-9
    # the sample variance of N counts has relative sd about sqrt(2/N) = 2.6 %: 6 sd
    assert abs(counts.var(ddof=1) / var - 1) < 6 * np.sqrt(2 / N)
    # a block's rows do not depend on which other blocks run with it
    assert (base.block_rows(n, 5, 1, BLOCK, BLOCK) == rows[BLOCK:2 * BLOCK]).all()


def test_a_task_ships_only_its_rows(tmp_path):
    write_customers(tmp_path / "customers.csv", histories(3000, seed=4))
    pop = load(population(tmp_path, BG))
    task_pop = mc.for_task(pop, 140_000, 0, [(1, BLOCK)], BLOCK)
    shipped = pickle.loads(pickle.dumps(task_pop.customers))
    assert isinstance(shipped, ChunkRows) and shipped.base is None
    assert list(shipped.ready) == [1] and shipped.ready[1].x.size == BLOCK
    assert (shipped.block(1).x == task_pop.customers.block(1).x).all()


def test_customers_default_to_the_file_and_the_report_names_the_sampling(tmp_path, capsys):
    write_customers(tmp_path / "customers.csv", histories(500, seed=5))
    pop = population(tmp_path, BG)
    assert run_cli(["simulate", "rules/coffee.loyalty", "--population", str(pop), "--months", "1", "--trials", "1",
                    "--workers", "1", "--format", "json"]) == 0
    meta = json.loads(capsys.readouterr().out)["meta"]
    assert meta["customers"] == 500 and meta["customers_in_file"] == 500
    assert meta["customers_sampling"] == "every row once"
    assert run_cli(["simulate", "rules/coffee.loyalty", "--population", str(pop), "--customers", "200",
                    "--months", "1", "--trials", "1", "--workers", "1", "--format", "json"]) == 0
    meta = json.loads(capsys.readouterr().out)["meta"]
    assert meta["customers"] == 200 and meta["customers_sampling"] == "a sample without replacement"


# ---------------------------------------------------------------- a program already running


def _dead_and_gold(tmp_path, dead: int, gold: int):
    """`dead` customers silent for 20 years after 5 repeat purchases in their first week (BG/NBD
    P(alive) = 1 / (1 + a/(b+x−1) ((α+T)/(α+t_x))^(r+x)) = 2.4e-8) holding 500 points each; `gold`
    customers without repeat purchases (alive) in tier Gold with no balance."""
    n = dead + gold
    cols = {"id": [f"c{i}" for i in range(n)], "segment": ["main"] * n,
            "frequency": [5] * dead + [0] * gold, "recency": [1] * dead + [0] * gold,
            "age": [1040] * dead + [10] * gold, "mean_spend": [20] * n, "spend_count": [6] * dead + [1] * gold,
            "balance": [500] * dead + [0] * gold, "tier": [""] * dead + ["Gold"] * gold}
    write_customers(tmp_path / "customers.csv", cols)
    # dropout b huge: the living do not drop out within the month
    return load(population(tmp_path, "    purchase: {r: 0.5, alpha: 5}\n    dropout: {a: 2, b: 100000}\n"))


def test_opening_balances_enter_the_ledger_and_expire_as_lots_of_the_first_day(tmp_path):
    """Opening points are a lot earned on 2027-01-01: with `expire points 2 months after earning`
    they expire on 2027-03-01, in the third month; the dead never buy or redeem, so all of theirs do."""
    pop = _dead_and_gold(tmp_path, dead=300, gold=50)
    assert float(ff.bgnbd_p_alive((0.5, 5, 2, 100000), 5, 1, 1040)) < 1e-7  # 300 × 2.4e-8: nobody alive
    res = one_trial(pop, 350, months=4, program=TIERED)
    assert res.totals["program.points_opening"] == 300 * 500
    assert res.totals["alive_at_start"] == 50
    mon = res.monthly
    assert mon["program.points_expired"][0] == 0 and mon["program.points_expired"][1] == 0
    earned_in_jan = int(mon["program.points_issued"][0])  # the living's January points expire on 1 March too
    assert mon["program.points_expired"][2] == 300 * 500 + earned_in_jan - int(mon["program.points_redeemed"][0])
    # month by month: outstanding = opening + issued − redeemed − expired − reversed, to date
    flow = np.cumsum(mon["program.points_issued"] - mon["program.points_redeemed"]
                     - mon["program.points_expired"] - mon["program.points_reversed"])
    assert (mon["program.points_outstanding"] == 300 * 500 + flow).all()
    assert res.totals["ledger_identity_max_abs_error"] == 0
    # the Gold customers hold Gold through the first month (no review before 1 February)
    assert res.tier_counts[0].tolist() == [0, 50]
    # no signup event for members already in the program: nobody is a new member
    assert mon["program.members"][0] == 50


def test_opening_balance_in_the_report(tmp_path):
    pop = _dead_and_gold(tmp_path, dead=30, gold=5)
    result = mc.simulate(TIERED, pop, customers=35, months=3, trials=2, seed=1, workers=1)
    assert result.totals["program.points_opening"]["mean"] == 30 * 500
    assert result.ledger_identity_ok
    from simulator.simulate_command import summary_text

    text = summary_text(result)
    assert "opening balances" in text
    assert "ledger identity opening + issued = redeemed + expired + reversed + outstanding: holds" in text


# ---------------------------------------------------------------- the fitted parameters' uncertainty


UNCERTAIN = """    uncertainty:
      parameters: [purchase.r, purchase.alpha, dropout.b]
      log_mean: [-0.7, 1.6, 1.8]
      log_covariance: [[0.04, 0.03, 0.0], [0.03, 0.05, -0.01], [0.0, -0.01, 0.02]]
"""


def test_uncertainty_draws_have_the_stated_mean_and_covariance(tmp_path):
    path = population(tmp_path, BG + UNCERTAIN, customers=None)
    source = load_population_spec(str(path))
    assert source.per_trial
    K = 4000
    draws = np.array([[np.log(s.r), np.log(s.alpha_days / 7), np.log(s.b)]
                      for s in (source.for_trial(3, t).segments[0] for t in range(K))])
    mean = np.array([-0.7, 1.6, 1.8])
    cov = np.array([[0.04, 0.03, 0.0], [0.03, 0.05, -0.01], [0.0, -0.01, 0.02]])
    se_mean = np.sqrt(np.diag(cov) / K)
    assert (np.abs(draws.mean(axis=0) - mean) < 4.5 * se_mean).all()
    # standard error of a sample covariance of normals: sqrt((σ_ii σ_jj + σ_ij²) / K)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / K)
    assert (np.abs(np.cov(draws.T) - cov) < 4.5 * se_cov).all()
    # the same trial draws the same values every time; other trials draw others
    assert source.for_trial(3, 5) == source.for_trial(3, 5)
    assert source.for_trial(3, 5).segments[0].r != source.for_trial(3, 6).segments[0].r
    # parameters not listed keep their values
    assert {s.a for s in (source.for_trial(3, t).segments[0] for t in range(10))} == {2.0}


def test_both_arms_and_variants_see_the_same_draw(tmp_path):
    write_customers(tmp_path / "customers.csv", histories(400, seed=6))
    path = population(tmp_path, BG + UNCERTAIN)
    source = load_population_spec(str(path))
    runs = run_programs([Arm("a", TIERED), Arm("b", mc.empty_program())], source,
                        Settings(customers=400, months=2, trials=3, seed=4, workers=1))
    for t in range(3):
        assert runs[0].populations[t].segments == runs[1].populations[t].segments
    assert runs[0].populations[0].segments[0].r != runs[0].populations[1].segments[0].r
    # the baseline arm is the same customers under the same draw in both variants
    for key in ("baseline.purchases", "baseline.revenue"):
        assert (runs[0].trial_totals[key] == runs[1].trial_totals[key]).all()


def test_trial_parameters_feed_the_posterior(tmp_path):
    """With a customers file the trial's drawn parameters are the prior of each customer's
    posterior: a trial that draws a larger r (more purchases a priori) simulates more purchases."""
    write_customers(tmp_path / "customers.csv", histories(3000, seed=7))
    source = load_population_spec(str(population(tmp_path, BG + UNCERTAIN)))
    low = draw_parameters(source.base, 0, 0)
    import dataclasses

    pops = [dataclasses.replace(source.base, segments=(dataclasses.replace(source.base.segments[0], r=r),))
            for r in (0.2, 2.0)]
    counts = [int(one_trial(p, 3000).monthly["baseline.purchases"].sum()) for p in pops]
    assert counts[1] > 1.5 * counts[0]
    assert low.customers is source.base.customers


# ---------------------------------------------------------------- synthetic ages


@pytest.mark.parametrize("model, segment", [("bgnbd", BG), ("pareto_nbd", "    purchase: {r: 0.5, alpha: 5}\n"
                                                                           "    lifetime: {s: 0.5, beta: 10}\n")])
def test_synthetic_customers_of_an_age_start_alive_as_the_model_says(tmp_path, model, segment):
    """Of customers whose first purchase was T = 52 weeks ago, the share still alive is
    BG/NBD: E[exp(−λ p T)] = E_p[(α / (α + p T))^r] (death comes after a repeat purchase, at rate λp),
    integrated over p ~ Beta(a, b); Pareto/NBD: E[exp(−μ T)] = (β / (β + T))^s."""
    n, T = 20_000, 52.0
    pop = load(population(tmp_path, segment + f"    age: {T}\n", customers=None, model=model))
    if model == "bgnbd":
        r, alpha, a, b = 0.5, 5.0, 2.0, 6.0
        share = integrate.quad(lambda p: (alpha / (alpha + p * T)) ** r * beta_dist.pdf(p, a, b), 0, 1)[0]
    else:
        s, beta = 0.5, 10.0
        share = (beta / (beta + T)) ** s
    alive = [one_trial(pop, n, trial=t, months=1).totals["alive_at_start"] for t in range(2)]
    se = np.sqrt(n * share * (1 - share) / 2)
    assert abs(np.mean(alive) - n * share) < 4.5 * se, (np.mean(alive), n * share)


def test_age_choice_mixes_new_and_old_customers(tmp_path):
    """`age: {0: 0.5, 52: 0.5}`: half are new (all alive), half a year old (Pareto/NBD: alive with
    probability (β/(β+52))^s): alive share = 0.5 + 0.5 (10/62)^0.5."""
    n = 20_000
    seg = "    purchase: {r: 0.5, alpha: 5}\n    lifetime: {s: 0.5, beta: 10}\n    age: {0: 0.5, 52: 0.5}\n"
    pop = load(population(tmp_path, seg, customers=None, model="pareto_nbd"))
    share = 0.5 + 0.5 * (10 / 62) ** 0.5
    alive = one_trial(pop, n, months=1).totals["alive_at_start"]
    assert abs(alive - n * share) < 4.5 * np.sqrt(n * 0.25 * 0.5 + n * 0.5 * 0.4 * 0.6)


def test_age_uniform_is_per_customer_not_per_trial(tmp_path):
    path = population(tmp_path, BG + "    age: {uniform: [0, 104]}\n", customers=None)
    source = load_population_spec(str(path))
    assert not source.uncertain and source.base.segments[0].age.uniform == (0.0, 104.0)


# ---------------------------------------------------------------- bad files


CASES = [
    ("id,segment,frequency,recency,age,mean_spend\nc1,main,2,10,30,12.5\n", "RL641", 1, 1, "no `spend_count` column"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count\nc1,main,2,10,30,12.5,3\nc2,main,two,10,30,12.5,3\n",
     "RL642", 3, 9, "`two` is not a number (column `frequency`)"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count\nc1,main,2,-4,30,12.5,3\n",
     "RL643", 2, 11, "recency is -4, below 0"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count\nc1,main,2,31,30,12.5,3\n",
     "RL643", 2, 11, "recency 31 is more than the age 30"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count\nc1,main,2.5,10,30,12.5,3\n",
     "RL644", 2, 9, "frequency must be a whole number, got 2.5"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count,tier\nc1,main,2,10,30,12.5,3,Golden\n",
     "RL645", 2, 24, "tier `Golden` is not a tier of the program"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count\nc1,mian,2,10,30,12.5,3\n",
     "RL646", 2, 4, "segment `mian` is not a segment of the population file"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count,birthday\nc1,main,2,10,30,12.5,3,17/04/1990\n",
     "RL647", 2, 24, "`17/04/1990` is not a date"),
    ("id,segment,frequency,recency,age,mean_spend,spend_count\nc1,main,2,10,30,12.5,3\nc1,main,1,5,30,9,2\n",
     "RL648", 3, 1, "the customer id `c1` appears on more than one row"),
    ("", "RL640", 1, 1, "is empty"),
]


@pytest.mark.parametrize("text, code, line, col, message", CASES)
def test_a_bad_customers_file_is_a_located_error(tmp_path, capsys, text, code, line, col, message):
    (tmp_path / "customers.csv").write_text(text, encoding="utf-8")
    pop = population(tmp_path, BG + "  - name: other\n    share: 0\n    purchase: {r: 1, alpha: 1}\n")
    code_ = run_cli(["simulate", "rules/coffee.loyalty", "--population", str(pop), "--months", "1",
                     "--trials", "1", "--workers", "1"])
    err = capsys.readouterr().err
    assert code_ == 1
    assert f"customers.csv:{line}:{col}: error[{code}]" in err, err
    assert message in err and "hint:" in err and "Traceback" not in err


def test_a_missing_customers_file_points_at_the_population_key(tmp_path, capsys):
    pop = population(tmp_path, BG, customers="nowhere.csv")
    assert run_cli(["simulate", "rules/coffee.loyalty", "--population", str(pop), "--trials", "1"]) == 1
    err = capsys.readouterr().err
    assert "error[RL640]: cannot read customers file" in err
    assert "pop.yaml:6:12: error[RL640]" in err


@pytest.mark.parametrize("block, message", [
    ("    uncertainty:\n      parameters: [purchase.r, dropout.z]\n      log_mean: [0, 0]\n"
     "      log_covariance: [[1, 0], [0, 1]]\n", "`dropout.z` is not a parameter of the bgnbd population"),
    ("    uncertainty:\n      parameters: [purchase.r]\n      log_mean: [0, 0]\n      log_covariance: [[1]]\n",
     "log_mean has 2 values for 1 parameters"),
    ("    uncertainty:\n      parameters: [purchase.r, purchase.alpha]\n      log_mean: [0, 0]\n"
     "      log_covariance: [[1, 0.5], [0.2, 1]]\n", "log_covariance is not symmetric"),
    ("    uncertainty:\n      parameters: [purchase.r, purchase.alpha]\n      log_mean: [0, 0]\n"
     "      log_covariance: [[1, 2], [2, 1]]\n", "log_covariance is not positive semi-definite"),
    ("    age: {uniform: [10, 5]}\n", "`uniform` needs [low, high] with 0 <= low <= high"),
    ("    age: {0: 0.5, 52: 0.4}\n", "the shares add up to 0.9, not 1"),
    ("    age: -3\n", "age must be a number of 0 or more"),
])
def test_bad_uncertainty_and_age_blocks(tmp_path, block, message):
    from simulator.model.population import load_population

    path = population(tmp_path, BG + block, customers=None)
    pop, diags = load_population(path.read_text(), str(path))
    assert pop is None
    errors = [d for d in diags if d.is_error]
    assert errors and message in errors[0].message and errors[0].code in ("RL650", "RL651")
    assert errors[0].span.line > 6


def test_compare_defaults_to_the_files_customers(tmp_path, capsys):
    from simulator.whatif.commands import register as register_whatif

    write_customers(tmp_path / "customers.csv", histories(300, seed=8))
    pop = population(tmp_path, BG)
    parser = argparse.ArgumentParser(prog="loyalty")
    register_whatif(parser.add_subparsers())
    args = parser.parse_args(["compare", "rules/coffee.loyalty", "rules/coffee.yaml", "--population", str(pop),
                              "--months", "1", "--trials", "2", "--workers", "1", "--format", "json"])
    assert args.handler(args) == 0
    meta = json.loads(capsys.readouterr().out)["meta"]
    assert meta["customers"] == 300 and meta["customers_in_file"] == 300


def test_birthdays_signups_and_attributes_come_from_the_file(tmp_path):
    import datetime as dt

    cols = _no_repeat_rows(4)
    cols.update({"birthday": ["1990-03-01", "", "2000-02-29", "1985-12-31"],
                 "signup": ["2026-05-01", "2027-01-20", "", "2027-01-01"],
                 "store": ["north", "12", "true", ""]})
    write_customers(tmp_path / "customers.csv", cols)
    rows = load(population(tmp_path, BG)).customers.rows
    # day of a non-leap year: 1 March = 31 + 28 = 59; 29 February counts as 28 February (58); 31 December 364
    assert rows.birthday.tolist() == [59, -1, 58, 364]
    epoch = dt.date(1970, 1, 1)
    assert rows.signup[0] == (dt.date(2026, 5, 1) - epoch).days and rows.signup[2] < -10**9
    assert rows.attributes["store"].tolist() == ["north", 12.0, True, None]
    from simulator.model.draws import TraitStreams, _customer_traits, segment_tables
    from simulator.model.strings import StringTable
    from simulator.model.history_traits import history_traits

    pop = load(population(tmp_path, BG))
    streams = TraitStreams(0, 0, 0)
    prior = _customer_traits(pop, segment_tables(pop, StringTable()), streams, 4, seg=rows.seg)
    t = history_traits(pop, prior, rows, streams, dt.date(2027, 1, 1))
    # signed up before the start (or on its first day): members from day 0 without a signup event;
    # 20 January: day 19; no signup date: the segment's enrollment (everyone, day 0) with a signup event
    assert t["enroll_day"].tolist() == [0, 19, 0, 0]
    assert t["member_before"].tolist() == [True, False, False, True]
    assert t["attributes"]["store"][0] == "north"


def _no_repeat_rows(n):
    return {"id": [f"c{i}" for i in range(n)], "segment": ["main"] * n, "frequency": [0] * n, "recency": [0] * n,
            "age": [10] * n, "mean_spend": [20] * n, "spend_count": [1] * n}
