"""Deterministic job ids per mailbox, re-run requests, and the per-mailbox Redis lock (habit 4)."""
from __future__ import annotations

import time

import pytest
import redis as redis_lib
from rq.job import Job

from portal.engine.locks import LockLost, lock_name, mailbox_lock
from portal.jobs.queues import enqueue_export, enqueue_incremental_sync, get_queue, rerun_key, take_rerun


def _flush(redis_url):
    redis_lib.Redis.from_url(redis_url).flushdb()


def test_a_waiting_sync_of_a_mailbox_is_not_enqueued_twice(app, redis_url):
    _flush(redis_url)
    a = enqueue_incremental_sync(7, "notification")
    b = enqueue_incremental_sync(7, "periodic")
    assert a.id == b.id == "sync-7"
    assert get_queue("sync").job_ids == ["sync-7"]
    enqueue_export(3)
    enqueue_export(3)
    assert get_queue("export").job_ids == ["export-3"]


def test_a_running_sync_is_asked_to_run_again_not_overlapped(app, redis_url):
    _flush(redis_url)
    job = enqueue_incremental_sync(7)
    job.set_status("started")
    get_queue("sync").remove(job)
    again = enqueue_incremental_sync(7)
    assert again.id == "sync-7" and get_queue("sync").job_ids == []
    assert take_rerun("sync-7") is True and take_rerun("sync-7") is False
    assert Job.fetch("sync-7", connection=get_queue("sync").connection).get_status() == "started"
    assert rerun_key("sync-7").endswith("sync-7")


def test_an_admin_resync_or_authorize_does_not_wait_behind_a_scheduled_safety_net_run(app, redis_url):
    from rq.registry import ScheduledJobRegistry

    from portal.jobs.queues import enqueue_initial_sync

    _flush(redis_url)
    scheduled = enqueue_incremental_sync(7, "periodic", delay=240)
    assert scheduled.get_status() == "scheduled" and get_queue("sync").job_ids == []
    assert enqueue_incremental_sync(7, "periodic", delay=120).id == "sync-7"  # another delayed request: no change
    assert ScheduledJobRegistry(queue=get_queue("sync")).get_job_ids() == ["sync-7"]
    now = enqueue_incremental_sync(7, "admin")
    assert now.id == "sync-7" and get_queue("sync").job_ids == ["sync-7"]
    assert ScheduledJobRegistry(queue=get_queue("sync")).get_job_ids() == []
    job = Job.fetch("sync-7", connection=get_queue("sync").connection)
    assert job.get_status() == "queued" and job.args == (7, "admin")  # the run says why it really ran
    enqueue_initial_sync(8, delay=60)
    enqueue_initial_sync(8)
    assert get_queue("sync").job_ids == ["initial-8", "sync-7"]  # promoted to the front


def test_one_sync_at_a_time_per_mailbox(app, redis_url):
    _flush(redis_url)
    with mailbox_lock(5) as first:
        with mailbox_lock(5) as second, mailbox_lock(6) as other:
            assert (bool(first), bool(second), bool(other)) == (True, False, True)
    with mailbox_lock(5) as again:
        assert again


def test_a_killed_holders_lock_expires(app, redis_url):
    _flush(redis_url)
    conn = redis_lib.Redis.from_url(redis_url)
    conn.lock("sundial:lock:mailbox:9", timeout=1).acquire()  # a worker that died holding it
    with mailbox_lock(9, wait=3) as got:
        assert got


def test_g3_a_held_lock_outlives_its_expiry_while_the_job_runs(app, redis_url):
    """The lock's expiry is short (a crashed worker's lock lapses soon) but a job that runs for longer keeps it:
    a keeper thread renews it. Here 3 x the expiry passes; nobody else gets the mailbox meanwhile."""
    _flush(redis_url)
    conn = redis_lib.Redis.from_url(redis_url)
    with mailbox_lock(4, timeout=1.5) as held:  # renewed every 0.5 s: a keeper stalled 1 s still holds it
        assert 0 < conn.pttl(lock_name(4)) <= 1500
        time.sleep(4.5)
        with mailbox_lock(4) as other:
            assert held and not other
        held.check()  # still ours
        assert held.renewals >= 3
    assert conn.exists(lock_name(4)) == 0  # released at the end
    with mailbox_lock(4) as again:
        assert again


