"""The vectorized engine and the reference interpreter agree ledger for ledger.

A small busy population is simulated; the event streams of a sample of its customers
(purchases with amount, shipping, category, channel and items; returns of those purchases,
whole or in part; signups, referrals, birthdays, custom events with their fields,
redemptions, points payments, perk uses)
are replayed through `rulelang.run.interpreter.run`, and every total must match exactly.
"""

from __future__ import annotations

import datetime as dt

import pytest

from rulelang import ir
from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from kernel_coverage import NUMPY_ONLY
from sim_helpers import HERE, ROOT, program_with, population_text
from simulator.trials.montecarlo import simulate
from simulator.engine.interpreter_check import compare_records

PROGRAMS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "rules").glob("*")
                  if p.suffix in (".loyalty", ".yaml", ".yml") and not p.name.endswith((".test.loyalty", "_test.yaml")))
# tier systems the checker only warns about (RL301, RL302): a tier at the base tier's threshold
# (F16), a base tier above 0 (F17); both engines must agree on them too (a decreasing threshold,
# tests/fixtures/repro/tiers_out_of_order.loyalty, is an error: no engine runs it)
TIER_ODDITIES = [str((ROOT / "tests" / "fixtures" / "repro" / name).relative_to(ROOT)) for name in
                 ("F16_tier_same_threshold_as_base.loyalty", "F17_base_tier_above_zero.loyalty")]
PROGRAMS += TIER_ODDITIES
FUEL = str((HERE / "fixtures" / "fuel.loyalty").relative_to(ROOT))  # awards per `quantity`
PROGRAMS.append(FUEL)
VOUCHERS = str((HERE / "fixtures" / "vouchers.loyalty").relative_to(ROOT))  # vouchers with a 45-day life
PROGRAMS.append(VOUCHERS)
# returns that lower the tier metric, counters and the purchase count (whole and partial returns)
RETURNS = [str((HERE / "fixtures" / name).relative_to(ROOT)) for name in
           ("returns_spend.loyalty", "returns_counter.loyalty", "returns_points.loyalty")]
PROGRAMS += RETURNS
BALANCES = str((HERE / "fixtures" / "balances.loyalty").relative_to(ROOT))  # two balances beside the points
PROGRAMS.append(BALANCES)
PROGRAMS.append(str((HERE / "fixtures" / "money_counter.loyalty").relative_to(ROOT)))  # tiers by a money counter
# status dates (to the qualified tier; one step), `activity is ...`, tier earn rates
PROGRAMS += [str((HERE / "fixtures" / name).relative_to(ROOT)) for name in ("status.loyalty", "status_step.loyalty")]
IN_CATEGORY = str((HERE / "fixtures" / "in_category.loyalty").relative_to(ROOT))  # discounts, multipliers `in category`
PROGRAMS.append(IN_CATEGORY)
GROCERY = str((HERE / "fixtures" / "grocery.loyalty").relative_to(ROOT))  # per-line exclusions, `any line`
PROGRAMS.append(GROCERY)  # here without lines: each purchase of the busy population is one line
PROGRAMS.append(str((HERE / "fixtures" / "constructs.loyalty").relative_to(ROOT)))  # last: tests below read it


def _compile(path: str) -> ir.Program:
    sf, diags, _ = load_file(str(ROOT / path))
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return program


@pytest.mark.parametrize("path", PROGRAMS)
def test_engine_agrees_with_interpreter(path, busy_population):
    program = _compile(path)
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    # the engine kernel runs every program it supports (kernel_coverage lists the others)
    assert (res.meta["engine"] == "kernel") == (path not in NUMPY_ONLY), res.meta["engine"]
    records = res.records
    assert sum(len(r["events"]) for r in records.values()) > 150  # a real sample, not empty streams
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    assert compare_records(program, records, start, end) == []
    assert res.ledger_identity_ok
    # the sample has returns (a quarter of the busy segment's purchases), and they reverse points
    assert sum(e["kind"] == "return" for r in records.values() for e in r["events"]) >= 20
    if program.returns.reverse:
        assert sum(r["ledger"]["reversed"] for r in records.values()) > 0


