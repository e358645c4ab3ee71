"""What counts as an incident (O4): one detector per kind, each returning {subject key: (title, detail)} for the
conditions true right now. Thresholds are a table; alerts.py decides when to tell whom."""
from __future__ import annotations

from datetime import timedelta

from ..extensions import db
from ..models import ExchangeIntegration, MailboxState, OutboxMessage, StaffMember

# kind -> how long the condition must hold before admins are told
THRESHOLDS = {
    "integration_paused": timedelta(0),  # G4: every sync has stopped; say so at once
    "mailbox_stuck": timedelta(minutes=30),
    "polling_fallback": timedelta(0),
    "outbox_failing": timedelta(0),
}
STUCK_STATES = ("error", "throttled")
LISTENER_STATS = "sundial:listener:stats:*"


def integration_paused() -> dict:
    integ = ExchangeIntegration.get()
    if integ is None or integ.state != "paused":
        return {}
    return {"": ("Exchange syncing is paused for everyone",
                 (integ.paused_reason or "Exchange rejected the service account's password.")
                 + " Sundial will not retry the password. Open Settings → Microsoft Exchange and authorize again.")}


def mailbox_stuck() -> dict:
    rows = db.session.execute(db.select(MailboxState, StaffMember).join(StaffMember).where(
        MailboxState.state.in_(STUCK_STATES), MailboxState.excluded.is_(False))).all()
    return {f"staff-{ms.staff_id}": (f"{staff.name}'s calendar is {ms.state}",
                                     ms.last_error or f"The mailbox {staff.email} is {ms.state}.")
            for ms, staff in rows}


def polling_fallback(redis) -> dict:
    out = {}
    for key in redis.scan_iter(match=LISTENER_STATS, count=100):
        why = (redis.hget(key, "fallback") or b"").decode()
        if why:
            out["listener"] = ("Exchange notifications fell back to polling",
                               why + " Changes made in Exchange reach Sundial only at the safety-net interval.")
    return out


def outbox_failing() -> dict:
    failed = db.session.execute(db.select(db.func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "failed")).scalar_one()
    if not failed:
        return {}
    last = db.session.execute(db.select(OutboxMessage.last_error).where(OutboxMessage.status == "failed")
                              .order_by(OutboxMessage.id.desc()).limit(1)).scalar_one_or_none()
    return {"": ("Email notifications cannot be delivered",
                 f"{failed} message(s) in the outbox were refused by the SMTP server. Last error: {last}")}


def current_conditions(redis) -> dict[str, dict]:
    """kind -> {subject key: (title, detail)}; a detector that cannot run (Redis down) reports nothing."""
    found = {"integration_paused": integration_paused(), "mailbox_stuck": mailbox_stuck(),
             "outbox_failing": outbox_failing()}
    try:
        found["polling_fallback"] = polling_fallback(redis)
    except Exception:  # noqa: BLE001 - Redis down: /readyz says so; keep existing incidents open
        found["polling_fallback"] = None
    return found
