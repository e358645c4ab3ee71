"""UpdateItem: SetItemField / AppendToItemField / DeleteItemField with ConflictResolution."""
from __future__ import annotations

from dataclasses import fields

from .. import calendar, itemparse
from ..soap import EwsError, add_message, local, msub, response_root, tsub
from ..store import occurrence_version_of
from .refs import check_change_key, resolve

KEEP = {"id", "folder_id", "mailbox", "version", "salt", "created", "created_by"}


def _apply_changes(ctx, target, updates):
    pending = {}
    for change in updates:
        kind = local(change.tag)
        path = next((c for c in change if local(c.tag).endswith("URI")), None)
        if kind == "DeleteItemField":
            if local(path.tag) == "ExtendedFieldURI":
                from ..itemxml import ext_key
                target.extended.pop(ext_key(dict(path.attrib)), None)
            else:
                itemparse.reset(target, path.get("FieldURI"))
            continue
        carrier = next((c for c in change if local(c.tag) in ("CalendarItem", "Item")), None)
        if carrier is None:
            raise EwsError("ErrorIncorrectUpdatePropertyCount", "An object within a change description must "
                                                                "contain one and only one property to modify.")
        if kind == "AppendToItemField" and path is not None and path.get("FieldURI") not in (
                "item:Body", "calendar:RequiredAttendees", "calendar:OptionalAttendees", "item:Categories"):
            raise EwsError("ErrorInvalidPropertyAppend", "This property can't be appended to.")
        itemparse.apply(target, carrier, ctx.tz_context, append=kind == "AppendToItemField", pending=pending)
    itemparse.finish(target, pending, ctx.tz_context)


def _keeps_time(ctx, stored, edited, updates):
    """Fault switch update_keeps_time: the write "succeeds" but the item keeps its old Start/End."""
    mode = ctx.sim.faults.update_keeps_time_mode
    if not mode:
        return
    uris = {path.get("FieldURI") for change in updates for path in change if local(path.tag) == "FieldURI"}
    people = uris & {"calendar:RequiredAttendees", "calendar:OptionalAttendees"}
    if uris & {"calendar:Start", "calendar:End"} and (people or mode == "always"):
        edited.start, edited.end = stored.start, stored.end


def _update_master(ctx, stored, updates):
    edited = stored.clone()
    _apply_changes(ctx, edited, updates)
    _keeps_time(ctx, stored, edited, updates)
    if edited.recurrence != stored.recurrence or (stored.recurrence and edited.start != stored.start):
        edited.modified, edited.deleted = {}, set()  # a new pattern drops exceptions, as Outlook warns
    for f in fields(stored):
        if f.name not in KEEP:
            setattr(stored, f.name, getattr(edited, f.name))
    stored.sequence += 1
    ctx.store.touch(stored)
    return stored


def _update_occurrence(ctx, master, view, updates):
    plain = calendar.occurrence_view(_without(master, view.original_start), view.original_start, None)
    _apply_changes(ctx, view, updates)
    overrides = {k: getattr(view, k) for k in calendar.OVERRIDABLE if getattr(view, k) != getattr(plain, k)}
    previous = master.modified.get(view.original_start, {})
    overrides["_version"] = previous.get("_version", 0) + 1
    master.modified[view.original_start] = overrides
    ctx.store.touch(master)
    return calendar.occurrence_view(master, view.original_start, view.instance_index)


def _without(master, original_start):
    clone = master.clone()
    clone.modified.pop(original_start, None)
    return clone


def _check_occurrence_key(ref, view):
    """AutoResolve on an occurrence: changes elsewhere in the series are merged; a change to this very
    occurrence since the client read it is a conflict (MSDOC updateitem ConflictResolution)."""
    sent = ref.get("ChangeKey")
    if sent is None:
        check_change_key(ref, view.change_key, required=True)
    if occurrence_version_of(sent) != view.occurrence_version:
        check_change_key(ref, view.change_key)


def update_item(ctx, op):
    root, messages = response_root("UpdateItem")
    mode = op.get("ConflictResolution", "AutoResolve")
    for change in op.find("{*}ItemChanges"):
        ref = next(c for c in change if local(c.tag) in ("ItemId", "OccurrenceItemId", "RecurringMasterItemId"))
        updates = change.find("{*}Updates")
        try:
            ctx.sim.faults.check_item()
            with ctx.store.lock:
                item, master, _folder = resolve(ctx, ref, "edit")
                if op.get("SendMeetingInvitationsOrCancellations") is None:  # MSDOC updateitem
                    raise EwsError("ErrorSendMeetingInvitationsOrCancellationsRequired",
                                   "The SendMeetingInvitationsOrCancellations attribute is required for calendar "
                                   "items.")
                if mode != "AlwaysOverwrite" and local(ref.tag) == "ItemId":
                    if master is not None and mode == "AutoResolve":
                        _check_occurrence_key(ref, item)
                    else:
                        check_change_key(ref, item.change_key, required=mode == "AutoResolve")
                if master is not None:
                    item = _update_occurrence(ctx, master, item, updates)
                else:
                    item = _update_master(ctx, item, updates)
        except EwsError as err:
            msub(add_message(messages, "UpdateItemResponseMessage", err), "Items")
            continue
        msg = add_message(messages, "UpdateItemResponseMessage")
        tsub(tsub(msub(msg, "Items"), "CalendarItem"), "ItemId", Id=item.id, ChangeKey=item.change_key)
        tsub(msub(msg, "ConflictResults"), "Count", "0")
    return root
