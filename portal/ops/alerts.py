"""Alerts to admins (O4): email through the outbox (so SMTP failures are retried like any message) and an
optional webhook. Each incident is sent once, reminded after 1, 3 and 7 days, and "resolved" when it clears.

`evaluate()` runs on every safety-net tick and right after the integration pauses; it is idempotent.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from ..extensions import db
from ..models import AlertIncident, OutboxMessage, User, utcnow
from .alert_rules import THRESHOLDS, current_conditions

log = logging.getLogger(__name__)
REMINDER_DAYS = (1, 3, 7)
WEBHOOK_TIMEOUT = (3.05, 5)


def open_incidents() -> list[AlertIncident]:
    return list(db.session.execute(db.select(AlertIncident).where(AlertIncident.resolved_at.is_(None))
                                   .order_by(AlertIncident.opened_at)).scalars())


def evaluate(redis=None, now=None) -> list[OutboxMessage]:
    """Open, remind and resolve incidents against the current conditions; commits; returns the emails queued."""
    from ..jobs.queues import redis_connection

    now = now or utcnow()
    conditions = current_conditions(redis if redis is not None else redis_connection())
    messages: list[OutboxMessage] = []
    current = {(i.kind, i.subject_key): i for i in open_incidents()}
    for kind, found in conditions.items():
        if found is None:
            continue
        for key, (title, detail) in found.items():
            inc = current.pop((kind, key), None)
            if inc is None:
                inc = AlertIncident(kind=kind, subject_key=key, title=title, detail=detail, opened_at=now)
                db.session.add(inc)
            inc.title, inc.detail = title, detail
            messages += _maybe_notify(inc, now)
    for (kind, _key), inc in current.items():
        if conditions.get(kind) is not None:
            inc.resolved_at = now
            if inc.notified_at is not None:  # never told about it: nothing to take back
                messages += _send(inc, "Resolved", "This has cleared by itself; nothing needs doing.")
    db.session.commit()
    if messages:
        from ..jobs.queues import enqueue_all  # a Redis outage leaves them pending for the safety net

        enqueue_all([("notify", m.id) for m in messages])
    return messages


def evaluate_job() -> str:
    """RQ entry point (after Authorize, so a "resolved" message does not wait for the next tick)."""
    return f"{len(evaluate())} alert emails queued"


def evaluate_safely() -> None:
    """From the sync and tick paths: an alert problem is logged, never allowed to break them."""
    try:
        evaluate()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.exception("alert evaluation failed")


def _maybe_notify(inc: AlertIncident, now) -> list[OutboxMessage]:
    if inc.notified_at is None:
        if now - inc.opened_at < THRESHOLDS[inc.kind]:
            return []
        inc.notified_at = now
        return _send(inc, "Alert", "")
    if inc.reminders_sent < len(REMINDER_DAYS) and now >= inc.notified_at + timedelta(
            days=REMINDER_DAYS[inc.reminders_sent]):
        inc.reminders_sent += 1
        return _send(inc, "Reminder", f"Still open since {inc.opened_at:%d %b %Y %H:%M} UTC.")
    return []


def _send(inc: AlertIncident, stage: str, note: str) -> list[OutboxMessage]:
    inc.last_sent_at = utcnow()
    subject = f"[Sundial] {stage}: {inc.title}"[:255]
    body = "\n".join(x for x in (inc.detail, note, "", "Open alerts: Settings → Integrations & API → "
                                 "Microsoft Exchange → Configuration (Alerts).", "", "— Sundial") if x is not None)
    _webhook(inc, stage)
    admins = db.session.execute(db.select(User).where(User.role == "admin")).scalars()
    out = [OutboxMessage(audience="admins", recipient=a.email, subject=subject, body=body) for a in admins]
    db.session.add_all(out)
    db.session.flush()
    return out


def _webhook(inc: AlertIncident, stage: str) -> None:
    """One POST per alert, never retried in a loop: a webhook that is down must not hold up the tick."""
    url = current_app.config.get("ALERT_WEBHOOK_URL")
    if not url:
        return
    import requests

    payload = {"stage": stage.lower(), "kind": inc.kind, "subject": inc.subject_key, "title": inc.title,
               "detail": inc.detail, "opened_at": inc.opened_at.isoformat()}
    try:
        requests.post(url, json=payload, timeout=WEBHOOK_TIMEOUT).raise_for_status()
    except requests.RequestException as exc:
        log.warning("alert webhook failed (%s): %s", type(exc).__name__, exc)
