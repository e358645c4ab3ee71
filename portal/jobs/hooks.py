"""Staff changes (SPEC G7): a staff member who starts taking appointments, or whose email changes, is
initialized; one who stops is no longer synced (their mailbox state says so; nothing is deleted)."""
from __future__ import annotations

from ..engine.context import integration_ready, mailbox_state
from ..engine.record import mark_not_connected
from ..extensions import db
from ..models import StaffMember, SyncActivity
from .queues import enqueue_initial_sync


def staff_changed(staff_id: int, old_email: str | None, old_takes: bool | None) -> str:
    staff = db.session.get(StaffMember, staff_id)
    if staff is None or integration_ready() is None:
        return "nothing to do"
    ms = mailbox_state(staff_id)
    if not staff.takes_appointments:
        if old_takes:
            mark_not_connected(ms, forget_sync_state=True)
            db.session.add(SyncActivity(staff_id=staff_id, action="stopped", rule="G7",
                                        reason="the staff member no longer takes appointments; syncing stopped"))
            db.session.commit()
        return "not synced"
    email_changed = bool(old_email) and old_email.lower() != staff.email.lower()
    if not old_takes or email_changed or not ms.sync_state:
        why = "email changed" if email_changed else "started taking appointments"
        db.session.add(SyncActivity(staff_id=staff_id, action="initializing", rule="G7", reason=why))
        db.session.commit()
        enqueue_initial_sync(staff_id)
        return "initializing"
    return "unchanged"
