"""Client reminders (P10): a message to each client N hours before their appointment, through the outbox.

Run by the safety-net tick (every few minutes). Never sent twice: each appointment is claimed with one
conditional UPDATE (reminded_at IS NULL → now) before its messages are written, in the same transaction, so
two ticks racing — or a tick re-run after a crash — cannot both remind. An appointment booked inside the
window (e.g. 3 hours ahead with a 24-hour setting) is reminded on the next tick; one already started is not.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from ..extensions import db
from ..models import Appointment, NotificationSetting, OrganisationSetting, OutboxMessage, utcnow
from .outbox import notify_appointment

DEFAULT_HOURS = 24
MAX_HOURS = 24 * 14


def reminder_hours() -> int:
    """The organisation setting (0 = no reminders)."""
    return max(0, min(MAX_HOURS, OrganisationSetting.get_int("reminder_hours", DEFAULT_HOURS)))


def due(now: datetime, hours: int) -> list[int]:
    return list(db.session.execute(
        db.select(Appointment.id).where(Appointment.status == "booked", Appointment.reminded_at.is_(None),
                                        Appointment.start > now, Appointment.start <= now + timedelta(hours=hours))
        .order_by(Appointment.start)).scalars())


def _claim(appointment_id: int, now: datetime) -> bool:
    done = db.session.execute(db.update(Appointment).where(Appointment.id == appointment_id,
                                                           Appointment.reminded_at.is_(None))
                              .values(reminded_at=now).execution_options(synchronize_session=False))
    return done.rowcount == 1


def send_reminders(now: datetime | None = None) -> list[OutboxMessage]:
    """Write the due reminders into the outbox (committed); the caller queues their delivery."""
    now = now or utcnow()
    hours = reminder_hours()
    if hours == 0 or not NotificationSetting.is_enabled("clients"):
        return []
    written: list[OutboxMessage] = []
    for appointment_id in due(now, hours):
        if not _claim(appointment_id, now):
            db.session.rollback()
            continue
        appt = db.session.get(Appointment, appointment_id)
        written += notify_appointment(appt, "reminder", audiences=("clients",))
        db.session.commit()
    return written
