"""What `loyalty fit` writes: the population file (read back by the simulator), the customers file
and the report — with the statistics replaced by a private fake of `simulator.model.estimation` whose
estimates are fixed, so every number written can be checked against the fake's and against
the rows of the test. (The fake is temporary: it goes when the real `simulator.model.estimation` is merged.)
"""

from __future__ import annotations

import csv
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import simulator
from rulelang.tools.cli import main
from simulator.model.population import load_population_file


@dataclass(frozen=True)
class FakeFit:
    model: str
    names: tuple[str, ...]
    params: tuple[float, ...]
    se: tuple[float, ...]
    log_covariance: tuple[tuple[float, ...], ...]
    loglik: float
    n: int
    converged: bool = True
    iterations: int = 7
    message: str = ""

    def value(self, name: str) -> float:
        return self.params[self.names.index(name)]

    @property
    def bic(self) -> float:
        return -2 * self.loglik


class FakeFitError(Exception):
    def __init__(self, message, parameter=None, hint=None, code="RL851"):
        super().__init__(message)
        self.message, self.parameter, self.hint, self.code = message, parameter, hint, code


def _fit(model, names, params, n):
    k = len(params)
    cov = tuple(tuple(0.01 if i == j else 0.0 for j in range(k)) for i in range(k))
    return FakeFit(model, names, params, tuple(0.1 * p for p in params), cov, -123.5, n)


@pytest.fixture
def fake_fit(monkeypatch):
    pkg = types.ModuleType("simulator.model.estimation")
    pkg.FitError, pkg.TOO_LITTLE_DATA = FakeFitError, "RL852"
    bg = types.ModuleType("simulator.model.estimation.bgnbd")
    bg.fit = lambda x, t_x, T, weights=None: _fit("bgnbd", ("purchase.r", "purchase.alpha", "dropout.a", "dropout.b"),
                                                  (0.25, 4.0, 0.8, 2.5), len(x))
    bg.pmf = lambda params, t, x: np.where(np.asarray(x) == 0, 1.0, 0.0) * np.ones_like(np.asarray(t, float))
    bg.expected_count = lambda params, t: np.asarray(t, float) * 0.1
    bg.conditional_expected = lambda params, t, x, t_x, T: np.full(np.shape(x), 0.5)
    bg.p_alive = lambda params, x, t_x, T: np.full(np.shape(x), 0.9)
    pn = types.ModuleType("simulator.model.estimation.pareto_nbd")

    def pareto_fails(*a, **k):
        raise FakeFitError("the fake Pareto/NBD does not fit", None, None, "RL851")

    pn.fit = pareto_fails
    gg = types.ModuleType("simulator.model.estimation.gamma_gamma")
    gg.fit = lambda x, m, weights=None: _fit("gamma_gamma", ("spend.p", "spend.q", "spend.gamma"), (6.0, 4.0, 15.0),
                                             len(x))
    pkg.bgnbd, pkg.pareto_nbd, pkg.gamma_gamma = bg, pn, gg
    for name, mod in (("simulator.model.estimation", pkg), ("simulator.model.estimation.bgnbd", bg), ("simulator.model.estimation.pareto_nbd", pn),
                      ("simulator.model.estimation.gamma_gamma", gg)):
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(simulator, "fit", pkg, raising=False)
    return pkg


ROWS = ("customer_id,date,amount,category,channel,items,dob,region\n"
        "a,2026-01-01,10.00,coffee,store,1,1980-05-17,north\n"
        "a,2026-01-01,5.00,coffee,store,3,,\n"
        "a,2026-01-15,20.00,tea,online,2,,\n"
        "a,2026-01-20,-5.00,tea,online,,,\n"
        "b,2026-01-08,8.00,coffee,store,1,,south\n"
        "c,2026-01-02,4.00,coffee,app,2,1990-12-01,north\n"
        "c,2026-02-12,6.00,gift_card,store,1,,\n"
        "d,2026-01-03,-2.00,coffee,store,1,,\n")  # a return without a purchase


