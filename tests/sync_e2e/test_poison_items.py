"""G11/R5: one item that cannot be read or planned is skipped and explained in the activity log; the rest of
the mailbox syncs, now and on every later sync. The simulator's poison_item switch plants the item."""
from __future__ import annotations

import pytest

from .conftest import future


@pytest.mark.parametrize("kind", ["year_0001", "year_9999", "inverted"])
def test_g11_r5_poison_item_is_skipped_and_explained_the_rest_syncs(world, kind):
    ol = world.outlook(world.alice)
    ol.create("Before", future(1, 13), future(1, 14))
    bad = ol.create("Imported from an old .ics", future(2, 13), future(2, 14))
    world.sim.faults.poison_item(bad, kind)
    ol.create("After", future(3, 13), future(3, 14))
    world.initial(world.alice)
    assert world.state(world.alice).state == "synced", world.state(world.alice).last_error
    assert sorted(a.title for a in world.absences(world.alice)) == ["After", "Before"]
    [why] = world.activity(world.alice, "G11")
    assert why.action == "skipped" and "Imported from an old .ics" in (why.subject or why.reason)
    assert ("ends before it starts" if kind == "inverted" else "outside the years") in why.reason
    # later syncs go on: a new event arrives while the poison item stays in the mailbox (and changes again)
    ol.create("Later", future(4, 13), future(4, 14))
    ol.rename(bad, "Imported from an old .ics (edited)")
    world.sync(world.alice)
    assert world.state(world.alice).state == "synced", world.state(world.alice).last_error
    assert sorted(a.title for a in world.absences(world.alice)) == ["After", "Before", "Later"]
    assert len(world.activity(world.alice, "G11")) == 2


def test_g11_r5_an_event_turning_inverted_is_never_stored_inverted(world):
    ol = world.outlook(world.alice)
    item = ol.create("Dentist", future(2, 13), future(2, 14))
    world.initial(world.alice)
    [before] = world.absences(world.alice)
    world.sim.faults.poison_item(item, "inverted")
    world.sync(world.alice)
    assert world.state(world.alice).state == "synced", world.state(world.alice).last_error
    [after] = world.absences(world.alice)
    assert after.end > after.start and (after.start, after.end) == (before.start, before.end)
    assert world.activity(world.alice, "G11")

