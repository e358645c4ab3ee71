"""General behaviour (SPEC G1, G3, G4, G5, G7), invalid sync state, the empty-calendar guard, request budget."""
from __future__ import annotations

import time

from rq.registry import ScheduledJobRegistry

from portal.crypto import encrypt
from portal.engine.connect import server_config
from portal.ews_soap.transport import discard_session
from portal.extensions import db
from portal.jobs.queues import enqueue_incremental_sync, get_queue
from portal.models import AuditEvent, ExchangeIntegration, ExternalAbsence, StaffMember

from .conftest import future


def test_g1_initial_sync_records_date_window_and_progress(world):
    ol = world.outlook(world.alice)
    for d in range(1, 6):
        ol.create(f"Event {d}", future(d, 13), future(d, 14))
    world.book(start=future(7, 15))
    world.initial(world.alice)
    st = world.state(world.alice)
    assert st.initialized_on is not None and st.initialized_email == "alice@example.com"
    assert (st.progress_imported, st.progress_exported, st.progress_total) == (5, 1, 5)
    assert st.sync_state and st.calendar_folder_id and st.last_sync_at
    world.initial(world.alice)  # re-running the initial sync duplicates nothing
    assert len(world.absences(world.alice)) == 5 and len(world.items(world.alice)) == 6


def test_g3_throttled_sync_waits_then_resyncs_without_loss_or_duplicates(world):
    ol = world.outlook(world.alice)
    world.initial(world.alice)
    ol.create("During the storm", future(1, 13), future(1, 14))
    world.sim.faults.server_busy(n=1, backoff_ms=2500)
    world.sync(world.alice)
    st = world.state(world.alice)
    assert st.state == "throttled" and st.throttled_until is not None
    [retry] = [get_queue("sync").fetch_job(j) for j in ScheduledJobRegistry(queue=get_queue("sync")).get_job_ids()]
    assert retry.func_name == "portal.jobs.sync_mailbox.sync_mailbox" and retry.args[0] == world.alice.id
    before = world.sim.counters.total()
    enqueue_incremental_sync(world.bob.id, "test")  # another mailbox on the same server …
    world.run()
    assert world.sim.counters.total() == before  # … sends nothing while the back-off lasts
    time.sleep(2.6)  # let the server's back-off pass (not an assertion on time)
    world.run(scheduled=True)
    assert world.state(world.alice).state == "synced"
    assert world.state(world.bob).state == "synced"  # the held-back mailbox was synced after the back-off
    assert [a.title for a in world.absences(world.alice)] == ["During the storm"]
    assert world.activity(world.alice, "G3")


def test_g4_rejected_password_pauses_everyone_without_retrying(world):
    world.initial(world.alice)
    integ = ExchangeIntegration.get()
    integ.password_encrypted = encrypt("wrong password")
    db.session.commit()
    discard_session(server_config(integ))  # NTLM authenticates connections: start from fresh ones
    world.sync(world.alice)
    db.session.expire_all()
    integ = ExchangeIntegration.get()
    assert integ.state == "paused" and "password" in integ.paused_reason
    [audit] = db.session.execute(db.select(AuditEvent).filter_by(action="paused_automatically")).scalars().all()
    assert audit.user_id is None and integ.paused_reason in audit.detail  # G4: the automatic pause is audited
    auth_attempts = world.sim.counters.total()
    for _ in range(3):
        world.sync()
    world.initial(world.bob)
    assert world.sim.counters.total() == auth_attempts  # nobody retried the password
    acct = world.sim.service_account
    integ.password_encrypted, integ.state = encrypt(acct.password), "connected"  # an admin re-authorizes
    db.session.commit()
    world.sync(world.alice)
    assert world.state(world.alice).state == "synced"


