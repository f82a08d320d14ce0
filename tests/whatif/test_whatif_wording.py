"""Every what-if output names its uncertainty with the two words of `simulator.trials.stats`, and no other.

The range of outcomes and the Monte Carlo precision must both be named wherever a simulated
figure carries an interval; the only "interval" left is the definition of the precision
("the 95% confidence interval of the mean"), so a bare "95% interval" or "CI" is a failure.
"""

from __future__ import annotations

import re

from simulator.whatif import report as whatif_report
from simulator.whatif.compare import text_table as compare_text
from simulator.whatif.plan_command import make_plan, markdown as plan_markdown
from simulator.whatif.sensitivity import run_sensitivity, text_table as sensitivity_text
from simulator.whatif.sweep import run_sweep, text_table as sweep_text
from simulator.whatif.runner import Settings, load_population_spec
from whatif_helpers import FIXTURES

SETTINGS = Settings(customers=100, months=1, trials=3, seed=3, workers=1)
DEFINITION = "the 95% confidence interval of the mean"


def _check(text: str, where: str) -> None:
    assert "range of outcomes" in text, where
    assert "Monte Carlo precision" in text, where
    rest = text.replace(DEFINITION, "")
    assert not re.search(r"interval|\bCI\b|95 ?%", rest), (where, re.findall(r".{40}(?:interval|\bCI\b|95 ?%).{20}", rest))


def test_every_output_names_both_words(birthday, birthday_v2, gift):
    lively = load_population_spec(str(FIXTURES / "lively.yaml"))
    plan = make_plan(birthday, birthday_v2, lively, SETTINGS)
    cmp = plan.comparison  # compare_programs on the two programs
    sweep = run_sweep(gift, ["birthday_gift.award=50,60"], lively, SETTINGS)
    sens = run_sensitivity(birthday, lively, SETTINGS, only=["response.goal_gradient"])
    outputs = {"compare text": compare_text(cmp), "compare markdown": whatif_report.markdown(cmp),
               "sweep text": sweep_text(sweep), "sweep markdown": whatif_report.markdown(sweep),
               "sensitivity text": sensitivity_text(sens), "sensitivity markdown": whatif_report.markdown(sens),
               "plan markdown": plan_markdown(plan), "plan summary line": plan.summary_line()}
    for where, text in outputs.items():
        if where == "plan summary line":
            assert "range of outcomes" in text and "Monte Carlo precision" in text
            continue
        _check(text, where)
    # old and new of the plan, and the tier mix, carry their range of outcomes too
    md = outputs["plan markdown"]
    assert "| metric | old [range of outcomes] | new [range of outcomes] |" in md
    assert "| tier mix at end (share of members) | old [range of outcomes] | new [range of outcomes] |" in md
    assert "tier mix at end (A, share of members, mean [range of outcomes])" in outputs["compare text"]
    # each JSON document says what its `range` and `mc_precision` mean
    for doc in (cmp.to_json(), sweep.to_json(), sens.to_json(), plan.to_json()):
        assert doc["uncertainty"]["range"].startswith("range of outcomes: 5th to 95th percentile over the 3 trials, "
                                                      "each drawing the uncertain assumptions")
        assert doc["uncertainty"]["mc_precision"].startswith("Monte Carlo precision (±): " + DEFINITION)


def test_the_plan_marks_each_change_in_code_so_markdown_does_not_nest_lists(birthday, birthday_v2):
    plan = make_plan(birthday, birthday_v2, load_population_spec(str(FIXTURES / "lively.yaml")), SETTINGS)
    changes = [line for line in plan_markdown(plan).splitlines() if line.startswith("- ")]
    assert changes, "the two fixtures differ"
    # `- - x` would render as a list inside a list item: every mark is `+`, `-` or `~` in code
    assert all(re.match(r"- `[+~-]` \S", line) for line in changes), changes
