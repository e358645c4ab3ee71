"""Queues in one place. Enqueue only after the database commit (habit 4).

Sync jobs have deterministic ids per mailbox (`sync-<staff>`, `initial-<staff>`) and exports per appointment
(`export-<appointment>`): a job already waiting is not enqueued twice, and a job already running is asked to
run once more when it finishes (so a change arriving mid-run is never lost and two runs never overlap).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

QUEUE_NAMES = ("sync", "export", "notify", "default")
# G8: each class has its own worker process(es), so exports and notifications never wait behind a sync backlog.
QUEUE_CLASSES = {"sync": ("sync",), "fast": ("export", "notify", "default")}
# A single worker without --queues takes the fast class first: an export then waits for at most the one sync
# job already running, never for the backlog.
DEFAULT_WORKER_QUEUES = QUEUE_CLASSES["fast"] + QUEUE_CLASSES["sync"]
WAITING = (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED)


def redis_connection() -> Redis:
    ext = current_app.extensions
    conn = ext.get("sundial_redis")
    if conn is None:
        conn = ext["sundial_redis"] = Redis.from_url(current_app.config["REDIS_URL"])
    return conn


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection(), is_async=current_app.config.get("RQ_ASYNC", True))


def rerun_key(job_id: str) -> str:
    return f"sundial:rerun:{job_id}"


def take_rerun(job_id: str) -> bool:
    """Called by a job as it finishes: was it asked to run again meanwhile?"""
    return bool(redis_connection().getdel(rerun_key(job_id)))


def _enqueue_once(queue: str, func: str, args: tuple, job_id: str, timeout: int, delay: float | None = None):
    conn = redis_connection()
    q = get_queue(queue)
    if q.is_async:
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
    kw = dict(job_id=job_id, job_timeout=timeout, result_ttl=300, failure_ttl=7 * 86400)
    if delay and q.is_async:
        return q.enqueue_in(timedelta(seconds=delay), func, *args, **kw)
    return q.enqueue(func, *args, **kw)


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


def schedule_retry(queue: str, func: str, args: tuple, job_id: str, delay: float, timeout: int = 600):
    """Run a job again after `delay` seconds (throttling back-off, a busy mailbox). A retry has its own id:
    the job asking for it is still running under the plain id."""
    conn = redis_connection()
    retry_id = f"{job_id}-retry"
    try:
        if Job.fetch(retry_id, connection=conn).get_status(refresh=True) in WAITING:
            return None
    except NoSuchJobError:
        pass
    q = get_queue(queue)
    kw = dict(job_id=retry_id, job_timeout=timeout, result_ttl=300, failure_ttl=7 * 86400)
    if not q.is_async:
        return None  # synchronous mode (tests without Redis workers): the next tick retries
    return q.enqueue_in(timedelta(seconds=max(delay, 1.0)), func, *args, **kw)


def enqueue_notify(outbox_id: int):
    return get_queue("notify").enqueue("portal.jobs.notify.deliver", outbox_id,
                                       job_id=f"notify-{outbox_id}", job_timeout=60)


def enqueue_export(appointment_id: int, delay: float | None = None):
    """Export an appointment's current state to each assigned staff member's Exchange calendar (E1/E2)."""
    return _enqueue_once("export", "portal.jobs.export.export_appointment", (appointment_id,),
                         f"export-{appointment_id}", 300, delay)


def enqueue_initial_sync(staff_id: int, delay: float | None = None):
    return _enqueue_once("sync", "portal.jobs.initial_sync.initial_sync", (staff_id,), f"initial-{staff_id}",
                         1800, delay)


def enqueue_incremental_sync(staff_id: int, reason: str = "periodic", delay: float | None = None):
    return _enqueue_once("sync", "portal.jobs.sync_mailbox.sync_mailbox", (staff_id, reason), f"sync-{staff_id}",
                         600, delay)


def enqueue_confirmed_sync(staff_id: int):
    """An admin confirmed that a calendar which suddenly looks empty really is (mass-deletion guard)."""
    return get_queue("sync").enqueue("portal.jobs.sync_mailbox.sync_mailbox", staff_id, "confirmed",
                                     job_id=f"sync-{staff_id}-confirmed", job_timeout=600)


def start_safety_net():
    """Schedule the periodic safety-net tick unless it is already scheduled (called by the worker and Authorize)."""
    from .schedule import ensure_tick

    return ensure_tick()


def staff_changed(staff_id: int, old_email: str | None, old_takes: bool | None):
    """G7 hook for the staff pages: call after the commit that changed a staff member."""
    from .hooks import staff_changed as hook

    return hook(staff_id, old_email, old_takes)
