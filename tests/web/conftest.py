"""Web test fixtures: `world` holds one of each object (so URL int arguments get real ids)."""
from __future__ import annotations

import pytest
from webtools import build_world


@pytest.fixture
def world(app, staff_user):
    return build_world(staff_user)