@pytest.mark.parametrize("path", RETURNS)
def test_returns_that_lower_the_metric_change_the_ledger_and_both_engines_agree(path, busy_population, monkeypatch):
    # the sample holds partial returns and discounts refunded on them; without the undo step
    # the engine would disagree with the interpreter (the comparison can fail)
    import simulator.engine.day_events as day_events

    program = _compile(path)
    assert program.returns.lower_metrics
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    returns = [e for r in res.records.values() for e in r["events"] if e["kind"] == "return"]
    whole = {(c, e["id"]): e["amount_cents"] for c, r in res.records.items() for e in r["events"] if e["kind"] == "purchase"}
    partial = [e for c, r in res.records.items() for e in r["events"]
               if e["kind"] == "return" and e["amount_cents"] < whole[(c, e["order"])]]
    assert len(returns) >= 20 and len(partial) >= 5
    assert sum(r["ledger"]["discount_refunded_cents"] for r in res.records.values()) > 0
    assert compare_records(program, res.records, start, end) == []
    monkeypatch.setattr(day_events, "undo_returns", lambda *a, **k: {})
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    assert compare_records(program, res.records, start, end) != []


def test_the_fuel_card_sample_buys_litres_and_earns_on_them(busy_population):
    # the differential test above compares the fuel card on purchases that carry a quantity:
    # the busy segment buys Poisson(30) litres, the light one none
    program = _compile(FUEL)
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    litres = [e["quantity"] for r in res.records.values() for e in r["events"] if e["kind"] == "purchase"]
    assert sum(q > 0 for q in litres) > 50 and sum(q == 0 for q in litres) > 0
    assert max(litres) >= 40  # big_fill and launch fire in the sample too
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    assert compare_records(program, res.records, start, end) == []


def test_vouchers_with_a_life_are_used_and_expire_alike_in_both_engines(busy_population):
    program = _compile(VOUCHERS)
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    assert compare_records(program, res.records, start, end) == []  # voucher counts compared too
    ledgers = [r["ledger"] for r in res.records.values()]
    used = sum(led["vouchers_used"] for led in ledgers)
    expired = sum(led["vouchers_expired"] for led in ledgers)
    issued = sum(led["vouchers_issued"] for led in ledgers)
    assert used > 0 and expired > 0  # the sample spends some vouchers and lets others lapse
    assert issued == used + expired + sum(led["vouchers_outstanding"] for led in ledgers)
    # a used voucher costs its face value (1 USD from the conversion, 2 USD from the reward), an expired one nothing
    assert 100 * used < sum(led["voucher_cents"] for led in ledgers) < 200 * used
    assert sum(e["kind"] == "redeem" for r in res.records.values() for e in r["events"]) > 0  # reward vouchers
    assert sum(e["kind"] == "use_voucher" for r in res.records.values() for e in r["events"]) == used


@pytest.mark.parametrize("path", [BALANCES, "rules/airline_status.loyalty"])
def test_the_compared_sample_earns_expires_and_reverses_every_balance(path, busy_population):
    # the differential test above compares each balance beside the points; here the sample is
    # shown to move them: every balance is issued, some of it expires on its date, returns reverse
    # some, and the ledger of each holds (issued = expired + reversed + outstanding, none below 0)
    program = _compile(path)
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    for name in program.balance_names():
        rows = [r["ledger"]["balances"][name] for r in res.records.values()]
        assert sum(b["issued"] for b in rows) > 0 and sum(b["expired"] for b in rows) > 0
        assert sum(b["reversed"] for b in rows) > 0
        assert all(b["issued"] == b["expired"] + b["reversed"] + b["outstanding"] and b["outstanding"] >= 0
                   for b in rows)
    tiers = {r["ledger"]["tier"] for r in res.records.values()}
    assert len(tiers) > 1  # the tier that goes by a balance moves


