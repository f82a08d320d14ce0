"""Every source of points is named once (rulelang.ir.POINT_SOURCES) and handled everywhere.

The reference interpreter, the vectorized engine and the engine's global-budget bound each
keep one handler per source; a source added to the list but not to one of them fails here
(and the engine refuses to run rather than leave its points out). The two engines' earning
is split into the same named steps of docs/semantics.md §4.2.
"""

from __future__ import annotations

import datetime as dt
import inspect
import re
import typing

from fractions import Fraction

import numpy as np
import pytest

from rulelang import ir
from rulelang.check import number_limits
from rulelang.run import earning, interpreter
from simulator.engine import program_arm
from simulator.engine.calendar import Calendar
from simulator.engine.conditions import StringTable
from simulator.engine.program_plan import build_plan

TABLES = {
    "interpreter": earning.SOURCE_STEPS,
    "engine": program_arm.SOURCE_STEPS,
    "budget bound": program_arm.BOUND_TERMS,
    "checker's number limits": number_limits.BOUND_TERMS,
}


@pytest.mark.parametrize("who", sorted(TABLES))
def test_every_point_source_has_a_handler(who):
    assert list(TABLES[who]) == list(ir.POINT_SOURCES)


def test_every_action_is_a_point_source_or_gives_money():
    actions = set(typing.get_args(ir.Action))
    declared = {s.declared_by for s in ir.POINT_SOURCES}
    assert actions == (declared - {ir.Tier}) | set(ir.MONEY_ACTIONS)
    assert not declared & set(ir.MONEY_ACTIONS)


def test_sources_are_in_the_order_of_the_steps():
    steps = [s.step for s in ir.POINT_SOURCES]
    assert steps == sorted(steps) and set(steps) == {5, 6, 7}
    assert len({s.name for s in ir.POINT_SOURCES}) == len(ir.POINT_SOURCES)
    # the tier's multiplier is m1, before the rules' (§4.2 step 6)
    assert ir.POINT_SOURCES.index(ir.TIER_MULTIPLIER) < ir.POINT_SOURCES.index(ir.RULE_MULTIPLIER)


NEW = ir.PointSource(name="quantity award", step=5, basis=ir.AwardBasis.MONEY, declared_by=ir.RateAward,
                     booked_to="rule", multiplied=True)


def test_a_table_without_a_new_source_is_refused(monkeypatch):
    monkeypatch.setattr(ir, "POINT_SOURCES", ir.POINT_SOURCES + (NEW,))
    for who, table in TABLES.items():
        with pytest.raises(NotImplementedError, match="quantity award"):
            ir.in_source_order(table, who)
    assert [s for s, _ in ir.in_source_order({**earning.SOURCE_STEPS, NEW: None}, "x")][-1] is NEW


def test_the_checker_refuses_to_bound_an_event_without_a_handler(monkeypatch):
    monkeypatch.setattr(ir, "POINT_SOURCES", ir.POINT_SOURCES + (NEW,))
    with pytest.raises(NotImplementedError, match="checker's number limits.*quantity award"):
        list(number_limits._terms(None, None))


def _program() -> ir.Program:
    """One rule awarding 1 point per purchase."""
    rule = ir.Rule(name="base", order=0, event="purchase", condition=None, actions=(ir.FixedAward(points=1),),
                   rounding="down", priority=0, group=None, start=None, end=None, caps=(), budget=None,
                   every_nth=None, streak=None)
    return ir.Program(name="T", points_unit="points", currency="USD", point_cost_cents=Fraction(0),
                      point_value_cents=Fraction(1), stacking="multiply", rounding="down", pending_days=0,
                      events=(), attributes=(), counters=(), rules=(rule,), tiers=None, expiry=(),
                      returns=ir.ReturnPolicy(reverse=False, negative_balance=False), rewards=(),
                      pay_with_points=None, conversion=None)


def test_the_interpreter_refuses_to_run_without_a_handler(monkeypatch):
    p = _program()
    events = [interpreter.Event(kind="purchase", at=dt.date(2027, 1, 4), amount_cents=100)]
    assert interpreter.run(p, events).issued == 1  # the list as it is: runs
    monkeypatch.setattr(ir, "POINT_SOURCES", ir.POINT_SOURCES + (NEW,))
    with pytest.raises(NotImplementedError, match="reference interpreter.*quantity award"):
        interpreter.run(p, events)


def test_the_engine_refuses_to_run_without_a_handler_or_a_bound(monkeypatch):
    plan = build_plan(_program(), Calendar.make(dt.date(2027, 1, 1), 2), StringTable())

    def arm():
        n = 3
        return program_arm.ProgramArm(plan, n, StringTable(), np.zeros(n, dtype=np.int64),
                                      np.full(n, -1, dtype=np.int64), {}, {})

    arm()  # the list as it is: runs
    monkeypatch.setattr(ir, "POINT_SOURCES", ir.POINT_SOURCES + (NEW,))
    with pytest.raises(NotImplementedError, match="vectorized engine.*quantity award"):
        arm()
    monkeypatch.setitem(program_arm.SOURCE_STEPS, NEW, program_arm.ProgramArm.rate_awards)
    with pytest.raises(NotImplementedError, match="global-budget bound.*quantity award"):
        arm()


STEP = re.compile(r"§4\.2 step (\d+)")


def _steps(functions) -> dict[str, int]:
    out = {}
    for name, fn in functions:
        match = STEP.match(inspect.getdoc(fn) or "")
        if match:
            out[name] = int(match.group(1))
    return out


def test_both_engines_have_the_same_named_steps():
    interp = _steps(inspect.getmembers(earning, inspect.isfunction))
    interp.update(_steps(inspect.getmembers(interpreter._Run, inspect.isfunction)))
    engine = _steps(inspect.getmembers(program_arm.ProgramArm, inspect.isfunction))
    assert interp == engine
    assert set(interp.values()) == set(range(2, 12))  # step 1 is the calendar work (§7)
    for source in ir.POINT_SOURCES:  # each source's handler is the step §4.2 gives it
        assert interp[earning.SOURCE_STEPS[source].__name__] == source.step
        assert engine[program_arm.SOURCE_STEPS[source].__name__] == source.step
