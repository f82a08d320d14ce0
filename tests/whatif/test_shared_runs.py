"""What-if variants share one run: one worker pool for every arm, and arms the engine sees identically
simulated once. Each arm's numbers must equal the arm run on its own (same seed), for any worker count
and block size."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from simulator.trials import montecarlo as mc
from simulator.trials.stats import t975
from simulator.whatif.runner import (ENGINE_NEUTRAL_ECONOMICS, Arm, Settings, engine_twins, load_population_spec,
                                     load_program_spec, run_programs)
from whatif_helpers import FIXTURES, ROOT


def _econ(**kw):
    def modify(p):
        return replace(p, economics=replace(p.economics, **kw))
    return modify


def _goal_gradient(p):
    return replace(p, response=replace(p.response, goal_gradient=p.response.goal_gradient * 1.5))


def _arms(birthday, birthday_v2, coffee):
    return [
        Arm("base", birthday.program),
        Arm("margin", birthday.program, _econ(gross_margin=0.55)),  # engine-neutral: shares the base's run
        Arm("v2", birthday_v2.program),
        Arm("fixed month", birthday.program, _econ(fixed_cost_per_month_cents=12_345)),  # shares the base's too
        Arm("member cost", birthday.program, _econ(fixed_cost_per_member_month_cents=7)),  # shares the base's too
        Arm("goal gradient", birthday.program, _goal_gradient),
        Arm("coffee", coffee.program),
        Arm("coffee acquisition", coffee.program, _econ(acquisition_cost_cents=250)),  # shares coffee's run
    ]


def _same_run(a, b) -> None:
    assert a.trial_totals.keys() == b.trial_totals.keys()
    for k in a.trial_totals:
        np.testing.assert_array_equal(a.trial_totals[k], b.trial_totals[k], err_msg=k)  # NaN == NaN here
    assert a.trial_monthly.keys() == b.trial_monthly.keys()
    for k in a.trial_monthly:
        np.testing.assert_array_equal(a.trial_monthly[k], b.trial_monthly[k], err_msg=k)
    ja, jb = a.result.to_json(), b.result.to_json()
    for j in (ja, jb):
        j["meta"] = {k: v for k, v in j["meta"].items() if k not in ("variant", "chunk_size")}
    assert ja == jb


@pytest.mark.parametrize("workers,block,chunk", [(2, 64, None), (1, 100, 300)])
def test_variants_in_one_shared_run_equal_each_variant_run_alone(birthday, birthday_v2, workers, block, chunk):
    coffee = load_program_spec(str(ROOT / "rules" / "coffee.loyalty"))
    pop = load_population_spec(str(FIXTURES / "lively.yaml"))  # distributions: a population draw per trial
    arms = _arms(birthday, birthday_v2, coffee)
    shared = Settings(customers=300, months=2, trials=3, seed=5, workers=workers, block_size=block, chunk_size=chunk)
    together = run_programs(arms, pop, shared)
    # each arm on its own, in this process, with another block grouping (one block per task)
    alone = Settings(customers=300, months=2, trials=3, seed=5, workers=1, block_size=block, chunk_size=block)
    for arm, run in zip(arms, together):
        _same_run(run, run_programs([arm], pop, alone)[0])
    # the engine-neutral arms changed what they should, by the definition of the change:
    base, margin, fixed, member = together[0], together[1], together[3], together[4]
    # gross profit = margin × revenue (the baseline's too), so it moves by (0.55 − m) × revenue
    m = pop.base.economics.gross_margin
    np.testing.assert_allclose(margin.trial_totals["program.gross_profit"] - base.trial_totals["program.gross_profit"],
                               (0.55 - m) * base.trial_totals["program.revenue"], rtol=1e-9)
    # the fixed cost per month is charged once a month of the trial: 2 months × (123.45 − the file's) USD
    per_month = pop.base.economics.fixed_cost_per_month_cents / 100
    np.testing.assert_allclose(fixed.trial_totals["program.program_cost"] - base.trial_totals["program.program_cost"],
                               2 * (123.45 - per_month), rtol=1e-9)
    # the fixed cost per member-month: each month's members × (0.07 − the file's) USD
    per_member = pop.base.economics.fixed_cost_per_member_month_cents / 100
    members = base.trial_monthly["program.members"]
    assert members.sum() > 0
    np.testing.assert_allclose(member.trial_monthly["program.cost_fixed"] - base.trial_monthly["program.cost_fixed"],
                               members * (0.07 - per_member), rtol=1e-9)


def test_only_arms_the_engine_sees_identically_share_a_simulation(birthday, birthday_v2):
    coffee = load_program_spec(str(ROOT / "rules" / "coffee.loyalty"))
    pop = load_population_spec(str(FIXTURES / "lively.yaml"))
    arms = _arms(birthday, birthday_v2, coffee)
    pops = [pop.for_trial(5, t) for t in range(2)]
    arm_pops = [[a.population(p) if a.population else p for p in pops] for a in arms]
    # margin, fixed month and member cost run as the base (arm 0), the acquisition cost as coffee (arm 6);
    # every other arm runs itself
    assert engine_twins(arms, arm_pops) == [0, 0, 2, 0, 0, 5, 6, 6]


def test_the_merged_results_do_not_depend_on_the_engine_neutral_economics_a_chunk_ran_with():
    """What lets arms share a simulation: the chunks' results, merged on a trial's population, are the
    same whatever economics the chunks ran with; and the costs they set are the definitions' products."""
    coffee = load_program_spec(str(ROOT / "rules" / "coffee.loyalty"))
    pop = load_population_spec(str(ROOT / "rules" / "populations" / "coffee.yaml")).for_trial(3, 0)
    settings = Settings(customers=600, months=3, trials=1, seed=3, workers=1, block_size=200)
    changed = replace(pop, economics=replace(pop.economics, **{k: (0.9 if isinstance(v, float) else 99_999)
                                                                for k, v in ENGINE_NEUTRAL_ECONOMICS.items()}))
    assert changed.economics != pop.economics
    parts = {name: [mc.run_task((coffee.program, p, settings, 0, [(b, 200)], 0)) for b in range(3)]
             for name, p in (("file", pop), ("changed", changed))}
    a, b = mc.merge_chunks(parts["file"], pop), mc.merge_chunks(parts["changed"], pop)
    assert a.totals == b.totals
    assert a.monthly.keys() == b.monthly.keys()
    for k in a.monthly:
        np.testing.assert_array_equal(a.monthly[k], b.monthly[k], err_msg=k)
    np.testing.assert_array_equal(a.tier_counts, b.tier_counts)
    # by definition: members × 1 cent (0.01 USD per member-month) + 500 USD once a month; 200 cents per
    # referred newcomer (rules/populations/coffee.yaml)
    econ = pop.economics
    assert (econ.fixed_cost_per_member_month_cents, econ.fixed_cost_per_month_cents, econ.acquisition_cost_cents) \
        == (1, 50_000, 200)
    members, newcomers = a.monthly["program.members"], a.monthly["program.new_customers"]
    assert members.sum() > 0 and newcomers.sum() > 0
    np.testing.assert_array_equal(a.monthly["program.fixed_cost_cents"], members * 1 + 50_000)
    np.testing.assert_array_equal(a.monthly["program.acquisition_cents"], newcomers * 200)
    # and the chunks that ran with the file's economics made the same sums themselves
    for k in ("program.fixed_cost_cents", "program.acquisition_cents"):
        per_chunk = sum(p.monthly[k] for p in parts["file"])
        if k == "program.fixed_cost_cents":
            per_chunk = per_chunk + 50_000
        np.testing.assert_array_equal(a.monthly[k], per_chunk, err_msg=k)


def test_t975_is_students_t_quantile():
    from scipy.stats import t

    # the definition: P(T <= q) = 0.975; 12.706 for 1 degree of freedom, 2.262 for 9, 1.960 in the limit
    assert t975(1) == pytest.approx(12.7062047, abs=1e-6)
    assert t975(9) == pytest.approx(2.2621572, abs=1e-6)
    assert t975(100_000) == pytest.approx(1.959985, abs=1e-5)
    for df in (1, 2, 3, 4, 9, 19, 29, 99, 999, 99_999):  # and exactly what scipy.stats gives
        assert t975(df) == float(t.ppf(0.975, df))
    assert t975(0) == 0.0
