"""`loyalty fit` on transaction files the fuzz driver (benchmarks/fuzz_inputs.py) found ending in
an internal error: a customer first seen on the file's last day (age T = 0)."""

from __future__ import annotations

import json
from pathlib import Path

from rulelang.cli import main

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
