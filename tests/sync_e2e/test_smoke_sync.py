"""G1 smoke: initial sync imports Outlook's busy time and exports Sundial's bookings."""
from __future__ import annotations

import pytest

from .conftest import future


@pytest.fixture(params=["sqlite", "postgresql"])
def either_world(request):
    return request.getfixturevalue("world" if request.param == "sqlite" else "pg_world")


def test_g1_initial_sync_imports_and_exports(either_world):
    world = either_world
    ol = world.outlook(world.alice)
    ol.create("Dentist", future(2, 14), future(2, 15))
    world.book(start=future(4, 15))
    world.initial(world.alice)
    st = world.state(world.alice)
    assert st.state == "synced", (st.state, st.last_error)
    assert [a.title for a in world.absences(world.alice)] == ["Dentist"]
    subjects = sorted(i.subject for i in world.items(world.alice))
    assert subjects == ["Dentist", "Mortgage advice"]
    assert st.initialized_on is not None and st.progress_exported == 1
    world.sync(world.alice)
    assert len(world.items(world.alice)) == 2 and len(world.absences(world.alice)) == 1