def test_g5_delegate_access_without_impersonation(world):
    acct = world.sim.service_account.upn
    world.sim.set_impersonation(acct, False)
    try:
        world.sim.grant("alice@example.com", acct, "editor")
        ExchangeIntegration.get().impersonation = False
        db.session.commit()
        world.outlook(world.alice).create("Delegated", future(1, 13), future(1, 14))
        world.book()
        world.initial(world.alice)
        assert world.state(world.alice).state == "synced"
        assert [a.title for a in world.absences(world.alice)] == ["Delegated"]
        assert len(world.items(world.alice)) == 2
        world.initial(world.bob)  # no rights on Bob's calendar: a clear per-mailbox state (S8), not a crash
        st = world.state(world.bob)
        assert st.state == "no_access" and st.last_error
    finally:
        world.sim.set_impersonation(acct, True)


def test_g7_staff_member_starting_or_changing_email_is_initialized_stopping_is_not_synced(world):
    from portal.jobs.hooks import staff_changed

    world.sim.add_mailbox("dora@example.com", name="Dora")
    world.sim.outlook("dora@example.com").create("Dora busy", future(1, 13), future(1, 14))
    dora = StaffMember(name="Dora", email="dora@example.com", takes_appointments=False,
                       primary_location=world.location)
    db.session.add(dora)
    db.session.commit()
    dora.takes_appointments = True
    db.session.commit()
    staff_changed(dora.id, "dora@example.com", False)
    world.run()
    assert [a.title for a in world.absences(dora)] == ["Dora busy"]
    world.sim.add_mailbox("dora.new@example.com", name="Dora")
    world.sim.outlook("dora.new@example.com").create("New mailbox", future(2, 13), future(2, 14))
    dora.email = "dora.new@example.com"
    db.session.commit()
    staff_changed(dora.id, "dora@example.com", True)
    world.run()
    assert [a.title for a in world.absences(dora)] == ["New mailbox"]
    dora.takes_appointments = False
    db.session.commit()
    staff_changed(dora.id, "dora.new@example.com", True)
    world.sim.counters.reset()
    world.sync(dora)
    assert world.sim.counters.total() == 0 and world.state(dora).state == "not_connected"


def test_d1_invalid_sync_state_rescan_still_detects_deletions(world):
    ol = world.outlook(world.alice)
    keep = ol.create("Keep", future(1, 13), future(1, 14))
    gone = ol.create("Gone", future(2, 13), future(2, 14))
    world.initial(world.alice)
    ol.delete(gone)
    ol.rename(keep, "Kept")
    world.state(world.alice).sync_state = "bm90IGEgc3luYyBzdGF0ZQ=="
    db.session.commit()
    world.sync(world.alice)
    assert world.state(world.alice).state == "synced"
    assert [a.title for a in world.absences(world.alice)] == ["Kept"]
    assert [r.action for r in world.activity(world.alice) if r.action == "rescan"] == ["rescan"]


def test_d1_calendar_suddenly_empty_needs_confirmation(world):
    ol = world.outlook(world.alice)
    ids = [ol.create(f"E{d}", future(d, 13), future(d, 14)) for d in range(1, 9)]
    world.initial(world.alice)
    for item_id in ids:
        ol.delete(item_id)
    world.sync(world.alice)
    st = world.state(world.alice)
    assert st.state == "needs_confirmation" and "confirm" in st.last_error
    assert len(world.absences(world.alice)) == 8  # nothing removed
    world.sync(world.alice)  # the periodic sync does not proceed on its own
    assert len(world.absences(world.alice)) == 8
    enqueue_incremental_sync(world.alice.id, "confirmed")  # what the admin's Confirm button enqueues
    world.run()
    assert world.absences(world.alice) == [] and world.state(world.alice).state == "synced"
    assert db.session.execute(db.select(ExternalAbsence)).first() is None


def test_g2_idle_mailbox_costs_one_request_per_safety_net_cycle(world):
    from portal.jobs.safety_net import tick

    world.outlook(world.alice).create("Busy", future(1, 13), future(1, 14))
    world.book()
    world.initial()
    world.sync()  # settle the echo of Sundial's own writes
    world.sim.counters.reset()
    for _cycle in range(3):
        tick()
        world.run(scheduled=True)
    snap = world.sim.counters.snapshot()
    assert snap == {("SyncFolderItems", "alice@example.com"): 3, ("SyncFolderItems", "bob@example.com"): 3}


