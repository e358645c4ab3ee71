"""Crash and outage recovery (SPEC R4), run by every worker's maintenance every few seconds.

- A job whose worker died (kill -9, a lost machine) stays "started" in RQ's StartedJobRegistry. RQ notices only
  when the entry's heartbeat expires (≥ 60 s) and then marks the job failed. Here a started job whose worker has
  not sent a heartbeat for STALE_SECONDS is queued again at the front of its queue.
- A job killed mid-run (its work horse died, its worker lived) is queued again instead of failed.
- A job taken off its queue by a worker killed before it started it sits in RQ's intermediate queue, in no
  registry; RQ fails it after a minute or more. Here it is queued again once it has sat there DEQUEUED_SECONDS
  (a live worker starts a dequeued job within milliseconds).
- Both are bounded: a job that keeps killing its process runs at most MAX_RERUNS more times.
- Redis restarted empty (a marker key is gone): every connected mailbox gets a catch-up sync and every
  unexported change is exported again — the database is the truth. Exports find their earlier copy by the
  extended property, so running one twice never makes a second Exchange item.
- An Exchange server that answers again after an outage or a throttling storm (the gate's "recovered" mark,
  engine/throttle.py): every retry waiting out its back-off runs now, not when a back-off that grew during the
  outage (up to 30 minutes) runs out, and the export back-off counters start again from 10 s. At most once per
  KICK_SECONDS per server, so a server that flaps costs each waiting job at most one extra attempt per
  KICK_SECONDS (G9).
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime

from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.utils import utcparse

from .queues import QUEUE_NAMES

log = logging.getLogger("portal.jobs")

STALE_SECONDS = 20  # a busy worker beats every 5 s (HEARTBEAT_SECONDS in worker.py)
MAX_RERUNS = 3
EPOCH_KEY = "sundial:redis-epoch"
REAPING_KEY = "sundial:reaped:{}"
KICK_SECONDS = 30
DEQUEUED_SECONDS = 10
RETRY_QUEUES = ("sync", "export")


def maintain(conn) -> None:
    """One round of R4 maintenance; Redis errors are left to the worker loop, which retries."""
    reap_abandoned(conn)
    rescue_dequeued(conn)
    reconcile_if_emptied(conn)
    run_retries_after_recovery(conn)


def rescue_dequeued(conn, queue_names=QUEUE_NAMES, after: float = DEQUEUED_SECONDS) -> list[str]:
    """Queue again every job a worker took off its queue but never started (killed in between): it is in the
    queue's intermediate list and not in the StartedJobRegistry for `after` seconds. Returns their ids."""
    import time

    rescued = []
    for name in queue_names:
        queue = Queue(name, connection=conn)
        key = queue.intermediate_queue_key
        waiting = conn.lrange(key, 0, -1)
        started = set(StartedJobRegistry(queue=queue).get_job_ids(cleanup=False)) if waiting else set()
        for raw in waiting:
            job_id = raw.decode() if isinstance(raw, bytes) else raw
            if job_id in started:
                continue
            seen = f"sundial:dequeued-seen:{job_id}"
            if conn.set(seen, f"{time.time():.3f}", nx=True, ex=3600):
                continue  # first seen now: a live worker may be just about to start it
            if time.time() - float(conn.get(seen) or time.time()) < after:
                continue
            if not conn.lrem(key, 1, raw):
                continue  # another worker rescued it meanwhile
            conn.delete(seen)
            try:
                job = Job.fetch(job_id, connection=conn)
            except NoSuchJobError:
                continue
            if job.get_status(refresh=True) != "queued":
                continue  # started, finished or failed meanwhile: not lost
            if rerun_crashed(job, queue, "the worker that took it off the queue died before starting it"):
                rescued.append(job_id)
    return rescued


def run_retries_after_recovery(conn) -> list[str]:
    """The server answers again: queue every waiting retry (schedule_retry's `…-retry` jobs) now. Returns their
    ids. One worker does it per recovery (the mark is taken with DEL); a second recovery within KICK_SECONDS
    waits for the next round."""
    from rq.registry import ScheduledJobRegistry

    kicked: list[str] = []
    for mark in list(conn.scan_iter(match="sundial:ews:*:recovered", count=100)):
        server = mark.decode().split(":")[2] if isinstance(mark, bytes) else mark.split(":")[2]
        if not conn.set(f"sundial:ews:{server}:kicked", "1", nx=True, ex=KICK_SECONDS):
            continue  # kicked a moment ago: the mark stays for a later round
        if not conn.delete(mark):
            continue
        for name in RETRY_QUEUES:
            queue = Queue(name, connection=conn)
            registry = ScheduledJobRegistry(queue=queue)
            for job_id in registry.get_job_ids():
                if not job_id.endswith("-retry"):
                    continue
                try:
                    job = Job.fetch(job_id, connection=conn)
                except NoSuchJobError:
                    continue
                if registry.remove(job):
                    queue.enqueue_job(job, at_front=True)
                    kicked.append(job_id)
        for key in conn.scan_iter(match="sundial:export-postponed:*", count=500):
            conn.delete(key)
        if kicked:
            log.info("Exchange answers again: %d waiting retries run now (%s)", len(kicked),
                     ", ".join(kicked[:10]) + (" …" if len(kicked) > 10 else ""))
    return kicked