def test_g3_a_job_whose_lock_passed_to_another_refuses_to_commit(app, redis_url):
    _flush(redis_url)
    conn = redis_lib.Redis.from_url(redis_url)
    with mailbox_lock(4, timeout=0.6) as held:
        conn.delete(lock_name(4))  # as if this process had been frozen past the expiry …
        with mailbox_lock(4) as newcomer:  # … and another worker took the mailbox
            assert newcomer
            with pytest.raises(LockLost):
                held.check()
            time.sleep(0.5)
            assert conn.exists(lock_name(4))  # the loser neither renews nor releases the newcomer's lock
    assert conn.exists(lock_name(4)) == 0


def test_g2_one_safety_net_chain_however_many_workers_start(app, redis_url):
    from rq.registry import ScheduledJobRegistry

    from portal.jobs.safety_net import ensure_tick

    _flush(redis_url)
    assert ensure_tick() is True
    assert ensure_tick() is False  # a second worker start, or Authorize, adds no second chain
    assert len(ScheduledJobRegistry(queue=get_queue("default")).get_job_ids()) == 1


def test_the_tick_prunes_sync_decisions_older_than_the_retention(app, redis_url):
    from datetime import timedelta

    from portal.extensions import db
    from portal.jobs.safety_net import prune_activity
    from portal.models import SyncActivity, utcnow

    app.config["ACTIVITY_RETENTION_DAYS"] = 30
    now = utcnow()
    db.session.add_all([SyncActivity(action="imported", reason="old", at=now - timedelta(days=31)),
                        SyncActivity(action="imported", reason="recent", at=now - timedelta(days=29))])
    db.session.commit()
    assert prune_activity() == 1
    assert [a.reason for a in db.session.execute(db.select(SyncActivity)).scalars()] == ["recent"]


def test_g3_enqueue_and_retry_read_one_job_table(app, redis_url):
    """Habit 4: queue, function, id and timeout come from jobs/specs.py for a first run and a retry alike."""
    import importlib

    from rq.registry import ScheduledJobRegistry

    from portal.jobs.queues import enqueue, schedule_retry
    from portal.jobs.specs import QUEUE_NAMES, SPECS

    for name, spec in SPECS.items():
        module, func = spec.func.rsplit(".", 1)
        assert spec.queue in QUEUE_NAMES and callable(getattr(importlib.import_module(module), func)), name
    _flush(redis_url)
    first = enqueue("initial_sync", 9)
    retry = schedule_retry("initial_sync", 9, delay=30)
    assert (first.id, retry.id) == ("initial-9", "initial-9-retry")
    assert first.func_name == retry.func_name == SPECS["initial_sync"].func
    assert first.timeout == retry.timeout == SPECS["initial_sync"].timeout == 1800
    assert ScheduledJobRegistry(queue=get_queue("sync")).get_job_ids() == ["initial-9-retry"]
    assert schedule_retry("initial_sync", 9, delay=30) is None  # one waiting retry per job id
    with pytest.raises(ValueError):
        schedule_retry("notify", 4, delay=5)  # a delivery is retried by its own back-off, not this way


def test_g2_g3_one_keeper_renews_the_locks_a_batch_holds_one_after_another(app, redis_url):
    """The safety net's batches hold one mailbox lock after another; one keeper thread renews whichever is held
    (issue 15), as each lock's own keeper would: a held lock outlives its expiry, a released one is left alone."""
    import threading

    from portal.engine.locks import LockKeeper

    _flush(redis_url)
    conn = redis_lib.Redis.from_url(redis_url)
    keeper = LockKeeper(0.5)
    before = threading.active_count()
    try:
        for staff_id in (11, 12):
            with mailbox_lock(staff_id, timeout=1.5, keeper=keeper) as held:
                time.sleep(2.5)  # past the expiry
                with mailbox_lock(staff_id) as other:
                    assert held and not other
                held.check()
                assert held.renewals >= 2
            assert conn.exists(lock_name(staff_id)) == 0  # released at the end, not renewed afterwards
        assert threading.active_count() == before + 1  # one keeper thread for both locks
    finally:
        keeper.close()
    assert threading.active_count() == before
