"""FindItem with IndexedPageItemView / CalendarView (recurrence expansion) and restrictions."""
from __future__ import annotations

from datetime import timedelta

from .. import calendar, timezones
from ..itemxml import parse_shape, write_item
from ..soap import EwsError, add_message, local, msub, response_root, tsub
from .restriction import GETTERS, compile_restriction

MAX_CALENDAR_VIEW = timedelta(days=731)  # "more than two years" -> ErrorCalendarViewRangeTooBig (responsecode)


def _sort(items, op):
    order = op.find("{*}SortOrder")
    if order is None:
        return items
    for field_order in reversed(list(order)):
        uri_el = field_order.find("{*}FieldURI")
        getter = GETTERS.get(uri_el.get("FieldURI")) if uri_el is not None else None
        if getter:
            items.sort(key=lambda i: (getter(i) is None, getter(i) or ""),
                       reverse=field_order.get("Order") == "Descending")
    return items


def _calendar_view(ctx, folder, view):
    try:
        start = timezones.parse_dt(view.get("StartDate"), ctx.tz_context)
        end = timezones.parse_dt(view.get("EndDate"), ctx.tz_context)
    except (TypeError, ValueError):
        raise EwsError("ErrorInvalidRequest", "The request is invalid.") from None
    if end < start:
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate", "The end date occurs before the start date.")
    if end - start > MAX_CALENDAR_VIEW:
        raise EwsError("ErrorCalendarViewRangeTooBig", "The calendar view range is too big.")
    return _degraded(ctx, folder, calendar.all_views(ctx.store, folder.id, start, end), start, end)


def _degraded(ctx, folder, items, start, end):
    """The calendar_view_unexpanded / calendar_view_partial fault switches (faults.py)."""
    mode = ctx.sim.faults.calendar_view_mode
    if mode == "master":
        singles = [i for i in items if i.item_type not in ("Occurrence", "Exception")]
        masters = [m for m in ctx.store.folder_items(folder.id) if m.recurrence and calendar.expand(m, start, end)]
        return sorted(singles + masters, key=lambda i: (i.start, i.end, i.subject))
    if mode == "partial":
        kept, seen = [], {}
        for item in items:
            if item.item_type in ("Occurrence", "Exception"):
                seen[item.master_id] = seen.get(item.master_id, 0) + 1
                if seen[item.master_id] % 2 == 0:
                    continue
            kept.append(item)
        return kept
    return items


def find_item(ctx, op):
    root, messages = response_root("FindItem")
    shape = parse_shape(op.find("{*}ItemShape"), find=True)
    restriction = op.find("{*}Restriction")
    predicate = compile_restriction(restriction) if restriction is not None else None
    view = next((c for c in op if local(c.tag) in ("IndexedPageItemView", "CalendarView",
                                                   "FractionalPageItemView", "ContactsView")), None)
    for ref in op.find("{*}ParentFolderIds"):
        try:
            folder = ctx.folder(ref)
            if view is not None and local(view.tag) == "CalendarView":
                items = _calendar_view(ctx, folder, view)
            else:
                items = sorted(ctx.store.folder_items(folder.id), key=lambda i: i.created, reverse=True)
            if predicate is not None:
                items = [i for i in items if predicate(i)]
            items = _sort(items, op)
        except EwsError as err:
            add_message(messages, "FindItemResponseMessage", err)
            continue
        total = len(items)
        limit = int(view.get("MaxEntriesReturned", 0) or 0) if view is not None else 0
        limit = min(limit or ctx.sim.config.find_count_limit, ctx.sim.config.find_count_limit)
        attrs = {"TotalItemsInView": total}
        if view is not None and local(view.tag) == "CalendarView":
            page = items[:limit]
        else:
            offset = int(view.get("Offset", 0)) if view is not None else 0
            if view is not None and view.get("BasePoint") == "End":
                offset = max(total - offset - limit, 0)
            page = items[offset:offset + limit]
            attrs["IndexedPagingOffset"] = offset + len(page)
        last = len(page) == total if "IndexedPagingOffset" not in attrs else attrs["IndexedPagingOffset"] >= total
        msg = add_message(messages, "FindItemResponseMessage")
        box = msub(msg, "RootFolder", IncludesLastItemInRange="true" if last else "false", **attrs)
        out = tsub(box, "Items")
        for item in page:
            write_item(out, item, shape)
    return root
