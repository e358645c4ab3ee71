"""Pull and streaming subscriptions fed by the store's change events."""
from __future__ import annotations

import base64
import os
import threading
import time

from . import timezones
from .soap import EwsError, msub, tsub
from .store import now

EVENT_ELEMENTS = {"Created": "CreatedEvent", "Deleted": "DeletedEvent", "Modified": "ModifiedEvent",
                  "Moved": "MovedEvent", "Copied": "CopiedEvent", "NewMail": "NewMailEvent",
                  "FreeBusyChanged": "FreeBusyChangedEvent"}


class Subscription:
    def __init__(self, mailbox: str, account_upn: str, folders, event_types, streaming: bool, timeout_min=30):
        self.id = base64.b64encode(b"\x01SUB" + os.urandom(20)).decode()
        self.mailbox, self.account_upn, self.folders = mailbox, account_upn, folders
        self.event_types, self.streaming, self.timeout_min = set(event_types), streaming, timeout_min
        self.counter = 0
        self.events: list[tuple[int, dict]] = []
        self.last_used = time.monotonic()
        self.lost = False

    def watermark(self, n: int | None = None) -> str:
        return base64.b64encode(f"{self.id}:{self.counter if n is None else n}".encode()).decode()

    def parse_watermark(self, value: str | None) -> int:
        try:
            sub_id, n = base64.b64decode(value or "", validate=True).decode().rsplit(":", 1)
            if sub_id != self.id:
                raise ValueError
            return int(n)
        except (ValueError, UnicodeDecodeError):
            raise EwsError("ErrorInvalidWatermark", "The watermark used for creating this subscription was "
                                                    "not recognized.") from None


class Hub:
    def __init__(self, store):
        self.subs: dict[str, Subscription] = {}
        self.cond = threading.Condition()
        self.store = store
        store.listeners.append(self.on_change)

    def add(self, sub: Subscription) -> Subscription:
        with self.cond:
            self.subs[sub.id] = sub
        return sub

    def on_change(self, kind, item_id, folder_id, old_id, old_folder, mailbox):
        with self.cond:
            for sub in self.subs.values():
                if sub.mailbox != mailbox or sub.lost:
                    continue
                if sub.folders is not None and folder_id not in sub.folders and old_folder not in sub.folders:
                    continue
                if EVENT_ELEMENTS[kind] not in sub.event_types:
                    continue
                sub.counter += 1
                sub.events.append((sub.counter, {"kind": kind, "item": item_id, "folder": folder_id,
                                                 "old_item": old_id, "old_folder": old_folder, "at": now()}))
            self.cond.notify_all()

    def get(self, sub_id: str, account_upn: str, minute_s: float = 60.0) -> Subscription:
        sub = self.subs.get(sub_id)
        if sub is None or sub.lost:
            raise EwsError("ErrorSubscriptionNotFound", "The specified subscription was not found.")
        if not sub.streaming and time.monotonic() - sub.last_used > sub.timeout_min * minute_s:
            # A pull subscription not polled within its Timeout (MSDOC web-service-reference/timeout)
            raise EwsError("ErrorExpiredSubscription", "The subscription has expired.")
        if sub.account_upn != account_upn.lower():
            raise EwsError("ErrorSubscriptionAccessDenied",
                           "The subscription can only be accessed by the account that created it.")
        return sub

    def remove(self, sub_id: str):
        with self.cond:
            self.subs.pop(sub_id, None)
            self.cond.notify_all()

    def lose(self, sub_id: str | None = None):
        """Fault switch: forget a subscription (or all) as after a CAS restart."""
        with self.cond:
            for sid in [sub_id] if sub_id else list(self.subs):
                if sid in self.subs:
                    self.subs[sid].lost = True
            self.cond.notify_all()


def write_notification(parent, sub: Subscription, events, previous: int, more: bool, tag=None):
    # GetEvents: m:Notification; GetStreamingEvents: m:Notifications/t:Notification (messages.xsd, types.xsd)
    note = tsub(parent, "Notification") if tag is None else msub(parent, tag)
    tsub(note, "SubscriptionId", sub.id)
    tsub(note, "PreviousWatermark", sub.watermark(previous))
    tsub(note, "MoreEvents", "true" if more else "false")
    if not events:
        ev = tsub(note, "StatusEvent")
        tsub(ev, "Watermark", sub.watermark())
        return note
    for n, e in events:
        ev = tsub(note, EVENT_ELEMENTS[e["kind"]])
        tsub(ev, "Watermark", sub.watermark(n))
        tsub(ev, "TimeStamp", timezones.fmt(e["at"]))
        tsub(ev, "ItemId", Id=e["item"], ChangeKey="AAAAAA==")
        tsub(ev, "ParentFolderId", Id=e["folder"], ChangeKey="AQAAAA==")
        if e["kind"] == "Moved":
            tsub(ev, "OldItemId", Id=e["old_item"], ChangeKey="AAAAAA==")
            tsub(ev, "OldParentFolderId", Id=e["old_folder"], ChangeKey="AQAAAA==")
        if e["kind"] == "Modified":
            pass  # UnreadCount only applies to folder events
    return note


__all__ = ["Hub", "Subscription", "write_notification", "msub"]
