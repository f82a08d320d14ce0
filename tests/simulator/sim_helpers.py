"""Helpers shared by the simulator tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rulelang import ir
from simulator.model.population import load_population, load_population_file

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def program_with(rules=(), **kw) -> ir.Program:
    """A minimal program (no tiers, no expiry) with the given rules."""
    base = dict(name="test", points_unit="points", currency="USD", point_cost_cents=1, point_value_cents=None,
                stacking="multiply", rounding="down", pending_days=0, events=(), attributes=(), counters=(),
                rules=tuple(rules), tiers=None, expiry=(), returns=ir.ReturnPolicy(False, False), rewards=(),
                pay_with_points=None, conversion=None)
    base.update(kw)
    return ir.Program(**base)


def rate_rule(name: str, rate, base="gross", order=0) -> ir.Rule:
    return ir.Rule(name=name, order=order, event="purchase", condition=None,
                   actions=(ir.RateAward(rate=rate, base=base),), rounding="down", priority=0, group=None,
                   start=None, end=None, caps=(), budget=None, every_nth=None, streak=None)


def population_text(text: str, path: str = "pop.yaml"):
    pop, diags = load_population(text, path)
    assert pop is not None, [d.message for d in diags]
    return pop
