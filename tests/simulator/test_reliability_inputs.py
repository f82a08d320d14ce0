"""Regression tests for bad run options and population files (issue 8: F8, F12, F13): each is a
usage error (exit 2) or a located diagnostic (exit 1), never an internal error (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulelang.tools.cli import main
from rulelang.limits import MAX_DAYS, MAX_EVENTS_PER_DAY, MAX_MONEY_CENTS, MAX_MONTHS, MAX_NUMBER_DIGITS
from simulator.model.population import load_population

FIXTURES = Path(__file__).parent / "fixtures" / "reliability"
RUN = ["--customers", "100", "--trials", "1", "--workers", "1"]


def simulate(capsys, *args: str) -> tuple[int, str]:
    code = main(["simulate", "rules/coffee.loyalty", *args, *RUN])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("flag, value, says", [
    ("--start", "9999-06-01", "between 1900-01-01 and 2199-12-31"),
    ("--start", "0001-01-01", "between 1900-01-01 and 2199-12-31"),
    ("--months", "96000", f"at most {MAX_MONTHS:,} months"),
    ("--trials", "100000000", "at most 100,000 trials"),
    ("--customers", "10000000000", "at most 1,000,000,000 customers"),
])
def test_run_options_beyond_the_limits_are_usage_errors(capsys, flag, value, says):
    code, err = simulate(capsys, flag, value)
    assert code == 2 and says in err and "internal error" not in err


@pytest.mark.parametrize("command", [["compare", "rules/coffee.loyalty", "rules/coffee.loyalty"],
                                     ["sweep", "rules/coffee.loyalty", "--vary", "base.rate=1:2:1"],
                                     ["sensitivity", "rules/coffee.loyalty"],
                                     ["plan", "rules/coffee.loyalty", "rules/coffee.loyalty"]])
def test_the_what_if_commands_bound_their_run_options_too(capsys, command):
    assert main([*command, "--months", "96000"]) == 2
    assert main([*command, "--start", "9999-06-01"]) == 2
    err = capsys.readouterr().err
    assert f"at most {MAX_MONTHS:,} months" in err and "2199-12-31" in err


def test_a_population_starting_near_the_calendars_end_is_located(capsys):
    code, err = simulate(capsys, "--population", str(FIXTURES / "F08_population_start_9999.yaml"))
    assert code == 1
    assert "F08_population_start_9999.yaml:8:8: error[RL603]: start must be between 1900-01-01 and 2199-12-31" in err


def test_a_self_containing_alias_is_located_at_the_alias(capsys):
    code, err = simulate(capsys, "--population", str(FIXTURES / "F12_population_recursive_alias.yaml"))
    assert code == 1
    assert "F12_population_recursive_alias.yaml:2:5: error[RL601]" in err and "*s" in err


def test_aliases_that_repeat_an_earlier_node_still_work():
    text = ("segments:\n  - &a {name: a, share: 0.5, purchase: {r: 1, alpha: 1}}\n"
            "  - {name: b, share: 0.5, purchase: *p}\nx: &p {r: 2, alpha: 2}\n")
    _, diags = load_population(text.replace("x: &p {r: 2, alpha: 2}\n", ""), "p.yaml")
    assert any("undefined alias" in d.message for d in diags)  # an alias before its anchor: pyyaml's error
    ok = ("shared: &p {r: 2, alpha: 2}\nsegments:\n  - {name: a, share: 0.5, purchase: *p}\n"
          "  - {name: b, share: 0.5, purchase: *p}\n")
    pop, diags = load_population(ok, "p.yaml")
    assert any(d.code == "RL602" and "shared" in d.message for d in diags)  # unknown top key, not a cycle error
    ok = ok.replace("shared: &p {r: 2, alpha: 2}\nsegments:\n  - {name: a, share: 0.5, purchase: *p}\n",
                    "segments:\n  - {name: a, share: 0.5, purchase: &p {r: 2, alpha: 2}}\n")
    pop, diags = load_population(ok, "p.yaml")
    assert pop is not None and [s.r for s in pop.segments] == [2.0, 2.0]


@pytest.mark.parametrize("fixture, line, says", [
    ("F13_population_refer_1e20.yaml", 36, f"segment `daily` refer must be <= {7 * MAX_EVENTS_PER_DAY}, got 1e+20"),
    ("F13_population_post_reward_days.yaml", 19, f"response.post_reward_days must be <= {MAX_DAYS:,}"),
    ("F13_population_fixed_cost_2e64.yaml", 13,
     f"economics.fixed_cost_per_month must be <= {MAX_MONEY_CENTS // 100:,}, got 1.84467e+19"),
    ("F13_population_int_beyond_float.yaml", 22,
     f"response.downgrade_dropout_increase has 311 digits; a number here has at most {MAX_NUMBER_DIGITS}"),
])
def test_population_numbers_beyond_their_bounds_are_located(capsys, fixture, line, says):
    code, err = simulate(capsys, "--population", str(FIXTURES / fixture))
    assert code == 1 and f"{fixture}:{line}:" in err and says in err and "internal error" not in err


MINIMAL = "segments:\n  - name: a\n    share: 1\n    purchase: {r: 1, alpha: 1}\n"


@pytest.mark.parametrize("extra, says", [
    ("    items: 1.0e+999\n", "items must be a finite number, got `1.0e+999`"),
    ("    items: .nan\n", "items must be a number, got `.nan`"),
    ("    dropout: {a: 1, b: 1.0e+12}\n", "dropout.b must be <= 1,000,000,000"),
    ("    spend: {p: 1000, q: 1.001, gamma: 1000000}\n", "the mean spend p·gamma/(q − 1) is 1e+12"),
    ("    events: {visit: 71}\n", "events.visit must be <= 70"),
    ("    returns: {rate: 0.1, delay_days: {min: 1, max: 99999999999}}\n", "delay_days.max must be <= 36,600"),
    ("    enrollment: {share: 1, ramp_months: 5000}\n", "ramp_months must be <= 1,200"),
])
def test_every_population_number_has_an_upper_bound(extra, says):
    pop, diags = load_population(MINIMAL + extra, "p.yaml")
    assert pop is None and any(says in d.message for d in diags), [d.message for d in diags]


def test_a_rate_bound_follows_the_files_time_unit():
    pop, diags = load_population("time_unit: day\n" + MINIMAL + "    refer: 11\n", "p.yaml")
    assert pop is None and any("refer must be <= 10," in d.message for d in diags)
    pop, _ = load_population("time_unit: day\n" + MINIMAL + "    refer: 10\n", "p.yaml")
    assert pop is not None and pop.segments[0].refer_per_day == 10


def test_referral_pool_is_bounded():
    pop, diags = load_population("referral_pool: 11\n" + MINIMAL, "p.yaml")
    assert pop is None and any("referral_pool must be <= 10" in d.message for d in diags)
