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


def _names(fields: list[str]) -> str:
    labels = [FIELD_LABELS.get(f, f) for f in fields]
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def describe_attempt(fields: list[str], first: bool) -> str:
    """Which settings a failed Authorize tried, by name only (never a value, so never the password)."""
    if first:
        return f"Settings tried (none saved yet): {_names(fields)}." if fields else "Settings tried: the defaults."
    if not fields:
        return "Settings tried: the saved configuration, unchanged."
    return f"Settings tried: {_names(fields)} changed from the saved configuration."
