"""Mailbox-level answers become per-staff states on the User Accounts tab (S8, I1), not a generic error."""
from __future__ import annotations

from portal.extensions import db


def test_s8_moving_mailbox_is_mailbox_unavailable_then_recovers(world):
    world.sim.faults.mailbox_unavailable(world.bob.email)
    world.initial(world.bob)
    row = world.state(world.bob)
    assert row.state == "mailbox_unavailable" and "ErrorMailboxStoreUnavailable" in row.last_error
    assert row.next_attempt_at is not None  # retried later, spaced out, never at once
    assert [a.action for a in world.activity(world.bob, "S8")] == ["mailbox_unavailable"]
    world.sim.faults.mailbox_unavailable(world.bob.email, False)
    world.initial(world.bob)
    assert world.state(world.bob).state == "synced"


def test_s8_i1_cannot_find_user_is_mailbox_not_found_with_the_address(world):
    world.sim.faults.cannot_find_user()
    world.alice.email = "nobody@example.com"
    db.session.commit()
    world.initial(world.alice)
    row = world.state(world.alice)
    assert row.state == "mailbox_not_found" and row.tried_address == "nobody@example.com"
    assert "Sundial problem" not in (row.last_error or "")


def test_s8_impersonation_denied_for_one_mailbox_is_no_access_the_other_syncs(world):
    world.sim.faults.impersonation_out_of_scope(world.bob.email)
    world.initial()
    row = world.state(world.bob)
    assert row.state == "no_access" and "ApplicationImpersonation" in row.last_error
    assert world.state(world.alice).state == "synced"
