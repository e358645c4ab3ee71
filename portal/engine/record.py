"""Every MailboxState transition (S8), failure state on the domain row (habit 5), and a sync's commit.

Only this module sets MailboxState.state (the web views call it too, for an admin's re-sync, exclude, include,
Authorize and Disconnect), so the User Accounts tab's states mean one thing each.

- Throttled → state "throttled", throttled_until, the job re-enqueued after the back-off (G3).
- Credentials rejected → the whole integration paused; no worker sends another request (G4).
- Mailbox not found → "mailbox_not_found" with the address tried (I1).
- Other mailbox-level errors → their own state (the error's `mailbox_state`: "mailbox_unavailable" while a mailbox
  moves or its database is down, "no_access" when impersonation or delegate rights miss for this mailbox);
  other Exchange errors → "error"; both with the error's plain sentence, failures counted, next attempt spaced out.
- Anything unexpected is recorded, then re-raised so RQ keeps the traceback.
"""
from __future__ import annotations

import logging
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
from ..extensions import db, redis_connection
from ..jobs.queues import enqueue_all, enqueue_export
from ..models import (
    Appointment,
    AuditEvent,
    ExchangeIntegration,
    MailboxState,
    MailboxStatus,
    StaffMember,
    SyncActivity,
    utcnow,
)
from ..notifications import notify_appointment
from ..ops.logs import log_context
from ..ops.metrics import throttled
from .apply import fault_point
from .backoff import backoff_delay
from .confirm import confirm_writes
from .locks import LockLost
from .throttle import paused_key, server_key

log = logging.getLogger("portal.jobs")
THROTTLED_BASE_S, THROTTLED_CAP_S = 5.0, 1800.0  # a throttled mailbox: 5 s doubling to 30 min (or what it asks)
ERROR_BASE_S, ERROR_CAP_S = 120.0, 3600.0  # a failing mailbox: 2 min doubling to an hour
# The server unreachable or a connection broken off (a restart, a dropped response): server-wide and passing, so
# the job itself runs again soon (R4: caught up within a minute of the server's return; G9: about one request a
# minute per mailbox while it stays down).
TRANSIENT = (ServerUnreachable, TransientServerError)
TRANSIENT_BASE_S, TRANSIENT_CAP_S = 5.0, 60.0


def _activity(staff_id: int | None, action: str, reason: str, rule: str | None = None) -> None:
    db.session.add(SyncActivity(staff_id=staff_id, action=action, rule=rule, reason=reason))


def pause_integration(exc: AuthenticationFailed) -> None:
    """G4: the first rejection pauses everyone; the gate refuses all requests until an admin re-authorizes."""
    integ = ExchangeIntegration.get()
    if integ is None:
        return
    redis_connection().set(paused_key(server_key(integ)), utcnow().isoformat())
    remember_rejected_stored_password(integ, exc)
    if integ.state != "paused":
        integ.state = "paused"
        integ.paused_reason = exc.sentence
        _activity(None, "paused", exc.sentence, "G4")
        # The audit trail shows who changed the integration's state; this change was Sundial's own (no user).
        db.session.add(AuditEvent(action="paused_automatically",
                                  detail=f"Syncing paused for everyone: {exc.sentence}"))
    db.session.commit()
    from ..ops.alerts import evaluate_safely

    evaluate_safely()  # O4: admins hear of the pause now, not at the next tick


def remember_rejected_stored_password(integ: ExchangeIntegration, exc: AuthenticationFailed) -> None:
    """S10: the stored password drew a 401, so nothing sends it again until an admin types a password. A refusal
    the gate or the guard made without sending anything changes nothing."""
    from ..crypto import decrypt, password_fingerprint

    if exc.code in ("PasswordRejectedBefore",) or "no request sent" in (exc.detail or "") or \
            not integ.password_encrypted:
        return
    try:
        password = decrypt(integ.password_encrypted)
    except ValueError:
        return
    integ.rejected_password_fp = password_fingerprint(integ.username, password)
    integ.rejected_at = utcnow()


def clear_stale_pause(integ: ExchangeIntegration) -> None:
    """An admin authorized again (state back to connected): lift the gate's pause flag."""
    if integ.state == "connected":
        redis_connection().delete(paused_key(server_key(integ)))


@contextmanager
def mailbox_failures(staff_id: int, requeue: Callable[[float], None]):
    """Wrap one mailbox's work; on failure roll back and record the outcome on MailboxState."""
    try:
        with log_context(mailbox=f"staff-{staff_id}"):
            yield
    except Throttled as exc:
        db.session.rollback()
        ms = _ms(staff_id)
        ms.failures = (ms.failures or 0) + 1
        wait = max(backoff_delay(ms.failures, THROTTLED_BASE_S, THROTTLED_CAP_S, exc.backoff_seconds), 1.0)
        mark_throttled(ms, utcnow() + timedelta(seconds=wait), exc.sentence)
        _activity(staff_id, "throttled", f"{exc.sentence} Waiting {wait:.0f} s.", "G3")
        throttled(wait)
        db.session.commit()
        requeue(wait)
    except AuthenticationFailed as exc:
        db.session.rollback()
        from . import session as warm

        warm.drop()  # a warm worker keeps no connection or session of the rejected credentials (S10)
        mark_paused(_ms(staff_id), exc.sentence)
        pause_integration(exc)
    except MailboxNotFound as exc:
        db.session.rollback()
        ms = _ms(staff_id)
        mark_not_found(ms, exc.address or db.session.get(StaffMember, staff_id).email, exc.sentence)
        _activity(staff_id, "mailbox_not_found", ms.last_error, "I1")
        db.session.commit()
    except TRANSIENT as exc:
        db.session.rollback()
        # The sentence is the same for every broken connection; the log keeps what actually broke (a reset, a
        # cut-off body, a local error) so a failure that repeats can be told apart from a passing one.
        log.warning("staff-%s: %s during %s: %s", staff_id, type(exc).__name__, exc.operation or "a request",
                    exc.detail)
        if exc.mailbox_state:  # one mailbox moving or its database down (S8): its own state, the usual back-off
            _record_error(staff_id, exc.sentence, exc.mailbox_state)
        else:
            requeue(_record_transient(staff_id, exc.sentence))
    except EwsError as exc:
        db.session.rollback()
        _record_error(staff_id, exc.sentence, exc.mailbox_state or "error")
    except LockLost as exc:  # another job holds the mailbox now and does this work: leave its state alone
        db.session.rollback()
        log.warning("%s", exc)
    except Exception:
        db.session.rollback()
        _record_error(staff_id, "An unexpected error stopped the sync; it is logged for the Sundial team.")
        raise