def test_returns_below_zero_are_in_the_sample(busy_population):
    # `negative balance allowed` (the constructs fixture): some returns in the compared sample
    # take the balance below zero, so debts and their repayment are compared too
    from rulelang.run.interpreter import run
    from simulator.engine.interpreter_check import to_customer, to_events

    program = _compile(PROGRAMS[-1])
    assert program.returns.negative_balance
    res = simulate(program, busy_population, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    notes = [n for rec in res.records.values() if rec["events"]
             for step in run(program, to_events(program, rec, start), to_customer(program, rec), until=end).trace
             for n in step.notes]
    assert any("below zero" in n for n in notes)


def test_a_global_budget_is_shared_by_all_customers():
    pop = population_text("""
segments:
  - {name: all, share: 1, purchase: {r: 4, alpha: 4}, dropout: {a: 1, b: 50}}
response: off
""")
    rule = ir.Rule(name="launch", order=0, event="purchase", condition=None, actions=(ir.FixedAward(points=7),), rounding="down", priority=0, group=None, start=None, end=None, caps=(),
                   budget=ir.Budget(points=1000, cents=None), every_nth=None, streak=None)
    res = simulate(program_with([rule]), pop, customers=2000, months=2, trials=2, workers=1)
    # 1000 points of budget, 7 per purchase: 142 purchases get 7 and one gets the 6 left
    assert res.per_trial["program.points_issued"] == [1000.0, 1000.0]


def test_a_global_budget_on_litres_is_shared_and_both_engines_agree():
    # 1 point per 2 litres under a 1,000-point budget, every customer recorded and replayed
    # together: the engine's bound counts the litres (a customer who could take the last of the
    # budget is applied alone), so the budget is spent to the point, as the interpreter spends it
    from simulator.engine.interpreter_check import compare_records_together

    pop = population_text("""
segments:
  - {name: all, share: 1, purchase: {r: 4, alpha: 4}, dropout: {a: 1, b: 50}, quantity: 25}
response: off
""")
    # `launch` and `standard` share an exclusive group, launch first: once its budget is spent,
    # the customers after (the same day too) get `standard`'s 1 point per 10 litres
    sf, program = _compile_text('program "F" {\n  currency USD\n'
                                '  earn launch on purchase {\n    award 1 point per 2 litres\n'
                                '    budget 1000 points\n    group "fuel"\n    priority 1\n  }\n'
                                '  earn standard on purchase {\n    award 1 point per 10 litres\n    group "fuel"\n  }\n}\n')
    res = simulate(program, pop, customers=60, months=2, trials=1, seed=4, workers=1, record=60)
    # about 60 x 4 purchases a week x 8 weeks x 12.5 points wanted: far more than the budget, so
    # launch issues its 1000 and standard the rest (without the litres in the engine's bound, the
    # customers after the last of the budget in a day's batch lose `standard`: the replay finds it)
    assert res.per_trial["program.points_issued"][0] > 1000
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    problems, budgets = compare_records_together(program, res.records, start, end)
    assert problems == []


def _compile_text(text: str):
    from rulelang.syntax.parser import parse_text

    sf, diags = parse_text(text, "fuel.loyalty")
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    return sf, program


DAILY_BUYERS = """
segments:
  - {name: all, share: 1, purchase: {r: 4, alpha: 1}, dropout: {a: 1, b: 50}}
response: off
"""


def test_a_money_budget_that_runs_out_mid_day_stops_the_rule_for_the_customers_after():
    # A perk that costs 1.00 USD on every purchase, under a 50 USD budget: each firing takes 100
    # cents, the 50th leaves 0, and from then on the rule is skipped (docs/semantics.md §4.2: a
    # budget at or below 0 skips the rule). 2,000 customers buying about every other day spend it
    # within the first day, so it runs out in the middle of one day's batch of purchases: still
    # exactly 50 perks, 50.00 USD, in every trial.
    pop = population_text(DAILY_BUYERS)
    rule = ir.Rule(name="welcome_gift", order=0, event="purchase", condition=None, actions=(ir.PerkAction(name="tote", cost_cents=100),), rounding="down", priority=0, group=None, start=None, end=None,
                   caps=(), budget=ir.Budget(points=None, cents=5000), every_nth=None, streak=None)
    res = simulate(program_with([rule]), pop, customers=2000, months=1, trials=2, workers=1)
    assert res.per_trial["program.cost_perks"] == [50.0, 50.0]


def test_a_points_budget_spent_mid_day_leaves_the_exclusive_group_to_the_next_rule():
    # `launch` (7 points, budget 1,000) and `standard` (1 point) share a group, launch first. Once
    # the budget is spent, launch is skipped and so no longer holds the group: `standard` fires.
    # Every purchase earns 7 (launch) or 1 (standard) except the one that takes launch's last 6:
    # points = 1000 + (purchases - 143) × 1, exactly.
    pop = population_text(DAILY_BUYERS)
    launch = ir.Rule(name="launch", order=0, event="purchase", condition=None, actions=(ir.FixedAward(points=7),), rounding="down", priority=10, group="welcome", start=None, end=None, caps=(),
                     budget=ir.Budget(points=1000, cents=None), every_nth=None, streak=None)
    standard = ir.Rule(name="standard", order=1, event="purchase", condition=None, actions=(ir.FixedAward(points=1),), rounding="down", priority=0, group="welcome", start=None, end=None, caps=(),
                       budget=None, every_nth=None, streak=None)
    res = simulate(program_with([launch, standard]), pop, customers=2000, months=1, trials=2, workers=1)
    for issued, purchases in zip(res.per_trial["program.points_issued"], res.per_trial["program.purchases"]):
        assert issued == 1000 + (purchases - 143)


def test_a_budget_of_a_conditional_rule_runs_out_exactly_and_other_customers_go_on_together():
    # Only purchases in category "a" get the 1 USD perk, under a 30 USD budget: exactly 30 perks.
    # Every purchase also earns 1 point from an unbudgeted rule: points issued = purchases exactly,
    # whether a customer was processed with the budget's customers one by one or with the rest.
    pop = population_text(DAILY_BUYERS.replace("dropout: {a: 1, b: 50}}",
                                               "dropout: {a: 1, b: 50}, categories: {a: 0.5, b: 0.5}}"))
    is_a = ir.Cmp(op="==", left=ir.Field(name="category", type="string"), right=ir.Const(value="a", type="string"))
    gift = ir.Rule(name="category_gift", order=0, event="purchase", condition=is_a, actions=(ir.PerkAction(name="sample", cost_cents=100),), rounding="down", priority=0, group=None, start=None, end=None,
                   caps=(), budget=ir.Budget(points=None, cents=3000), every_nth=None, streak=None)
    point = ir.Rule(name="point", order=1, event="purchase", condition=None, actions=(ir.FixedAward(points=1),), rounding="down", priority=0, group=None, start=None, end=None, caps=(),
                    budget=None, every_nth=None, streak=None)
    res = simulate(program_with([gift, point]), pop, customers=2000, months=1, trials=2, workers=1)
    assert res.per_trial["program.cost_perks"] == [30.0, 30.0]
    assert res.per_trial["program.points_issued"] == res.per_trial["program.purchases"]


# ---------------------------------------------------------------- line items

BASKETS = HERE / "fixtures" / "baskets.yaml"  # the busy population with baskets of lines


@pytest.mark.parametrize("path", [GROCERY, "rules/grocery.loyalty", FUEL, "rules/supermarket.loyalty"])
def test_engine_agrees_with_interpreter_on_line_items(path):
    from simulator.model.population import load_population
    program = _compile(path)
    pop, diags = load_population(BASKETS.read_text(), str(BASKETS))
    assert pop is not None, [d.message for d in diags]
    res = simulate(program, pop, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    assert res.meta["engine"] == "kernel"  # the kernel runs purchases with lines
    records = res.records
    purchases = [e for r in records.values() for e in r["events"] if e["kind"] == "purchase"]
    # the sample's purchases carry lines: several lines, fuel lines with litres, coffee lines
    assert sum(len(e["lines"]) > 1 for e in purchases) > 50
    assert any(c == "fuel" and q > 0 for e in purchases for _, c, q in e["lines"])
    assert any(c == "coffee" for e in purchases for _, c, _ in e["lines"])
    assert all(sum(a for a, _, _ in e["lines"]) == e["amount_cents"] - e.get("shipping_cents", 0) for e in purchases)
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    assert compare_records(program, records, start, end) == []
    assert res.ledger_identity_ok


# ---------------------------------------------------------------- line attributes

OWN_BRAND = str((HERE / "fixtures" / "own_brand.loyalty").relative_to(ROOT))  # `line attribute ...`, `any line`
BRANDS = HERE / "fixtures" / "brands.yaml"  # the baskets population drawing brands, organic, sizes, deposits


def test_engine_agrees_with_interpreter_on_line_attributes():
    from rulelang import run
    from simulator.model.population import load_population
    from simulator.engine.interpreter_check import to_customer, to_events
    program = _compile(OWN_BRAND)
    pop, diags = load_population(BRANDS.read_text(), str(BRANDS))
    assert pop is not None, [d.message for d in diags]
    res = simulate(program, pop, customers=200, months=13, trials=1, seed=5, workers=1, record=25)
    assert res.meta["engine"] == "kernel"  # the kernel runs purchases with lines and line attributes
    records = res.records
    # the lines of receipts (only the busy segment's purchases have several lines; the light
    # segment's purchase is one line, without attributes)
    lines = [(c, attrs) for r in records.values() for e in r["events"] if e["kind"] == "purchase"
             and len(e["lines"]) > 1 for (_, c, _), attrs in zip(e["lines"], e["line_attributes"])]
    assert len(lines) > 300
    # the drawn attributes follow each category's model: brands of coffee lines are Own or Bean Co,
    # tobacco lines give none (their defaults), drinks carry deposits of 0.25 EUR or none
    assert {a.get("brand") for c, a in lines if c == "coffee"} == {"Own", "Bean Co"}
    assert {a.get("brand") for c, a in lines if c == "tobacco"} == {None}
    assert {a["deposit"] for c, a in lines if c == "drinks"} == {0, 25}
    assert any(a["organic"] for c, a in lines if c == "coffee") and any(a["size"] == "2.5" for _, a in lines)
    start, end = dt.date.fromisoformat(res.meta["start"]), dt.date.fromisoformat(res.meta["end"])
    assert compare_records(program, records, start, end) == []
    assert res.ledger_identity_ok
    # every attribute rule fires in the sample (the interpreter's replay of the recorded events)
    fired: set[str] = set()
    for record in records.values():
        events = to_events(program, record, start)
        if events:
            fired |= set(run(program, events, to_customer(program, record), until=end).fired)
    assert {"own_brand", "organic_coffee", "big_pack", "bottles", "app_grocery"} <= fired  # `discount ... in category` too


def test_attributes_in_the_population_change_nothing_for_a_program_that_reads_none():
    """The attribute draws come after the lines' own, only for a program that reads attributes:
    the grocery card's sample is the same, event for event, with or without them in the population."""
    import yaml
    from simulator.model.population import load_population
    program = _compile(GROCERY)
    text = BRANDS.read_text()
    doc = yaml.safe_load(text)
    for seg in doc["segments"]:
        for cat in seg.get("lines", {}).get("categories", {}).values():
            cat.pop("attributes", None)
    bare = yaml.safe_dump(doc, sort_keys=False)
    assert "Bean Co" in text and "Bean Co" not in bare
    pops = [load_population(t, str(BRANDS)) for t in (text, bare)]
    assert all(p is not None for p, _ in pops), [d.message for _, ds in pops for d in ds]
    recs = [simulate(program, p, customers=60, months=3, trials=1, seed=5, workers=1, record=10).records
            for p, _ in pops]
    assert recs[0] == recs[1]
    assert sum(e["kind"] == "purchase" for r in recs[0].values() for e in r["events"]) > 20
    assert all("line_attributes" not in e for r in recs[0].values() for e in r["events"])
