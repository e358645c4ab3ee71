"""Failure state on the domain row (habit 5) and the after-commit follow-ups of a sync.

- Throttled → state "throttled", throttled_until, the job re-enqueued after the back-off (G3).
- Credentials rejected → the whole integration paused; no worker sends another request (G4).
- Mailbox not found → "mailbox_not_found" with the address tried (I1).
- The server unreachable or a connection broken off (a restart, a dropped response) → "error", and the job
  itself runs again after a short capped back-off with jitter (R4: caught up within a minute of the server's
  return; G9: about one request a minute per mailbox while it stays down).
- Other Exchange errors → "error" with the error's plain sentence, failures counted, next attempt spaced out.
- Anything unexpected is recorded, then re-raised so RQ keeps the traceback.
"""
from __future__ import annotations

import logging
import random
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from ..ews_soap.errors import (
    AuthenticationFailed,
    EwsError,
    MailboxNotFound,
    ServerUnreachable,
    Throttled,
    TransientServerError,
)
from ..extensions import db
from ..models import Appointment, ExchangeIntegration, MailboxState, StaffMember, SyncActivity, utcnow
from .locks import LockLost
from .queues import redis_connection

log = logging.getLogger("portal.jobs")
TRANSIENT = (ServerUnreachable, TransientServerError)  # server-wide and passing: retried soon, not in minutes
TRANSIENT_BASE_SECONDS, TRANSIENT_CAP_SECONDS = 5.0, 60.0


def _activity(staff_id: int | None, action: str, reason: str, rule: str | None = None) -> None:
    db.session.add(SyncActivity(staff_id=staff_id, action=action, rule=rule, reason=reason))


def pause_integration(exc: AuthenticationFailed) -> None:
    """G4: the first rejection pauses everyone; the gate refuses all requests until an admin re-authorizes."""
    from .session import server_key
    from .throttle import paused_key

    integ = ExchangeIntegration.get()
    if integ is None:
        return
    redis_connection().set(paused_key(server_key(integ)), utcnow().isoformat())
    if integ.state != "paused":
        integ.state = "paused"
        integ.paused_reason = exc.sentence
        _activity(None, "paused", exc.sentence, "G4")
    db.session.commit()


def clear_stale_pause(integ: ExchangeIntegration) -> None:
    """An admin authorized again (state back to connected): lift the gate's pause flag."""
    from .session import server_key
    from .throttle import paused_key

    if integ.state == "connected":
        redis_connection().delete(paused_key(server_key(integ)))


@contextmanager
def mailbox_failures(staff_id: int, requeue: Callable[[float], None]):
    """Wrap one mailbox's work; on failure roll back and record the outcome on MailboxState."""
    try:
        yield
    except Throttled as exc:
        db.session.rollback()
        wait = max(float(exc.backoff_seconds or 30.0), 1.0)
        ms = _ms(staff_id)
        ms.state, ms.throttled_until = "throttled", utcnow() + timedelta(seconds=wait)
        ms.last_error = exc.sentence
        _activity(staff_id, "throttled", f"{exc.sentence} Waiting {wait:.0f} s.", "G3")
        db.session.commit()
        requeue(wait)
    except AuthenticationFailed as exc:
        db.session.rollback()
        ms = _ms(staff_id)
        ms.state, ms.last_error = "paused", exc.sentence
        pause_integration(exc)
    except MailboxNotFound as exc:
        db.session.rollback()
        ms = _ms(staff_id)
        staff = db.session.get(StaffMember, staff_id)
        ms.state, ms.tried_address = "mailbox_not_found", exc.address or staff.email
        ms.last_error = exc.sentence + (f" (tried {ms.tried_address})" if ms.tried_address else "")
        _activity(staff_id, "mailbox_not_found", ms.last_error, "I1")
        db.session.commit()
    except TRANSIENT as exc:
        db.session.rollback()
        requeue(_record_error(staff_id, exc.sentence, transient=True))
    except EwsError as exc:
        db.session.rollback()
        _record_error(staff_id, exc.sentence)
    except LockLost as exc:  # another job holds the mailbox now and does this work: leave its state alone
        db.session.rollback()
        log.warning("%s", exc)
    except Exception:
        db.session.rollback()
        _record_error(staff_id, "An unexpected error stopped the sync; it is logged for the Sundial team.")
        raise


def _record_error(staff_id: int, sentence: str, transient: bool = False) -> float:
    """Record the failure; returns the seconds until the next attempt."""
    ms = _ms(staff_id)
    ms.state, ms.last_error = "error", sentence
    ms.failures = (ms.failures or 0) + 1
    if transient:
        wait = min(TRANSIENT_BASE_SECONDS * 2 ** min(ms.failures - 1, 8), TRANSIENT_CAP_SECONDS)
        wait *= random.uniform(0.5, 1.0)
    else:
        wait = 60.0 * min(2 ** min(ms.failures, 6), 60)
    ms.next_attempt_at = utcnow() + timedelta(seconds=wait)
    _activity(staff_id, "error", sentence)
    db.session.commit()
    return wait


def _ms(staff_id: int) -> MailboxState:
    ms = db.session.get(MailboxState, staff_id)
    if ms is None:
        ms = MailboxState(staff_id=staff_id)
        db.session.add(ms)
    return ms


def mark_synced(ms: MailboxState) -> None:
    ms.state, ms.last_sync_at = "synced", utcnow()
    ms.last_error, ms.failures, ms.next_attempt_at, ms.throttled_until = None, 0, None, None


def commit(ctx) -> None:
    """Commit a sync's work together with its notifications (U5/D3, outbox rows in the same transaction),
    then queue their delivery and the re-exports to the appointment's other staff (U2)."""
    from ..notifications import notify_appointment, queue_delivery
    from .apply import fault_point
    from .queues import enqueue_export

    messages = []
    for appt_id, kind, staff_ids in ctx.pending_notify:
        appt = db.session.get(Appointment, appt_id)
        staff = [db.session.get(StaffMember, s) for s in staff_ids] if staff_ids else None
        if appt is not None:
            messages += notify_appointment(appt, kind, staff=staff)
    fault_point("before_commit")
    if ctx.lock is not None:
        ctx.lock.check()  # never commit a sync whose mailbox lock passed to another job meanwhile
    db.session.commit()
    if messages:
        queue_delivery(messages)
    for appt_id in sorted(ctx.pending_exports):
        enqueue_export(appt_id)
    ctx.pending_notify.clear()
    ctx.pending_exports.clear()
