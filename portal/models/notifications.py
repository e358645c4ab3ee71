"""General-notification switches per audience (G6) and the email outbox."""
from __future__ import annotations

from ..extensions import db
from .base import UTCDateTime, utcnow

AUDIENCES = ("clients", "staff")


class NotificationSetting(db.Model):
    __tablename__ = "notification_settings"
    audience = db.Column(db.String(10), primary_key=True)  # clients | staff
    enabled = db.Column(db.Boolean, nullable=False, default=True)
    updated_at = db.Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)

    @classmethod
    def is_enabled(cls, audience: str) -> bool:
        row = db.session.get(cls, audience)
        return True if row is None else row.enabled


class OutboxMessage(db.Model):
    __tablename__ = "outbox_messages"
    id = db.Column(db.Integer, primary_key=True)
    audience = db.Column(db.String(10), nullable=False)
    recipient = db.Column(db.String(254), nullable=False)
    subject = db.Column(db.String(255), nullable=False)
    body = db.Column(db.Text, nullable=False)
    appointment_id = db.Column(db.ForeignKey("appointments.id", ondelete="SET NULL"), nullable=True)
    # pending | sending (claimed by a worker) | sent | undelivered (no SMTP configured) | failed (SMTP refused;
    # retried with back-off by the safety-net tick, see portal.jobs.notify.recover_outbox)
    status = db.Column(db.String(12), nullable=False, default="pending", index=True)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    last_error = db.Column(db.Text, nullable=True)
    created_at = db.Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = db.Column(UTCDateTime, nullable=True)  # when a worker last took it for sending
    sent_at = db.Column(UTCDateTime, nullable=True)
    # RFC 5322 Message-ID, fixed at the first delivery attempt and reused by every retry or re-send, so a
    # recipient who gets a message twice (at-least-once delivery) sees one message (portal.jobs.notify).
    message_id = db.Column(db.String(255), nullable=True)
