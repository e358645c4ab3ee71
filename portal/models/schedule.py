"""Appointments (Sundial's or imported), external absences and the export hook (AppointmentChange)."""
from __future__ import annotations

from ..extensions import db
from .base import UTCDateTime, utcnow

appointment_staff = db.Table(
    "appointment_staff",
    db.Column("appointment_id", db.ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True),
    db.Column("staff_id", db.ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True),
)
appointment_clients = db.Table(
    "appointment_clients",
    db.Column("appointment_id", db.ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True),
    db.Column("client_id", db.ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
)


class Appointment(db.Model):
    __tablename__ = "appointments"
    id = db.Column(db.Integer, primary_key=True)
    service_id = db.Column(db.ForeignKey("services.id"), nullable=False)
    location_id = db.Column(db.ForeignKey("locations.id"), nullable=False)
    start = db.Column(UTCDateTime, nullable=False, index=True)
    end = db.Column(UTCDateTime, nullable=False, index=True)
    notes = db.Column(db.Text, nullable=False, default="")
    status = db.Column(db.String(12), nullable=False, default="booked")  # booked | cancelled
    origin = db.Column(db.String(12), nullable=False, default="sundial")  # sundial | exchange
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow)  # set explicitly on every change (E3)
    reminded_at = db.Column(UTCDateTime, nullable=True)  # P10: the client reminder was written (never twice)

    service = db.relationship("Service")
    location = db.relationship("Location")
    staff = db.relationship("StaffMember", secondary=appointment_staff, lazy="selectin")
    clients = db.relationship("Client", secondary=appointment_clients, lazy="selectin")

    def __repr__(self) -> str:
        return f"<Appointment {self.id} {self.start:%Y-%m-%d %H:%M} {self.status}>"


class ExternalAbsence(db.Model):
    """Busy time imported from Exchange (C1); never exported back (E4)."""

    __tablename__ = "external_absences"
    id = db.Column(db.Integer, primary_key=True)
    staff_id = db.Column(db.ForeignKey("staff_members.id", ondelete="CASCADE"), nullable=False, index=True)
    location_id = db.Column(db.ForeignKey("locations.id"), nullable=True)
    start = db.Column(UTCDateTime, nullable=False, index=True)
    end = db.Column(UTCDateTime, nullable=False, index=True)
    title = db.Column(db.String(255), nullable=False, default="")
    is_private = db.Column(db.Boolean, nullable=False, default=False)
    is_all_day = db.Column(db.Boolean, nullable=False, default=False)
    free_busy = db.Column(db.String(20), nullable=False, default="Busy")
    notes = db.Column(db.Text, nullable=False, default="")
    origin = db.Column(db.String(12), nullable=False, default="exchange")
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    staff = db.relationship("StaffMember")
    location = db.relationship("Location")


class AppointmentChange(db.Model):
    """The export hook: one row per booking/reschedule/edit/cancel, written in the same transaction.

    The export job reads pending rows (exported_at is NULL) and brings each staff member's Exchange
    calendar to the appointment's current state, then stamps them.
    """

    __tablename__ = "appointment_changes"
    id = db.Column(db.Integer, primary_key=True)
    appointment_id = db.Column(db.ForeignKey("appointments.id", ondelete="CASCADE"), nullable=False, index=True)
    kind = db.Column(db.String(16), nullable=False)  # booked | rescheduled | edited | cancelled | staff_removed
    actor_user_id = db.Column(db.ForeignKey("users.id"), nullable=True)
    source = db.Column(db.String(12), nullable=False, default="sundial")  # sundial | exchange
    note = db.Column(db.Text, nullable=True)  # P8: the reason given when cancelling, and who was told
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    exported_at = db.Column(UTCDateTime, nullable=True)

    appointment = db.relationship("Appointment")
