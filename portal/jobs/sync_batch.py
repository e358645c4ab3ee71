"""The safety net's batch job (SPEC G2, issue 15): the idle check of many mailboxes in one RQ job.

One job per mailbox cost ≈ 17 ms of worker CPU per idle check, about half of it RQ's own bookkeeping (dequeue,
status changes, result, heartbeat) and the per-job setup (integration, pause flag, tick, EWS session); 5,000
mailboxes every 5 minutes would take ≈ 29 % of a core. The tick (safety_net.tick) therefore hands out the due
mailboxes in slices, each one `sync-batch-<n>` job, spread over the interval. Each mailbox of a slice runs the
same incremental sync as its own `sync-<id>` job would (sync_mailbox.incremental), inside the per-mailbox frame
of engine/batch.py (its lock, its failure recording, exclusion; see there for what stops a batch).

Everything else stays one job per mailbox: listener notifications, retries, catch-ups, initial syncs, an
admin's re-sync. A mailbox that needs a full import (its email changed, G7) is handed to its own job rather
than imported inside a batch, so one long import never delays the rest of a slice.

A worker killed mid-batch loses nothing: every mailbox commits on its own; R4's recovery runs the abandoned job
again, and the next tick covers every mailbox of the slice in any case.
"""
from __future__ import annotations

from ..engine.batch import run_for_mailboxes
from ..engine.context import MailboxContext
from .queues import enqueue_incremental_sync, schedule_retry
from .sync_mailbox import incremental, needs_import

REASON = "periodic"


def sync_batch(slot: int, staff_ids: list[int]) -> str:
    """Check every mailbox of `staff_ids` (slice `slot` of the tick; the slot only names the job)."""

    def retry(staff_id: int, wait: float) -> None:
        schedule_retry("sync", staff_id, "retry", delay=wait)

    outcome = run_for_mailboxes(list(staff_ids), check, retry)
    if outcome.error is not None:  # recorded on its mailbox; raised so RQ keeps the traceback (habit 5)
        raise outcome.error
    return outcome.summary(len(staff_ids))


def check(ctx: MailboxContext) -> str:
    if ctx.ms.state != "needs_confirmation" and needs_import(ctx):
        enqueue_incremental_sync(ctx.staff.id, REASON)  # runs as its own job once this batch lets the lock go
        return "handed to its own job"
    return incremental(ctx, REASON)
