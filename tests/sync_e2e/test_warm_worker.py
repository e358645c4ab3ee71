"""Issue 15: the warm (non-forking) worker — Sundial's WarmWorker in this process against the simulator over HTTP
with NTLM and a real Redis: one request per idle sync on the process's warm session, the session rebuilt when
the password changes and dropped after a rejection, nothing of one job's database session or app context left
for the next, job timeouts, heartbeats during a long job and the memory guard."""
from __future__ import annotations

import pytest
from rq import Queue
from rq.job import Job

from portal.crypto import encrypt, password_fingerprint
from portal.engine import session as warm
from portal.engine.connect import connect
from portal.ews_soap import transport as tp
from portal.ews_soap.signin import PasswordRejectedBefore
from portal.extensions import db
from portal.jobs.queues import QUEUE_NAMES, enqueue_incremental_sync, get_queue
from portal.jobs.recovery import EPOCH_KEY
from portal.jobs.worker import WarmWorker
from portal.models import ExchangeIntegration, Location

from . import warm_jobs


@pytest.fixture
def warm_world(world):
    tp.close_pools()  # start cold: the first job pays the sign-in, later ones must not
    world.redis.set(EPOCH_KEY, "test")  # no R4 reconciliation job from the first maintenance round
    warm.enable()
    yield world
    warm.enable(False)
    tp.close_pools()


def warm_worker(world, **kw) -> WarmWorker:
    class Quiet(WarmWorker):
        def subscribe(self):  # no pub/sub control thread (joining it costs ≈ 1 s per burst)
            pass

        def unsubscribe(self):
            pass

    return Quiet([get_queue(n) for n in QUEUE_NAMES], connection=world.redis, app=world.app, **kw)


def drain(world, **kw) -> WarmWorker:
    worker = warm_worker(world, **kw)
    worker.work(burst=True, with_scheduler=False)
    db.session.expire_all()
    return worker


def test_issue15_idle_syncs_on_a_warm_worker_cost_exactly_one_request_each(warm_world):
    w = warm_world
    w.initial(w.alice, w.bob)
    tp.close_pools()
    w.sim.counters.reset()
    enqueue_incremental_sync(w.alice.id, "periodic")
    drain(w)
    first = w.sim.counters.total()
    assert first > 1 and w.sim.counters.total("(401)") >= 1  # a cold process signs in once
    session = connect(ExchangeIntegration.get())
    w.sim.counters.reset()
    for _ in range(3):
        for who in (w.alice, w.bob):
            enqueue_incremental_sync(who.id, "periodic")
        drain(w)
    assert w.sim.counters.total() == 6, w.sim.counters.snapshot()  # 6 idle syncs: 6 SyncFolderItems, no 401
    assert w.sim.counters.total("SyncFolderItems") == 6 and w.sim.counters.total("(401)") == 0
    assert connect(ExchangeIntegration.get()) is session and warm.held() == 1
    assert w.state(w.alice).state == "synced" and w.state(w.bob).state == "synced"


def test_issue15_warm_session_is_rebuilt_on_a_new_password_and_never_sends_a_rejected_one(warm_world):
    w = warm_world
    integ = ExchangeIntegration.get()
    first = connect(integ)
    assert connect(integ) is first
    old_pool = tp.pool_key(first.config)
    first.primary_calendar(w.alice.email)  # authenticates a pooled connection with the current password
    assert any(k[:3] == old_pool for k in tp._sessions)

    integ.password_encrypted = encrypt("a-new-password")
    db.session.commit()
    second = connect(integ)
    assert second is not first and warm.held() == 1
    assert not any(k[:3] == old_pool for k in tp._sessions)  # the old credentials' connections are gone

    integ.rejected_password_fp = password_fingerprint(integ.username, "a-new-password")
    db.session.commit()
    w.sim.counters.reset()
    third = connect(integ)
    assert third is not second
    with pytest.raises(PasswordRejectedBefore):
        third.primary_calendar(w.alice.email)
    assert w.sim.counters.total() == 0  # S10: nothing sent


