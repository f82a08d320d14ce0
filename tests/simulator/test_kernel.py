"""One engine, one truth: the compiled kernel (simulator.kernel) and the numpy path give identical
trials, for every program the kernel runs, any block size and 1 or 2 workers; random programs
of the constructs the kernel runs agree with the numpy path and with the reference interpreter.
The kernel's coverage is listed (kernel_coverage.NUMPY_ONLY) so it cannot shrink unnoticed."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from pathlib import Path

import pytest

from kernel_coverage import NUMPY_ONLY
from rulelang.check.compiler import compile_source
from rulelang.syntax.parser import parse_text
from simulator.engine.calendar import Calendar
from simulator.engine.interpreter_check import compare_records
from simulator.engine.program_plan import build_plan
from simulator.kernel import cache, coverage, kernel_supports
from simulator.model.strings import StringTable
from simulator.trials.montecarlo import simulate
from test_differential import IN_CATEGORY, PROGRAMS, _compile

KERNEL_RUNS = [p for p in PROGRAMS if p not in NUMPY_ONLY]
# the examples of rules/ the kernel runs: every one of them
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_ON_KERNEL = {str(p.relative_to(ROOT)) for p in (ROOT / "rules").glob("*.loyalty")} | \
    {str(p.relative_to(ROOT)) for p in (ROOT / "rules").glob("*.yaml")}


def _trials(res) -> str:
    """Everything a run reports but its meta (which names the engine), as one comparable text."""
    doc = res.to_json()
    doc.pop("meta")
    # the ledger flows the report pages read (issue-month cohorts, tier flows), to the last point
    doc["ledger_flows"] = {k: v.tolist() for k, v in sorted(res.ledger_flows.items())}
    return json.dumps(doc, sort_keys=True, default=str)


def _run(monkeypatch, engine: str, program, pop, **kw):
    monkeypatch.setenv("LOYALTY_ENGINE", engine)
    return simulate(program, pop, **kw)


@pytest.mark.parametrize("path", PROGRAMS)
def test_the_kernel_coverage_is_as_listed(path, busy_population):
    cal = Calendar.make(dt.date(2027, 1, 1), 395)
    assert kernel_supports(build_plan(_compile(path), cal, StringTable()), busy_population) == NUMPY_ONLY.get(path, [])


def test_the_kernel_runs_the_examples():
    assert len(EXAMPLES_ON_KERNEL) >= 10  # airline (2), coffee (2), cosmetics, fashion, grocery, online shop (2), supermarket
    assert EXAMPLES_ON_KERNEL <= set(KERNEL_RUNS)


@pytest.mark.parametrize("path", KERNEL_RUNS)
def test_kernel_and_numpy_path_give_identical_trials(path, busy_population, monkeypatch):
    program = _compile(path)
    for block, months in ((128, 13), (1024, 4)):
        kw = dict(customers=400, months=months, trials=2, seed=11, workers=1, block_size=block)
        a = _run(monkeypatch, "numpy", program, busy_population, **kw)
        b = _run(monkeypatch, "auto", program, busy_population, **kw)
        assert a.meta["engine"] == "numpy (kernel lacks: LOYALTY_ENGINE=numpy)"
        assert b.meta["engine"] == "kernel"
        assert a.totals["program.points_issued"]["mean"] > 0 or "fashion" in path  # points move (the card gives none)
        assert _trials(a) == _trials(b)


@pytest.mark.parametrize("path", ["rules/coffee.loyalty", "rules/cosmetics.loyalty", IN_CATEGORY])
def test_two_workers_on_the_kernel_give_the_numpy_paths_trials(path, busy_population, monkeypatch):
    program = _compile(path)
    kw = dict(customers=1024, months=6, trials=2, seed=3, block_size=256, chunk_size=256)
    a = _run(monkeypatch, "numpy", program, busy_population, workers=1, **kw)
    b = _run(monkeypatch, "auto", program, busy_population, workers=2, **kw)
    assert b.meta["engine"] == "kernel"
    assert _trials(a) == _trials(b)


def test_the_report_names_what_forced_the_numpy_path(busy_population, monkeypatch):
    # the kernel runs every construct of the examples and fixtures: a construct it did not know is made up
    known = dict(coverage.KNOWN_FIELDS)
    known[coverage.ir.Rule] = known[coverage.ir.Rule] - {"streak"}
    monkeypatch.setattr(coverage, "KNOWN_FIELDS", known)
    res = _run(monkeypatch, "auto", _compile("rules/cosmetics.loyalty"), busy_population,
               customers=100, months=1, trials=1, workers=1)
    assert res.meta["engine"] == "numpy (kernel lacks: `streak` (rule `three_month_streak`))"


def test_a_construct_the_kernel_does_not_know_is_never_run_on_it(monkeypatch):
    """The coverage check is closed: an IR field it does not list (a construct added later) holding a
    value counts as unsupported."""
    cal = Calendar.make(dt.date(2027, 1, 1), 365)
    plan = build_plan(_compile("rules/cosmetics.loyalty"), cal, StringTable())
    assert kernel_supports(plan) == []
    known = dict(coverage.KNOWN_FIELDS)
    known[coverage.ir.Rule] = known[coverage.ir.Rule] - {"streak"}
    monkeypatch.setattr(coverage, "KNOWN_FIELDS", known)
    assert kernel_supports(plan) == ["`streak` (rule `three_month_streak`)"]


def test_compiled_code_is_cached_in_the_users_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "loyalty" / "numba"
    import numba
    # set before numba compiled anything, and not inside site-packages
    assert "site-packages" not in os.environ["NUMBA_CACHE_DIR"]
    assert numba.config.CACHE_DIR == os.environ["NUMBA_CACHE_DIR"]


# ---------------------------------------------------------------- random programs

CONDITIONS = ['category == "coffee"', 'category in ["coffee", "tea", "beans"]', 'channel == "online"',
              'weekday in [sat, sun]', 'amount >= 20 USD', 'first_purchase == true', 'purchases >= 3',
              'days_from_birthday <= 20', '(category == "coffee" or channel == "app") and amount >= 10 USD',
              'category != "gift_card"', 'tier >= Gold']
AWARDS = ['award 1 point per 1 USD of net amount', 'award 3 points per 2 USD of gross amount excluding category "gift_card"',
          'award 25 points', 'multiply 2x', 'multiply 1.5x', 'discount 5% of net amount', 'discount 2 USD',
          'perk cup costs 1 USD', 'award 7 points per 10 USD of net amount', 'multiply 2x in category "coffee", "tea"',
          'discount 10% in category "coffee"', 'discount 1 USD in category "beans", "sale"']
MODIFIERS = ['cap 100 points per customer per month', 'limit 2 times per customer per week', 'every 3rd purchase',
             'streak 2 weeks', 'group "g"', 'priority 2', 'during 2027-02-01 .. 2027-06-30', 'round up',
             'round nearest']
TIERS = ['tiers by spend over calendar year {\n tier Silver from 0\n tier Gold from 200 USD { multiply 1.5x }\n'
         ' tier Black from 600 USD { multiply 2x\n discount 5% }\n review monthly\n downgrade one step\n }',
         'tiers by points over rolling 3 months {\n tier Silver from 0\n tier Gold from 300 { award 2 points per 1 USD }\n'
         ' review monthly\n downgrade to qualified\n }',
         'tiers by purchases over lifetime {\n tier Silver from 0\n tier Gold from 10 { multiply 1.2x }\n }',
         'tiers by spend over calendar year {\n tier Silver from 0\n tier Gold from 150 USD { multiply 1.5x }\n'
         ' status valid through 01-15 of the next year\n }']
EXPIRY = ['', 'expire points 3 months after earning at end of month', 'expire points after 2 months of inactivity',
          'expire points 2 months after earning',
          'expire points after 2 months of inactivity\n activity is redemption, any earning event']


def random_program(rng: random.Random, i: int) -> str:
    tiers = rng.choice(TIERS + ["", ""])
    rules = []
    for r in range(rng.randint(1, 4)):
        cond = rng.choice(CONDITIONS + [""] * 3)
        if "tier" in cond and not tiers:
            cond = ""
        body = rng.sample(AWARDS, rng.randint(1, 2)) + rng.sample(MODIFIERS, rng.randint(0, 2))
        if r == 0 and "points per 1 USD" in tiers and not any("USD of" in a for a in body):
            body.insert(0, AWARDS[0])  # a tier's own rate replaces a rate award's: the checker wants one
        rules.append(f"earn r{r} on purchase{' when ' + cond if cond else ''} {{\n  " + "\n  ".join(body) + "\n}")
    head = [f'program "random {i}" {{', "currency USD", "point cost 0.01 USD",
            rng.choice(["multipliers multiply", "multipliers add"]), rng.choice(["round down", "round up", "round nearest"]),
            rng.choice(["", "pending 7 days"])]
    tail = [tiers, rng.choice(EXPIRY), "returns reverse earned points",
            rng.choice(["negative balance forbidden", "negative balance allowed"]),
            "reward r { price 150 points\n worth 2 USD\n costs us 1 USD }", "}"]
    return "\n".join(head + rules + tail)


def _three_ways(text: str, name: str, population, monkeypatch) -> None:
    """`text` runs on the kernel, and the kernel, the numpy path and the interpreter agree."""
    sf, diags = parse_text(text, name)
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, (text, [d.message for d in diags if d.is_error])
    kw = dict(customers=300, months=13, trials=1, seed=7, workers=1, record=25)
    b = _run(monkeypatch, "auto", program, population, **kw)
    assert b.meta["engine"] == "kernel", text
    a = _run(monkeypatch, "numpy", program, population, **kw)
    assert _trials(a) == _trials(b)
    start, end = dt.date.fromisoformat(b.meta["start"]), dt.date.fromisoformat(b.meta["end"])
    assert compare_records(program, b.records, start, end) == []
    assert b.ledger_identity_ok


@pytest.mark.parametrize("i", range(20))
def test_random_programs_agree_on_kernel_numpy_path_and_interpreter(i, busy_population, monkeypatch):
    text = random_program(random.Random(1000 + i), i)
    _three_ways(text, f"random{i}.loyalty", busy_population, monkeypatch)


def test_a_kernel_that_ran_is_cached_and_not_announced_again(busy_population, monkeypatch):
    from simulator.kernel import purchase
    _run(monkeypatch, "auto", _compile("rules/coffee.loyalty"), busy_population, customers=50, months=1, trials=1,
         workers=1)
    assert cache.is_cached(purchase.purchase_batch)


HAND = """program "Hand" {
  currency USD
  earn base on purchase {
    award 1 point per 1 USD of net amount excluding category "gift_card"
  }
  earn weekend on purchase when weekday in [sat, sun] {
    multiply 2x
    cap 10 points per customer per month
  }
}
"""


def _arm(program, kernel: bool):
    import numpy as np

    from simulator.engine.program_arm import ProgramArm
    from simulator.kernel import kernel_for

    strings = StringTable()
    plan = build_plan(program, Calendar.make(dt.date(2027, 1, 2), 30), strings)  # day 0: Saturday
    arm = ProgramArm(plan, 3, strings, np.zeros(3, dtype=np.int64), np.full(3, -1, dtype=np.int64), {}, {})
    if kernel:
        arm.kernel = kernel_for(plan, arm, strings)
        assert arm.kernel is not None
    arm.calendar(0)
    return arm, strings


@pytest.mark.parametrize("kernel", [True, False])
def test_the_kernel_earns_what_the_rules_say_worked_by_hand(kernel):
    import numpy as np

    sf, diags = parse_text(HAND, "hand.loyalty")
    program, diags = compile_source(sf)
    arm, strings = _arm(program, kernel)
    cat = np.array([strings.code("coffee"), strings.code("coffee"), strings.code("gift_card")], dtype=np.int64)
    data = {"amount": np.array([740, 2500, 900], dtype=np.int64), "shipping": np.zeros(3, dtype=np.int64),
            "category": cat}
    got = arm.apply("purchase", np.arange(3), data)
    # c0: R = 740/100 = 7.4: base 7, weekend bonus 7.4 x (2 - 1) = 7, under the cap: 14
    # c1: R = 25: base 25, bonus 25 cut to the cap of 10: 35
    # c2: a gift card earns nothing: R = 0, no bonus: 0
    assert got.tolist() == [14, 35, 0]
    # c1 again the same day, 10 USD of coffee: R = 10: base 10, the month's cap is used up: 10
    again = arm.apply("purchase", np.array([1]), {"amount": np.array([1000], dtype=np.int64),
                                                  "shipping": np.zeros(1, dtype=np.int64), "category": cat[1:2]})
    assert again.tolist() == [10]
    assert arm.issued.tolist() == [14, 45, 0]
    assert arm.lots.outstanding.tolist() == [14, 45, 0]


HAND_WIDER = """program "Hand wider" {
  currency USD
  balance "status_miles" not redeemable
  attribute vip: bool
  counter visits on purchase
  counter big sums amount on purchase when amount >= 10 USD
  earn base on purchase {
    award 1 point per 1 USD of net amount
  }
  earn regular on purchase when purchases >= 1 and customer.vip == true {
    award 5 points
  }
  earn status on purchase {
    award 2 status_miles per 1 USD of net amount
  }
  tiers by big over lifetime {
    tier Basic from 0 USD
    tier Gold from 30 USD { multiply 2x }
  }
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_counters_attributes_and_balances_on_the_kernel_worked_by_hand(kernel):
    import numpy as np

    from simulator.engine.program_arm import ProgramArm
    from simulator.kernel import kernel_for

    sf, _ = parse_text(HAND_WIDER, "hand_wider.loyalty")
    program, _ = compile_source(sf)
    strings = StringTable()
    plan = build_plan(program, Calendar.make(dt.date(2027, 1, 2), 30), strings)
    vip = np.array([True, True, False], dtype=object)
    arm = ProgramArm(plan, 3, strings, np.zeros(3, dtype=np.int64), np.full(3, -1, dtype=np.int64), {"vip": vip}, {})
    if kernel:
        arm.kernel = kernel_for(plan, arm, strings)
        assert arm.kernel is not None
    arm.calendar(0)

    def buy(who, cents):
        k = len(who)
        return arm.apply("purchase", np.array(who), {"amount": np.array(cents, dtype=np.int64),
                                                     "shipping": np.zeros(k, dtype=np.int64),
                                                     "category": np.zeros(k, dtype=np.int64)}).tolist()

    # first purchases: the purchase count is 0 before the event, so `regular` fires for no one; base 1/USD,
    # status 2 miles/USD beside the points; `big` counts only amounts >= 10 USD
    assert buy([0, 1, 2], [2500, 500, 1200]) == [25, 5, 12]
    assert arm.last_balances["status_miles"].tolist() == [50, 10, 24]
    # again: 1 purchase before -> the two VIPs get 5 more; c0's `big` reaches 25 + 10 = 35 USD >= 30 USD: Gold
    assert buy([0, 1, 2], [1000, 1000, 1000]) == [15, 15, 10]
    assert arm.tier.tolist() == [1, 0, 0]
    # c0 in Gold: R = 10 (the status miles are not in R), tier bonus 10 x (2 - 1) = 10, + base 10 + regular 5
    assert buy([0], [1000]) == [25]
    assert arm.last_balances["status_miles"].tolist() == [20]  # 2 x 10 USD, the tier multiplies points only
    assert arm.issued.tolist() == [25 + 15 + 25, 5 + 15, 12 + 10]
    assert arm.bal_issued["status_miles"].tolist() == [50 + 20 + 20, 10 + 20, 24 + 20]
    assert arm.counters["visits"].tolist() == [3, 2, 2]
    assert arm.counters["big"].tolist() == [2500 + 1000 + 1000, 1000, 1200 + 1000]
    assert arm.metric.tolist() == [4500, 1000, 2200]


# random programs with counters, customer attributes and a balance beside the points
WIDER_HEAD = ['attribute vip: bool', 'attribute city: string', 'balance "status_points" not redeemable',
              'counter visits on purchase', 'counter bulk sums items on purchase when items >= 2 and customer.vip == true']
WIDER_CONDITIONS = ['customer.vip == true', 'customer.city == "Lyon"', 'customer.city != "Paris" and amount >= 15 USD',
                    'customer.city in ["Lyon", "Nice"] and category == "coffee"',
                    'customer.vip == false or channel == "online"']
WIDER_AWARDS = ['award 2 status_points per 1 USD of net amount', 'award 10 status_points',
                'award 1 status_point per 3 USD of gross amount excluding category "gift_card"']
WIDER_TIERS = ['tiers by visits over calendar year {\n tier Silver from 0\n tier Gold from 6 { multiply 1.5x }\n'
               ' review monthly\n downgrade one step\n }',
               'tiers by status_points over rolling 3 months {\n tier Silver from 0\n tier Gold from 300 { multiply 2x }\n'
               ' review monthly\n downgrade to qualified\n }',
               'tiers by bulk over lifetime {\n tier Silver from 0\n tier Gold from 8 { multiply 1.2x }\n }']


def wider_program(rng: random.Random, i: int) -> str:
    rules = []
    for r in range(rng.randint(2, 4)):
        cond = rng.choice(WIDER_CONDITIONS + CONDITIONS[:6] + [""] * 2)
        awards = WIDER_AWARDS if r % 2 else AWARDS
        body = rng.sample(awards, rng.randint(1, 2)) + rng.sample(MODIFIERS[:5], rng.randint(0, 1))
        rules.append(f"earn r{r} on purchase{' when ' + cond if cond else ''} {{\n  " + "\n  ".join(body) + "\n}")
    head = [f'program "wider {i}" {{', "currency USD", "point cost 0.01 USD", *WIDER_HEAD,
            rng.choice(["multipliers multiply", "multipliers add"]), rng.choice(["", "pending 7 days"])]
    tail = [rng.choice(WIDER_TIERS + [""]), rng.choice(EXPIRY), "returns reverse earned points",
            rng.choice(["negative balance forbidden", "negative balance allowed"]),
            rng.choice(["returns lower tier metric and counters", ""]),
            "reward r { price 150 points\n worth 2 USD\n costs us 1 USD }", "}"]
    return "\n".join(head + rules + tail)


@pytest.mark.parametrize("i", range(8))
def test_random_programs_with_counters_attributes_balances_agree(i, busy_population, monkeypatch):
    text = wider_program(random.Random(5000 + i), i)
    _three_ways(text, f"wider{i}.loyalty", busy_population, monkeypatch)


HAND_LINES = """program "Hand lines" {
  currency EUR
  earn base on purchase {
    award 1 point per 1 EUR of net amount excluding category "fuel"
  }
  earn fuel on purchase {
    award 1 point per 2 litres in category "fuel"
  }
  earn coffee_club on purchase when any line (category == "coffee" and amount >= 5.00 EUR) {
    award 25 points
  }
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_awards_per_quantity_and_any_line_on_the_kernel_worked_by_hand(kernel):
    import numpy as np

    sf, _ = parse_text(HAND_LINES, "hand_lines.loyalty")
    program, _ = compile_source(sf)
    arm, strings = _arm(program, kernel)
    fuel, coffee = strings.code("fuel"), strings.code("coffee")
    data = {"amount": np.array([5000, 650, 650], dtype=np.int64),
            "shipping": np.array([0, 0, 200], dtype=np.int64),
            "category": np.array([fuel, coffee, coffee], dtype=np.int64),
            "quantity": np.array([45, 0, 0], dtype=np.int64)}
    got = arm.apply("purchase", np.arange(3), data)  # the arm has 3 customers
    # c0: fuel is excluded from base; 45 litres / 2 = 22.5 -> 22
    # c1: base 6.50 -> 6; the one line is coffee of 6.50 >= 5.00 EUR: + 25 = 31
    # c2: 6.50 with 2.00 shipping: the line is the goods, 4.50 EUR: base 4, no bonus
    assert got.tolist() == [22, 31, 4]
    # c2 again, 3.20 EUR of coffee: base 3, under 5 EUR: no bonus
    again = arm.apply("purchase", np.array([2]), {"amount": np.array([320], dtype=np.int64),
                                                  "shipping": np.zeros(1, dtype=np.int64),
                                                  "category": np.array([coffee], dtype=np.int64)})
    assert again.tolist() == [3]


HAND_IN_CATEGORY = """program "Hand in category" {
  currency USD
  balance "status_points" not redeemable
  earn base on purchase {
    award 1 point per 1 USD of net amount
  }
  earn status on purchase {
    award 2 status_points per 1 USD of net amount
  }
  earn coffee on purchase {
    multiply 3x in category "coffee"
    discount 10% in category "coffee"
  }
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_discounts_and_multipliers_in_category_worked_by_hand(kernel):
    import numpy as np

    sf, _ = parse_text(HAND_IN_CATEGORY, "hand_in_category.loyalty")
    program, _ = compile_source(sf)
    arm, strings = _arm(program, kernel)
    data = {"amount": np.array([2000, 2000, 500], dtype=np.int64), "shipping": np.zeros(3, dtype=np.int64),
            "category": np.array([strings.code("coffee"), strings.code("tea"), strings.code("coffee")], dtype=np.int64)}
    got = arm.apply("purchase", np.arange(3), data)
    # c0: 20.00 coffee, 10% off: 2.00 -> net 18.00: base 18; R = 18 (the status points are not in R):
    #     the 3x bonus 18 x (3 - 1) = 36: 54; status 2 x 18 = 36
    # c1: 20.00 tea: neither the discount nor the bonus: 20; status 40
    # c2: 5.00 coffee: 0.50 off -> 4.50: base 4; bonus 4.5 x 2 = 9: 13; status 9
    assert got.tolist() == [54, 20, 13]
    assert arm.last_discount.tolist() == [200, 0, 50]
    assert arm.last_balances["status_points"].tolist() == [36, 40, 9]


def _program(path: str):
    return _compile(path)


@pytest.mark.parametrize("kernel", [True, False])
def test_purchase_lines_on_the_kernel_worked_by_hand(kernel):
    """Drawn lines (the day loop's `lines.*` arrays) on the kernel: per-line exclusions and
    `in category`, a discount shared over the lines, `any line` on line attributes."""
    import numpy as np

    arm, strings = _arm(_program("tests/simulator/fixtures/own_brand.loyalty"), kernel)
    code = strings.code
    # c0: coffee 4.00 (Own, organic) + grocery 6.00 (Other, size 2, deposit 0.25) in store
    # c1: grocery 6.00 (Other) + coffee 4.00, by app; c2: one drinks line 3.00 (deposit 0.25), by app
    data = {"amount": np.array([1000, 1000, 300], dtype=np.int64), "shipping": np.zeros(3, dtype=np.int64),
            "category": np.array([code("coffee"), code("grocery"), code("drinks")], dtype=np.int64),
            "channel": np.array([code("store"), code("app"), code("app")], dtype=np.int64),
            "quantity": np.zeros(3, dtype=np.int64),
            "lines.amount": np.array([[400, 600], [600, 400], [300, 0]], dtype=np.int64),
            "lines.category": np.array([[code("coffee"), code("grocery")], [code("grocery"), code("coffee")],
                                        [code("drinks"), code("drinks")]], dtype=np.int64),
            "lines.quantity": np.zeros((3, 2), dtype=np.int64),
            "lines.valid": np.array([[True, True], [True, True], [True, False]]),
            "lines.attr.brand": np.array([[code("Own"), code("Other")], [code("Other"), code("")],
                                          [code(""), code("")]], dtype=np.int64),
            "lines.attr.organic": np.array([[True, False], [False, False], [False, False]]),
            "lines.attr.size": np.array([[0.0, 2.0], [0.0, 0.0], [0.0, 0.0]]),
            "lines.attr.deposit": np.array([[0, 25], [0, 0], [25, 0]], dtype=np.int64)}
    got = arm.apply("purchase", np.arange(3), data)
    # c0 (the fixture's first test): base 10; own_brand 15; organic coffee: the coffee line's 4 raw
    #     doubled: bonus 4; big_pack (size 2, brand Other) 5; bottles: a line is organic: no. 34
    # c1 (its fifth): 10% off the grocery line: 0.60, shared by amount: floor(60 x 600/1000) = 36 on
    #     the grocery line, 24 on the coffee line; base 10.00 - 0.60 = 9.40 -> 9
    # c2: base 3; bottles: a 0.25 deposit and no organic line: 3. 6
    assert got.tolist() == [34, 9, 6]
    assert arm.last_discount.tolist() == [0, 60, 0]


@pytest.mark.parametrize("kernel", [True, False])
def test_a_discount_shared_over_lines_and_a_multiplier_in_category_worked_by_hand(kernel):
    import numpy as np

    arm, strings = _arm(_program("tests/simulator/fixtures/grocery.loyalty"), kernel)
    code = strings.code
    cats = [code("coffee"), code("grocery"), code("tobacco")]
    data = {"amount": np.array([2000], dtype=np.int64), "shipping": np.zeros(1, dtype=np.int64),
            "category": np.array([code("coffee")], dtype=np.int64), "channel": np.array([code("app")], dtype=np.int64),
            "quantity": np.zeros(1, dtype=np.int64),
            "lines.amount": np.array([[600, 400, 1000]], dtype=np.int64),
            "lines.category": np.array([cats], dtype=np.int64),
            "lines.quantity": np.zeros((1, 3), dtype=np.int64), "lines.valid": np.ones((1, 3), dtype=bool)}
    # the fixture's third test: 10% off the lines not tobacco, (6.00 + 4.00) x 10% = 1.00, shared
    # 30 : 20 : 50 over the lines; base (5.70 + 3.80) = 9.50 -> 9; coffee_bonus 20; big_coffee
    # 9.50 / 2 -> 4; app_double: the coffee line's 5.70 + 5.70 / 2 = 8.55 doubled: bonus 8. 41
    assert arm.apply("purchase", np.arange(1), data).tolist() == [41]
    assert arm.last_discount.tolist() == [100]


LINE_PROGRAMS = [("tests/simulator/fixtures/own_brand.loyalty", "brands.yaml"),
                 ("tests/simulator/fixtures/grocery.loyalty", "baskets.yaml"),
                 ("rules/supermarket.loyalty", "baskets.yaml"), ("tests/simulator/fixtures/fuel.loyalty", "baskets.yaml")]


@pytest.mark.parametrize("path,population", LINE_PROGRAMS)
def test_purchases_with_lines_on_the_kernel_give_the_numpy_paths_trials(path, population, monkeypatch):
    from sim_helpers import HERE
    from simulator.model.population import load_population_file

    pop = load_population_file(HERE / "fixtures" / population)
    program = _compile(path)
    for block, months, workers in ((128, 13, 1), (1024, 4, 1), (256, 6, 2)):  # 5, 1 and 3 blocks
        kw = dict(customers=600, months=months // 2, trials=1, seed=11, block_size=block, chunk_size=max(block, 256))
        a = _run(monkeypatch, "numpy", program, pop, workers=1, **kw)
        b = _run(monkeypatch, "auto", program, pop, workers=workers, **kw)
        assert b.meta["engine"] == "kernel"
        assert a.totals["program.points_issued"]["mean"] > 0
        assert _trials(a) == _trials(b)


def _arm_from(text: str, kernel: bool, start: dt.date, days: int, n: int = 3):
    import numpy as np

    from simulator.engine.program_arm import ProgramArm
    from simulator.kernel import kernel_for

    sf, diags = parse_text(text, "hand.loyalty")
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags]
    strings = StringTable()
    plan = build_plan(program, Calendar.make(start, days), strings)
    arm = ProgramArm(plan, n, strings, np.zeros(n, dtype=np.int64), np.full(n, -1, dtype=np.int64), {}, {})
    if kernel:
        arm.kernel = kernel_for(plan, arm, strings)
        assert arm.kernel is not None
    return arm


def _buy(arm, who, cents):
    import numpy as np

    k = len(who)
    return arm.apply("purchase", np.array(who), {"amount": np.array(cents, dtype=np.int64),
                                                 "shipping": np.zeros(k, dtype=np.int64),
                                                 "category": np.zeros(k, dtype=np.int64)}).tolist()


HAND_STATUS = """program "Hand status" {
  currency USD
  earn base on purchase {
    award 1 point per 1 USD of net amount
  }
  tiers by spend over lifetime {
    tier Member from 0
    tier Silver from 100 USD
    status valid through 01-15 of the next year
  }
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_a_purchase_earns_the_status_in_its_year_worked_by_hand(kernel):
    arm = _arm_from(HAND_STATUS, kernel, dt.date(2027, 12, 30), 10)
    for day in range(4):  # day 3: 2028-01-02
        arm.calendar(day)
    assert arm.status.year.tolist() == [2027, 2027, 2027]  # the year each status started (the first day's)
    arm.tier[2] = 1  # c2 holds Silver (given), its spend of 0 does not reach it
    assert _buy(arm, [0, 1, 2], [15000, 5000, 5000]) == [150, 50, 50]
    # c0: 150 USD reaches Silver: an upgrade earns the status in 2028; c1: 50 USD moves the metric and
    # reaches the tier held (Member): earned again in 2028; c2: 50 USD does not reach Silver: still 2027
    assert arm.tier.tolist() == [1, 0, 1]
    assert arm.status.year.tolist() == [2028, 2028, 2027]


HAND_ACTIVITY = """program "Hand activity" {
  currency USD
  earn base on purchase {
    award 1 point per 1 USD of net amount
  }
  expire points after 2 months of inactivity
  activity is redemption
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_a_first_purchase_starts_the_inactivity_clock_of_a_declared_activity_worked_by_hand(kernel):
    arm = _arm_from(HAND_ACTIVITY, kernel, dt.date(2027, 1, 2), 120)
    for day in range(11):
        arm.calendar(day)
    (due,) = arm.inact_due.values()
    assert _buy(arm, [0], [1000]) == [10]
    # c0's first event, on day 10 (2027-01-12): the clock starts the day before, 2027-01-11, and runs
    # out 2 months later, 2027-03-11: day 29 (January from the 2nd) + 28 (February) + 11 = 68
    assert due.tolist()[0] == 68
    for day in range(11, 21):
        arm.calendar(day)
    # a purchase is not activity here: c0's later purchase leaves the clock; c1's first starts it on
    # day 20 (2027-01-22), from 2027-01-21: 2027-03-21 is day 78
    assert _buy(arm, [0, 1], [1000, 500]) == [10, 5]
    assert due.tolist()[:2] == [68, 78]


HAND_BUDGET = """program "Hand budget" {
  currency USD
  point cost 0.004 USD
  earn launch on purchase {
    award 2 points per 1 USD of net amount
    discount 1 USD
    budget 3 USD
    group "g"
    priority 1
  }
  earn standard on purchase {
    award 1 point per 1 USD of net amount
    group "g"
  }
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_a_money_budget_runs_out_mid_batch_worked_by_hand(kernel):
    from fractions import Fraction

    arm = _arm_from(HAND_BUDGET, kernel, dt.date(2027, 1, 2), 30, n=4)
    arm.calendar(0)
    # four customers buy 50.00 USD in one batch, in index order; a point costs 0.4 cents; launch
    # spends 1.00 USD of discount and 2 points per USD of the 49.00 net on each, 3.00 USD in all:
    # c0: 300 - 100 - 98 x 0.4 = 160.8 cents left; c1: 160.8 - 100 - 39.2 = 21.6;
    # c2: the discount is not cut (100 cents), the points are, to floor(max(21.6 - 100, 0) / 0.4) = 0;
    #     launch still fires (it gives a discount) and holds the group: 0 points; left 21.6 - 100 = -78.4
    # c3: the budget is below 0, launch is skipped and leaves the group to standard: 50 points
    assert _buy(arm, [0, 1, 2, 3], [5000] * 4) == [98, 98, 0, 50]
    assert arm.last_discount.tolist() == [100, 100, 100, 0]
    assert arm.budgets == {"launch": Fraction(-392, 5)}
    assert _buy(arm, [0], [5000]) == [50]  # the next batch: still skipped


HAND_POINTS_BUDGET = """program "Hand points budget" {
  currency USD
  earn launch on purchase when amount >= 10 USD {
    award 1 point per 1 USD of net amount
    multiply 2x
    budget 100 points
  }
}
"""


@pytest.mark.parametrize("kernel", [True, False])
def test_a_points_budget_gives_the_last_points_to_the_customer_it_runs_out_on_worked_by_hand(kernel):
    arm = _arm_from(HAND_POINTS_BUDGET, kernel, dt.date(2027, 1, 2), 30, n=5)
    arm.calendar(0)
    # 30 USD each: 30 + a 30-point bonus = 60 wanted; c1's 5 USD does not match (and takes nothing);
    # c0 60 (40 left), c2 40 of its 60 (0 left), c3: a budget at 0 skips the rule: 0, c4 too
    assert _buy(arm, [0, 1, 2, 3, 4], [3000, 500, 3000, 3000, 3000]) == [60, 0, 40, 0, 0]
    assert arm.budgets == {"launch": 0}


BUDGET_PROGRAM = """program "Budgets" {
  currency USD
  point cost 0.004 USD
  earn launch on purchase when channel in ["app", "online"] {
    award 3 points per 1 USD of net amount
    discount 5% of net amount
    perk tote costs 0.50 USD
    budget 400 USD
    group "g"
    priority 1
  }
  earn standard on purchase {
    award 1 point per 1 USD of net amount
    group "g"
  }
  earn stamps on purchase when category == "coffee" {
    award 10 points
    budget 1500 points
  }
  returns reverse earned points
  negative balance forbidden
}
"""


def test_budgets_that_run_out_mid_batch_on_the_kernel_give_the_numpy_paths_trials(busy_population, monkeypatch):
    from simulator.engine.interpreter_check import compare_records_together

    sf, _ = parse_text(BUDGET_PROGRAM, "budgets.loyalty")
    program, _ = compile_source(sf)
    kw = dict(customers=300, months=2, trials=2, seed=9, block_size=128)  # 3 blocks, one chunk
    a = _run(monkeypatch, "numpy", program, busy_population, workers=1, **kw)
    b = _run(monkeypatch, "auto", program, busy_population, workers=2, **kw)
    assert b.meta["engine"] == "kernel"
    assert _trials(a) == _trials(b)
    # one block, every customer recorded (a record samples each block's first customers)
    b = _run(monkeypatch, "auto", program, busy_population, customers=300, months=2, trials=1, seed=9,
             block_size=512, workers=1, record=10**6)
    assert b.meta["engine"] == "kernel"
    # every customer replayed together through the interpreter with one shared budget, in the
    # documented order: the same purchase gets the last of each budget, and both run out (the
    # points budget to the point; the money budget to 0 or below, discounts and perks are not cut)
    start, end = dt.date.fromisoformat(b.meta["start"]), dt.date.fromisoformat(b.meta["end"])
    problems, budgets = compare_records_together(program, b.records, start, end)
    assert problems == []
    assert budgets.remaining["stamps"] == 0
    assert budgets.remaining["launch"] <= 0


# random programs on purchases with drawn lines and line attributes (fixtures/brands.yaml)
LINE_HEAD = ['line attribute brand: string', 'line attribute organic: bool', 'line attribute size: number',
             'line attribute deposit: money']
LINE_CONDITIONS = ['any line category == "coffee"', 'any line (category == "fuel" and quantity >= 30)',
                   'any line (brand == "Own" and amount >= 2 USD)', 'any line organic == true and channel == "app"',
                   'not any line category in ["tobacco", "gift_card"]', 'any line (size >= 2 or deposit >= 0.25 USD)',
                   'any line brand != "Own"', 'any line brand in ["Bean Co", "Other"] and amount >= 15 USD']
LINE_AWARDS = ['award 1 point per 1 USD of net amount excluding category "tobacco", "gift_card"',
               'award 2 points per 1 USD of gross amount in category "coffee", "drinks"',
               'award 1 point per 4 litres in category "fuel"', 'multiply 2x in category "coffee", "grocery"',
               'discount 10% in category "grocery"', 'discount 1 USD in category "drinks"',
               'discount 5% of net amount excluding category "tobacco"', 'award 10 points', 'multiply 1.5x',
               'award 3 points per 2 USD of net amount excluding category "fuel"']


def lines_program(rng: random.Random, i: int) -> str:
    rules = []
    for r in range(rng.randint(2, 4)):
        cond = rng.choice(LINE_CONDITIONS + CONDITIONS[:4] + [""])
        body = rng.sample(LINE_AWARDS, rng.randint(1, 2)) + rng.sample(MODIFIERS[:5], rng.randint(0, 1))
        rules.append(f"earn r{r} on purchase{' when ' + cond if cond else ''} {{\n  " + "\n  ".join(body) + "\n}")
    head = [f'program "lines {i}" {{', "currency USD", "point cost 0.01 USD", *LINE_HEAD,
            rng.choice(["multipliers multiply", "multipliers add"]), rng.choice(["round down", "round nearest"])]
    tail = [rng.choice(TIERS[:1] + TIERS[2:] + [""]), rng.choice(EXPIRY), "returns reverse earned points",
            rng.choice(["negative balance forbidden", "negative balance allowed"]),
            "reward r { price 150 points\n worth 2 USD\n costs us 1 USD }", "}"]
    return "\n".join(head + rules + tail)


@pytest.fixture(scope="module")
def brands_population():
    from sim_helpers import HERE
    from simulator.model.population import load_population_file
    return load_population_file(HERE / "fixtures" / "brands.yaml")


@pytest.mark.parametrize("i", range(8))
def test_random_programs_on_purchase_lines_agree(i, brands_population, monkeypatch):
    text = lines_program(random.Random(7000 + i), i)
    _three_ways(text, f"lines{i}.loyalty", brands_population, monkeypatch)


def test_an_any_line_condition_is_flat_for_purchases_without_lines():
    """rules/grocery.loyalty's `coffee_club` reads `any line (category == "coffee" and amount >= 5.00 EUR)`:
    its line form loops over the lines (opcode ANY_LINE); a batch without drawn lines takes the flat form,
    the same test on the purchase's goods and category columns, with no per-line loop."""
    from simulator.kernel.conditions import ANY_LINE, GOODS
    from simulator.kernel.tables import KernelTables

    strings = StringTable()
    plan = build_plan(_compile("rules/grocery.loyalty"), Calendar.make(dt.date(2027, 1, 1), 31), strings)
    t = KernelTables(plan, strings)
    r = [s.rule.name for s in t.specs].index("coffee_club")
    lined = t.op[t.cond_lo[r]:t.cond_hi[r]].tolist()
    flat = t.op[t.cond_flat_lo[r]:t.cond_flat_hi[r]].tolist()
    assert ANY_LINE in lined and ANY_LINE not in flat
    assert len(flat) == len(lined) - 1  # the same test, without the loop's opcode
    assert GOODS in t.columns and "category" in t.columns
    # a condition without `any line` has one form
    b = [s.rule.name for s in t.specs].index("base")
    assert (t.cond_flat_lo[b], t.cond_flat_hi[b]) == (t.cond_lo[b], t.cond_hi[b])
