"""The periodic safety net (SPEC G2): every connected mailbox is synced at least every N minutes
(ExchangeIntegration.sync_interval_minutes, default 5), spread evenly over the interval rather than all at once.
The idle checks go out in batches of SAFETY_NET_BATCH_SIZE mailboxes per job (sync_batch.py: one job per
mailbox cost ≈ 29 % of a core for 5,000 mailboxes); a mailbox never imported gets its own initial-sync job.

A self-rescheduling tick job on RQ's scheduler (workers run with the scheduler on). A Redis key with expiry
marks "a tick is scheduled", so starting many workers schedules one tick, and a lost tick is rescheduled by
the next worker start or Authorize.

The chain ticks whether or not Exchange is connected: each tick also recovers the notification outbox
(portal.jobs.notify.recover_outbox — messages a crashed worker or a Redis outage left behind). Mailboxes and
exports are handled only while the integration is connected.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from flask import current_app
from rq import get_current_job

from ..engine.context import integration_ready
from ..extensions import db, redis_connection
from ..models import AppointmentChange, MailboxState, StaffMember, SyncActivity, utcnow
from ..notifications.reminders import send_reminders
from ..ops.alerts import evaluate_safely
from .notify import recover_outbox
from .queues import enqueue_all, enqueue_batch, enqueue_export, enqueue_initial_sync, get_queue, waiting_or_running
from .specs import SPECS

TICK_KEY = "sundial:safety-net:scheduled"
# "paused" is not skipped: a paused integration syncs no mailbox (integration_ready() is None), and after
# re-authorization (G4) the mailboxes paused with it must be synced again.
SKIP_STATES = frozenset({"excluded", "mailbox_not_found", "needs_confirmation"})


def interval_seconds() -> int:
    integ = integration_ready()
    return 60 * max(int(integ.sync_interval_minutes if integ else 5) or 5, 1)


def _schedule_next(interval: int, only_if_none: bool) -> bool:
    """Schedule the next tick under a fresh job id recorded in TICK_KEY; the key names the one live chain."""
    spec = SPECS["safety_net"]
    job_id = spec.job_id(uuid.uuid4().hex[:12])
    if not redis_connection().set(TICK_KEY, job_id, nx=only_if_none, ex=2 * interval + 60):
        return False
    get_queue(spec.queue).enqueue_in(timedelta(seconds=interval), spec.func, job_id=job_id, job_timeout=spec.timeout)
    return True


def ensure_tick() -> bool:
    """Schedule the next tick unless one is already scheduled. True when this call scheduled it."""
    return _schedule_next(interval_seconds(), only_if_none=True)


def due_mailboxes() -> list[tuple[int, bool]]:
    """(staff id, needs initial sync) for every staff member taking appointments whose mailbox is due."""
    return mailboxes_by_wait()[0]


def mailboxes_by_wait() -> tuple[list[tuple[int, bool]], list[tuple[int, float]]]:
    """The mailboxes to sync: (staff id, needs initial sync) of those due now, and (staff id, seconds left) of
    those waiting out a back-off (next_attempt_at, throttled_until) — their retry job waits in Redis."""
    now = utcnow()
    rows = db.session.execute(db.select(StaffMember.id, MailboxState).outerjoin(
        MailboxState, MailboxState.staff_id == StaffMember.id).where(StaffMember.takes_appointments.is_(True))
        .order_by(StaffMember.id)).all()
    due, waiting = [], []
    for staff_id, ms in rows:
        if ms is not None and (ms.excluded or ms.state in SKIP_STATES):
            continue
        until = max((t for t in (ms.next_attempt_at, ms.throttled_until) if t and t > now), default=None) \
            if ms is not None else None
        if until is not None:
            waiting.append((staff_id, (until - now).total_seconds()))
        else:
            due.append((staff_id, ms is None or not ms.sync_state))
    return due, waiting


def unexported_appointments(grace_seconds: float | None = None) -> list[int]:
    """Appointments with changes the export job has not stamped after a grace period (a failed or lost export
    job): the safety net exports them again. Finding copies by the extended property keeps this idempotent."""
    if grace_seconds is None:
        grace_seconds = float(current_app.config["EXPORT_RETRY_GRACE_SECONDS"])
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    return list(db.session.execute(db.select(AppointmentChange.appointment_id).where(
        AppointmentChange.exported_at.is_(None), AppointmentChange.created_at <= cutoff).distinct()).scalars())


def prune_activity() -> int:
    """Delete sync decisions older than ACTIVITY_RETENTION_DAYS (the "why" log would otherwise grow forever)."""
    days = int(current_app.config["ACTIVITY_RETENTION_DAYS"])
    gone = db.session.execute(db.delete(SyncActivity).where(SyncActivity.at < utcnow() - timedelta(days=days)))
    db.session.commit()
    return gone.rowcount


def batches(staff_ids: list[int]) -> list[list[int]]:
    """The idle checks in slices of SAFETY_NET_BATCH_SIZE for sync_batch jobs. A mailbox whose own `sync-<id>`
    job waits or runs already (a notification's sync, an admin's re-sync) is left out: that job checks it."""
    own = waiting_or_running([SPECS["sync"].job_id(staff_id) for staff_id in staff_ids])
    left = [staff_id for staff_id in staff_ids if SPECS["sync"].job_id(staff_id) not in own]
    size = int(current_app.config["SAFETY_NET_BATCH_SIZE"])
    return [left[i:i + size] for i in range(0, len(left), size)]


def enqueue_due(interval: float) -> tuple[int, int, int]:
    """Every due mailbox at an even offset within the interval: initial syncs one job each, idle checks in
    batches. Returns (due mailboxes, initial syncs, batches)."""
    due = due_mailboxes()
    initial = [staff_id for staff_id, first in due if first]
    for i, staff_id in enumerate(initial):
        enqueue_initial_sync(staff_id, delay=interval * i / len(initial) or None)
    slices = batches([staff_id for staff_id, first in due if not first])
    for n, staff_ids in enumerate(slices):
        enqueue_batch(n, staff_ids, delay=interval * n / len(slices) or None)
    return len(due), len(initial), len(slices)


def tick() -> str:
    """Enqueue every due mailbox at an even offset within the interval — initial syncs one job each, idle checks
    in batches (sync_batch.py) — then schedule the next tick."""
    interval = interval_seconds()
    job = get_current_job()
    live = redis_connection().get(TICK_KEY)
    if job is not None and live is not None and live.decode() != job.id:
        return "a newer tick chain is live; this one stops"
    recovered = recover_outbox()
    enqueue_all([("notify", m.id) for m in send_reminders()])  # P10: reminders, claimed once each (reminders.py)
    prune_activity()
    evaluate_safely()  # O4: open, remind and resolve admin alerts
    if integration_ready() is None:
        _schedule_next(interval, only_if_none=False)
        return f"integration not connected; {len(recovered)} outbox messages queued again"
    due, initial, slices = enqueue_due(interval)
    for appointment_id in unexported_appointments():
        enqueue_export(appointment_id)
    from .build_check import enqueue_if_due

    enqueue_if_due()  # S13: the server's build, once a day
    _schedule_next(interval, only_if_none=False)
    return (f"{due} mailboxes ({initial} initial syncs, {slices} batches) spread over {interval} s; "
            f"{len(recovered)} outbox messages queued again")
