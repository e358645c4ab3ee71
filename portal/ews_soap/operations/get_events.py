"""GetEvents (pull notifications) and the t:Notification reader shared with streaming.
MSDOC web-service-reference/getevents-operation, notification-ex15websvcsotherref, movedevent; EWS-FACTS §8:
MoreEvents=true → call again at once; carry the last Watermark. Samples GetEvents-*.xml."""

from __future__ import annotations

from lxml import etree

from ..parse import Reply, child_text, id_pair, single_message
from ..types import EventBatch, MailboxEvent
from ..xml import T, parse_datetime

OPERATION = "GetEvents"
_KINDS = {"CopiedEvent": "copied", "CreatedEvent": "created", "DeletedEvent": "deleted",
          "ModifiedEvent": "modified", "MovedEvent": "moved", "NewMailEvent": "new_mail",
          "FreeBusyChangedEvent": "free_busy_changed", "StatusEvent": "status"}


def body(subscription_id: str, watermark: str) -> dict:
    return {"SubscriptionId": subscription_id, "Watermark": watermark}


def _strip(text: str | None) -> str | None:
    return text.strip() if text else text


def parse_notification(note: etree._Element) -> tuple[str | None, list[MailboxEvent], bool, str | None]:
    """t:Notification → (subscription id, events, MoreEvents, last watermark)."""
    events, watermark = [], _strip(child_text(note, "PreviousWatermark"))
    for el in note:
        if not isinstance(el.tag, str):
            continue
        kind = _KINDS.get(etree.QName(el).localname)
        if kind is None:
            continue
        mark = _strip(child_text(el, "Watermark"))
        watermark = mark or watermark
        item_id, change_key = id_pair(el.find(f"{{{T}}}ItemId"))
        events.append(MailboxEvent(
            kind=kind, watermark=mark, timestamp=parse_datetime(child_text(el, "TimeStamp")),
            item_id=item_id, change_key=change_key, folder_id=id_pair(el.find(f"{{{T}}}FolderId"))[0],
            parent_folder_id=id_pair(el.find(f"{{{T}}}ParentFolderId"))[0],
            old_item_id=id_pair(el.find(f"{{{T}}}OldItemId"))[0] or id_pair(el.find(f"{{{T}}}OldFolderId"))[0],
            old_parent_folder_id=id_pair(el.find(f"{{{T}}}OldParentFolderId"))[0]))
    more = (child_text(note, "MoreEvents") or "false").strip().lower() == "true"
    return _strip(child_text(note, "SubscriptionId")), events, more, watermark


def parse(reply: Reply, subscription_id: str | None = None) -> EventBatch:
    msg = single_message(reply)
    note = msg.find("{*}Notification")
    if note is None:
        return EventBatch(subscription_id or "", [], None, False)
    sub_id, events, more, watermark = parse_notification(note)
    return EventBatch(sub_id or subscription_id or "", events, watermark, more)
