"""The compiled day pass (simulator.kernel.day) against the numpy pass it replaces
(`ChunkSim._purchases_numpy`): day by day the same buyers, baskets, uniforms and returns, the same
month metrics and state, and every Generator in the same state after the run; on several block
layouts (blocks of 128 and 1024 customers, 2+ blocks), with referred newcomers in spare slots,
returns, `quantity`, BG/NBD and Pareto/NBD (death days) customers, and basket buffers that must
grow. Then whole reports, kernel against LOYALTY_ENGINE=numpy, for coffee and cosmetics on 3 blocks."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from simulator.engine.calendar import Calendar
from simulator.engine.day_loop import ChunkSim, blocks_for
from simulator.engine.program_plan import build_plan
from simulator.kernel import kernel_for
from simulator.model.draws import segment_tables
from simulator.model.population import load_population_file
from simulator.model.strings import StringTable
from simulator.trials.montecarlo import simulate
from test_differential import _compile

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BUSY = HERE / "fixtures" / "busy.yaml"


class NumpyDay(ChunkSim):
    """The same chunk with the purchase kernel but the numpy day pass (the reference)."""

    def _setup(self) -> None:
        super()._setup()
        self.day_pass = None


BASKET = ("amount", "shipping", "category", "channel", "items", "quantity", "uniforms")


def _capture(sim: ChunkSim) -> list[dict]:
    """Copies of what each day's pass hands to the program arm's purchase steps."""
    days: list[dict] = []
    steps = sim._program_steps

    def wrapped(U, ib, ip, mp, mi, d, day):
        rec = {"day": day, "U": U.copy(), "ib": ib.copy(), "ip": ip.copy(), "mp": mp.copy(), "mi": mi.copy()}
        for name in BASKET:
            v = getattr(d, name)
            rec[name] = None if v is None else v.copy()
        rec["ret"] = None if d.ret is None else {k: v.copy() for k, v in d.ret.items()}
        days.append(rec)
        return steps(U, ib, ip, mp, mi, d, day)

    sim._program_steps = wrapped
    return days


def _sim(cls, program, pop, customers: int, block: int, days: int, seed: int = 5, trial: int = 1):
    strings = StringTable()
    plan = build_plan(program, Calendar.make(dt.date(2027, 1, 1), days), strings)
    return cls(plan, pop, segment_tables(pop, strings), strings, seed, trial, blocks_for(customers, block),
               kernel_for=kernel_for)


def _states(sim: ChunkSim) -> list:
    gens = [sim.rngs, sim.prog_rngs, sim.side_rngs, sim.quantity_rngs or [], sim.voucher_rngs or []]
    return [g.bit_generator.state for group in gens for g in group]


def _same_days(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x["day"] == y["day"]
        for key in ("U", "ib", "ip", "mp", "mi", *BASKET):
            if x[key] is None or y[key] is None:
                assert x[key] is None and y[key] is None, key
            else:
                assert x[key].dtype == y[key].dtype, key
                assert np.array_equal(x[key], y[key]), (key, x["day"])
        assert (x["ret"] is None) == (y["ret"] is None) or \
            (x["ret"] or y["ret"])["rows"].size == 0  # no return due in the run: the numpy pass may keep an empty one
        if x["ret"] is not None and y["ret"] is not None:
            for k in ("rows", "due", "returned"):
                assert np.array_equal(x["ret"][k], y["ret"][k]), k


def _compare(program, pop, customers: int, block: int, days: int, grow: bool = False):
    """Run the chunk both ways; assert they agree; returns the compiled run's days, monthly metrics, chunk."""
    ref = _sim(NumpyDay, program, pop, customers, block, days)
    ref_days = _capture(ref)
    out_ref = ref.run()
    new = _sim(ChunkSim, program, pop, customers, block, days)
    if grow:  # basket buffers of 8 rows: every day with more buyers grows them, mid-day
        setup = new._setup

        def small() -> None:
            setup()
            new.day_pass._alloc(8)
        new._setup = small
    new_days = _capture(new)
    out_new = new.run()
    assert ref.day_pass is None and new.day_pass is not None  # the two passes ran
    assert len(new.rngs) >= 2  # 2+ blocks
    _same_days(ref_days, new_days)
    assert out_ref.monthly.keys() == out_new.monthly.keys()
    for k in out_ref.monthly:
        assert np.array_equal(out_ref.monthly[k], out_new.monthly[k]), k
    assert out_ref.totals == out_new.totals
    for name in ("q_base", "q_prog", "q_max", "alive_b", "alive_p", "visit_b", "visit_p"):
        assert np.array_equal(getattr(ref, name), getattr(new, name)), name
    assert _states(ref) == _states(new)  # every stream drew exactly as many numbers
    if grow:
        assert new.day_pass.bufs["amount"].size > 8
    return new_days, out_new.monthly, new


