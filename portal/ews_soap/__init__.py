"""Sundial's EWS client: zeep-built requests over NTLM/Basic, lxml-parsed replies, typed results and errors.

Knows nothing of Flask, SQLAlchemy or RQ (ARCHITECTURE.md boundaries). Public API: docs/CONTRACTS.md.
"""

from . import errors as _errors
from .errors import *  # noqa: F401,F403 - every typed error is part of the public API
from .errors import EwsError
from .session import ExchangeSession
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

__all__ = [
    "ExchangeSession", "ServerConfig", "Credentials", "EwsError",
    "CalendarEvent", "EventBatch", "EventUpdate", "FolderInfo", "ItemError", "ItemRef", "ItemResult",
    "MailboxEvent", "NewEvent", "ProbeResult", "ResolvedMailbox", "ServerVersion", "StreamItem",
    "Subscription", "SyncChange", "SyncPage",
]
__all__ += [n for n in _errors.__all__ if n not in __all__]
