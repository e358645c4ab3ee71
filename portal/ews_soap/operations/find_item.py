"""FindItem: CalendarView windows (expanded occurrences) and the appointment-id lookup.

MSDOC web-service-reference/calendarview: occurrences/exceptions in [StartDate, EndDate), no offset paging —
a truncated view says IncludesLastItemInRange="false" and the caller must shrink the window; more than two
years → ErrorCalendarViewRangeTooBig (EWS-FACTS §2). Restrictions cannot be combined with CalendarView, so
the appointment-id lookup uses IndexedPageItemView + IsEqualTo on the extended property.
Samples: FindItem-CalendarView-*.xml, FindItem-IndexedPageItemView-unexpanded-*.xml, FindItem-delegate-*.xml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..items import item_shape, parse_calendar_item
from ..parse import Reply, single_message
from ..types import CalendarEvent
from ..xml import APPOINTMENT_PROP, ews_datetime, is_equal_to_extended
from .common import folder_ids

OPERATION = "FindItem"
MAX_ENTRIES = 1000  # EWSFindCountLimit default (EWS-FACTS §2)


@dataclass
class ViewPage:
    events: list[CalendarEvent]
    includes_last: bool
    total: int | None


def calendar_view_body(folder_id: str | None, mailbox: str | None, delegate: bool, start: datetime, end: datetime,
                       max_entries: int = MAX_ENTRIES) -> dict:
    return {"Traversal": "Shallow", "ItemShape": item_shape(full=False),
            "CalendarView": {"MaxEntriesReturned": max_entries, "StartDate": ews_datetime(start),
                             "EndDate": ews_datetime(end)},
            "ParentFolderIds": folder_ids(folder_id, mailbox, delegate)}


def by_appointment_body(folder_id: str | None, mailbox: str | None, delegate: bool, appointment_id: int,
                        max_entries: int = 50) -> dict:
    return {"Traversal": "Shallow", "ItemShape": item_shape(full=False),
            "IndexedPageItemView": {"MaxEntriesReturned": max_entries, "Offset": 0, "BasePoint": "Beginning"},
            "Restriction": is_equal_to_extended(APPOINTMENT_PROP, str(appointment_id)),
            "ParentFolderIds": folder_ids(folder_id, mailbox, delegate)}


def parse(reply: Reply) -> ViewPage:
    msg = single_message(reply)
    root = msg.find("{*}RootFolder")
    if root is None:
        return ViewPage([], True, 0)
    items = root.find("{*}Items")
    events = [parse_calendar_item(el) for el in (items if items is not None else []) if isinstance(el.tag, str)]
    total = root.get("TotalItemsInView")
    includes_last = (root.get("IncludesLastItemInRange") or "true").strip().lower() == "true"
    return ViewPage(events, includes_last, int(total) if total and total.isdigit() else None)
