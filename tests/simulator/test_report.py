"""The human reports (Markdown, self-contained HTML with charts) of a real simulation run.

A small coffee-chain simulation (rules/coffee.loyalty on rules/populations/coffee.yaml,
3 trials) is turned into report.md and report.html; the numbers in the Markdown tables
must be the report.json numbers, the HTML must carry its five charts inline as PNG and
load nothing from elsewhere, and runs without tiers or with one trial still render.
"""

from __future__ import annotations

import base64
import copy
import json
import re

import pytest

from rulelang.check.compiler import compile_source
from rulelang.syntax.loader import load_file
from sim_helpers import ROOT
from simulator.report import charts
from simulator.trials.montecarlo import simulate
from simulator.model.population import load_population_file
from simulator.report.pages import format_value, render_html, render_markdown, write_human_reports

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def report() -> dict:
    sf, diags, _ = load_file(str(ROOT / "rules" / "coffee.loyalty"))
    assert sf is not None, [d.message for d in diags]
    program, diags = compile_source(sf)
    assert program is not None, [d.message for d in diags if d.is_error]
    pop = load_population_file(ROOT / "rules" / "populations" / "coffee.yaml")
    result = simulate(program, pop, customers=3000, months=4, trials=3, seed=11, workers=1)
    return json.loads(json.dumps(result.to_json()))  # exactly what report.json holds


@pytest.fixture(scope="module")
def markdown(report) -> str:
    return render_markdown(report)


@pytest.fixture(scope="module")
def page(report) -> str:
    return render_html(report)


def table_rows(md: str) -> dict[str, list[str]]:
    """Metric label -> cells, from every Markdown table row."""
    rows = {}
    for line in md.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[cells[0].replace("&nbsp;", "")] = cells[1:]
    return rows


def money(v: float) -> str:
    return f"{v:,.0f}"


def interval(s: dict, fmt, half_fmt=None) -> str:
    """mean [range of outcomes] ±Monte Carlo precision, as the reports print a cell."""
    half = (s["high"] - s["low"]) / 2
    return f"{fmt(s['mean'])} [{fmt(s['range'][0])} to {fmt(s['range'][1])}] ±{(half_fmt or fmt)(half)}"


def test_header_names_the_run(markdown, report):
    m = report["meta"]
    rows = table_rows(markdown)
    assert rows["Program"] == ["Bean Club"]
    assert rows["Seed"] == ["11"]
    assert rows["Customers"] == ["3,000"]
    assert rows["Trials"] == ["3"]
    assert rows["Months"][0].startswith("4 (2027-01-01 to 2027-04-30")
    assert m["program_hash"] in rows["Program hash"][0]
    assert m["population_hash"] in rows["Population hash"][0]
    assert m["package_version"] in rows["Version"][0]


def test_money_rows_are_the_json_numbers(markdown, report):
    t = report["totals"]
    rows = table_rows(markdown)
    assert rows["Revenue"] == [interval(t["program.revenue"], money), interval(t["baseline.revenue"], money),
                               interval(t["incremental.revenue"], lambda v: f"{v:+,.0f}", money)]
    net = rows["Net profit (gross profit − program cost)"]
    assert net[0] == interval(t["program.net_profit"], money)
    assert net[2] == interval(t["incremental.profit"], lambda v: f"{v:+,.0f}", money)
    assert rows["Program cost"][0] == interval(t["program.program_cost"], money)
    assert rows["ROI (incremental profit / program cost)"][0] == interval(t["program.roi"], lambda v: f"{v:.2f}")
    assert rows["fixed costs"][0] == interval(t["program.cost_fixed"], money)


def test_points_and_customer_rows_are_the_json_numbers(markdown, report):
    t = report["totals"]
    rows = table_rows(markdown)
    assert rows["Issued"][0] == interval(t["program.points_issued"], money)
    assert rows["Redeemed"][0] == interval(t["program.points_redeemed"], money)
    assert rows["Outstanding at the end"][0] == interval(t["program.points_outstanding"], money)
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    assert rows["Retention at the end"][:2] == [interval(t["program.retention"], pct),
                                                 interval(t["baseline.retention"], pct)]
    assert rows["Average check (money)"][0] == interval(t["program.average_check"], lambda v: f"{v:,.2f}")


