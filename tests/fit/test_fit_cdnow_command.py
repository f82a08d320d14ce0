"""`loyalty fit` end to end on the CDNOW sample (tests/fixtures/cdnow, the data of the BG/NBD paper).

The command fits the 39-week calibration period (1997-01-01 .. 1997-09-30, `--holdout-from
1997-10-01`); its BG/NBD fit must match the published estimates of Fader, Hardie & Lee (2005),
"Counting your customers the easy way", section 4, to their printed decimals: r = 0.243,
α = 4.414, a = 0.793, b = 2.426, LL = −9582.4; Pareto/NBD (same paper, and Fader & Hardie's note):
LL = −9595.0. `--model auto` must keep BG/NBD, the higher of the two, and say so with both
log-likelihoods in the report and in the population file; the population file must run in `simulate`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulelang.tools.cli import main
from simulator.model.population import load_population_file

ROOT = Path(__file__).resolve().parents[2]
CDNOW = ROOT / "tests" / "fixtures" / "cdnow" / "transactions.csv"
SAID = "BG/NBD: the higher log-likelihood on the calibration period (BG/NBD -9,582.4, Pareto/NBD -9,595.0)"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cdnow")
    out = folder / "cdnow.yaml"
    code = main(["fit", str(CDNOW), "--out", str(out), "--holdout-from", "1997-10-01", "--report",
                 str(folder / "report"), "--quantity-column", "quantity"])
    assert code == 0
    return out, json.loads((folder / "report" / "report.json").read_text()), folder


def test_the_calibration_fit_matches_the_published_estimates(fitted) -> None:
    _, report, _ = fitted
    assert report["meta"]["calibration_end"] == "1997-09-30" and report["meta"]["calibration_customers"] == 2357
    seg = report["segments"][0]
    cal = seg["calibration"]
    assert cal["model"] == "bgnbd" and cal["customers"] == 2357
    assert [round(v, 3) for v in cal["params"]] == [0.243, 4.414, 0.793, 2.426]
    assert round(cal["loglik"], 1) == -9582.4
    (other,) = seg["calibration_alternatives"]
    assert other["model"] == "pareto_nbd" and round(other["loglik"], 1) == -9595.0


def test_auto_keeps_bgnbd_and_says_why(fitted) -> None:
    out, report, folder = fitted
    choice = report["meta"]["model_choice"]
    assert choice["model"] == "bgnbd" and choice["compared_on"] == "calibration period" and not choice["asked"]
    assert {k: round(v, 1) for k, v in choice["loglik"].items()} == {"bgnbd": -9582.4, "pareto_nbd": -9595.0}
    assert choice["why"] == SAID
    assert SAID in (folder / "report" / "report.md").read_text()
    assert SAID in (folder / "report" / "report.html").read_text()
    assert f"model: bgnbd    # {SAID}" in out.read_text()


def test_the_population_runs_in_simulate(fitted, capsys) -> None:
    out, report, _ = fitted
    pop = load_population_file(out)
    assert pop.model == "bgnbd" and pop.customers is not None and pop.segments[0].uncertainty is not None
    whole = report["segments"][0]["purchase"]  # the population carries the whole-history fit
    assert pop.segments[0].r == pytest.approx(whole["params"][0], rel=1e-5)
    capsys.readouterr()
    code = main(["simulate", str(ROOT / "rules" / "coffee.loyalty"), "--population", str(out), "--trials", "2",
                 "--months", "1", "--format", "json"])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(stdout)["meta"]["customers"] == 2357
