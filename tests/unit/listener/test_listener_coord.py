"""G2: Redis leases between listener processes, and the debounced per-mailbox sync trigger."""
from __future__ import annotations

import time
import uuid

import pytest
import redis as redis_lib

from portal.listener.coord import Coordinator, SyncTrigger, choose_groups


@pytest.fixture
def r(redis_url):
    conn = redis_lib.Redis.from_url(redis_url)
    yield conn
    conn.close()


@pytest.fixture
def prefix():
    return f"test:{uuid.uuid4().hex[:8]}"


def test_g2_a_group_lease_has_one_owner_and_expires_when_the_owner_dies(r, prefix):
    a = Coordinator(r, "a", lease_ms=300, prefix=prefix)
    b = Coordinator(r, "b", lease_ms=300, prefix=prefix)
    assert a.acquire("g1") and a.acquire("g1")  # taking it again keeps it
    assert not b.acquire("g1")
    assert not b.renew("g1") and a.renew("g1")
    b.release("g1")  # not b's to release
    assert a.owner_of("g1") == "a"
    deadline = time.monotonic() + 5
    while a.owner_of("g1") and time.monotonic() < deadline:  # a crashed: no renewal
        time.sleep(0.05)
    assert b.acquire("g1") and b.owner_of("g1") == "b"
    assert not a.renew("g1")
    b.release("g1")
    assert b.owner_of("g1") is None


def test_g2_fair_share_follows_the_live_listener_processes(r, prefix):
    a = Coordinator(r, "a", lease_ms=5000, prefix=prefix)
    b = Coordinator(r, "b", lease_ms=5000, prefix=prefix)
    a.heartbeat()
    assert a.fair_share(3) == 3
    b.heartbeat()
    assert a.fair_share(3) == 2 and a.fair_share(2) == 1 and a.fair_share(0) == 0
    b.leave()
    assert a.fair_share(2) == 2


def test_g2_choose_groups_splits_and_gives_back_beyond_the_share():
    taken = set()

    def acquire(k):
        if k in taken:
            return False
        taken.add(k)
        return True

    got, release = choose_groups(["g1", "g2", "g3"], set(), 2, acquire)
    assert got == {"g1", "g2"} and release == set()
    got, release = choose_groups(["g1", "g2", "g3"], {"g1", "g2"}, 1, acquire)  # a newcomer arrived
    assert got == set() and release == {"g2"}
    got, release = choose_groups(["g1"], {"g1", "g9"}, 2, acquire)  # g9 no longer exists
    assert release == {"g9"} and got == set()


class FakeJob:
    def __init__(self, job_id):
        self.id = job_id


def test_g2_notifications_coalesce_while_a_sync_is_waiting_and_never_after_it_started(r, prefix):
    statuses: dict[str, str] = {}
    enqueued: list[tuple[int, str]] = []

    def enqueue(staff_id, reason):
        job = FakeJob(f"job-{len(enqueued)}")
        enqueued.append((staff_id, reason))
        statuses[job.id] = "queued"
        return job

    trigger = SyncTrigger(r, enqueue, statuses.get, prefix=prefix)
    assert trigger.trigger(7, "notification")
    assert not trigger.trigger(7, "notification")  # job-0 still waiting: it will read this change too
    assert trigger.trigger(8, "notification")  # another mailbox is independent
    statuses["job-0"] = "started"  # the sync may have read Exchange before the next change
    assert trigger.trigger(7, "notification")
    assert not trigger.trigger(7, "notification")
    statuses["job-2"] = "finished"
    assert trigger.trigger(7, "catch-up")
    del statuses["job-3"]  # expired from Redis
    assert trigger.trigger(7, "notification")
    assert [s for s, _ in enqueued] == [7, 8, 7, 7, 7]
    assert trigger.coalesced == 2 and trigger.enqueued == 5