def test_issue15_a_rejected_password_drops_the_warm_sessions(warm_world):
    w = warm_world
    w.initial(w.alice)
    enqueue_incremental_sync(w.alice.id, "periodic")
    drain(w)
    assert warm.held() == 1
    w.sim.faults.lock_account(w.sim.service_account.upn)  # every request of the account is now a 401
    try:
        tp.close_pools()  # a new connection must sign in (and fail)
        enqueue_incremental_sync(w.alice.id, "periodic")
        drain(w)
    finally:
        w.sim.faults.lock_account(w.sim.service_account.upn, False)
    assert ExchangeIntegration.get().state == "paused"
    assert warm.held() == 0


def test_issue15_no_database_session_or_app_context_state_leaks_from_one_job_to_the_next(warm_world):
    w = warm_world
    q = Queue("default", connection=w.redis)
    first = q.enqueue(warm_jobs.leave_state_behind, "a")
    second = q.enqueue(warm_jobs.leave_state_behind, "b")
    drain(w)
    assert Job.fetch(first.id, connection=w.redis).return_value() == {"pending": [], "g": None}
    assert Job.fetch(second.id, connection=w.redis).return_value() == {"pending": [], "g": None}
    assert not db.session.new  # this test's own session saw nothing of the jobs'
    names = db.session.execute(db.select(Location.name)).scalars().all()
    assert not [n for n in names if n.startswith("uncommitted")]


def test_issue15_job_timeout_still_stops_a_job_in_a_warm_worker(warm_world):
    w = warm_world
    q = Queue("default", connection=w.redis)
    stuck = q.enqueue(warm_jobs.sleep, 30, job_timeout=1)
    after = q.enqueue(warm_jobs.sleep, 0)
    drain(w)
    stuck = Job.fetch(stuck.id, connection=w.redis)
    assert stuck.get_status() == "failed"
    assert "JobTimeoutException" in stuck.latest_result().exc_string
    assert Job.fetch(after.id, connection=w.redis).get_status() == "finished"  # the worker went on


def test_issue15_a_warm_worker_keeps_beating_while_a_long_job_runs(warm_world):
    """R4's reaper re-queues a started job whose worker has not beaten for 20 s: the job's thread does not beat,
    the heartbeat thread does (every 5 s)."""
    w = warm_world
    job = Queue("default", connection=w.redis).enqueue(warm_jobs.heartbeat_age_after, 7)
    drain(w)
    age = Job.fetch(job.id, connection=w.redis).return_value()
    assert age < 4, f"the worker's last heartbeat was {age:.1f} s old 7 s into the job"


@pytest.mark.parametrize("guard", [{"max_jobs": 2}, {"max_rss_mb": 1}])
def test_issue15_memory_guard_stops_the_worker_for_a_fresh_one(warm_world, guard):
    w = warm_world
    q = Queue("default", connection=w.redis)
    jobs = [q.enqueue(warm_jobs.sleep, 0) for _ in range(3)]
    worker = drain(w, **guard)
    done = [Job.fetch(j.id, connection=w.redis).get_status() for j in jobs]
    expected = guard.get("max_jobs", 1)
    assert done.count("finished") == expected and done.count("queued") == 3 - expected
    assert worker.recycled and worker._stop_requested


STUCK_WORKER = """
import logging, sys
from redis import Redis
from rq import Queue
from portal.jobs.worker import JobHeartbeat, WarmWorker
from tests.sync_e2e import warm_jobs

logging.basicConfig(level=logging.INFO)
JobHeartbeat.STUCK_GRACE_SECONDS = 0.5
conn = Redis.from_url(sys.argv[1])
q = Queue("sundial-stuck-test", connection=conn)
q.enqueue(warm_jobs.stuck, 30, job_timeout=1)
worker = WarmWorker([q], connection=conn, job_monitoring_interval=0.2)
worker.work(burst=True, with_scheduler=False)
print("the worker went on")
"""


def test_r4_issue15_a_job_stuck_past_its_timeout_ends_the_warm_worker_process(redis_url):
    """RQ's death penalty is SIGALRM; a job stuck where it cannot be delivered would hold a warm worker forever.
    The heartbeat thread ends the process (exit 70) once the job outlives its timeout by the grace; the supervisor
    starts a fresh worker and R4's recovery runs the job again (tests/sync_e2e/test_r4_recovery.py)."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-c", STUCK_WORKER, redis_url], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 70, proc.stdout + proc.stderr[-2000:]
    assert "past its 1 s timeout; ending this worker so it runs again" in proc.stderr
    assert "the worker went on" not in proc.stdout
