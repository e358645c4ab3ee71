"""CreateItem for calendar items: SendMeetingInvitations="SendToNone" (E1: clients are attendees but Exchange
sends no invitations), saved in the mailbox's calendar, Sundial's appointment id in the extended property.
MSDOC web-service-reference/createitem-operation-calendar-item; samples CreateItem-*-request.xml."""

from __future__ import annotations

from ..items import new_calendar_item
from ..parse import Reply
from ..types import ItemResult, NewEvent
from ..xml import Typed
from .common import folder_ref
from .write_results import item_results

OPERATION = "CreateItem"
BATCH = 50  # "keep batches small": the server checks the budget per item (EWS-FACTS §7)


def body(events: list[NewEvent], folder_id: str | None, mailbox: str | None, delegate: bool) -> dict:
    return {"SendMeetingInvitations": "SendToNone",
            "SavedItemFolderId": folder_ref(folder_id, mailbox, delegate),
            "Items": {"_value_1": [{"CalendarItem": Typed("CalendarItemType", new_calendar_item(ev))}
                                   for ev in events]}}


def parse(reply: Reply, count: int) -> list[ItemResult]:
    return item_results(reply, [None] * count)
