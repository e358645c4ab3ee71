"""R4 pieces against a real Redis: the scheduler's short checked lock, worker liveness, bounded re-runs."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from rq import Queue
from rq.utils import utcformat

from portal.jobs.recovery import MAX_RERUNS, STALE_SECONDS, reconcile_if_emptied, rerun_crashed, worker_alive
from portal.jobs.worker import SCHEDULER_LOCK_TTL, SundialScheduler


@pytest.fixture
def conn(redis_url):
    c = redis_lib.Redis.from_url(redis_url)
    c.flushdb()
    yield c
    c.flushdb()


def test_r4_scheduler_lock_is_short_and_a_vanished_lock_is_taken_back(conn):
    s = SundialScheduler(["export", "default"], connection=conn)
    assert s.acquire_locks() == {"export", "default"}
    key = s.get_locking_key("export")
    assert 0 < conn.ttl(key) <= SCHEDULER_LOCK_TTL
    conn.flushdb()  # Redis restarted empty
    s.heartbeat()
    assert s.acquired_locks == {"export", "default"} and conn.get(key).decode() == s._token


def test_r4_scheduler_gives_up_a_lock_another_scheduler_holds(conn):
    first = SundialScheduler(["export"], connection=conn)
    first.acquire_locks()
    second = SundialScheduler(["export"], connection=conn)
    assert second.acquire_locks() == set()  # never two schedulers for one queue
    conn.set(first.get_locking_key("export"), second._token or "someone-else", ex=SCHEDULER_LOCK_TTL)
    first.heartbeat()
    assert first.acquired_locks == set()


def test_r4_worker_alive_follows_its_heartbeat(conn):
    now = datetime.now(UTC)
    conn.hset("rq:worker:w1", "last_heartbeat", utcformat(now - timedelta(seconds=2)))
    conn.hset("rq:worker:w2", "last_heartbeat", utcformat(now - timedelta(seconds=STALE_SECONDS + 5)))
    assert worker_alive(conn, "w1", now)
    assert not worker_alive(conn, "w2", now) and not worker_alive(conn, "gone", now) and not worker_alive(conn, None)


def test_r4_a_killed_job_runs_again_at_most_three_times(conn):
    q = Queue("export", connection=conn)
    job = q.enqueue("portal.jobs.export.export_appointment", 1, job_id="export-1")
    q.remove(job)
    runs = [rerun_crashed(job, q, "test") for _ in range(MAX_RERUNS + 2)]
    assert runs == [True] * MAX_RERUNS + [False, False]
    assert q.job_ids.count("export-1") >= 1


def test_r4_only_the_first_worker_to_see_an_empty_redis_reconciles(conn):
    assert reconcile_if_emptied(conn) is True
    assert reconcile_if_emptied(conn) is False
    assert Queue("default", connection=conn).job_ids == ["reconcile"]


def test_r4_retries_waiting_out_a_grown_back_off_run_as_soon_as_exchange_answers_again(conn):
    """R4 with G9: back-offs grow during a long storm (an export's to 30 minutes); the first answer after the
    trouble lets every waiting retry run at once and restarts the export back-off, at most once per 30 s."""
    from rq.registry import ScheduledJobRegistry

    from portal.engine.throttle import RedisGate, recovered_key
    from portal.jobs.recovery import KICK_SECONDS, run_retries_after_recovery

    export, sync = Queue("export", connection=conn), Queue("sync", connection=conn)
    export.enqueue_in(timedelta(minutes=30), "portal.jobs.export.export_appointment", 7, job_id="export-7-retry")
    sync.enqueue_in(timedelta(minutes=20), "portal.jobs.sync_mailbox.sync_mailbox", 3, job_id="sync-3-retry")
    sync.enqueue_in(timedelta(minutes=5), "portal.jobs.sync_mailbox.sync_mailbox", 4, job_id="sync-4")  # periodic
    conn.set("sundial:export-postponed:7", 9)
    gate = RedisGate(conn, "srv1")
    gate.healthy()
    assert run_retries_after_recovery(conn) == []  # answers with no trouble before: nothing to do
    gate.backoff(2.0)  # ErrorServerBusy: trouble
    assert not conn.exists(recovered_key("srv1"))
    gate.healthy()
    gate.healthy()  # only the first answer after trouble counts
    assert sorted(run_retries_after_recovery(conn)) == ["export-7-retry", "sync-3-retry"]
    assert export.job_ids == ["export-7-retry"] and sync.job_ids == ["sync-3-retry"]
    assert ScheduledJobRegistry(queue=sync).get_job_ids() == ["sync-4"]  # a periodic run keeps its time
    assert not conn.exists("sundial:export-postponed:7")
    sync.enqueue_in(timedelta(minutes=20), "portal.jobs.sync_mailbox.sync_mailbox", 5, job_id="sync-5-retry")
    gate.trouble()
    gate.healthy()  # a server that flaps: the next kick waits for KICK_SECONDS
    assert run_retries_after_recovery(conn) == [] and conn.exists(recovered_key("srv1"))
    assert 0 < conn.ttl("sundial:ews:srv1:kicked") <= KICK_SECONDS
    conn.delete("sundial:ews:srv1:kicked")
    assert run_retries_after_recovery(conn) == ["sync-5-retry"]


def test_r4_a_job_taken_off_its_queue_by_a_worker_killed_before_starting_it_runs_again(conn):
    """R4: RQ moves a dequeued job to the queue's intermediate list; a worker killed before it starts the job
    leaves it there, in no registry, and RQ would fail it a minute or more later. The soak found a booking's export
    lost this way. Maintenance queues it again once it has sat there for a while; a job a live worker has
    started (it is in the StartedJobRegistry) is left alone."""
    from rq.registry import StartedJobRegistry

    from portal.jobs.recovery import rescue_dequeued

    q = Queue("export", connection=conn)
    q.enqueue("portal.jobs.export.export_appointment", 33, job_id="export-33")
    q.enqueue("portal.jobs.export.export_appointment", 34, job_id="export-34")
    conn.lmove(q.key, q.intermediate_queue_key, "LEFT", "RIGHT")  # what a worker's dequeue does …
    conn.lmove(q.key, q.intermediate_queue_key, "LEFT", "RIGHT")
    conn.zadd(StartedJobRegistry(queue=q).key, {"export-34:exec-1": 4e9})  # … 34 was started by a live worker
    assert q.job_ids == []
    assert rescue_dequeued(conn, ["export"], after=0.2) == []  # first seen: a live worker may start it now
    assert rescue_dequeued(conn, ["export"], after=0.2) == []  # not long enough yet
    import time

    time.sleep(0.3)
    assert rescue_dequeued(conn, ["export"], after=0.2) == ["export-33"]
    assert q.job_ids == ["export-33"]
    assert [j.decode() for j in conn.lrange(q.intermediate_queue_key, 0, -1)] == ["export-34"]
    assert rescue_dequeued(conn, ["export"], after=0.0) == []  # nothing twice


def test_r4_a_worker_of_several_queues_takes_jobs_through_the_intermediate_list_in_priority_order(conn):
    """R4: RQ moves a job through the intermediate list only for a worker of one queue; with several it pops
    the job, and a kill before the start loses it. Sundial's queue class always moves it (priority order kept),
    the start takes it out again, and the rescue can find a job left behind."""
    from portal.jobs.worker import SundialWorker, TrackedQueue

    export, notify = TrackedQueue("export", connection=conn), TrackedQueue("notify", connection=conn)
    notify.enqueue("portal.jobs.notify.deliver", 1, job_id="notify-1")
    export.enqueue("portal.jobs.export.export_appointment", 2, job_id="export-2")
    job, queue = TrackedQueue.dequeue_any([export, notify], None, connection=conn)
    assert (job.id, queue.name) == ("export-2", "export")  # the first queue first
    assert [j.decode() for j in conn.lrange(export.intermediate_queue_key, 0, -1)] == ["export-2"]
    worker = SundialWorker([export, notify], connection=conn)
    worker.prepare_job_execution(job)
    assert conn.llen(export.intermediate_queue_key) == 0  # started: no longer "taken but not started"
    job, queue = TrackedQueue.dequeue_any([export, notify], 1, connection=conn)  # blocking variant
    assert job.id == "notify-1" and conn.llen(notify.intermediate_queue_key) == 1
    from rq.exceptions import DequeueTimeout

    with pytest.raises(DequeueTimeout):
        TrackedQueue.dequeue_any([export, notify], 1, connection=conn)
