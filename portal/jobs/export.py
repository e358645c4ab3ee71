"""Export one appointment to each assigned staff member's primary calendar (SPEC E1, E2, I5, M1-M4).

Runs after every booking, reschedule, edit and cancel (enqueued after the commit). Brings each involved
staff member's Exchange copy to the appointment's current state — created, updated or deleted, without
Exchange sending anything to attendees — then stamps the pending AppointmentChange rows. Staff removed from
the appointment lose their copy. External absences are never exported (E4): only appointments reach here.
"""
from __future__ import annotations

from ..engine.apply import Applier
from ..engine.backoff import backoff_delay
from ..engine.connect import connect
from ..engine.context import NOT_SYNCED, MailboxContext, appointment_side, integration_ready, link_state, links_of
from ..engine.locks import mailbox_lock
from ..engine.record import clear_stale_pause, commit, mailbox_failures
from ..extensions import db
from ..models import Appointment, AppointmentChange, ExchangeLink, StaffMember, utcnow
from ..ops.metrics import sundial_to_exchange
from ..sync.plan import plan_export
from .queues import redis_connection, schedule_retry


def export_appointment(appointment_id: int) -> str:
    started = utcnow()
    integ = integration_ready()
    if integ is None:
        return "integration not connected"
    clear_stale_pause(integ)
    appt = db.session.get(Appointment, appointment_id)
    linked = db.session.execute(db.select(ExchangeLink.staff_id).where(
        ExchangeLink.appointment_id == appointment_id)).scalars().all()
    staff_ids = sorted(set(linked) | ({s.id for s in appt.staff} if appt else set()))
    ews = connect(integ)
    done, postponed = [], False
    for sid in staff_ids:
        staff = db.session.get(StaffMember, sid)
        ms = staff.mailbox_state if staff else None
        if ms is None or not ms.sync_state or ms.state in NOT_SYNCED or ms.excluded or ms.state == "initializing":
            continue  # not initialized: the initial sync exports its future appointments itself (G1)
        with mailbox_lock(sid, wait=30) as got:
            if not got:
                postponed = True
                continue
            ok = False
            with mailbox_failures(sid, lambda wait: _retry(appointment_id, wait)):
                _export_to(MailboxContext(staff, ms, integ, ews=ews, lock=got), appointment_id)
                ok = True
            postponed |= not ok
            done.append(sid) if ok else None
    if postponed:
        _retry(appointment_id, _postponed_delay(appointment_id))
        return f"exported to {len(done)} mailboxes; retrying the rest"
    redis_connection().delete(_failures_key(appointment_id))
    pending = db.session.execute(db.select(AppointmentChange).where(
        AppointmentChange.appointment_id == appointment_id, AppointmentChange.exported_at.is_(None),
        AppointmentChange.created_at <= started)).scalars()
    for change in pending:
        change.exported_at = utcnow()
        sundial_to_exchange((change.exported_at - change.created_at).total_seconds())
    db.session.commit()
    return f"exported to {len(done)} mailboxes"


def _failures_key(appointment_id: int) -> str:
    return f"sundial:export-postponed:{appointment_id}"


def _postponed_delay(appointment_id: int) -> float:
    """An export that could not reach every mailbox is retried by the shared back-off (10 s doubling to 30 min,
    with jitter), counted per appointment in Redis, never every 10 s forever (SPEC G9)."""
    key = _failures_key(appointment_id)
    failures = redis_connection().incr(key)
    redis_connection().expire(key, 86400)
    return backoff_delay(int(failures), 10.0, 1800.0)


def _retry(appointment_id: int, wait: float) -> None:
    schedule_retry("export", appointment_id, delay=wait)


def _export_to(ctx: MailboxContext, appointment_id: int) -> None:
    links = links_of(ctx.staff.id)
    rows = [r for r in links.values() if r.appointment_id == appointment_id]
    link = rows[0] if rows else None
    found = [] if link else ctx.ews.find_by_appointment_id(ctx.mailbox, appointment_id,
                                                               ctx.ms.calendar_folder_id)
    appt = db.session.get(Appointment, appointment_id)
    acts = plan_export(appointment_side(appt, ctx.staff), ctx.staff.id, link_state(link), found)
    Applier(ctx, links).apply(acts)
    commit(ctx)
