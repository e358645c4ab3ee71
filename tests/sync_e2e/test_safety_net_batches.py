"""G2 (issue 15): the safety net checks idle mailboxes in batches — many per job — with each mailbox's own frame:
its lock (never waited on), its failure recording (one mailbox's failure never stops the others; the server's
does, leaving the rest to their own retry), exclusion."""
from __future__ import annotations

import time

from rq.registry import ScheduledJobRegistry

from portal.extensions import db
from portal.jobs.queues import enqueue_incremental_sync, get_queue
from portal.models import MailboxState, StaffMember

from .conftest import future


def sync_jobs() -> tuple[list, list]:
    """(queued jobs, scheduled jobs) of the sync queue."""
    q = get_queue("sync")
    scheduled = [q.fetch_job(j) for j in sorted(ScheduledJobRegistry(queue=q).get_job_ids())]
    return q.jobs, scheduled


def run_batch(world, *staff):
    from portal.jobs.sync_batch import sync_batch

    result = sync_batch(0, [s.id for s in staff])
    db.session.expire_all()
    return result


def retries() -> list[str]:
    return sorted(j for j in ScheduledJobRegistry(queue=get_queue("sync")).get_job_ids() if j.endswith("-retry"))


def test_g2_the_tick_queues_batches_of_mailboxes_not_one_job_per_mailbox(world):
    from portal.jobs.safety_net import tick

    world.initial()
    tick()
    queued, scheduled = sync_jobs()
    assert [j.id for j in queued] == ["sync-batch-0"] and scheduled == []
    assert queued[0].func_name == "portal.jobs.sync_batch.sync_batch"
    assert queued[0].args == (0, [world.alice.id, world.bob.id])


def test_g2_a_mailbox_whose_own_sync_is_queued_is_left_out_of_the_batch(world):
    from portal.jobs.safety_net import tick

    world.initial()
    enqueue_incremental_sync(world.alice.id, "notification")
    tick()
    queued, _ = sync_jobs()
    assert sorted(j.id for j in queued) == sorted(["sync-batch-0", f"sync-{world.alice.id}"])
    assert get_queue("sync").fetch_job("sync-batch-0").args == (0, [world.bob.id])


def test_g2_a_waiting_batch_is_replaced_by_the_next_tick_not_piled_up(world):
    from portal.jobs.safety_net import tick

    world.initial()
    tick()
    tick()  # the first tick's batch has not run yet (a backlog)
    queued, scheduled = sync_jobs()
    assert [j.id for j in queued] == ["sync-batch-0"] and scheduled == []


def test_g2_the_batch_syncs_every_mailbox_of_its_slice(world):
    from portal.jobs.safety_net import tick

    world.initial()
    world.outlook(world.alice).create("Dentist", future(1, 9), future(1, 10))
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    world.sim.counters.reset()
    tick()
    world.run(scheduled=True)
    assert [a.title for a in world.absences(world.alice)] == ["Dentist"]
    assert [a.title for a in world.absences(world.bob)] == ["Gym"]
    assert world.state(world.alice).state == world.state(world.bob).state == "synced"
    assert world.sim.counters.snapshot() == {("SyncFolderItems", "alice@example.com"): 1,
                                             ("SyncFolderItems", "bob@example.com"): 1}
    done = get_queue("sync").finished_job_registry.get_job_ids()
    assert "sync-batch-0" in done and not any(j == f"sync-{s.id}" for j in done for s in world.staff)