def worker_alive(conn, worker_name: str | None, now: datetime | None = None) -> bool:
    if not worker_name:
        return False
    beat = conn.hget(f"rq:worker:{worker_name}", "last_heartbeat")
    if beat is None:
        return False
    age = ((now or datetime.now(UTC)) - utcparse(beat.decode()).replace(tzinfo=UTC)).total_seconds()
    return age < STALE_SECONDS


def reap_abandoned(conn, queue_names=QUEUE_NAMES) -> list[str]:
    """Queue again every started job whose worker is gone. Returns their ids."""
    requeued = []
    for name in queue_names:
        queue = Queue(name, connection=conn)
        registry = StartedJobRegistry(queue=queue)
        for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
            try:
                job = Job.fetch(job_id, connection=conn)
            except NoSuchJobError:
                conn.zrem(registry.key, f"{job_id}:{execution_id}")
                continue
            if worker_alive(conn, job.worker_name):
                continue
            # One reaper per execution, however many workers look at the same moment.
            if not conn.set(REAPING_KEY.format(f"{job_id}:{execution_id}"), "1", nx=True, ex=3600):
                continue
            conn.zrem(registry.key, f"{job_id}:{execution_id}")
            if rerun_crashed(job, queue, f"its worker {job.worker_name} stopped answering"):
                requeued.append(job_id)
    return requeued


def rerun_crashed(job: Job, queue: Queue, why: str) -> bool:
    """Queue a killed job again, at the front, at most MAX_RERUNS times; afterwards it stays failed."""
    job.refresh()
    runs = int(job.meta.get("sundial_reruns", 0))
    if runs >= MAX_RERUNS:
        log.error("job %s was killed %d times (%s); it stays failed", job.id, runs + 1, why)
        return False
    job.meta["sundial_reruns"] = runs + 1
    job.save_meta()
    from rq.registry import FailedJobRegistry

    FailedJobRegistry(queue=queue).remove(job)
    queue.enqueue_job(job, at_front=True)
    log.warning("job %s runs again: %s", job.id, why)
    return True


def reconcile_if_emptied(conn) -> bool:
    """Redis lost its data (a restart without persistence, a flush) when the marker key is missing: queue one
    reconciliation job. The first worker to notice sets the marker; True when that was this call."""
    if not conn.set(EPOCH_KEY, datetime.now(UTC).isoformat(), nx=True):
        return False
    log.warning("Redis holds no Sundial marker (it restarted empty or is new): reconciling with the database")
    Queue("default", connection=conn).enqueue("portal.jobs.recovery.reconcile", job_id="reconcile",
                                              job_timeout=300, result_ttl=300, at_front=True)
    return True


def reconcile() -> str:
    """The job: the safety-net tick, the outbox, a catch-up sync of every due mailbox and the export of every
    unexported change, whatever Redis forgot."""
    from ..engine.context import integration_ready
    from .notify import recover_outbox
    from .queues import enqueue_export, enqueue_incremental_sync, enqueue_initial_sync, schedule_retry
    from .safety_net import ensure_tick, mailboxes_by_wait, unexported_appointments

    ensure_tick()
    outbox = recover_outbox()
    if integration_ready() is None:
        return f"integration not connected; {len(outbox)} outbox messages queued again"
    due, waiting = mailboxes_by_wait()
    for staff_id, initial in due:
        if initial:
            enqueue_initial_sync(staff_id)
        else:
            enqueue_incremental_sync(staff_id, "catch-up after a Redis restart")
    for staff_id, seconds in waiting:  # their retry jobs were in the Redis that was lost: at the back-off's end
        schedule_retry("sync", staff_id, "retry", delay=seconds)
    exports = unexported_appointments(grace_seconds=0)
    for appointment_id in exports:
        enqueue_export(appointment_id)
    return (f"{len(due)} mailboxes to catch up, {len(waiting)} retries after their back-off, {len(exports)} "
            f"appointments to export, {len(outbox)} messages")
