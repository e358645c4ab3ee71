"""Item references: ItemId, OccurrenceItemId, RecurringMasterItemId."""
from __future__ import annotations

from .. import calendar, recurrence
from ..context import check_id
from ..soap import EwsError, local


def not_found():
    return EwsError("ErrorItemNotFound", "The specified object was not found in the store.")


def resolve(ctx, el, need: str = "read"):
    """Return (item or occurrence view, master or None, folder)."""
    name = local(el.tag)
    if name == "ItemId":
        item = calendar.lookup(ctx.store, check_id(el.get("Id")))
        master = ctx.store.get(item.master_id) if item is not None and item.master_id else None
    elif name == "OccurrenceItemId":
        master = ctx.store.get(check_id(el.get("RecurringMasterId")))
        if master is None or not master.recurrence:
            raise not_found()
        item = calendar.find_occurrence(master, index=int(el.get("InstanceIndex", 0)))
        if item is None:
            raise EwsError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                           "The occurrence index is out of the recurrence range.")
    elif name == "RecurringMasterItemId":
        occ = recurrence.split_occurrence_id(check_id(el.get("OccurrenceId")))
        item = ctx.store.get(occ[0]) if occ else ctx.store.get(el.get("OccurrenceId"))
        master = None
    else:
        raise EwsError("ErrorInvalidIdMalformed", "Id is malformed.")
    if item is None:
        raise not_found()
    folder = ctx.store.folders[item.folder_id]
    ctx.require(folder, need, master or item)
    return item, master, folder


def check_change_key(el, current: str, required: bool = False):
    """A stale ChangeKey -> ErrorIrresolvableConflict (MSDOC updateitem; EWS-FACTS section 3)."""
    sent = el.get("ChangeKey")
    if sent is None:
        if required:
            raise EwsError("ErrorChangeKeyRequiredForWriteOperations",
                           "When making a request that doesn't have conflict resolution AlwaysOverwrite, "
                           "a change key is required.")
        return
    if sent != current:
        raise EwsError("ErrorIrresolvableConflict",
                       "The send or update operation could not be performed because the change key passed in the "
                       "request does not match the current change key for the item.")
