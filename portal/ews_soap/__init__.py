"""Sundial's EWS client: zeep-built requests over NTLM/Basic, lxml-parsed replies, typed results and errors.

Knows nothing of Flask, SQLAlchemy or RQ (ARCHITECTURE.md boundaries). Public API: docs/CONTRACTS.md.
"""

from typing import TYPE_CHECKING

from . import errors as _errors
from .errors import *  # noqa: F401,F403 - every typed error is part of the public API
from .errors import EwsError
from .types import (
    CalendarEvent,
    Credentials,
    EventBatch,
    EventUpdate,
    FolderInfo,
    ItemError,
    ItemRef,
    ItemResult,
    MailboxEvent,
    NewEvent,
    ProbeResult,
    ResolvedMailbox,
    ServerConfig,
    ServerVersion,
    StreamItem,
    Subscription,
    SyncChange,
    SyncPage,
)

if TYPE_CHECKING:
    from .session import ExchangeSession

__all__ = [
    "ExchangeSession", "ServerConfig", "Credentials", "EwsError",
    "CalendarEvent", "EventBatch", "EventUpdate", "FolderInfo", "ItemError", "ItemRef", "ItemResult",
    "MailboxEvent", "NewEvent", "ProbeResult", "ResolvedMailbox", "ServerVersion", "StreamItem",
    "Subscription", "SyncChange", "SyncPage",
]
__all__ += [n for n in _errors.__all__ if n not in __all__]


def __getattr__(name: str):
    """ExchangeSession loads zeep, lxml and requests: only when asked for, so code that needs the value types
    (types.py) or the typed errors — portal/sync above all — loads no I/O library (ARCHITECTURE.md)."""
    if name == "ExchangeSession":
        from .session import ExchangeSession

        return ExchangeSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
