"""Operations tables: alert incidents (O4)."""
from __future__ import annotations

from ..extensions import db
from .base import UTCDateTime, utcnow


class AlertIncident(db.Model):
    """One incident (integration paused, a mailbox stuck, polling fallback, outbox failing) from the moment it
    is first seen until it clears. Admins are told once, reminded after 1, 3 and 7 days, told when resolved."""

    __tablename__ = "alert_incidents"
    id = db.Column(db.Integer, primary_key=True)
    kind = db.Column(db.String(30), nullable=False, index=True)
    subject_key = db.Column(db.String(120), nullable=False, default="")  # e.g. "staff-12"; "" for global ones
    title = db.Column(db.String(200), nullable=False)
    detail = db.Column(db.Text, nullable=False, default="")
    opened_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    notified_at = db.Column(UTCDateTime, nullable=True)  # first alert sent (None: not yet past its threshold)
    reminders_sent = db.Column(db.Integer, nullable=False, default=0)
    last_sent_at = db.Column(UTCDateTime, nullable=True)
    resolved_at = db.Column(UTCDateTime, nullable=True, index=True)
