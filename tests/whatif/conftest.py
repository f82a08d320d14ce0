from __future__ import annotations

import pytest

from simulator.whatif.runner import load_population_spec, load_program_spec
from whatif_helpers import FIXTURES


@pytest.fixture(scope="session")
def calm():
    return load_population_spec(str(FIXTURES / "calm.yaml"))


@pytest.fixture(scope="session")
def gift():
    return load_program_spec(str(FIXTURES / "gift.loyalty"))


@pytest.fixture(scope="session")
def birthday():
    return load_program_spec(str(FIXTURES / "birthday.loyalty"))


@pytest.fixture(scope="session")
def birthday_v2():
    return load_program_spec(str(FIXTURES / "birthday_v2.loyalty"))
