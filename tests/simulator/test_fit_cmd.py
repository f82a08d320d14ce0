"""`loyalty fit`: bad input (located errors, exit 1, never a traceback), summaries, and what it writes.

The summaries (frequency, recency, age, mean spend) are worked out by hand from the rows of
each test; the CDNOW ones are checked against the published per-customer summary.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest

from rulelang.tools.cli import main
from simulator.fit.summary import summarise
from simulator.transactions.reader import ColumnMap, TransactionsError, read_transactions

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cdnow"
CDNOW = FIXTURES / "transactions.csv"


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


SMALL = ("customer_id,date,amount\n"
         "a,2026-01-01,10.00\n"
         "a,2026-01-01,5.00\n"       # same day: one transaction of 15.00
         "a,2026-01-15,20.00\n"
         "a,2026-01-20,-5.00\n"      # a return of a quarter of the 20.00 basket, 5 days later
         "b,2026-01-08,8.00\n"
         "c,2026-01-02,4.00\n"
         "c,2026-02-12,6.00\n")


# ------------------------------------------------------------------ summaries

def test_summaries_by_hand(tmp_path: Path) -> None:
    tx = read_transactions(write(tmp_path, SMALL))
    s = summarise(tx, None, "week")
    assert tx.customer_ids.tolist() == ["a", "b", "c"]
    assert s.first_day == dt.date(2026, 1, 1) and s.last_day == dt.date(2026, 2, 12)
    assert s.full_x.tolist() == [1, 0, 1]
    assert s.full_t_x.tolist() == pytest.approx([14 / 7, 0.0, 41 / 7])
    assert s.full_T.tolist() == pytest.approx([42 / 7, 35 / 7, 41 / 7])
    assert s.mean_spend.tolist() == pytest.approx([(35.0 - 5.0) / 2, 8.0, 10.0 / 2])
    assert s.spend_count.tolist() == [2, 1, 2]


def test_calibration_and_holdout_split(tmp_path: Path) -> None:
    rows = "customer_id,date,amount\n" + "".join(
        f"a,{d},1\n" for d in ("2026-01-01", "2026-01-10", "2026-02-20", "2026-03-01", "2026-03-02")) + \
        "b,2026-02-25,1\n"
    tx = read_transactions(write(tmp_path, rows))
    s = summarise(tx, dt.date(2026, 2, 15), "day")  # calibration 01-01 .. 02-14, holdout 02-15 .. 03-02
    assert s.cal_end == dt.date(2026, 2, 14)
    assert s.in_calibration.tolist() == [True, False]  # b first bought in the holdout
    assert s.x.tolist()[0] == 1 and s.t_x[0] == 9.0 and s.T[0] == 44.0
    assert s.x_star.tolist()[0] == 3
    assert s.holdout_units == 16.0


def test_cdnow_calibration_summaries_match_the_published_ones() -> None:
    tx = read_transactions(CDNOW, ColumnMap(customer="customer_seq"))
    s = summarise(tx, dt.date(1997, 10, 1), "week")
    published = {int(r["ID"]): r for r in csv.DictReader(open(FIXTURES / "customers_summary.csv"))}
    assert len(published) == tx.n_customers == 2357
    for i, cid in enumerate(tx.customer_ids):
        row = published[int(cid)]
        assert s.x[i] == int(row["frequency"]), cid
        assert s.t_x[i] == pytest.approx(float(row["recency"]), abs=0.005), cid
        assert s.T[i] == pytest.approx(float(row["T"]), abs=0.005), cid
    # counted from the raw file, one customer-day each (same-day purchases once)
    days = {}
    for r in csv.DictReader(open(CDNOW)):
        days.setdefault(r["customer_seq"], set()).add(r["date"])
    cal = sum(sum(1 for d in v if d <= "19970930") - 1 for v in days.values())
    hold = sum(sum(1 for d in v if d > "19970930") for v in days.values())
    assert int(s.x.sum()) == cal == 2457
    assert int(s.x_star.sum()) == hold == 1882


# ------------------------------------------------------------------ bad input through the command

@pytest.mark.parametrize("text, extra, code", [
    ("customer_id,day,amount\na,2026-01-01,1\n", [], "RL803"),
    ("customer_id,date,amount\na,2026-01-01,1\na,2026-01-32,1\n", [], "RL804"),
    ("customer_id,date,amount\na,01/02/2026,1\na,03/04/2026,1\n", [], "RL805"),
    ("customer_id,date,amount\na,2026-01-01,abc\n", [], "RL806"),
    ("", [], "RL801"),
    ('customer_id,date,amount\na,2026-01-01,"1\n', [], "RL802"),
    ("customer_id,date,amount\na,2026-01-01,1\na,2026-03-01,1\n", ["--holdout-from", "2026-01-20"], "RL820"),
    ("customer_id,date,amount\na,2026-01-01,1\n", ["--segment-by", "region"], "RL822"),
])
def test_bad_input_is_a_located_error_with_exit_1(tmp_path: Path, capsys, text: str, extra: list[str],
                                                  code: str) -> None:
    p = write(tmp_path, text)
    rc, out, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "pop.yaml"), *extra)
    assert rc == 1
    assert f"error[{code}]" in err and "Traceback" not in err
    assert str(p) in err
    assert not (tmp_path / "pop.yaml").exists()


def test_holdout_errors_say_which_dates_work(tmp_path: Path, capsys) -> None:
    p = write(tmp_path, "customer_id,date,amount\na,2026-01-01,1\na,2026-03-01,1\n")
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--holdout-from", "2026-01-20")
    # calibration 2026-01-01 .. 01-19 = 19 days, holdout 01-20 .. 03-01 = 41 days
    assert rc == 1 and "19 days" in err and "41 days" in err and "--holdout-from 2026-01-31" in err
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--holdout-from", "2026-04-01")
    assert rc == 1 and "after the last day of the file (2026-03-01)" in err
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--holdout-from", "2026-02-25")
    assert rc == 1 and "5 days: too short" in err


def test_a_malformed_holdout_date_is_a_usage_error(tmp_path: Path, capsys) -> None:
    p = write(tmp_path, SMALL)
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--holdout-from", "July")
    assert rc == 2 and "--holdout-from expects a date" in err


def test_mapping_file_errors_are_located(tmp_path: Path, capsys) -> None:
    p = write(tmp_path, SMALL)
    m = write(tmp_path, "customer: customer_id\namount: [1, 2]\n", "map.yaml")
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--columns", str(m))
    assert rc == 1 and "map.yaml:2:" in err and "error[RL809]" in err


def test_segment_by_a_purchase_column_is_refused(tmp_path: Path, capsys) -> None:
    p = write(tmp_path, "customer_id,date,amount,category\na,2026-01-01,1,tea\n")
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--segment-by", "category")
    assert rc == 1 and "error[RL822]" in err and "per-purchase column" in err


def test_errors_are_also_raised_by_the_reader_api(tmp_path: Path) -> None:
    with pytest.raises(TransactionsError):
        read_transactions(write(tmp_path, "x,y\n1,2\n"))


def test_outputs_that_cannot_be_written_are_rl620_before_fitting(tmp_path: Path, capsys) -> None:
    p = write(tmp_path, SMALL)
    blocker = write(tmp_path, "not a folder\n", "report")
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "p.yaml"), "--report", str(blocker))
    assert rc == 1 and "error[RL620]" in err and "it is a file, not a folder" in err and "Traceback" not in err
    assert not (tmp_path / "p.yaml").exists()  # checked before anything is fitted or written
    (tmp_path / "pop").mkdir()
    rc, _, err = run(capsys, "fit", str(p), "--out", str(tmp_path / "pop"))
    assert rc == 1 and "error[RL620]" in err and "it is a folder" in err


def test_fit_and_replay_take_the_same_column_flags(capsys) -> None:
    from rulelang.tools.cli import build_parser
    from simulator.transactions.columns import FIELD_FLAGS

    parser = build_parser()
    for command in ("fit", "replay"):
        sub = parser._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
        flags = {o for a in sub._actions for o in a.option_strings}
        assert {f"--{word}-column" for _, word, _ in FIELD_FLAGS} <= flags
        assert {"--attribute-column", "--columns", "--date-format", "--decimal"} <= flags