@pytest.fixture(scope="module")
def busy():
    return load_population_file(BUSY)


@pytest.mark.parametrize("block,customers", [(128, 400), (1024, 2100)])
def test_coffee_day_pass_with_referrals_and_returns(block, customers, busy):
    days, mon, sim = _compare(_compile("rules/coffee.loyalty"), busy, customers, block, 120)
    # referred newcomers bought from spare slots: a buyer beyond the block's own customers (the busy
    # population refers at 0.5 and converts every referral, so some newcomers buy within 120 days)
    spare = np.zeros(sim.tr.n, dtype=bool)
    for b, start in enumerate(sim.pool_start):
        spare[start:int(sim.offsets[b + 1])] = True
    assert any(spare[d["U"]].any() for d in days)
    assert sum(d["ret"]["rows"].size for d in days if d["ret"] is not None) > 0  # a quarter of busy purchases
    assert mon["baseline.churned"].sum() > 0 and mon["program.churned"].sum() > 0  # BG/NBD dropout, both arms


def test_quantity_day_pass(busy):
    days, _, _ = _compare(_compile("tests/simulator/fixtures/fuel.loyalty"), busy, 300, 128, 60)
    assert all(d["quantity"] is not None for d in days)
    assert max(int(d["quantity"].max()) for d in days) > 0  # Poisson(30) litres


def test_growing_buffers(busy):
    _compare(_compile("rules/cosmetics.loyalty"), busy, 300, 128, 40, grow=True)


def test_death_days(tmp_path):
    text = BUSY.read_text().replace("time_unit: week", "time_unit: week\nmodel: pareto_nbd")
    text = text.replace("dropout: {a: 1.0, b: 30.0}", "lifetime: {s: 0.5, beta: 10}")
    text = text.replace("dropout: {a: 1.0, b: 5.0}", "lifetime: {s: 0.5, beta: 5}")
    path = tmp_path / "pareto.yaml"
    path.write_text(text)
    pop = load_population_file(path)
    sim = _sim(ChunkSim, _compile("rules/coffee.loyalty"), pop, 300, 128, 1)
    sim._setup()
    assert sim.tr.death_day is not None and (sim.tr.death_day < 90).any()  # customers die within the run
    _, mon, _ = _compare(_compile("rules/coffee.loyalty"), pop, 300, 128, 90)
    assert mon["baseline.churned"].sum() == 0  # Pareto/NBD: no dropout at a purchase


def _report(res) -> str:
    doc = res.to_json()
    doc.pop("meta")
    doc["ledger_flows"] = {k: v.tolist() for k, v in sorted(res.ledger_flows.items())}
    return json.dumps(doc, sort_keys=True, default=str)


@pytest.mark.parametrize("name", ["coffee", "cosmetics"])
def test_whole_reports_on_three_blocks(name, monkeypatch):
    program = _compile(f"rules/{name}.loyalty")
    pop = load_population_file(ROOT / "rules" / "data" / name / "population.yaml")
    kw = dict(customers=700, months=3, trials=2, seed=9, workers=1, block_size=256)  # blocks of 256, 256, 188
    monkeypatch.setenv("LOYALTY_ENGINE", "numpy")
    a = simulate(program, pop, **kw)
    monkeypatch.setenv("LOYALTY_ENGINE", "auto")
    b = simulate(program, pop, **kw)
    assert b.meta["engine"] == "kernel" and a.meta["engine"].startswith("numpy")
    assert a.totals["program.purchases"]["mean"] > 0
    assert _report(a) == _report(b)
