"""Enqueueing over the job table (specs.py). Enqueue only after the database commit (habit 4).

Sync jobs have deterministic ids per mailbox (`sync-<staff>`, `initial-<staff>`) and exports per appointment
(`export-<appointment>`): a job already waiting is not enqueued twice, and a job already running is asked to
run once more when it finishes (so a change arriving mid-run is never lost and two runs never overlap).
"""
from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from redis.exceptions import RedisError
from rq import Queue
from rq.exceptions import DequeueTimeout, NoSuchJobError
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job, JobStatus

from ..extensions import redis_connection
from .specs import QUEUE_NAMES, SPECS

__all__ = ["DEFAULT_WORKER_QUEUES", "QUEUE_CLASSES", "QUEUE_NAMES", "enqueue", "enqueue_all", "get_queue",
           "redis_connection", "schedule_retry", "take_rerun"]
log = logging.getLogger("portal.jobs")
# G8: each class has its own worker process(es), so exports and notifications never wait behind a sync backlog.
QUEUE_CLASSES = {"sync": ("sync",), "fast": ("export", "notify", "default")}
# A single worker without --queues takes the fast class first: an export then waits for at most the one sync
# job already running, never for the backlog.
DEFAULT_WORKER_QUEUES = QUEUE_CLASSES["fast"] + QUEUE_CLASSES["sync"]
WAITING = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


