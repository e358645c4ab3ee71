"""Queues in one place. Enqueue only after the database commit (habit 4)."""
from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue

QUEUE_NAMES = ("sync", "export", "notify", "default")


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


def enqueue_notify(outbox_id: int):
    return get_queue("notify").enqueue("portal.jobs.notify.deliver", outbox_id,
                                       job_id=f"notify-{outbox_id}", job_timeout=60)


def enqueue_export(appointment_id: int):
    """Hook for the sync issue: export an appointment's current state to Exchange."""
    return get_queue("export").enqueue("portal.jobs.export.export_appointment", appointment_id,
                                       job_timeout=300)


def enqueue_initial_sync(staff_id: int):
    return get_queue("sync").enqueue("portal.jobs.initial_sync.initial_sync", staff_id, job_timeout=1800)


def enqueue_incremental_sync(staff_id: int, reason: str = "periodic"):
    return get_queue("sync").enqueue("portal.jobs.sync_mailbox.sync_mailbox", staff_id, reason, job_timeout=600)
