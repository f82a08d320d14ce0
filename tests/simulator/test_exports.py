"""Exports of a run: CSV, the Excel workbook, Parquet and the pandas API, on one small run."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

from simulator.report.tables import csv_text, dataframes, tables
from simulator.trials.result import is_money, round_money

COFFEE = str(Path(__file__).resolve().parents[2] / "rules" / "coffee.loyalty")


def test_round_money_to_the_cent():
    # 1657927.0700000003 is 1657927.07 to the cent; -0.001 rounds to 0.0, not -0.0
    assert round_money(1657927.0700000003) == 1657927.07
    assert str(round_money(-0.001)) == "0.0"
    assert round_money({"mean": 1.005, "range": [0.333333, None]}) == {"mean": round(1.005, 2), "range": [0.33, None]}
    assert is_money("program.cost_perks") and is_money("incremental.profit") and is_money("cumulative.program_cost")
    assert not is_money("program.cost_per_redeemed_point") and not is_money("program.points_issued")


def test_csv_text_quotes_and_empty_cells():
    text = csv_text(["a", "b"], [["x,y", None], [1, 2.5]])
    assert text == 'a,b\n"x,y",\n1,2.5\n'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from rulelang.tools.cli import main

    out = tmp_path_factory.mktemp("run")
    code = main(["simulate", COFFEE, "--customers", "300", "--months", "3", "--trials", "3",
                 "--expected-redemption", "0.8", "--out", str(out), "--format", "json"])
    assert code == 0
    return out


def test_out_writes_every_export(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    for n in ("summary.csv", "monthly.csv", "per_trial.csv", "contract_liability.csv", "cohorts.csv", "cohort_ages.csv", "tier_economics.csv", "report.xlsx",
              "summary.parquet", "monthly.parquet", "per_trial.parquet", "report.json", "report.md", "report.html"):
        assert n in names


def test_csv_money_has_at_most_two_decimals(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    rows = list(csv.DictReader((run_dir / "summary.csv").open()))
    revenue = next(r for r in rows if r["metric"] == "program.revenue")
    assert revenue["unit"] == "USD"
    assert float(revenue["mean"]) == report["totals"]["program.revenue"]["mean"]
    for r in rows:
        if r["unit"] == "USD":
            for c in ("mean", "range_p5", "range_p95", "mc_precision_low", "mc_precision_high"):
                assert r[c] == "" or len(r[c].partition(".")[2]) <= 2, (r["metric"], c, r[c])
    per = list(csv.DictReader((run_dir / "per_trial.csv").open()))
    assert [int(r["trial"]) for r in per] == [0, 1, 2]  # one row per trial


def test_monthly_is_one_row_per_month_and_metric(run_dir):
    report = json.loads((run_dir / "report.json").read_text())
    rows = list(csv.DictReader((run_dir / "monthly.csv").open()))
    assert len(rows) == 3 * len(report["monthly"])  # 3 months x metrics
    row = next(r for r in rows if r["month"] == report["months"][1] and r["metric"] == "program.points_issued")
    assert float(row["mean"]) == report["monthly"]["program.points_issued"]["mean"][1]


def test_dataframes_xlsx_and_parquet_agree(run_dir):
    import pandas as pd

    frames = dataframes(run_dir)
    assert set(frames) == {"summary", "monthly", "per_trial", "contract_liability", "cohorts", "cohort_ages",
                           "tier_economics", "assumptions"}
    assert list(frames["tier_economics"]["tier"]) == ["Green", "Gold", "Reserve"]  # coffee's tiers, lowest first
    book = pd.read_excel(run_dir / "report.xlsx", sheet_name=None)
    assert set(book) == set(frames)
    for name in ("summary", "monthly", "per_trial", "contract_liability", "cohorts", "cohort_ages"):
        pq = pd.read_parquet(run_dir / f"{name}.parquet")
        assert list(pq.columns) == list(frames[name].columns)
        assert len(pq) == len(frames[name]) == len(book[name])
    cl = frames["contract_liability"]
    # the roll-forward identity on the means: opening + deferred - recognized - breakage = closing (to the cent)
    diff = cl["opening"] + cl["deferred"] - cl["recognized"] - cl["breakage"] - cl["closing"]
    assert (diff.abs() < 0.011).all()
    assert (cl["opening"].iloc[1:].values == cl["closing"].iloc[:-1].values).all()
    co = frames["cohorts"]  # per cohort, on the means: issued - redeemed - expired - reversed to date = outstanding
    for _, g in co.groupby("cohort"):
        net = (g["issued"] - g["redeemed"] - g["expired"] - g["reversed"]).cumsum()
        assert ((net - g["outstanding"]).abs() < 1e-6).all()
    # each month the cohorts' outstanding add up to the ledger's (means over trials)
    report = json.loads((run_dir / "report.json").read_text())
    by_month = co.groupby("month")["outstanding"].sum()
    for i, month in enumerate(report["months"]):
        assert by_month[month] == pytest.approx(report["monthly"]["program.points_outstanding"]["mean"][i])


def test_dataframes_without_pandas_names_the_extra(monkeypatch, run_dir):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"loyalty-rules\[notebook\]"):
        dataframes(run_dir)


def test_format_csv_prints_the_summary(capsys):
    from rulelang.tools.cli import main

    assert main(["simulate", COFFEE, "--customers", "200", "--months", "2", "--trials", "2",
                 "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "metric,unit,mean,range_p5,range_p95,mc_precision_low,mc_precision_high"
    assert any(line.startswith("program.revenue,USD,") for line in lines)
