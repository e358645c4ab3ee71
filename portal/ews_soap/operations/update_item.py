"""UpdateItem for calendar items: SetItemField/DeleteItemField per changed field,
SendMeetingInvitationsOrCancellations="SendToNone" (E2). ConflictResolution defaults to AlwaysOverwrite
because Sundial's version wins (E3); the ChangeKey is still sent when known, since some servers require it
(EWS-FACTS §3). MSDOC web-service-reference/updateitem-operation; samples UpdateItem-*-request.xml."""

from __future__ import annotations

from ..items import update_changes
from ..parse import Reply
from ..types import EventUpdate, ItemResult
from .write_results import item_results

OPERATION = "UpdateItem"
BATCH = 50


def body(updates: list[EventUpdate], conflict: str = "AlwaysOverwrite") -> dict:
    changes = []
    for up in updates:
        ident = {"Id": up.item_id}
        if up.change_key:
            ident["ChangeKey"] = up.change_key
        changes.append({"ItemId": ident, "Updates": update_changes(up)})
    return {"ConflictResolution": conflict, "SendMeetingInvitationsOrCancellations": "SendToNone",
            "ItemChanges": {"ItemChange": changes}}


def has_changes(up: EventUpdate) -> bool:
    return len(update_changes(up).__values__["element"]) > 0


def parse(reply: Reply, updates: list[EventUpdate]) -> list[ItemResult]:
    return item_results(reply, [up.item_id for up in updates])
