"""Calendar semantics on top of the store: occurrence views, modified/deleted occurrences, id lookup."""
from __future__ import annotations

import hashlib
from datetime import datetime

from . import recurrence
from .store import CalendarItem, Store

OVERRIDABLE = ("subject", "body", "body_type", "start", "end", "location", "free_busy", "sensitivity",
               "importance", "categories", "is_all_day", "reminder_set", "reminder_minutes", "required",
               "optional")


def occurrence_view(master: CalendarItem, original_start: datetime, index: int | None) -> CalendarItem:
    view = master.clone()
    view.recurrence, view.modified, view.deleted = None, {}, set()
    view.id = recurrence.occurrence_id(master.id, original_start)
    view.master_id, view.original_start, view.instance_index = master.id, original_start, index
    view.start = original_start
    view.end = original_start + recurrence.duration(master)
    view.item_type = "Occurrence"
    # An occurrence's ChangeKey moves whenever its series changes (occurrences are computed from the
    # master), and also carries the occurrence's own version: UpdateItem with AutoResolve only reports a
    # conflict when that occurrence itself changed (see operations/update.py).
    view.salt = hashlib.sha1(master.salt + original_start.isoformat().encode()).digest()[:6]
    view.version = master.version
    view.occurrence_version = 0
    overrides = master.modified.get(original_start)
    if overrides:
        view.item_type = "Exception"
        for key, value in overrides.items():
            if key in OVERRIDABLE:
                setattr(view, key, value)
        view.occurrence_version = overrides.get("_version", 1)
    return view


def expand(master: CalendarItem, start: datetime, end: datetime) -> list[CalendarItem]:
    """Occurrences and exceptions overlapping [start, end) (EWS-FACTS section 2)."""
    out = []
    span = recurrence.duration(master)
    moved = {orig: ov for orig, ov in master.modified.items() if "start" in ov}
    for index, orig in recurrence.original_starts(master, end + span + _slack(moved, end)):
        if orig in master.deleted:
            continue
        view = occurrence_view(master, orig, index)
        if view.end > start and view.start < end:
            out.append(view)
    return out


def _slack(moved: dict, end: datetime):
    """Exceptions moved earlier than their original slot still have to be found."""
    from datetime import timedelta
    extra = [ov["start"] - orig for orig, ov in moved.items() if ov["start"] < orig]
    return -min(extra) if extra else timedelta(0)


def all_views(store: Store, folder_id: str, start: datetime, end: datetime) -> list[CalendarItem]:
    out = []
    for item in store.folder_items(folder_id):
        if item.recurrence:
            out.extend(expand(item, start, end))
        elif item.end > start and item.start < end or (item.start == item.end and start <= item.start < end):
            out.append(item)
    out.sort(key=lambda i: (i.start, i.end, i.subject))
    return out


def find_occurrence(master: CalendarItem, original_start: datetime = None, index: int | None = None):
    """Return the occurrence view by original start or by 1-based InstanceIndex, or None."""
    for i, orig in recurrence.original_starts(master):
        if (index is not None and i == index) or (original_start is not None and orig == original_start):
            if orig in master.deleted:
                return None
            return occurrence_view(master, orig, i)
        if original_start is not None and orig > original_start:
            return None
        if index is not None and i > index:
            return None
    return None


def lookup(store: Store, item_id: str) -> CalendarItem | None:
    """An ItemId may name a stored item or an occurrence of a stored series."""
    item = store.get(item_id)
    if item is not None:
        return item
    split = recurrence.split_occurrence_id(item_id)
    if split is None:
        return None
    master = store.get(split[0])
    if master is None or not master.recurrence:
        return None
    return find_occurrence(master, original_start=split[1])


def first_last(master: CalendarItem):
    first = last = None
    for index, orig in recurrence.original_starts(master):
        if orig in master.deleted:
            continue
        if first is None:
            first = occurrence_view(master, orig, index)
        if master.recurrence["range"] == "NoEndRecurrence":
            break
        last = (orig, index)
    if last is not None:
        last = occurrence_view(master, *last)
    return first, last
