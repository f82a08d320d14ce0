"""The terminal summary: layouts by width, the incremental-profit row, the uncertainty labels, the scale
line, the progress bar's quiet cases."""

from __future__ import annotations

import io

import pytest

from simulator.report.terminal import fit_table

ROWS = [("revenue", [("1,000", "900..1,100", "±50"), ("950", "850..1,050", ""), ("+50", "+40..+60", "±5")]),
        ("incremental profit", [None, None, ("+20", "+10..+30", "±4")])]
GROUPS = ["program", "baseline", "difference"]


def lines(text):
    return text.splitlines()


def test_wide_layout_labels_each_uncertainty():
    text = fit_table(GROUPS, ROWS, 200)
    head = lines(text)[0].split()
    # program: mean, range, precision; baseline: mean, range (no row has a baseline precision); difference: three
    assert " ".join(head) == ("metric program range of outcomes ± MC precision baseline range of outcomes "
                              "difference range of outcomes ± MC precision")
    assert lines(text)[1].strip("-") == ""  # an ASCII rule under the header
    assert "900..1,100" in lines(text)[2] and "±50" in lines(text)[2]
    assert all(len(line) <= 200 for line in lines(text))


def test_medium_layout_joins_the_parts():
    wide = max(len(x) for x in lines(fit_table(GROUPS, ROWS, 200)))
    text = fit_table(GROUPS, ROWS, wide - 1)  # one column short of the wide layout
    assert "1,000 [900..1,100] ±50" in text
    assert "range of outcomes" not in text
    assert all(len(line) <= wide - 1 for line in lines(text))


def test_narrow_layout_stacks_and_says_what_it_left_out():
    text = fit_table(GROUPS, ROWS, 50)  # the medium layout needs 62 columns here
    assert "baseline" in lines(text)[-1] and "left out" in lines(text)[-1]
    assert "1,000 ±50" in text and "[900..1,100]" in text  # the range on the line below the mean
    assert "950" not in text  # the baseline column is the one left out
    assert all(len(line) <= 50 for line in lines(text)[:-1])


def test_summary_has_incremental_profit_row_scale_and_labels(monkeypatch, capsys):
    from pathlib import Path

    from rulelang.tools.cli import main

    monkeypatch.setenv("COLUMNS", "100")
    coffee = str(Path(__file__).resolve().parents[2] / "rules" / "coffee.loyalty")
    assert main(["simulate", coffee, "--customers", "300", "--months", "2", "--trials", "3"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("incremental profit: ") and "range of outcomes" in line and "Monte Carlo precision" in line
               for line in out.splitlines())
    assert any(line.startswith("incremental profit ") for line in out.splitlines())  # the table row
    assert "these figures are for 300 customers (--customers)" in out
    assert all(len(line) <= 100 for line in out.splitlines() if not line.startswith(("range of", "Monte", "drawn", "Bean",
                                                                                   "scale", "  ", "contract", "tier", "does")))
    assert "opening + deferred - recognized - breakage = closing: holds" in out


class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("ci", ["true", "1"])
def test_progress_is_quiet_on_ci(monkeypatch, ci):
    from simulator.cli_options import progress_printer

    monkeypatch.setenv("CI", ci)
    assert progress_printer(_Tty()) is None


def test_progress_is_quiet_when_piped(monkeypatch):
    from simulator.cli_options import progress_printer

    monkeypatch.delenv("CI", raising=False)
    assert progress_printer(io.StringIO()) is None


def test_progress_on_a_terminal_shows_elapsed_and_eta(monkeypatch):
    from simulator.cli_options import progress_printer

    monkeypatch.delenv("CI", raising=False)
    stream = _Tty()
    show = progress_printer(stream)
    for done in range(1, 4):
        show(done, 3)
    text = stream.getvalue()
    assert "3/3" in text and "elapsed" in text and "left" in text
