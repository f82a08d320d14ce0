"""`loyalty fit` and `loyalty replay` on transaction files the fuzz driver
(benchmarks/fuzz_inputs.py) found ending in an internal error: a customer first seen on the
file's last day (age T = 0), a column named twice in the header, fields longer than Python's
csv module reads by default (128 KiB)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rulelang.tools.cli import main

CDNOW = Path(__file__).resolve().parent.parent / "fixtures" / "cdnow" / "transactions.csv"


def _fit(capsys, path: Path, tmp_path: Path) -> tuple[int, dict | None, str]:
    code = main(["fit", str(path), "--out", str(tmp_path / "pop.yaml"), "--no-customers", "--model", "bgnbd",
                 "--format", "json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_a_customer_first_seen_on_the_last_day_adds_nothing_to_the_fit(capsys, tmp_path):
    """BG/NBD: a customer with x = 0 observed for T = 0 has likelihood (α/(α+T))^r = 1 for every
    parameter, so the estimates are those of the file without that customer."""
    rows = CDNOW.read_text(encoding="utf-8").split("\n")[:300]
    last = max(r.split(",")[2] for r in rows[1:])
    base = tmp_path / "base.csv"
    base.write_text("\n".join(rows) + "\n", encoding="utf-8")
    late = tmp_path / "late.csv"
    late.write_text("\n".join(rows + [f"99999,9999,{last},1,10.00"]) + "\n", encoding="utf-8")
    code_base, fit_base, _ = _fit(capsys, base, tmp_path)
    code_late, fit_late, err = _fit(capsys, late, tmp_path)
    assert code_base == 0 and code_late == 0, err
    assert fit_late["meta"]["customers"] == fit_base["meta"]["customers"] + 1
    assert fit_late["segments"][0]["purchase"]["params"] == fit_base["segments"][0]["purchase"]["params"]


def test_a_file_whose_customers_all_start_on_its_last_day_is_an_error(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\nA,2027-05-03,7.40\nB,2027-05-03,8.00\n", encoding="utf-8")
    code, _, err = _fit(capsys, path, tmp_path)
    assert code == 1
    assert f"{path}: error[RL852]" in err and "hint:" in err and "Traceback" not in err


def _both(capsys, path: Path, tmp_path: Path) -> list[tuple[int, str]]:
    """(exit code, standard error) of `fit` and of `replay` of rules/coffee.loyalty on `path`."""
    got = []
    for argv in (["fit", str(path), "--out", str(tmp_path / "pop.yaml"), "--no-customers"],
                 ["replay", "rules/coffee.loyalty", "--transactions", str(path), "--workers", "1"]):
        code = main(argv)
        got.append((code, capsys.readouterr().err))
    return got


def test_a_column_named_twice_is_located_at_its_second_name(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,customer_seq,date,customer_id,amount\n00004,0001,19970101,2,29.33\n",
                    encoding="utf-8")
    for code, err in _both(capsys, path, tmp_path):
        assert code == 1
        # `customer_id,customer_seq,date,` is 30 characters: the second name starts at column 31
        assert f"{path}:1:31: error[RL802]: the header names column `customer_id` 2 times (fields 1, 4)" in err
        assert "hint:" in err and "Traceback" not in err


def test_a_bad_value_after_a_row_with_a_200_kib_field_is_located(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\n" + "x" * 200_000 + ",2027-05-03,7.40\nB,2027-05-04,abc\n",
                    encoding="utf-8")
    for code, err in _both(capsys, path, tmp_path):
        assert code == 1
        assert f"{path}:3:14: error[RL806]: row 2 (line 3), column `amount`" in err, err[:300]
        assert "Traceback" not in err


@pytest.mark.parametrize("where", ["header", "row"])
def test_a_200_kib_field_is_read(capsys, tmp_path, where):
    """A long extra column name, or a long value of a column the program does not read, is data:
    the replay of the other columns goes on (rules/coffee.loyalty awards points on purchases)."""
    big = "x" * 200_000
    header = "customer_id,date,amount,note" + (big if where == "header" else "")
    rows = [f"A,2027-05-0{d},7.40,{big if where == 'row' and d == 3 else 'n'}" for d in range(3, 10)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    code = main(["replay", "rules/coffee.loyalty", "--transactions", str(path), "--workers", "1", "--redeem", "never"])
    out, err = capsys.readouterr()
    assert code == 0, err[:500]
    assert "Traceback" not in err


def test_a_header_name_with_a_tab_before_it_is_the_column(capsys, tmp_path):
    """`\\tcategory` in the header names the column `category` (the header's names are stripped):
    the replay reads it like the file without the tab."""
    plain = Path(__file__).resolve().parent / "fixtures" / "replay" / "tiny.csv"
    text = plain.read_text(encoding="utf-8")
    tabbed = tmp_path / "tiny.csv"
    tabbed.write_text(text.replace(",category\n", ",\tcategory\n", 1), encoding="utf-8")
    assert text.split("\n")[0].endswith(",category")
    outs = []
    for path in (plain, tabbed):
        code = main(["replay", "rules/coffee.loyalty", "--transactions", str(path), "--workers", "1",
                     "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err[:500]
        doc = json.loads(out)
        doc.get("meta", {}).pop("file", None)
        outs.append(json.dumps(doc, sort_keys=True).replace(str(tabbed), "F").replace(str(plain), "F"))
    assert outs[0] == outs[1]


def test_a_very_long_bad_date_is_quoted_cut_short(capsys, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customer_id,date,amount\nA,2027-05-03,7.40\nB," + "9" * 100_000 + ",7.40\n", encoding="utf-8")
    for code, err in _both(capsys, path, tmp_path):
        assert code == 1 and "error[RL804]" in err, err[:300]
        message = next(line for line in err.splitlines() if "error[RL804]" in line)
        assert "`" + "9" * 40 + "… (100,000 characters)`" in message  # the value cut to 40 characters
        excerpt = next(line for line in err.splitlines() if line.lstrip().startswith("3 |"))
        assert len(excerpt) < 140 and excerpt.endswith("…")  # the source line cut to 120 characters
        assert len(err) < 1_000
