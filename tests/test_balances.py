"""Balances beside the points (`balance "qualifying_dollars" not redeemable`, docs/semantics.md §2.1):
both forms read them alike, the checker refuses their misuse at its place in both forms, the
interpreter's ledgers (worked out by hand in the comments) and the simulator's reports."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from rulelang import Customer, Event, run
from rulelang.check.checker import check
from rulelang.check.compiler import _canonical, compile_source, program_hash
from rulelang.syntax.formatter import format_source
from rulelang.syntax.parser import parse_text
from rulelang.syntax.yaml_loader import load_yaml
from rulelang.syntax.yaml_writer import to_yaml
from rulelang.tools.testing import run_tests

ROOT = Path(__file__).resolve().parent.parent

SKY = '''program "Sky" {
  points "miles"
  currency USD
  balance "qualifying_dollars" not redeemable

  earn fare_miles on purchase {
    award 5 miles per 1 USD
  }

  earn fare_qualifying on purchase {
    award 1 qualifying_dollar per 1 USD excluding category "basic_fare"
    cap 500 qualifying_dollars per customer per month
  }

  tiers by qualifying_dollars over calendar year {
    tier Member from 0
    tier Silver from 1000 {
      multiply 2x
    }
  }

  expire qualifying_dollars yearly on 01-01
  returns reverse earned miles
  returns lower tier metric and counters
  negative balance forbidden
  reward seat {
    price 100 miles
  }
}
'''


def _program(text: str = SKY):
    sf, diags = parse_text(text, "sky.loyalty")
    assert sf is not None, diags
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags]
    return program


def _at(day: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12, 0))


# ---------------------------------------------------------------- both forms


def test_text_and_yaml_read_the_same_balances_and_convert_both_ways() -> None:
    sf, _ = parse_text(SKY, "sky.loyalty")
    yaml_text = to_yaml(sf)
    assert "balances:\n    qualifying_dollars: {redeemable: false}" in yaml_text
    assert "{yearly_on: 01-01, unit: qualifying_dollars}" in yaml_text
    back, diags = load_yaml(yaml_text, "sky.yaml")
    assert back is not None and not [d for d in diags if d.is_error]
    assert back.program == sf.program
    assert compile_source(back)[0] == compile_source(sf)[0]
    assert format_source(back) == format_source(sf)
    program = _program()
    assert program.balance_names() == ("qualifying_dollars",)
    assert [r.balance for r in program.rules] == [None, "qualifying_dollars"]
    assert program.balances[0].expiry[0].kind == "yearly" and program.expiry == ()
    assert program.tiers is not None and program.tiers.metric == "qualifying_dollars"


def test_a_program_without_balances_hashes_as_before() -> None:
    # the new IR fields are left out of the hash while they hold their defaults
    single = _program(SKY.replace('  balance "qualifying_dollars" not redeemable\n', "").replace(
        "qualifying_dollar", "mile").replace("  expire miles yearly on 01-01\n", ""))
    assert ",balances=" not in _canonical(single) and ",balance=" not in _canonical(single)
    assert ",balances=" in _canonical(_program()) and ",balance=S" in _canonical(_program())
    assert program_hash(_program()) != program_hash(single)


# ---------------------------------------------------------------- located errors, both forms

BAD = [
    ("RL230", 'balance "qualifying_dollars" not redeemable', 'balance "qualifying_dollars"',
     "{redeemable: false}", "{}", "not redeemable"),
    ("RL231", 'balance "qualifying_dollars" not redeemable', 'balance "MQD" not redeemable',
     "qualifying_dollars: {redeemable: false}", "MQD: {redeemable: false}", "qualifying_dollars"),
]


def _diag(diags, code):
    found = [d for d in diags if d.code == code]
    assert found, [f"{d.code} {d.message}" for d in diags]
    return found[0]


@pytest.mark.parametrize("code, old, new, yaml_old, yaml_new, hint", BAD)
def test_a_bad_balance_declaration_is_located_in_both_forms(code, old, new, yaml_old, yaml_new, hint) -> None:
    text = SKY.replace(old, new)
    if code == "RL231":
        text = text.replace("qualifying_dollar", "MQD_word")  # the rest of the program stays valid
        text = text.replace('balance "MQD_words" not redeemable', new)
    sf, diags = parse_text(text, "bad.loyalty")
    d = _diag(list(diags) + check(sf), code)
    assert (d.span.line, d.span.column) == (4, 3) and hint in (d.hint or "")
    sf_yaml, _ = parse_text(SKY, "sky.loyalty")
    yaml_text = to_yaml(sf_yaml).replace(yaml_old, yaml_new)
    ysf, ydiags = load_yaml(yaml_text, "bad.yaml")
    assert ysf is not None
    yd = _diag(list(ydiags) + check(ysf), code)
    line = next(i for i, t in enumerate(yaml_text.splitlines(), 1) if "balances:" in t) + 1
    assert yd.span.line == line and yd.hint


MISUSE = [
    # (code, text to replace, replacement, text on the line the error is on, words of its hint)
    ("RL232", "    award 5 miles per 1 USD\n", "    award 5 miles per 1 USD\n    award 1 qualifying_dollar\n",
     "award 5 miles per 1 USD\n", "split it"),  # located at the award that goes elsewhere
    ("RL233", "    cap 500 qualifying_dollars", "    multiply 2x\n    cap 500 qualifying_dollars", "multiply 2x",
     "write a rate"),
    ("RL234", "expire qualifying_dollars yearly on 01-01", "expire qualifying_dollars 12 months after earning",
     "expire qualifying_dollars 12", "yearly on 01-01"),
    ("RL235", "price 100 miles", "price 100 qualifying_dollars", "reward seat", "price 100 miles"),
    ("RL236", "expire qualifying_dollars yearly", "expire qualifying_dolars yearly", "expire qualifying_dolars",
     "qualifying_dollars"),
    ("RL201", "tiers by qualifying_dollars", "tiers by qualifying_dolars", "tiers by", "qualifying_dollars"),
    ("RL201", "award 1 qualifying_dollar per", "award 1 qualifying_dolar per", "award 1 qualifying_dolar",
     "qualifying_dollar"),
]


def _line_of(text: str, marker: str) -> int:
    return text.count("\n", 0, text.index(marker)) + 1


@pytest.mark.parametrize("code, old, new, marker, hint", MISUSE, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISUSE)])
def test_misuse_of_a_balance_is_located_with_a_hint_in_both_forms(code, old, new, marker, hint) -> None:
    assert old in SKY
    text = SKY.replace(old, new)
    sf, diags = parse_text(text, "bad.loyalty")
    assert sf is not None
    d = _diag(list(diags) + check(sf), code)
    assert d.span.line == _line_of(text, marker) and hint in (d.hint or ""), (d.span, d.hint)
    # the same program in YAML: the same code, on the line of the YAML node
    yaml_text = to_yaml(sf)
    ysf, ydiags = load_yaml(yaml_text, "bad.yaml")
    assert ysf is not None
    yd = _diag(list(ydiags) + check(ysf), code)
    assert yd.span.line > 1 and hint in (yd.hint or "")


@pytest.mark.parametrize("expectation, code, hint", [
    ("expect earned 300 qualifying_dollarz", "RL430", "qualifying_dollars"),
    ("expect redeemed 0 qualifying_dollars", "RL237", "expect balance"),
    ("given balance 10 qualifying_dollarz", "RL430", "qualifying_dollars"),
])
def test_an_expectation_in_a_unit_the_program_does_not_count_is_an_error(expectation, code, hint) -> None:
    text = SKY + f'\ntest "t" {{\n  when purchase 1 USD on 2027-01-05\n  {expectation}\n}}\n'
    sf, _ = parse_text(text, "t.loyalty")
    d = _diag(check(sf), code)
    assert d.span.line == text.count("\n", 0, text.index(expectation)) + 1 and hint in (d.hint or "")
    ysf, _ = load_yaml(to_yaml(sf), "t.yaml")
    assert _diag(check(ysf), code).hint


def test_a_balance_expected_on_one_event_and_at_a_date() -> None:
    # 120 USD on 2027-01-05: 120 qualifying dollars by that purchase; 120 + 80 = 200 at the end of 2027-01-06
    text = SKY + """