def _record_transient(staff_id: int, sentence: str) -> float:
    """A server-wide, passing failure: "error" now, and the seconds until the job itself runs again."""
    ms = _ms(staff_id)
    mark_error(ms, sentence)
    wait = backoff_delay(ms.failures, TRANSIENT_BASE_S, TRANSIENT_CAP_S)
    ms.next_attempt_at = utcnow() + timedelta(seconds=wait)
    _activity(staff_id, "error", sentence)
    db.session.commit()
    return wait


def _record_error(staff_id: int, sentence: str, state: str = "error") -> None:
    """An Exchange failure for one mailbox; `state` is "error" or a per-mailbox state (S8: unavailable,
    no access)."""
    ms = _ms(staff_id)
    mark_error(ms, sentence)
    if state != "error":
        ms.state = MailboxStatus(state)
    _activity(staff_id, "error" if state == "error" else state, sentence, None if state == "error" else "S8")
    db.session.commit()


def _ms(staff_id: int) -> MailboxState:
    ms = db.session.get(MailboxState, staff_id)
    if ms is None:
        ms = MailboxState(staff_id=staff_id)
        db.session.add(ms)
    return ms


# ----- the transitions --------------------------------------------------------------------------------------
def mark_initializing(ms: MailboxState, reset_progress: bool = True) -> None:
    """An initial sync is (about to be) running: the tab shows its progress from zero."""
    ms.state, ms.last_error = MailboxStatus.INITIALIZING, None
    if reset_progress:
        ms.progress_imported = ms.progress_exported = 0
        ms.progress_total = None


def mark_synced(ms: MailboxState) -> None:
    ms.state, ms.last_sync_at = MailboxStatus.SYNCED, utcnow()
    ms.last_error, ms.failures, ms.next_attempt_at, ms.throttled_until = None, 0, None, None


def mark_throttled(ms: MailboxState, until, sentence: str) -> None:
    ms.state, ms.throttled_until, ms.last_error = MailboxStatus.THROTTLED, until, sentence


def mark_paused(ms: MailboxState, sentence: str) -> None:
    ms.state, ms.last_error = MailboxStatus.PAUSED, sentence


def mark_not_found(ms: MailboxState, address: str | None, sentence: str) -> None:
    ms.state, ms.tried_address = MailboxStatus.MAILBOX_NOT_FOUND, address
    ms.last_error = sentence + (f" (tried {address})" if address else "")


def mark_error(ms: MailboxState, sentence: str, count: bool = True) -> None:
    """`count`: an Exchange failure, retried with growing pauses; not counted when the queue was down."""
    ms.state, ms.last_error = MailboxStatus.ERROR, sentence
    if count:
        ms.failures = (ms.failures or 0) + 1
        ms.next_attempt_at = utcnow() + timedelta(seconds=backoff_delay(ms.failures, ERROR_BASE_S, ERROR_CAP_S))


def mark_mailbox_problem(ms: MailboxState, state: str, sentence: str, address: str | None = None) -> None:
    """Authorize could not open this staff calendar (S6, S8, I1): missing, moving or not granted."""
    ms.state, ms.last_error = MailboxStatus(state), sentence
    if state == MailboxStatus.MAILBOX_NOT_FOUND:
        ms.tried_address = address


def mark_excluded(ms: MailboxState) -> None:
    ms.excluded, ms.state = True, MailboxStatus.EXCLUDED


def mark_not_connected(ms: MailboxState, forget_sync_state: bool = False) -> None:
    """Disconnected, or no longer taking appointments (G7: the next start is a fresh initial sync)."""
    ms.state, ms.throttled_until, ms.next_attempt_at = MailboxStatus.NOT_CONNECTED, None, None
    if forget_sync_state:
        ms.sync_state = None


def mark_needs_confirmation(ms: MailboxState, sentence: str) -> None:
    """Habit 8: the sync stopped before a mass deletion; an admin confirms on the User Accounts tab."""
    ms.state, ms.last_error = MailboxStatus.NEEDS_CONFIRMATION, sentence


def commit(ctx) -> None:
    """Commit a sync's work together with its notifications (U5/D3, outbox rows in the same transaction),
    then queue their delivery and the re-exports to the appointment's other staff (U2)."""
    confirm_writes(ctx)  # G10: nothing is logged "exported" before Exchange is seen to hold it
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
        enqueue_all([("notify", m.id) for m in messages])
    for appt_id in sorted(ctx.pending_exports):
        enqueue_export(appt_id)
    ctx.pending_notify.clear()
    ctx.pending_exports.clear()