def test_a_difference_is_paired_trial_by_trial(markdown, report):
    # purchases: program − baseline per trial; mean, Student t (2 degrees of freedom: 4.302653, tables)
    # and the 5th / 95th percentiles of the three differences (ranks 0.1 and 1.9 of the sorted values)
    prog, base = report["per_trial"]["program.purchases"], report["per_trial"]["baseline.purchases"]
    d = [a - b for a, b in zip(prog, base)]
    mean = sum(d) / 3
    sd = (sum((x - mean) ** 2 for x in d) / 2) ** 0.5
    half = 4.302653 * sd / 3 ** 0.5
    x = sorted(d)
    p5, p95 = x[0] + 0.1 * (x[1] - x[0]), x[1] + 0.9 * (x[2] - x[1])
    expected = f"{mean:+,.0f} [{p5:+,.0f} to {p95:+,.0f}] ±{half:,.0f}"
    assert table_rows(markdown)["Purchases"][2] == expected


def test_reports_name_both_kinds_of_uncertainty(markdown, page):
    for text in (markdown, page):
        assert "range of outcomes" in text and "Monte Carlo precision" in text
        assert "chance alone" in text  # a fixed population: the range is chance only, and says so


def test_markdown_has_tier_mix_ledger_line_and_no_tracebacks(markdown, report):
    rows = table_rows(markdown)
    last = report["tier_mix"]["share"]["Green"]["mean"][-1]
    assert rows["Green"][0].startswith(f"{100 * last:.1f}%")
    assert "holds for every customer in every trial" in markdown
    assert "issued = redeemed + expired + reversed + outstanding" in markdown


def test_html_is_self_contained_with_five_png_charts(page):
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert "<link" not in page and "<script" not in page and "@import" not in page
    images = IMG.findall(page)
    assert len(images) == 5
    for data in images:
        assert base64.b64decode(data).startswith(PNG_SIGNATURE)
    assert "<style>" in page and page.rstrip().endswith("</html>")


def test_html_has_the_same_tables(page, markdown):
    rows = table_rows(markdown)
    assert f"<td>{rows['Revenue'][0]}</td>" in page
    assert "Tier mix at the end" in page


def test_every_chart_function_returns_a_png(report):
    for fn in (charts.cost_vs_margin_chart, charts.liability_chart, charts.tier_mix_chart,
               charts.retention_chart, charts.incremental_profit_histogram):
        assert fn(report).startswith(PNG_SIGNATURE)


def test_no_tiers_and_one_trial_still_render(report, tmp_path):
    one = copy.deepcopy(report)
    one["tier_names"], one["tier_mix"] = [], {}
    one["meta"]["trials"] = 1
    one["per_trial"] = {k: v[:1] for k, v in one["per_trial"].items()}
    for group in (one["totals"], one["monthly"]):
        for s in group.values():
            s["low"], s["high"] = s["mean"], s["mean"]
    md = render_markdown(one)
    assert "One trial: no range of outcomes and no Monte Carlo precision" in md
    assert " to " not in table_rows(md)["Revenue"][0] and "±" not in table_rows(md)["Revenue"][0]
    assert "Tier mix" not in md
    paths = write_human_reports(one, tmp_path)
    assert [p.name for p in paths] == ["report.md", "report.html"]
    html_text = paths[1].read_text(encoding="utf-8")
    assert len(IMG.findall(html_text)) == 4
    assert "The program has no tiers" in html_text


def test_missing_series_give_notes_not_errors(report):
    bare = {"schema": report["schema"], "meta": report["meta"], "totals": {}, "per_trial": {},
            "months": [], "monthly": {}, "tier_names": [], "tier_mix": {}, "ledger_identity_ok": True,
            "ledger_identity_max_abs_error": 0, "warnings": ["returns are not simulated: rules on `return` never fire"]}
    page = render_html(bare)
    assert IMG.findall(page) == []
    assert page.count("not drawn.") == 8  # every chart of simulator.report.charts.CHARTS
    assert "returns are not simulated" in render_markdown(bare)


def test_numbers_are_formatted_for_people():
    assert format_value(1234567.891, "money") == "1,234,568"
    assert format_value(-0.3, "money") == "0"
    assert format_value(0.4567, "pct") == "45.7%"
    assert format_value(-0.012, "pct", signed=True) == "-1.2 pp"
    assert format_value(250.0, "count", signed=True) == "+250"
    assert format_value(None, "money") == "n/a"


def test_axis_numbers_use_one_unit_per_axis():
    from simulator.report.charts import _ShortNumbers

    f = _ShortNumbers()
    ticks = [0, 2500, 5000, 7500, 10000, 12500]
    f.set_locs(ticks)  # the largest tick is 12,500: the whole axis in thousands, one decimal
    assert [f(v) for v in ticks] == ["0", "2.5k", "5.0k", "7.5k", "10.0k", "12.5k"]
    f.set_locs([0, 200, 400])
    assert [f(v) for v in [0, 200, 400]] == ["0", "200", "400"]
    f.set_locs([1e6, 1.5e6, 2e6])
    assert [f(v) for v in [1e6, 1.5e6, 2e6]] == ["1.0M", "1.5M", "2.0M"]