def test_g2_the_pending_job_is_shared_by_every_listener_process(r, prefix):
    statuses = {}

    def enqueue(staff_id, reason):
        statuses[f"j{staff_id}"] = "queued"
        return FakeJob(f"j{staff_id}")

    one = SyncTrigger(r, enqueue, statuses.get, prefix=prefix)
    two = SyncTrigger(r, enqueue, statuses.get, prefix=prefix)
    assert one.trigger(3, "notification")
    assert not two.trigger(3, "notification")


def test_g2_a_scheduled_run_never_absorbs_a_notification(r, prefix):
    statuses = {"later": "scheduled"}
    calls = []

    def enqueue(staff_id, reason):
        calls.append(staff_id)
        return FakeJob("later")

    trigger = SyncTrigger(r, enqueue, statuses.get, prefix=prefix)
    assert trigger.trigger(4, "notification")
    assert trigger.trigger(4, "notification")  # still only scheduled: ask again (the enqueue side promotes it)
    assert calls == [4, 4]


def test_g9_catch_up_syncs_are_debounced_per_mailbox_and_the_last_one_is_kept(r, prefix):
    import time

    statuses, now, later = {}, [], []

    def enqueue(staff_id, reason):
        job = FakeJob(f"j{len(now)}")
        now.append(staff_id)
        statuses[job.id] = "finished"  # ran at once: only the debounce can hold the next one back
        return job

    trigger = SyncTrigger(r, enqueue, statuses.get, prefix=prefix,
                          enqueue_later=lambda staff_id, reason, delay: later.append((staff_id, delay)))
    assert trigger.catch_up(5, "listener catch-up: connection dropped", debounce_s=0.5)
    for _ in range(20):  # a connection failing again and again within the window
        assert not trigger.catch_up(5, "listener catch-up: connection dropped", debounce_s=0.5)
    assert trigger.catch_up(6, "listener catch-up: connection dropped", debounce_s=0.5)  # its own window
    assert now == [5, 6]
    assert [s for s, _ in later] == [5] and 0 < later[0][1] <= 0.5  # one trailing sync at the window's end
    time.sleep(0.6)
    assert not trigger.catch_up(5, "again", debounce_s=0.5)  # the trailing run opened the next window
    assert len(later) == 2  # whose own trailing run is booked once
    time.sleep(1.6)  # a quiet window: the next one runs at once again
    assert trigger.catch_up(5, "again", debounce_s=0.5)
    assert now == [5, 6, 5]


def test_r4_g9_a_deferred_catch_up_runs_once_the_connection_is_healthy_not_at_the_windows_end(r, prefix):
    """R4 after G9: a connection that failed twice in the debounce window owes a trailing catch-up at the
    window's end (5 minutes by default); once healthy again it runs as soon as the mailbox's last catch-up is
    `min_gap_s` old — and never more often than that, however often the connection flaps."""
    import time

    statuses, now, later = {}, [], []

    def enqueue(staff_id, reason):
        job = FakeJob(f"j{len(now)}")
        now.append((staff_id, reason))
        statuses[job.id] = "finished"
        return job

    trigger = SyncTrigger(r, enqueue, statuses.get, prefix=prefix,
                          enqueue_later=lambda staff_id, reason, delay: later.append((staff_id, delay)))
    assert trigger.catch_up(7, "dropped", debounce_s=300)
    assert trigger.catch_up_many([7, 8], "dropped again", debounce_s=300) == [7]  # 8: its first, runs now
    assert later and later[0][0] == 7 and later[0][1] > 250  # the trailing run, five minutes away
    assert trigger.flush_trailing([7], "healthy", min_gap_s=0.3, debounce_s=300) == [7]  # too soon after the last
    assert [s for s, _ in now] == [7, 8]
    time.sleep(0.35)
    assert trigger.flush_trailing([7, 8], "healthy", min_gap_s=0.3, debounce_s=300) == []  # 8 owed nothing
    assert now[-1] == (7, "healthy") and len(now) == 3
    assert trigger.flush_trailing([7], "healthy", min_gap_s=0.3, debounce_s=300) == []  # nothing owed twice
    assert len(now) == 3
    assert trigger.catch_up_many([7], "dropped once more", debounce_s=300) == [7]  # the flush opened a window