def test_g2_an_erroring_mailbox_in_the_middle_of_a_batch_does_not_stop_the_others(world):
    ghost = StaffMember(name="Gus Ghost", email="ghost@example.com", timezone="UTC", primary_location=world.location)
    db.session.add(ghost)
    db.session.commit()
    world.initial(world.alice, world.bob)
    db.session.add(MailboxState(staff_id=ghost.id, state="synced", sync_state="H4sIAAAA",
                                initialized_on=future(0).date(), initialized_email=ghost.email))
    db.session.commit()
    world.outlook(world.alice).create("Dentist", future(1, 9), future(1, 10))
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    out = run_batch(world, world.alice, ghost, world.bob)
    assert [a.title for a in world.absences(world.alice)] == ["Dentist"]
    assert [a.title for a in world.absences(world.bob)] == ["Gym"]
    assert world.state(ghost).state == "mailbox_not_found"  # recorded on its own row, as its own job would
    assert "3 mailboxes" in out and "stopped" not in out


def test_g2_g3_a_mailbox_throttled_briefly_is_retried_on_its_own_and_the_batch_goes_on(world):
    world.initial()
    world.outlook(world.alice).create("Dentist", future(1, 9), future(1, 10))
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    world.sim.faults.server_busy(n=1, backoff_ms=300)  # shorter than the gate waits out inline
    out = run_batch(world, world.alice, world.bob)
    assert world.state(world.alice).state == "throttled" and world.absences(world.alice) == []
    assert retries() == [f"sync-{world.alice.id}-retry"]
    assert [a.title for a in world.absences(world.bob)] == ["Gym"] and world.state(world.bob).state == "synced"
    assert "stopped" not in out


def test_g2_g3_the_server_backing_off_stops_the_batch_and_leaves_the_rest_to_their_own_retry(world):
    world.initial()
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    world.sim.counters.reset()
    world.sim.faults.server_busy(n=1, backoff_ms=30000)
    out = run_batch(world, world.alice, world.bob)
    assert "stopped" in out and "1 left" in out
    assert world.sim.counters.total("SyncFolderItems", "bob@example.com") == 0  # nothing sent into the back-off
    assert world.state(world.alice).state == "throttled"
    assert world.state(world.bob).state == "synced" and world.absences(world.bob) == []  # not tried, not marked
    assert retries() == sorted([f"sync-{world.alice.id}-retry", f"sync-{world.bob.id}-retry"])


def test_g2_a_locked_mailbox_is_not_waited_on_and_gets_its_own_retry(world):
    from portal.engine.locks import mailbox_lock

    world.initial()
    world.outlook(world.alice).create("Dentist", future(1, 9), future(1, 10))
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    with mailbox_lock(world.alice.id) as held:
        assert held
        started = time.monotonic()
        out = run_batch(world, world.alice, world.bob)
        took = time.monotonic() - started
    assert took < 5  # a single job waits up to 20 s for the lock; the batch does not wait at all
    assert "busy" in out
    assert world.absences(world.alice) == [] and retries() == [f"sync-{world.alice.id}-retry"]
    assert [a.title for a in world.absences(world.bob)] == ["Gym"]


def test_g2_an_unexpected_error_is_recorded_the_batch_goes_on_and_rq_keeps_the_traceback(world):
    import pytest

    from portal.engine.apply import FAULTS

    world.initial()
    world.outlook(world.alice).create("Dentist", future(1, 9), future(1, 10))
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    calls = []

    def first_commit_fails():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk full")

    FAULTS["before_commit"] = first_commit_fails
    with pytest.raises(RuntimeError, match="disk full"):
        run_batch(world, world.alice, world.bob)
    FAULTS.clear()
    db.session.rollback()
    db.session.expire_all()
    st = world.state(world.alice)
    assert st.state == "error" and "unexpected" in st.last_error and world.absences(world.alice) == []
    assert [a.title for a in world.absences(world.bob)] == ["Gym"]


def test_g2_excluded_and_no_longer_bookable_staff_in_a_batch_are_skipped(world):
    world.initial()
    world.outlook(world.alice).create("Dentist", future(1, 9), future(1, 10))
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    world.state(world.alice).excluded = True
    world.bob.takes_appointments = False
    db.session.commit()
    world.sim.counters.reset()
    out = run_batch(world, world.alice, world.bob)
    assert world.sim.counters.snapshot() == {}
    assert world.state(world.alice).state == "excluded" and world.absences(world.alice) == []
    assert world.absences(world.bob) == []
    assert "excluded" in out and "not taking appointments" in out