class TrackedQueue(Queue):
    """Every dequeue passes through the queue's intermediate list (LMOVE), as RQ does only for a worker of one
    queue: a worker of several queues takes a job with BLPOP, so one killed between taking a job and starting it
    loses the job without a trace (its status stays "queued" and every later enqueue of that id is taken for a
    duplicate). The soak lost a booking's export this way. Queues are tried in priority order; an idle worker
    waits on the first with a short BLMOVE, so a job of another queue waits at most IDLE_POLL_SECONDS."""

    IDLE_POLL_SECONDS = 0.25

    @classmethod
    def lpop(cls, queue_keys, timeout, connection=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for key in queue_keys:
                found = cls.lmove(connection, key, None)
                if found is not None:
                    return found
            if deadline is None:
                return None
            if time.monotonic() >= deadline:
                raise DequeueTimeout(timeout, queue_keys)
            got = connection.blmove(queue_keys[0], IntermediateQueue.get_intermediate_queue_key(queue_keys[0]),
                                    cls.IDLE_POLL_SECONDS)
            if got is not None:
                return queue_keys[0], got


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return TrackedQueue(name, connection=redis_connection(), is_async=current_app.config["RQ_ASYNC"])


def rerun_key(job_id: str) -> str:
    return f"sundial:rerun:{job_id}"


def take_rerun(job_id: str) -> bool:
    """Called by a job as it finishes: was it asked to run again meanwhile?"""
    return bool(redis_connection().getdel(rerun_key(job_id)))


def enqueue(name: str, *args, delay: float | None = None) -> Job | None:
    """Enqueue the job `name` of the table with `args` (call after the commit)."""
    spec = SPECS[name]
    q = get_queue(spec.queue)
    job_id = spec.job_id(*args)
    if spec.once and q.is_async:
        conn = redis_connection()
        try:
            job = Job.fetch(job_id, connection=conn)
            status = job.get_status(refresh=True)
        except NoSuchJobError:
            job, status = None, None
        if status == JobStatus.SCHEDULED and not delay:
            return _run_now(q, job, args)
        if status in WAITING:
            return job
        if status == JobStatus.STARTED:
            conn.set(rerun_key(job_id), "1", ex=3600)
            return job
    kw = dict(job_id=job_id, job_timeout=spec.timeout, result_ttl=300, failure_ttl=7 * 86400)
    if delay and q.is_async:
        return q.enqueue_in(timedelta(seconds=delay), spec.func, *args, **kw)
    return q.enqueue(spec.func, *args, **kw)


def enqueue_all(jobs: list[tuple]) -> bool:
    """Enqueue `(name, *args)` jobs after the commit. False on a Redis outage (logged): nothing is lost, the
    rows they stand for stay pending and the safety net's next tick queues them (habit 4)."""
    try:
        for name, *args in jobs:
            enqueue(name, *args)
    except RedisError as exc:
        log.warning("job queue unreachable; %d job(s) wait for the safety net: %s", len(jobs), exc)
        return False
    return True


def _run_now(q: Queue, job: Job, args: tuple) -> Job:
    """An undelayed request (a notification, the admin's re-sync, Authorize) must not wait behind the
    safety net's *scheduled* run of the same job id: move that run from the scheduled registry to the front
    of the queue, with this request's arguments (its reason). Losing the race to the scheduler, which moves
    the job itself at its time, is harmless: it is queued either way."""
    from rq.registry import ScheduledJobRegistry

    if ScheduledJobRegistry(queue=q).remove(job):
        if job.args != args:  # reading args first loads the stored job data; a bare assignment cannot be saved
            job.args = args
        q.enqueue_job(job, at_front=True)
    return job


def schedule_retry(name: str, *args, delay: float):
    """Run the job `name` again after `delay` seconds (throttling back-off, a busy mailbox), under its retry id."""
    spec = SPECS[name]
    if not spec.retried:
        raise ValueError(f"{name} is not a retried job")
    conn = redis_connection()
    retry_id = f"{spec.job_id(*args)}-retry"
    try:
        if Job.fetch(retry_id, connection=conn).get_status(refresh=True) in WAITING:
            return None
    except NoSuchJobError:
        pass
    q = get_queue(spec.queue)
    kw = dict(job_id=retry_id, job_timeout=spec.timeout, result_ttl=300, failure_ttl=7 * 86400)
    if not q.is_async:
        return None  # synchronous mode (tests without Redis workers): the next tick retries
    return q.enqueue_in(timedelta(seconds=max(delay, 1.0)), spec.func, *args, **kw)


def waiting_or_running(job_ids: list[str]) -> set[str]:
    """Which of `job_ids` wait or run now (one Redis round trip however many)."""
    if not job_ids:
        return set()
    pipe = redis_connection().pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hget(Job.key_for(job_id), "status")
    busy = {s.value.encode() for s in (*WAITING, JobStatus.STARTED)}
    return {job_id for job_id, status in zip(job_ids, pipe.execute(), strict=True) if status in busy}


def enqueue_batch(slot: int, staff_ids: list[int], delay: float | None = None) -> Job | None:
    """The safety net's slice `slot` (job `sync-batch-<slot>`), after `delay` seconds. The id is the same every
    tick, so slices still waiting behind a backlog are replaced (with this tick's mailboxes), never piled up; a
    slice still running is left alone (None): the next tick covers whatever it does not."""
    from rq.registry import ScheduledJobRegistry

    spec = SPECS["sync_batch"]
    q = get_queue(spec.queue)
    job_id = spec.job_id(slot)
    if q.is_async:
        try:
            old = Job.fetch(job_id, connection=redis_connection())
            status = old.get_status(refresh=True)
        except NoSuchJobError:
            old, status = None, None
        if status == JobStatus.STARTED:
            return None
        if status in WAITING:  # taken back atomically; lost to a worker that just took it: that run covers it
            if not (ScheduledJobRegistry(queue=q).remove(old) or q.remove(old)):
                return None
            old.delete(remove_from_queue=False)
    kw = dict(job_id=job_id, job_timeout=spec.timeout, result_ttl=300, failure_ttl=7 * 86400)
    if delay and q.is_async:
        return q.enqueue_in(timedelta(seconds=delay), spec.func, slot, list(staff_ids), **kw)
    return q.enqueue(spec.func, slot, list(staff_ids), **kw)


def enqueue_notify(outbox_id: int):
    return enqueue("notify", outbox_id)


def enqueue_alert_check():
    """Re-evaluate admin alerts soon (O4), e.g. right after Authorize so "resolved" goes out at once."""
    return enqueue("alert_check")


def enqueue_export(appointment_id: int, delay: float | None = None):
    """Export an appointment's current state to each assigned staff member's Exchange calendar (E1/E2)."""
    return enqueue("export", appointment_id, delay=delay)


def enqueue_initial_sync(staff_id: int, delay: float | None = None):
    return enqueue("initial_sync", staff_id, delay=delay)


def enqueue_incremental_sync(staff_id: int, reason: str = "periodic", delay: float | None = None):
    return enqueue("sync", staff_id, reason, delay=delay)


def start_safety_net():
    """Schedule the periodic safety-net tick unless it is already scheduled (called by the worker and Authorize)."""
    from .safety_net import ensure_tick

    return ensure_tick()

