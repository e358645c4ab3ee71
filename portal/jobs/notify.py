"""RQ job: deliver one outbox message by SMTP (G6).

Without SMTP_HOST the message stays in the outbox as `undelivered` with the reason. An SMTP
failure marks it `failed` with the error and re-raises so RQ keeps the traceback (habit 5).
A message is claimed atomically (status → sending) before the SMTP conversation and marked
`sent` right after it, so two workers never send it twice.
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app

from ..extensions import db
from ..models import OutboxMessage, utcnow

NO_SMTP = "No SMTP server is configured (set SUNDIAL_SMTP_HOST); the message was kept in the outbox."
RETRYABLE = ("pending", "failed", "undelivered")


def _claim(outbox_id: int) -> bool:
    claimed = db.session.execute(
        db.update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, OutboxMessage.status.in_(RETRYABLE))
        .values(status="sending", attempts=OutboxMessage.attempts + 1)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _email(msg: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = msg.recipient
    mail["Subject"] = msg.subject
    mail["Message-ID"] = make_msgid(idstring=f"outbox-{msg.id}", domain="sundial")
    mail.set_content(msg.body)
    return mail


def _send(mail: EmailMessage, cfg) -> None:
    with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=30) as smtp:
        if cfg.get("SMTP_STARTTLS"):
            smtp.starttls()
        if cfg.get("SMTP_USERNAME"):
            smtp.login(cfg["SMTP_USERNAME"], cfg.get("SMTP_PASSWORD", ""))
        smtp.send_message(mail)


def deliver(outbox_id: int) -> str:
    """Send one message; returns its final status ("sent", "undelivered") or "skipped"."""
    cfg = current_app.config
    if not _claim(outbox_id):
        return "skipped"  # already sent, being sent by another worker, or gone
    msg = db.session.get(OutboxMessage, outbox_id)
    if not cfg.get("SMTP_HOST"):
        msg.status, msg.last_error = "undelivered", NO_SMTP
        db.session.commit()
        return msg.status
    try:
        _send(_email(msg, cfg["SMTP_SENDER"]), cfg)
    except Exception as exc:
        db.session.rollback()
        msg = db.session.get(OutboxMessage, outbox_id)
        msg.status, msg.last_error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        db.session.commit()
        raise
    msg.status, msg.sent_at, msg.last_error = "sent", utcnow(), None
    db.session.commit()
    return msg.status
