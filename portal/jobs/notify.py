"""RQ job: deliver one outbox message by SMTP (G6).

Without SMTP_HOST the message stays in the outbox as `undelivered` with the reason. An SMTP
failure marks it `failed` with the error and re-raises so RQ keeps the traceback (habit 5).
A message is claimed atomically (status → sending) before the SMTP conversation and marked
`sent` right after it, so two workers never send it twice.

Nothing is lost (quality bar: a crashed worker, Redis down): `recover_outbox`, run by every safety-net tick,
queues again what no job will deliver — `pending` messages whose enqueue never reached Redis, `failed` ones
after an exponential back-off (up to MAX_AUTO_ATTEMPTS; then only the admin's Retry), and `sending` ones whose
worker died mid-conversation (claimed longer ago than STALE_SENDING, far beyond the job's 60 s timeout). The
last case is at-least-once: if the SMTP server had accepted the message before the worker died, the recipient
gets it twice, with the same Message-ID so mail clients can fold the copies: the Message-ID is made once, at the
first delivery attempt, and stored on the outbox row (committed before the SMTP conversation) for every retry.
"""
from __future__ import annotations

import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from flask import current_app

from ..extensions import db
from ..models import OutboxMessage, utcnow

NO_SMTP = "No SMTP server is configured (set SUNDIAL_SMTP_HOST); the message was kept in the outbox."
RETRYABLE = ("pending", "failed", "undelivered")
STALE_SENDING = timedelta(minutes=10)  # a `sending` claim this old belongs to a dead worker (job timeout 60 s)
PENDING_GRACE = timedelta(minutes=1)  # a `pending` message this old was never queued (Redis was down)
MAX_AUTO_ATTEMPTS = 5  # failed deliveries retried automatically after 2, 4, 8, 16 minutes
CRASHED = "The worker stopped while sending this message (crashed or killed); it was queued again."


def _claimable(now):
    return db.or_(OutboxMessage.status.in_(RETRYABLE),
                  db.and_(OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - STALE_SENDING))


def _claim(outbox_id: int) -> bool:
    now = utcnow()
    claimed = db.session.execute(
        db.update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id, _claimable(now))
        .values(status="sending", attempts=OutboxMessage.attempts + 1, claimed_at=now)
    ).rowcount
    db.session.commit()
    return claimed == 1


def new_message_id(outbox_id: int, sender: str) -> str:
    """A globally unique Message-ID (random part + the outbox id) in the sender's domain."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "sundial.local"
    return make_msgid(idstring=f"outbox-{outbox_id}", domain=domain)


def _email(msg: OutboxMessage, sender: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = msg.recipient
    mail["Subject"] = msg.subject
    mail["Message-ID"] = msg.message_id
    mail.set_content(msg.body)
    return mail


def _send(mail: EmailMessage, cfg) -> None:
    with smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=30) as smtp:
        if cfg.get("SMTP_STARTTLS"):
            smtp.starttls()
        if cfg.get("SMTP_USERNAME"):
            smtp.login(cfg["SMTP_USERNAME"], cfg["SMTP_PASSWORD"])
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
    if not msg.message_id:  # kept before the first SMTP conversation: every later attempt reuses it
        msg.message_id = new_message_id(msg.id, cfg["SMTP_SENDER"])
        db.session.commit()
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


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=2 ** max(attempts, 1))


def recover_outbox() -> list[int]:
    """Queue again every message no job will deliver (see the module docstring). Returns their ids."""
    from .queues import enqueue_notify

    now = utcnow()
    stale = db.session.execute(db.select(OutboxMessage).where(
        OutboxMessage.status == "sending", OutboxMessage.claimed_at < now - STALE_SENDING)).scalars().all()
    for msg in stale:
        msg.last_error = CRASHED
    db.session.commit()
    lost = db.select(OutboxMessage.id).where(OutboxMessage.status == "pending",
                                             OutboxMessage.created_at < now - PENDING_GRACE)
    ids = [m.id for m in stale] + list(db.session.execute(lost).scalars())
    failed = db.session.execute(db.select(OutboxMessage).where(
        OutboxMessage.status == "failed", OutboxMessage.attempts < MAX_AUTO_ATTEMPTS)).scalars()
    ids += [m.id for m in failed if m.claimed_at is None or m.claimed_at < now - _backoff(m.attempts)]
    for outbox_id in ids:
        enqueue_notify(outbox_id)
    return ids
