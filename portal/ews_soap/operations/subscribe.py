"""Subscribe (pull or streaming) to a mailbox's calendar. Streaming replies carry a SubscriptionId but no
Watermark; pull replies carry both (EWS-FACTS §8; samples Subscribe-*-response.xml). Subscriptions need
impersonation: delegate access answers ErrorSubscriptionDelegateAccessNotSupported (EWS-FACTS §6)."""

from __future__ import annotations

from ..errors import ProtocolError
from ..parse import Reply, child_text, single_message
from ..types import Subscription
from ..xml import M
from .common import folder_ids

OPERATION = "Subscribe"
EVENT_TYPES = ["CopiedEvent", "CreatedEvent", "DeletedEvent", "ModifiedEvent", "MovedEvent"]


def streaming_body(folder_id: str | None, mailbox: str | None, delegate: bool) -> dict:
    return {"StreamingSubscriptionRequest": {
        "FolderIds": folder_ids(folder_id, mailbox, delegate),
        "EventTypes": {"_value_1": [{"EventType": e} for e in EVENT_TYPES]}}}


def pull_body(folder_id: str | None, mailbox: str | None, delegate: bool, timeout_minutes: int = 30,
              watermark: str | None = None) -> dict:
    request = {"FolderIds": folder_ids(folder_id, mailbox, delegate),
               "EventTypes": {"_value_1": [{"EventType": e} for e in EVENT_TYPES]},
               "Timeout": timeout_minutes}
    if watermark:
        request["Watermark"] = watermark
    return {"PullSubscriptionRequest": request}


def parse(reply: Reply, mailbox: str | None, kind: str, cookie: str | None = None) -> Subscription:
    msg = single_message(reply)
    sub_id = child_text(msg, "SubscriptionId", M)
    if not sub_id:
        raise ProtocolError("Subscribe reply without SubscriptionId")
    watermark = child_text(msg, "Watermark", M)
    return Subscription(sub_id.strip(), mailbox, watermark.strip() if watermark else None, kind, cookie)
