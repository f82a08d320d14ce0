"""Shared paths and settings of the what-if tests."""

from __future__ import annotations

from pathlib import Path

from simulator.whatif.runner import Settings

FIXTURES = Path(__file__).with_name("fixtures")
ROOT = Path(__file__).resolve().parents[2]

# Small and fast: a few hundred customers, two months, a few trials, one process.
SMALL = Settings(customers=300, months=2, trials=3, seed=11, workers=1)
