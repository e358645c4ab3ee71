"""GetItem in batches: full calendar items with Body as text and Sundial's extended property.
Per-item errors (ErrorItemNotFound …) come back as ItemError values (EWS-FACTS §3;
samples GetItem-*-response.xml, GetItem-error-ErrorItemNotFound-batch-fragment.xml)."""

from __future__ import annotations

from ..items import item_shape, parse_calendar_item
from ..parse import Reply, message_error, response_messages
from ..types import CalendarEvent, ItemError
from .common import item_ids

OPERATION = "GetItem"
BATCH = 100


def body(ids: list[str], series: bool = False) -> dict:
    """`series`: also the recurring masters' Recurrence, Modified/DeletedOccurrences and StartTimeZone (U6)."""
    return {"ItemShape": item_shape(full=True, series=series), "ItemIds": item_ids((i, None) for i in ids)}


def parse(reply: Reply, ids: list[str] | None = None) -> list[CalendarEvent | ItemError]:
    out: list[CalendarEvent | ItemError] = []
    for index, msg in enumerate(response_messages(reply)):
        err = message_error(msg)
        if err is not None:
            out.append(ItemError(ids[index] if ids and index < len(ids) else None, err))
            continue
        items = msg.find("{*}Items")
        for el in items if items is not None else []:
            if not isinstance(el.tag, str):
                continue
            out.append(parse_calendar_item(el))
    return out