test "t" {
  when purchase 120 USD on 2027-01-05
  when purchase 80 USD on 2027-01-06
  expect purchase on 2027-01-05 earned 120 qualifying_dollars
  expect purchase on 2027-01-06 earned 80 qualifying_dollar
  expect balance 120 qualifying_dollars on 2027-01-05
  expect balance 200 qualifying_dollars on 2027-01-06
  expect earned 1000 miles
}
"""
    sf, _ = parse_text(text, "t.loyalty")
    assert not [d for d in check(sf) if d.is_error]
    program, _ = compile_source(sf)
    (outcome,) = run_tests(sf, program)
    assert outcome.passed, [f.message for f in outcome.failures]
    ysf, _ = load_yaml(to_yaml(sf), "t.yaml")
    (youtcome,) = run_tests(ysf, compile_source(ysf)[0])
    assert youtcome.passed


# ---------------------------------------------------------------- the interpreter's ledgers


SKY_EVENTS = [
    # 300 USD: 1500 miles, 300 qualifying dollars (cap 500 a month: 200 left)
    Event("purchase", _at("2027-03-01"), 30000, None, {"category": "flight"}, id="A"),
    # basic fare: 5 x 100 = 500 miles, no qualifying dollars (excluded)
    Event("purchase", _at("2027-03-02"), 10000, None, {"category": "basic_fare"}, id="B"),
    # 400 USD in March: 2000 miles; 400 qualifying dollars cut to the 200 the cap leaves
    Event("purchase", _at("2027-03-03"), 40000, None, {"category": "flight"}, id="C"),
    # half of A returned: floor(300 x 150 / 300) = 150 qualifying dollars, floor(1500 x 150 / 300) = 750 miles
    Event("return", _at("2027-03-10"), 15000, "A"),
    # April: 700 USD, 700 -> capped at 500; the year's qualifying dollars 300 + 200 - 150 + 500 = 850 < 1000
    Event("purchase", _at("2027-04-01"), 70000, None, {"category": "flight"}, id="D"),
]


def test_a_balance_is_earned_capped_reversed_and_expires_on_its_date() -> None:
    program = _program()
    events = SKY_EVENTS
    res = run(program, events, Customer(balances={"qualifying_dollars": 40}), until=dt.date(2028, 1, 1))
    q = res.balances["qualifying_dollars"]
    # issued 40 (opening) + 300 + 200 + 500 = 1040; reversed 150; on 2028-01-01 the 890 left expire
    assert (q.issued, q.earned, q.reversed, q.expired, q.outstanding) == (1040, 1000, 150, 890, 0)
    assert q.issued == q.expired + q.reversed + q.outstanding
    # miles: 1500 + 500 + 2000 + 3500 = 7500 issued, 750 reversed; never multiplied (still Member)
    assert (res.issued, res.reversed, res.outstanding) == (7500, 750, 6750)
    assert res.tier == "Member"
    fired = [r for step in res.trace for r in step.rules if r.rule == "fare_qualifying" and r.fired]
    assert [r.points for r in fired] == [300, 0, 200, 500] and fired[0].balance == "qualifying_dollars"
    assert "qualifying_dollars: issued 1040 = expired 890 + reversed 150 + outstanding 0" in res.render_text()


def test_a_tier_by_a_balance_multiplies_the_points_only_and_loses_what_a_return_takes_back() -> None:
    program = _program()
    events = [
        # 1000 qualifying dollars over March and April (cap 500 a month): Silver after the second
        Event("purchase", _at("2027-03-01"), 50000, None, {"category": "flight"}, id="A"),
        Event("purchase", _at("2027-04-01"), 50000, None, {"category": "flight"}, id="B"),
        # as Silver: 100 USD -> R = 500 miles, bonus 500 x (2 - 1) = 500: 1000 miles; its 100 qualifying
        # dollars are cut to 0: B took April's cap of 500
        Event("purchase", _at("2027-04-02"), 10000, None, {"category": "flight"}, id="C"),
        # B returned: 500 qualifying dollars reversed; the year's metric 1000 - 500 = 500
        Event("return", _at("2027-04-05"), None, "B"),
    ]
    res = run(program, events, until=dt.date(2027, 4, 6))
    q = res.balances["qualifying_dollars"]
    assert (q.issued, q.reversed, q.outstanding) == (500 + 500 + 0, 500, 500)
    assert res.issued == 2500 + 2500 + 1000 and res.reversed == 2500
    assert res.tier == "Silver"  # no review: the status reached stays until one
    assert [(t.from_tier, t.to_tier) for t in res.tier_history] == [("Member", "Silver")]


def test_the_example_tests_and_the_yaml_docs_example_pass() -> None:
    from rulelang.syntax.loader import load_file

    sf, _, _ = load_file(str(ROOT / "rules" / "airline_status.loyalty"))
    program, _ = compile_source(sf)
    outcomes = run_tests(sf, program)
    assert len(outcomes) == 11 and all(o.passed for o in outcomes)
    text = (ROOT / "docs" / "yaml.md").read_text(encoding="utf-8")
    block = re.search(r"### Balances beside the points\n.*?```yaml\n(.*?)```", text, re.S)
    assert block is not None
    ysf, diags = load_yaml(block.group(1), "docs/yaml.md")
    assert ysf is not None and not [d for d in list(diags) + check(ysf) if d.is_error]
    yprogram, _ = compile_source(ysf)
    youtcomes = run_tests(ysf, yprogram)
    assert youtcomes and all(o.passed for o in youtcomes)


def test_a_wrong_balance_expectation_fails_with_what_the_balance_holds() -> None:
    text = SKY + '\ntest "t" {\n  when purchase 100 USD on 2027-01-05\n  expect balance 101 qualifying_dollars\n}\n'
    sf, _ = parse_text(text, "t.loyalty")
    program, _ = compile_source(sf)
    (outcome,) = run_tests(sf, program)
    assert not outcome.passed
    assert outcome.failures[0].message == ("expected balance 101 qualifying_dollars, got 100 "
                                           "(issued 100, expired 0, reversed 0, outstanding 100)")


def test_counters_sum_money_and_tiers_go_by_them_in_cents() -> None:
    path = ROOT / "tests" / "simulator" / "fixtures" / "money_counter.loyalty"
    sf, _ = parse_text(path.read_text(encoding="utf-8"), str(path))
    program, _ = compile_source(sf)
    assert program.tiers is not None and [t.threshold for t in program.tiers.tiers] == [0, 10000]
    assert all(o.passed for o in run_tests(sf, program))
    bad = path.read_text(encoding="utf-8").replace("tier Connoisseur from 100 USD", "tier Connoisseur from 100")
    bsf, _ = parse_text(bad, "bad.loyalty")
    d = _diag(check(bsf), "RL202")
    assert "as money" in d.message and "100 USD" in (d.hint or "")


# ---------------------------------------------------------------- the simulator's report


def test_the_simulators_totals_hold_each_balance_and_its_identity() -> None:
    from simulator.model.population import load_population_file
    from simulator.trials.montecarlo import simulate

    program = _program(SKY.replace('excluding category "basic_fare"', ""))
    pop = load_population_file(ROOT / "tests" / "simulator" / "fixtures" / "busy.yaml")
    res = simulate(program, pop, customers=300, months=14, trials=2, seed=3, workers=1)
    per = res.per_trial
    issued = per["program.balance.qualifying_dollars.issued"]
    assert all(i and i > 0 for i in issued)
    for t in range(2):
        flows = sum(per[f"program.balance.qualifying_dollars.{k}"][t] for k in ("expired", "reversed", "outstanding"))
        assert issued[t] == flows
    assert all(e and e > 0 for e in per["program.balance.qualifying_dollars.expired"])  # 2028-01-01 is simulated
    assert "program.balance.qualifying_dollars.liability" not in res.totals and res.ledger_identity_ok
    assert "qualifying_dollars issued" in __import__("simulator.simulate_command", fromlist=["x"]).summary_text(res)


def test_explain_shows_every_balance(tmp_path, capsys) -> None:
    from rulelang.tools.cli import main

    program = tmp_path / "sky.loyalty"
    program.write_text(SKY, encoding="utf-8")
    events = tmp_path / "events.yaml"
    events.write_text("customer: {balances: {qualifying_dollars: 25}}\nevents:\n"
                      "  - {type: purchase, date: 2027-03-01, amount: 120, category: flight, id: A1}\n"
                      "  - {type: return, date: 2027-03-05, order: A1, amount: 30}\n", encoding="utf-8")
    assert main(["explain", str(program), "--events", str(events)]) == 0
    text = capsys.readouterr().out
    # 120 USD: 600 miles, 120 qualifying dollars; 30 of 120 returned: floor(120 x 30 / 120) = 30 back
    assert "fare_qualifying  120 qualifying_dollars" in text
    assert "reversed 30 qualifying_dollars of the 120 qualifying_dollars order A1 earned" in text
    assert "qualifying_dollars: issued 145 = expired 0 + reversed 30 + outstanding 115" in text
    assert main(["explain", str(program), "--events", str(events), "--format", "json"]) == 0
    import json

    data = json.loads(capsys.readouterr().out)
    assert data["balances"]["qualifying_dollars"] == {"issued": 145, "earned": 120, "expired": 0, "reversed": 30,
                                                      "outstanding": 115}


def test_without_lower_tier_metric_a_return_reverses_the_balance_but_keeps_the_tier_metric() -> None:
    # the same events as above, in a program without `returns lower tier metric and counters`:
    # qualifying dollars 300 (A) + 0 (B) + 200 (C) + 500 (D) = 1000 reach Silver (1000); the
    # return of half of A still reverses floor(300 x 150 / 300) = 150 of the balance itself
    program = _program(SKY.replace("  returns lower tier metric and counters\n", ""))
    events = SKY_EVENTS  # without the lowering, the year keeps 300 + 200 + 500 = 1000
    res = run(program, events, Customer(), until=dt.date(2027, 12, 31))
    assert res.balances["qualifying_dollars"].reversed == 150
    assert res.balances["qualifying_dollars"].outstanding == 1000 - 150
    assert res.tier == "Silver"
