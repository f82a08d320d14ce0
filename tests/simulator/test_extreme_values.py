"""Property test of the vectorized engine with extreme but legal values: fixed awards and rates
whose product with a tier multiplier sits at or just under the RL410 bound
(rulelang.limits.MAX_EVENT_POINTS, MAX_EARN_PER_UNIT), reward prices up to MAX_POINTS, expiry
after one month, runs of up to five years. For every generated program that checks clean:

- the ledger identity holds exactly month by month, in Python ints: the running sum of
  issued − redeemed − expired − reversed is the outstanding balance at each month end;
- no bucket is negative: outstanding and available points at every month end, and every
  recorded customer's issued, redeemed, expired, reversed and balance;
- the engine and the reference interpreter agree on the recorded customers
  (`simulator.engine.interpreter_check.compare_records`, as in test_differential.py).

Few customers, few examples and no deadline keep it within seconds per example."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rulelang.check.checker import check
from rulelang.check.compiler import compile_source
from rulelang.limits import MAX_EARN_PER_UNIT, MAX_EVENT_POINTS, MAX_MULTIPLIER, MAX_POINTS
from rulelang.syntax.parser import parse_text
from simulator.trials import montecarlo as mc
from simulator.engine.day_loop import blocks_for
from simulator.engine.interpreter_check import compare_records

TEMPLATE = """program "Extreme" {{
  points "points"
  currency USD
  point cost 0.000000001 USD

  earn base on purchase {{
    award {rate} points per 1 USD of net amount
  }}
  earn visit on purchase {{
    award {fixed} points
  }}
  tiers by points over rolling 12 months {{
    tier Base from 0
    tier Top from {threshold} {{
      multiply {mult}x
    }}
    review monthly
  }}
  expire points {expiry} months after earning
  returns reverse earned points
  negative balance forbidden

  reward big {{
    price {price} points
    worth 1 USD
    costs us 1 USD
  }}
}}
"""


@st.composite
def extreme_programs(draw):
    mult = draw(st.sampled_from([1, 2, 10, MAX_MULTIPLIER]))
    # at the bound, or one step under it: fixed × mult <= 1e11, rate × mult <= 1e5 per USD
    fixed = min(MAX_POINTS, MAX_EVENT_POINTS // mult - draw(st.sampled_from([0, 1])))
    rate = MAX_EARN_PER_UNIT // mult - draw(st.sampled_from([0, 1]))
    price = draw(st.sampled_from([1, 999_999_999, MAX_POINTS]))
    threshold = draw(st.sampled_from([1, MAX_POINTS]))
    expiry = draw(st.sampled_from([1, 1, 2]))
    months = draw(st.sampled_from([13, 60]))
    return TEMPLATE.format(rate=rate, fixed=fixed, mult=mult, price=price, threshold=threshold,
                           expiry=expiry), months


def _compile(text: str):
    sf, diags = parse_text(text, "extreme.loyalty")
    assert sf is not None, [d.message for d in diags]
    found = check(sf)
    errors = [d for d in found if d.is_error]
    assume(not errors)  # only programs the checker accepts
    program, more = compile_source(sf)
    assert program is not None, [d.message for d in more]
    return program


def test_the_template_at_the_bound_checks_clean_and_one_past_it_does_not():
    """The strategy's programs are at the bound, not beyond it (else `assume` would hide them)."""
    at = TEMPLATE.format(rate=MAX_EARN_PER_UNIT // 1000, fixed=MAX_EVENT_POINTS // 1000, mult=1000, price=1,
                         threshold=1, expiry=1)
    past = TEMPLATE.format(rate=MAX_EARN_PER_UNIT // 1000 + 1, fixed=MAX_EVENT_POINTS // 1000, mult=1000, price=1,
                           threshold=1, expiry=1)
    sf, _ = parse_text(at, "at.loyalty")
    assert [d.code for d in check(sf) if d.is_error] == []
    sf, _ = parse_text(past, "past.loyalty")
    assert "RL410" in [d.code for d in check(sf) if d.is_error]


@settings(max_examples=4, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(extreme_programs())
def test_extreme_programs_keep_an_exact_ledger_and_agree_with_the_interpreter(busy_population, case):
    text, months = case
    program = _compile(text)
    settings = mc.RunSettings(customers=40, months=months, trials=1, seed=3, workers=1)
    res = mc.run_task((program, busy_population, settings, 0, blocks_for(40), 8))  # one trial's int64 series
    assert res.totals["ledger_identity_max_abs_error"] == 0
    mon = res.monthly
    issued, redeemed = mon["program.points_issued"], mon["program.points_redeemed"]
    expired, reversed_ = mon["program.points_expired"], mon["program.points_reversed"]
    outstanding = mon["program.points_outstanding"]
    running = 0
    for m in range(months):
        running += int(issued[m]) - int(redeemed[m]) - int(expired[m]) - int(reversed_[m])
        assert running == int(outstanding[m]), f"month {m}"
        assert int(outstanding[m]) >= 0 and int(mon["program.points_available"][m]) >= 0
    assert sum(int(v) for v in issued) > MAX_POINTS  # the run did earn at the scale of the bound
    records = res.records
    assert records and sum(len(r["events"]) for r in records.values()) > 0
    for rec in records.values():
        assert all(v >= 0 for k, v in rec["ledger"].items() if isinstance(v, int)), rec["ledger"]
    cal = mc.calendar_for(settings, busy_population)
    assert compare_records(program, records, cal.start, cal.end) == []
