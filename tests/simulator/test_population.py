from __future__ import annotations

from simulator.model.population import DEFAULT_POPULATION, Response, default_population, load_population

from sim_helpers import ROOT

MINIMAL = """
segments:
  - name: all
    share: 1
    purchase: {r: 1, alpha: 2}
    dropout: {a: 1, b: 3}
"""


def test_default_population_loads_and_is_documented():
    pop = default_population()
    assert [s.name for s in pop.segments] == ["occasional", "regular", "heavy"]
    assert abs(sum(s.share for s in pop.segments) - 1) < 1e-12
    assert pop.response == Response()  # the file states the documented defaults
    assert len(pop.source_hash) == 64
    assert "goal_gradient" in DEFAULT_POPULATION.read_text()


def test_coffee_population_loads():
    pop, diags = load_population((ROOT / "rules/populations/coffee.yaml").read_text(), "coffee.yaml")
    assert pop is not None, [d.message for d in diags]
    cats = {c for s in pop.segments for c in s.categories.values}
    assert "coffee" in cats


def test_rates_are_converted_from_weeks_to_days():
    pop, _ = load_population(MINIMAL, "p.yaml")
    seg = pop.segments[0]
    # alpha 2 per week -> rate parameter 14 per day (mean rate r/alpha = 0.5 a week = 1/14 a day)
    assert seg.alpha_days == 14.0
    assert (seg.a, seg.b) == (1.0, 3.0)


def test_response_off_switches_every_effect_off():
    pop, _ = load_population(MINIMAL + "response: off\n", "p.yaml")
    r = pop.response
    assert not r.changes_behaviour
    assert r.referral_conversion == 0 and r.perk_use_rate == 0 and r.goal_gradient == 0


def _errors(text: str):
    pop, diags = load_population(text, "pop.yaml")
    assert pop is None
    return [d for d in diags if d.is_error]


def test_unknown_key_is_located_with_a_hint():
    errs = _errors(MINIMAL.replace("dropout:", "dropuot:"))
    d = next(e for e in errs if e.code == "RL602")
    assert d.span.file == "pop.yaml" and d.span.line == 6 and d.span.column == 5
    assert "dropout" in (d.hint or "")


def test_shares_must_add_up_to_one():
    errs = _errors(MINIMAL.replace("share: 1", "share: 0.8"))
    assert any(e.code == "RL605" and "0.8" in e.message for e in errs)


def test_yaml_1_1_no_is_not_a_boolean():
    errs = _errors(MINIMAL + "response:\n  satisfaction: {enabled: NO}\n")
    d = next(e for e in errs if "true or false" in e.message)
    assert d.span.line == 8  # the line of `satisfaction: {enabled: NO}`
    assert "yes/no" in (d.hint or "")


def test_wrong_types_and_ranges_are_reported_together():
    errs = _errors(MINIMAL.replace("r: 1", "r: lots").replace("b: 3", "b: -3"))
    assert len(errs) >= 2
    assert {e.span.line for e in errs} == {5, 6}


def test_yaml_syntax_error_is_a_diagnostic():
    errs = _errors("segments: [\n  - a: 1\n")
    assert errs[0].code == "RL601" and errs[0].span.line >= 1


def test_gamma_gamma_needs_q_above_one():
    errs = _errors(MINIMAL + "    spend: {p: 6, q: 1, gamma: 10}\n")
    assert any("spend.q" in e.message for e in errs)


def test_a_control_character_is_located_where_it_is():
    errs = _errors("segments:\n  - name: a\x07ll\n")
    assert errs[0].code == "RL601" and (errs[0].span.line, errs[0].span.column) == (2, 12)
    assert "control character" in errs[0].hint


def test_too_deep_nesting_is_a_diagnostic_not_a_crash():
    errs = _errors("segments: " + "[" * 5000 + "]" * 5000 + "\n")
    assert errs[0].code == "RL601" and "too deep" in errs[0].message


def test_a_purchase_model_without_its_rate_is_an_error_not_a_default():
    errs = _errors("segments:\n  - name: b\n    share: 1\n    purchase: {r: 1}\n")
    assert [(e.code, e.span.line, e.span.column) for e in errs] == [("RL604", 4, 15)]
    assert "`alpha`" in errs[0].message and "r / alpha" in errs[0].hint
