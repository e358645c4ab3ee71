"""Every RQ job Sundial runs, in one table: its queue, function, job id, timeout and whether it may be retried.

Enqueueing and retrying both read this table, so a job's queue, path, id and timeout are written once.
Job ids are deterministic per mailbox or appointment (habit 4): one waiting job per id, never two runs of one
mailbox at the same time. A retry has its own id (`<id>-retry`): the job asking for it still runs under the
plain one.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobSpec:
    queue: str
    func: str  # dotted path RQ imports in the worker
    id_pattern: str  # formatted with the job's first argument
    timeout: int  # seconds (RQ's job_timeout)
    once: bool = True  # a job already waiting or running under the id is not enqueued again
    retried: bool = False  # may ask to run again later (throttling back-off, a busy mailbox)

    def job_id(self, *args) -> str:
        return self.id_pattern.format(*args)


SPECS: dict[str, JobSpec] = {
    "initial_sync": JobSpec("sync", "portal.jobs.initial_sync.initial_sync", "initial-{0}", 1800, retried=True),
    "sync": JobSpec("sync", "portal.jobs.sync_mailbox.sync_mailbox", "sync-{0}", 600, retried=True),
    # The safety net's idle checks, many mailboxes per job (sync_batch.py); the id names the tick's slice.
    "sync_batch": JobSpec("sync", "portal.jobs.sync_batch.sync_batch", "sync-batch-{0}", 1800),
    "export": JobSpec("export", "portal.jobs.export.export_appointment", "export-{0}", 300, retried=True),
    "notify": JobSpec("notify", "portal.jobs.notify.deliver", "notify-{0}", 60, once=False),
    "alert_check": JobSpec("default", "portal.ops.alerts.evaluate_job", "alerts-check", 60),
    "build_check": JobSpec("sync", "portal.jobs.build_check.run", "exchange-build-check", 180),
    "safety_net": JobSpec("default", "portal.jobs.safety_net.tick", "safety-net-{0}", 120, once=False),
}
QUEUE_NAMES = ("sync", "export", "notify", "default")
