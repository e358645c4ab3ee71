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
