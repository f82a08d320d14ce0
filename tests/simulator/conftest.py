from __future__ import annotations

import pytest

from sim_helpers import HERE
from simulator.model.population import load_population_file


@pytest.fixture(scope="session")
def busy_population():
    return load_population_file(HERE / "fixtures" / "busy.yaml")

