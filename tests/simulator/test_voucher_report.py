"""Reports of vouchers with a life: counts and money add up, the cost is the vouchers used, and
programs without such vouchers report none of it."""

from __future__ import annotations

import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from sim_helpers import HERE, ROOT
from simulator.report.pages import render_markdown
from simulator.trials.montecarlo import simulate


def _run(path, busy_population):
    sf, _, _ = load_file(str(path))
    program, _ = compile_source(sf)
    return simulate(program, busy_population, customers=300, months=8, trials=2, seed=11, workers=1)


def test_voucher_totals_add_up_and_their_cost_is_the_vouchers_used(busy_population):
    res = _run(HERE / "fixtures" / "vouchers.loyalty", busy_population)
    pt = res.per_trial
    for t in range(2):
        # per trial: issued = used + expired + outstanding, in count and in money
        assert pt["program.vouchers_issued"][t] == (pt["program.vouchers_used"][t] + pt["program.vouchers_expired"][t]
                                                   + pt["program.vouchers_outstanding"][t])
        assert pt["program.voucher_value_issued"][t] == pytest.approx(
            pt["program.voucher_value_used"][t] + pt["program.voucher_value_expired"][t]
            + pt["program.voucher_value_outstanding"][t], abs=1e-6)
        # the program's voucher cost is the face value of the vouchers used, nothing else
        assert pt["program.cost_vouchers"][t] == pytest.approx(pt["program.voucher_value_used"][t], abs=1e-6)
        assert pt["program.vouchers_expired"][t] > 0
        settled = pt["program.vouchers_used"][t] + pt["program.vouchers_expired"][t]
        breakage = pt["program.vouchers_expired"][t] / settled
        assert pt["program.voucher_breakage_rate"][t] == pytest.approx(breakage)
        assert pt["program.voucher_liability"][t] == pytest.approx(
            pt["program.voucher_value_outstanding"][t] * (1 - breakage))
    md = render_markdown(res.to_json())
    assert "### Vouchers" in md and "Voucher liability at the end" in md


def test_a_program_without_vouchers_with_a_life_reports_none(busy_population):
    res = _run(ROOT / "rules" / "coffee.loyalty", busy_population)
    assert not [k for k in res.to_json()["totals"] if "voucher" in k and k != "program.cost_vouchers"]
    assert "### Vouchers" not in render_markdown(res.to_json())
