"""What `loyalty fit` writes: the population file (read back by the simulator and run by `simulate`),
the customers file and the report, with the real statistics of `simulator.model.estimation`.

The data: 300 customers drawn with `simulator.transactions.synthetic` from a known BG/NBD population, plus four
hand-written customers (a birthday column, a region, a return, a return without a purchase). Every
number checked is worked out in the test from the rows it wrote: the per-customer summaries by their
definition (a transaction is a day with a purchase; T runs to the last day of the file), the shares
by counting rows; the parameters written must be the maximum-likelihood estimates of `simulator.model.estimation`
on those summaries (to the six significant digits the file prints).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from rulelang.tools.cli import main
from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from sim_helpers import ROOT
from fit_helpers import KNOWN
from simulator.model.estimation import bgnbd, gamma_gamma, pareto_nbd
from simulator.model.population import load_population_file
from simulator.transactions.synthetic import simulated_rows

HEADER = ["customer_id", "date", "amount", "kind", "order_id", "category", "channel", "items", "dob", "region"]
HAND = [  # customer, date, amount, kind, order, category, channel, items, dob, region
    ("a", "2026-01-01", "10.00", "purchase", "a1", "coffee", "store", "1", "1980-05-17", "north"),
    ("a", "2026-01-01", "5.00", "purchase", "a2", "coffee", "store", "3", "", ""),
    ("a", "2026-01-15", "20.00", "purchase", "a3", "tea", "online", "2", "", ""),
    ("a", "2026-01-20", "5.00", "return", "a3", "tea", "online", "", "", ""),  # a quarter of a3, 5 days later
    ("b", "2026-01-08", "8.00", "purchase", "b1", "coffee", "store", "1", "", "south"),
    ("c", "2026-01-02", "4.00", "purchase", "c1", "coffee", "app", "2", "1990-12-01", "north"),
    ("c", "2026-02-12", "6.00", "purchase", "c2", "gift_card", "store", "1", "", ""),
    ("d", "2026-01-03", "2.00", "return", "zz", "coffee", "store", "1", "", ""),  # returns nothing bought
]


@dataclasses.dataclass
class Data:
    path: Path
    rows: list[dict[str, str]]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Data:
    folder = tmp_path_factory.mktemp("fitout")
    (folder / "known.yaml").write_text(KNOWN, encoding="utf-8")
    sf, _, _ = load_file(str(ROOT / "rules" / "coffee.loyalty"))
    program, _ = compile_source(sf)
    drawn = simulated_rows(load_population_file(folder / "known.yaml"), program, customers=300, months=8, seed=11,
                           start=dt.date(2026, 1, 1))
    rows = []
    for r in drawn:
        number = int(r.customer[1:])
        first = r.order.endswith("-first")
        rows.append(dict(zip(HEADER, [r.customer, r.date.isoformat(), f"{abs(r.amount_cents) / 100:.2f}", r.kind,
                                      r.order, r.category, r.channel, str(r.items or ""),
                                      "1975-03-14" if first and number % 3 == 0 else "",
                                      ("north" if number % 2 else "south") if first else ""])))
    rows += [dict(zip(HEADER, h)) for h in HAND]
    path = folder / "sales.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return Data(path, rows)


def by_definition(rows: list[dict[str, str]]) -> dict[str, dict[str, float]]:
    """Per customer with a purchase: x, t_x, T in weeks, spend_count and mean_spend (net of matched returns)."""
    days: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    order_day: dict[str, tuple[str, dt.date]] = {}
    for r in rows:
        if r["kind"] == "purchase":
            day = dt.date.fromisoformat(r["date"])
            days[r["customer_id"]][day] += float(r["amount"])
            order_day[r["order_id"]] = (r["customer_id"], day)
    for r in rows:
        if r["kind"] == "return" and r["order_id"] in order_day:
            cust, day = order_day[r["order_id"]]
            days[cust][day] -= float(r["amount"])
    end = max(dt.date.fromisoformat(r["date"]) for r in rows)
    out = {}
    for c, d in days.items():
        first, last = min(d), max(d)
        out[c] = {"x": len(d) - 1, "t_x": (last - first).days / 7, "T": (end - first).days / 7,
                  "spend_count": len(d), "mean_spend": sum(d.values()) / len(d)}
    return out


def arrays(s: dict[str, dict[str, float]], key: str, ids=None) -> np.ndarray:
    return np.array([s[c][key] for c in (ids or sorted(s))], dtype=float)


def test_population_customers_and_report(data: Data, tmp_path: Path, capsys) -> None:
    out = tmp_path / "pops" / "ours.yaml"
    code = main(["fit", str(data.path), "--out", str(out), "--report", str(tmp_path / "report"),
                 "--birthday-column", "dob", "--attribute-column", "region"])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert "warning[RL830]" in err and "return without a matching purchase: 1" in err

    s = by_definition(data.rows)
    x, t_x, T = arrays(s, "x"), arrays(s, "t_x"), arrays(s, "T")
    bg, pn = bgnbd.fit(x, t_x, T), pareto_nbd.fit(x, t_x, T)
    best = bg if bg.loglik >= pn.loglik else pn
    pop = load_population_file(out)
    seg = pop.segments[0]
    assert pop.model == best.model and pop.start.isoformat() == "2026-09-01"  # the day after the last row
    if best.model == "bgnbd":
        written = (seg.r, seg.alpha_days / 7, seg.a, seg.b)  # alpha per week in the file, per day in the reader
    else:
        written = (seg.r, seg.alpha_days / 7, seg.s, seg.beta_days / 7)
    assert written == pytest.approx(best.params, rel=1e-5)
    text = out.read_text()
    lls = {"bgnbd": f"BG/NBD {bg.loglik:,.1f}", "pareto_nbd": f"Pareto/NBD {pn.loglik:,.1f}"}
    other = "pareto_nbd" if best.model == "bgnbd" else "bgnbd"
    assert f"the higher log-likelihood on the whole history ({lls[best.model]}, {lls[other]})" in text

    repeat = [c for c in sorted(s) if s[c]["spend_count"] >= 2 and s[c]["mean_spend"] > 0]
    gg = gamma_gamma.fit(arrays(s, "spend_count", repeat), arrays(s, "mean_spend", repeat))
    assert (seg.spend_p, seg.spend_q, seg.spend_gamma) == pytest.approx(gg.params, rel=1e-5)
    assert f"gamma-gamma MLE on {len(repeat):,} repeat buyers" in text

    purchases = [r for r in data.rows if r["kind"] == "purchase"]
    for mix, column in ((seg.categories, "category"), (seg.channels, "channel")):
        counts: dict[str, int] = defaultdict(int)
        for r in purchases:
            counts[r[column]] += 1
        assert dict(zip(mix.values, mix.weights)) == pytest.approx(
            {k: v / len(purchases) for k, v in counts.items()}, abs=1e-5)
    assert seg.items_mean == pytest.approx(np.mean([int(r["items"]) for r in purchases]), abs=1e-4)
    customers = {r["customer_id"] for r in purchases}
    with_dob = {r["customer_id"] for r in purchases if r["dob"]}
    assert seg.birthday_known == pytest.approx(len(with_dob) / len(customers), abs=1e-4)
    assert seg.returns.rate == pytest.approx(1 / len(purchases), abs=1e-6)  # one matched return
    assert seg.returns.fraction.values == (0.25,) and (seg.returns.delay_min, seg.returns.delay_max) == (5, 5)

    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert report["skipped"] == [{"reason": "return without a matching purchase", "rows": 1}]
    assert report["meta"]["customers"] == len(customers) and report["meta"]["date_format"] == "%Y-%m-%d"
    assert report["meta"]["model_choice"]["loglik"] == pytest.approx({"bgnbd": bg.loglik, "pareto_nbd": pn.loglik},
                                                                     abs=1e-6)
    assert report["segments"][0]["purchase"]["params"] == pytest.approx(best.params, rel=1e-9)
    hist = report["checks"]["frequency"]
    assert hist["actual"][:3] == [int((x == k).sum()) for k in range(3)]
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("<img ") >= 4 and "Does the model fit?" in html
    assert "Rows not used" in (tmp_path / "report" / "report.md").read_text()
    assert not list((tmp_path / "report").glob(".loyalty-writing-*"))  # the set's temporary folder is gone

    table = {r["id"]: r for r in csv.DictReader(out.with_name("ours.customers.csv").open())}
    assert set(table) == customers
    assert [table[c]["frequency"] for c in "abc"] == ["1", "0", "1"]
    end = dt.date(2026, 8, 31)
    assert [float(table[c]["age"]) for c in "abc"] == pytest.approx(
        [(end - dt.date(2026, 1, d)).days / 7 for d in (1, 8, 2)], abs=1e-4)
    assert [table[c]["mean_spend"] for c in "abc"] == ["15.00", "8.00", "5.00"]
    assert [table[c]["birthday"] for c in "abc"] == ["1980-05-17", "", "1990-12-01"]
    assert [table[c]["region"] for c in "abc"] == ["north", "south", "north"]

    # the population runs in `simulate` as written: the customers file and the uncertainty block
    assert "customers: ours.customers.csv" in text and "    uncertainty:" in text
    assert pop.customers is not None and seg.uncertainty is not None
    code = main(["simulate", str(ROOT / "rules" / "coffee.loyalty"), "--population", str(out), "--trials", "2",
                 "--months", "2", "--format", "json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(stdout)["meta"]["customers"] == len(customers)  # the file's customers, by default


def test_segments_by_a_customer_column(data: Data, tmp_path: Path, capsys) -> None:
    out = tmp_path / "seg.yaml"
    code = main(["fit", str(data.path), "--out", str(out), "--segment-by", "region", "--model", "bgnbd",
                 "--format", "json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    region: dict[str, str] = {}
    for r in data.rows:
        if r["kind"] == "purchase" and r["region"]:
            region.setdefault(r["customer_id"], r["region"])
    counts = {k: sum(1 for v in region.values() if v == k) for k in ("north", "south")}
    doc = json.loads(stdout)
    assert sorted((s["name"], s["customers"]) for s in doc["segments"]) == sorted(counts.items())
    assert doc["meta"]["model_choice"]["why"].startswith("BG/NBD, as asked (--model bgnbd)")
    s = by_definition(data.rows)
    north = [c for c in sorted(s) if region.get(c) == "north"]
    fit = bgnbd.fit(arrays(s, "x", north), arrays(s, "t_x", north), arrays(s, "T", north))
    seg = {g["name"]: g for g in doc["segments"]}["north"]
    assert seg["purchase"]["params"] == pytest.approx(fit.params, rel=1e-6)
    pop = load_population_file(out)
    total = sum(counts.values())
    assert {s.name: round(s.share, 6) for s in pop.segments} == {k: round(v / total, 6) for k, v in counts.items()}
