"""compare: variants on common random numbers; paired differences; reports."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from whatif_helpers import FIXTURES, SMALL
from simulator.whatif.compare import compare_programs, text_table
from simulator.trials.montecarlo import simulate
from simulator.whatif.runner import Arm, WhatIfError, load_population_spec, load_program_spec, paired_summary, run_programs
from simulator.whatif import report as whatif_report


@pytest.fixture(scope="module")
def self_comparison(birthday, calm):
    return compare_programs([birthday, birthday], calm, SMALL)


def test_a_program_against_itself_differs_by_exactly_zero(self_comparison):
    cmp = self_comparison
    assert cmp.labels == [str(FIXTURES / "birthday.loyalty"), str(FIXTURES / "birthday.loyalty") + " (2)"]
    for key in cmp.metric_keys():
        d = cmp.difference(1, key)
        if d["mean"] is None:  # undefined in every trial (e.g. breakage with nothing settled)
            continue
        assert (d["mean"], d["low"], d["high"]) == (0.0, 0.0, 0.0), key
    cum = cmp.cumulative_difference(1)
    assert all(v == 0.0 for v in cum["mean"])


def test_runs_match_simulate_for_the_same_seed(birthday, calm):
    run = run_programs([Arm("x", birthday.program)], calm, SMALL)[0]
    ref = simulate(birthday.program, calm.base, customers=SMALL.customers, months=SMALL.months,
                   trials=SMALL.trials, seed=SMALL.seed, workers=1)
    assert run.result.totals == ref.totals
    assert run.result.per_trial == ref.per_trial
    # per-trial monthly series add up to the per-trial totals
    np.testing.assert_allclose(run.trial_monthly["program.revenue"].sum(axis=1), run.trial_totals["program.revenue"])


def test_paired_summary_by_hand():
    # differences 1, 2, 3: mean 2, sd 1, half-width t(2) × 1 / sqrt(3); t(0.975, 2 df) = 4.302653 (tables)
    s = paired_summary(np.array([10.0, 20.0, 30.0]), np.array([11.0, 22.0, 33.0]))
    half = 4.302653 / 3 ** 0.5
    assert s["mean"] == pytest.approx(2.0)
    assert s["low"] == pytest.approx(2.0 - half) and s["high"] == pytest.approx(2.0 + half)
    assert s["rel_mean"] == pytest.approx(2.0 / 20.0)


def test_two_different_programs(self_comparison, birthday, birthday_v2, calm):
    cmp = compare_programs([birthday, birthday_v2], calm, SMALL)
    # twice the points per dollar plus new awards: more points issued in every trial
    d = cmp.difference(1, "program.points_issued")
    assert d["low"] > 0
    # the population does not respond to the program: the customers' purchases are the same
    assert cmp.difference(1, "program.revenue")["mean"] == 0.0
    table = text_table(cmp)
    assert "(B) - (A) [range of outcomes] ±Monte Carlo precision" in table and "points issued" in table
    assert "range of outcomes: 5th to 95th percentile" in table and "Monte Carlo precision (±)" in table
    doc = cmp.to_json()
    assert doc["schema"] == "loyalty-comparison/1"
    assert "difference" in doc["variants"][1] and "difference" not in doc["variants"][0]
    assert set(doc["variants"][1]["tier_mix_end_difference"]) == {"Member", "Gold"}


def test_reports_are_self_contained(self_comparison, tmp_path):
    paths = whatif_report.write_reports(self_comparison, tmp_path, "compare")
    assert [p.name for p in paths] == ["compare.json", "compare.md", "compare.html"]
    page = paths[2].read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"https?://", page)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 2
    assert all(base64.b64decode(img).startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    md = paths[1].read_text(encoding="utf-8")
    assert "| incremental profit |" in md


def test_bad_program_is_a_located_error(tmp_path):
    bad = tmp_path / "bad.loyalty"
    bad.write_text('program "X" {\n  earn base on purchase {\n    award 1 point per 1 USD\n  \n', encoding="utf-8")
    with pytest.raises(WhatIfError) as exc:
        load_program_spec(str(bad))
    d = exc.value.diagnostics[0]
    assert d.span.file == str(bad) and d.span.line >= 1


def test_uncertain_population_is_drawn_per_trial():
    src = load_population_spec(str(FIXTURES / "lively.yaml"))
    assert src.describe() == ["response.goal_gradient ~ uniform(0.1, 0.3)",
                              "response.post_reward_lift ~ triangular(0, 0.05, 0.1)"]
    assert src.base.response.goal_gradient == pytest.approx(0.2)  # the mean stands in for the base
    draws = [src.for_trial(1, t).response for t in range(6)]
    assert all(0.1 <= r.goal_gradient <= 0.3 and 0.0 <= r.post_reward_lift <= 0.1 for r in draws)
    assert len({r.goal_gradient for r in draws}) == 6
    assert src.for_trial(1, 2) == src.for_trial(1, 2)  # reproducible from the seed


def test_bad_distribution_is_located(tmp_path):
    text = (FIXTURES / "lively.yaml").read_text(encoding="utf-8").replace("{uniform: [0.1, 0.3]}", "{uniform: [0.3]}")
    path = tmp_path / "pop.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WhatIfError) as exc:
        load_population_spec(str(path))
    d = exc.value.diagnostics[0]
    assert d.code == "RL606" and d.span.line == 10 and "[low, high]" in d.message


def test_an_interval_narrower_than_the_printed_precision_is_not_shown():
    from simulator.whatif.compare import fmt_interval

    # float noise around an exact +3,000 (a fixed cost moved by 250 × 12 in every trial)
    noise = {"mean": 3000.0, "low": 2999.9999999999122, "high": 3000.0000000000414,
             "range": [2999.99999999991, 3000.00000000004]}
    assert fmt_interval(noise, "money", True) == "+3,000"
    real = {"mean": 3000.0, "low": 2998.0, "high": 3002.0, "range": [2990.0, 3011.0]}
    assert fmt_interval(real, "money", True) == "+3,000 [+2,990..+3,011] ±2"
    assert fmt_interval(real, "money", True, precision=False) == "+3,000 [+2,990..+3,011]"
