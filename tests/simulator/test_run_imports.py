"""What a run loads: reading a population's customers file does not import pandas (pyarrow imports it
for `to_numpy` and for any Python value handed to it: 0.2 s of every `simulate` on a customers file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from simulator.model.customers_file import read_customers
base = read_customers(sys.argv[1], ["all"])
assert base.size > 0 and base.rows.birthday is not None
print("pandas" in sys.modules)
"""


def test_reading_a_customers_file_does_not_import_pandas():
    path = ROOT / "rules" / "data" / "coffee" / "population.customers.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