def test_population_customers_and_report(tmp_path: Path, capsys, fake_fit) -> None:
    src = tmp_path / "sales.csv"
    src.write_text(ROWS, encoding="utf-8")
    out = tmp_path / "pops" / "ours.yaml"
    code = main(["fit", str(src), "--out", str(out), "--report", str(tmp_path / "report"),
                 "--birthday-column", "dob", "--attribute-column", "region"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "warning[RL830]" in err and "return without a matching purchase: 1" in err
    assert "warning[RL832]" in err  # the fake Pareto/NBD fails: BG/NBD is used

    pop = load_population_file(out)
    seg = pop.segments[0]
    assert pop.model == "bgnbd" and pop.start.isoformat() == "2026-02-13"
    assert (seg.r, seg.alpha_days, seg.a, seg.b) == (0.25, 4.0 * 7, 0.8, 2.5)  # alpha per week -> per day
    assert (seg.spend_p, seg.spend_q, seg.spend_gamma) == (6.0, 4.0, 15.0)
    # 6 purchase rows (a 3, b 1, c 2; d has only a return): coffee 4, tea 1, gift_card 1; shares to 6 decimals
    cats = dict(zip(seg.categories.values, seg.categories.weights))
    assert cats == pytest.approx({"coffee": 4 / 6, "tea": 1 / 6, "gift_card": 1 / 6}, abs=1e-5)
    chans = dict(zip(seg.channels.values, seg.channels.weights))
    assert chans == pytest.approx({"store": 4 / 6, "online": 1 / 6, "app": 1 / 6}, abs=1e-5)
    assert seg.items_mean == pytest.approx((1 + 3 + 2 + 1 + 2 + 1) / 6, abs=1e-4)
    assert seg.birthday_known == pytest.approx(2 / 3, abs=1e-4)  # a and c of a, b, c
    assert seg.returns.rate == pytest.approx(1 / 6, abs=1e-6)  # one matched return of 6 purchase rows
    assert seg.returns.fraction.values == (0.25,) and (seg.returns.delay_min, seg.returns.delay_max) == (5, 5)
    text = out.read_text()
    assert "# BG/NBD MLE on 3 customers" in text and "SET THEM" in text
    assert "gamma-gamma MLE on 2 repeat buyers" in text  # a and c bought on two days

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["skipped"] == [{"reason": "return without a matching purchase", "rows": 1}]
    assert report["meta"]["customers"] == 3 and report["meta"]["date_format"] == "%Y-%m-%d"
    assert report["segments"][0]["purchase"]["params"] == [0.25, 4.0, 0.8, 2.5]
    assert report["checks"]["frequency"]["actual"][:2] == [1, 2]  # b has 0 repeats, a and c one each
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("<img ") >= 4 and "Does the model fit?" in html
    assert "Rows not used" in (tmp_path / "report" / "report.md").read_text()

    customers = out.with_name("ours.customers.csv")
    from simulator.fit.population_file import reader_supports

    if reader_supports("customers"):  # written when the simulator reads customers files
        rows = list(csv.DictReader(customers.open()))
        assert [r["id"] for r in rows] == ["a", "b", "c"]
        assert [r["frequency"] for r in rows] == ["1", "0", "1"]
        assert [float(r["age"]) for r in rows] == pytest.approx([42 / 7, 35 / 7, 41 / 7], abs=1e-5)
        assert [r["mean_spend"] for r in rows] == ["15.00", "8.00", "5.00"]
        assert [r["birthday"] for r in rows] == ["1980-05-17", "", "1990-12-01"]
        assert [r["region"] for r in rows] == ["north", "south", "north"]


def test_segments_by_a_customer_column(tmp_path: Path, capsys, fake_fit) -> None:
    src = tmp_path / "sales.csv"
    src.write_text(ROWS, encoding="utf-8")
    out = tmp_path / "seg.yaml"
    code = main(["fit", str(src), "--out", str(out), "--segment-by", "region", "--format", "json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(stdout)
    assert [(s["name"], s["customers"]) for s in doc["segments"]] == [("north", 2), ("south", 1)]
    pop = load_population_file(out)
    assert [(s.name, round(s.share, 6)) for s in pop.segments] == [("north", round(2 / 3, 6)), ("south", round(1 / 3, 6))]
