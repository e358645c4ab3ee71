"""The integration's audit trail: who did what, when — never a secret's value."""
from __future__ import annotations

from flask_login import current_user

from ...extensions import db
from ...models import AuditEvent
from .messages import FIELD_LABELS


def record(action: str, detail: str = "", user=None) -> AuditEvent:
    """Add an AuditEvent to the session (the caller commits with the change it describes)."""
    if user is None and current_user and getattr(current_user, "is_authenticated", False):
        user = current_user
    event = AuditEvent(action=action, detail=detail, user_id=getattr(user, "id", None))
    db.session.add(event)
    return event


def describe_changes(fields: list[str]) -> str:
    """"password changed" is all the log ever says about the password."""
    return ", ".join(f"{FIELD_LABELS.get(f, f)} changed" for f in fields)
