"""Fixtures for the simulator's tests. Every response body any simulator sends is validated against Microsoft's
messages.xsd, and simulator internal errors fail the test, for the whole suite: see tests/conftest.py."""
from __future__ import annotations

import pytest
from sim_helpers import populate

from ews_simulator.testing import running_simulator


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="both") as handle:
        yield populate(handle)