def test_g2_a_batch_after_a_disconnect_sends_nothing(world):
    from portal.models import ExchangeIntegration

    world.initial()
    ExchangeIntegration.get().state = "disconnected"
    db.session.commit()
    world.sim.counters.reset()
    out = run_batch(world, world.alice, world.bob)
    assert world.sim.counters.snapshot() == {} and "integration not connected" in out


def test_g2_s9_a_disconnect_during_a_batch_stops_it_before_the_next_mailbox(world):
    from portal.engine.batch import run_for_mailboxes
    from portal.jobs.sync_mailbox import incremental
    from portal.models import ExchangeIntegration

    world.initial()
    world.outlook(world.bob).create("Gym", future(2, 7), future(2, 8))
    world.sim.counters.reset()

    def work(ctx):
        done = incremental(ctx, "periodic")
        db.session.execute(db.update(ExchangeIntegration).values(state="disconnected"))  # the admin, meanwhile
        db.session.commit()
        return done

    out = run_for_mailboxes([world.alice.id, world.bob.id], work, lambda staff_id, wait: None)
    assert out.stopped == "integration no longer connected" and out.left == [world.bob.id]
    assert world.sim.counters.total("SyncFolderItems", "bob@example.com") == 0 and world.absences(world.bob) == []


def test_g2_rq_s_job_timeout_ends_the_batch_as_it_ends_a_single_job(world):
    import pytest
    from rq.timeouts import JobTimeoutException

    from portal.engine.batch import run_for_mailboxes

    world.initial()
    world.sim.counters.reset()

    def work(ctx):
        raise JobTimeoutException("Task exceeded maximum timeout value (1800 seconds)")

    with pytest.raises(JobTimeoutException):
        run_for_mailboxes([world.alice.id, world.bob.id], work, lambda staff_id, wait: None)
    db.session.rollback()
    assert world.state(world.alice).state == "error"  # recorded by the frame, as for a single job
    assert world.state(world.bob).state == "synced" and world.sim.counters.snapshot() == {}  # never reached


def test_r4_redis_restarted_empty_while_a_mailbox_waits_out_a_back_off_gets_its_retry_again(world):
    """The 1,000-fault soak's lost changes: two mailboxes waited out a back-off after a dropped response, Redis
    restarted empty, and its reconciliation caught up only the mailboxes due *now* — the two retries had been in
    the Redis that was lost, so nothing ran until the next safety-net round, after the soak had ended. Now the
    reconciliation schedules each waiting mailbox's retry again, at its back-off's end."""
    from datetime import timedelta

    from portal.jobs.recovery import reconcile
    from portal.models import utcnow

    world.initial()
    alice, bob = world.state(world.alice), world.state(world.bob)
    alice.state, alice.failures, alice.next_attempt_at = "error", 3, utcnow() + timedelta(seconds=40)
    bob.throttled_until = utcnow() + timedelta(seconds=90)
    db.session.commit()
    world.redis.flushdb()  # Redis restarted empty: the scheduled retries are gone
    outcome = reconcile()
    assert "2 retries after their back-off" in outcome
    sync = get_queue("sync")
    registry = ScheduledJobRegistry(queue=sync)
    assert set(registry.get_job_ids()) >= {f"sync-{world.alice.id}-retry", f"sync-{world.bob.id}-retry"}
    when = {job_id: registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()}
    alice_at = when[f"sync-{world.alice.id}-retry"].replace(tzinfo=None)
    assert abs((alice_at - alice.next_attempt_at.replace(tzinfo=None)).total_seconds()) < 3  # not before, not later
    assert f"sync-{world.alice.id}" not in sync.job_ids  # no catch-up now: it waits out its back-off