def test_g2_safety_net_spreads_mailboxes_over_the_interval(world):
    from portal.jobs.safety_net import tick

    world.app.config["SAFETY_NET_BATCH_SIZE"] = 1  # one mailbox per batch job (issue 15: 50 by default)
    world.initial()
    tick()
    reg = ScheduledJobRegistry(queue=get_queue("sync"))
    scheduled = sorted(reg.get_job_ids())
    assert scheduled == ["sync-batch-1"]  # Alice now, Bob half an interval later
    assert get_queue("sync").fetch_job("sync-batch-1").args == (1, [world.bob.id])
    assert [(j.id, j.args) for j in get_queue("sync").jobs] == [("sync-batch-0", (0, [world.alice.id]))]
    assert ScheduledJobRegistry(queue=get_queue("default")).get_job_ids()  # the next tick


def test_unexpected_error_is_recorded_and_reraised_for_rq(world):
    from rq.registry import FailedJobRegistry

    from portal.engine.apply import FAULTS

    world.initial(world.alice)
    world.outlook(world.alice).create("Gym", future(1, 13), future(1, 14))

    def boom():
        raise RuntimeError("disk full")

    FAULTS["before_commit"] = boom
    world.sync(world.alice)
    st = world.state(world.alice)
    assert st.state == "error" and st.failures == 1 and st.next_attempt_at is not None
    assert "unexpected" in st.last_error and "disk full" not in st.last_error
    [failed] = FailedJobRegistry(queue=get_queue("sync")).get_job_ids()
    assert "disk full" in get_queue("sync").fetch_job(failed).latest_result().exc_string
    assert world.absences(world.alice) == []  # nothing half-applied
    FAULTS.clear()
    world.sync(world.alice)
    assert [a.title for a in world.absences(world.alice)] == ["Gym"] and world.state(world.alice).state == "synced"


def test_g3_worker_killed_mid_pages_applies_nothing_twice(world):
    from portal.engine.apply import FAULTS

    world.app.config["SYNC_MAX_CHANGES"] = 5
    world.initial(world.alice)
    ol = world.outlook(world.alice)
    for n in range(12):
        ol.create(f"P{n}", future(1 + n % 5, 8 + n), future(1 + n % 5, 9 + n))
    state_before = world.state(world.alice).sync_state

    def killed():
        raise RuntimeError("worker killed after reading three pages")

    FAULTS["before_commit"] = killed
    world.sync(world.alice)
    FAULTS.clear()
    assert world.absences(world.alice) == [] and world.state(world.alice).sync_state == state_before
    world.sync(world.alice)
    assert sorted(a.title for a in world.absences(world.alice)) == sorted(f"P{n}" for n in range(12))
    assert world.sim.counters.total("SyncFolderItems", "alice@example.com") >= 2 * 3 + 1


def test_g2_delay_is_measured_for_new_changes_not_for_the_first_import(world):
    from portal.models import MailboxState, SyncActivity

    ol = world.outlook(world.alice)
    ol.create("Old meeting", future(1, 9), future(1, 10))
    world.initial(world.alice)
    first = db.session.execute(db.select(SyncActivity).where(SyncActivity.staff_id == world.alice.id,
                                                             SyncActivity.action == "imported")).scalars().all()
    assert first and all(a.delay_seconds is None for a in first)
    assert db.session.get(MailboxState, world.alice.id).last_delay_seconds is None
    ol.create("New meeting", future(2, 9), future(2, 10))
    world.sync(world.alice)
    new = db.session.execute(db.select(SyncActivity).where(SyncActivity.staff_id == world.alice.id,
                                                           SyncActivity.subject == "New meeting")).scalars().one()
    assert new.delay_seconds is not None and 0 <= new.delay_seconds < 3600
    assert db.session.get(MailboxState, world.alice.id).last_delay_seconds == new.delay_seconds
