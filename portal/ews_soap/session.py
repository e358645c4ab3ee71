"""ExchangeSession: the public entry point (docs/CONTRACTS.md "portal/ews_soap public API").

Skeleton committed first so other parts can import it; operations are filled in next.
"""

from __future__ import annotations

from .types import ServerConfig


class ExchangeSession:
    def __init__(self, config: ServerConfig, gate=None):
        self.config = config
        self.gate = gate

    def _todo(self, *a, **kw):
        raise NotImplementedError("portal.ews_soap is being built (issue #4)")

    probe = resolve_mailbox = primary_calendar = calendar_view = get_items = _todo
    find_by_appointment_id = create_events = update_events = delete_items = _todo
    sync_folder_items = subscribe_streaming = subscribe_pull = get_events = _todo
    stream_events = unsubscribe = _todo
