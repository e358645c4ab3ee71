"""GetItem, CreateItem, DeleteItem, MoveItem."""
from __future__ import annotations

from .. import itemparse
from ..itemxml import parse_shape, write_item
from ..soap import EwsError, add_message, local, msub, response_root, tsub
from ..store import Attendee, CalendarItem, new_id
from .refs import resolve


def get_item(ctx, op):
    root, messages = response_root("GetItem")
    shape = parse_shape(op.find("{*}ItemShape"))
    for ref in op.find("{*}ItemIds"):
        try:
            ctx.sim.faults.check_item()
            item, _master, _folder = resolve(ctx, ref)
        except EwsError as err:
            msub(add_message(messages, "GetItemResponseMessage", err), "Items")
            continue
        write_item(msub(add_message(messages, "GetItemResponseMessage"), "Items"), item, shape)
    return root


def new_item(ctx, folder, el) -> CalendarItem:
    mbx = ctx.directory.mailbox(folder.mailbox)
    item = CalendarItem(id=new_id(b"I", folder.mailbox), folder_id=folder.id, mailbox=folder.mailbox,
                        organizer=Attendee(email=mbx.primary, name=mbx.name),
                        created_by=ctx.account.upn.lower())
    itemparse.apply(item, el, ctx.tz_context)
    if item.end == item.start and not any(local(c.tag) == "End" for c in el):
        raise EwsError("ErrorInvalidRequest", "The request is invalid: End is required for a calendar item.")
    return item


def create_item(ctx, op):
    root, messages = response_root("CreateItem")
    saved = op.find("{*}SavedItemFolderId")
    items = op.find("{*}Items")
    for el in items if items is not None else ():
        try:
            ctx.sim.faults.check_item()
            if local(el.tag) != "CalendarItem":
                raise EwsError("ErrorInvalidRequest", f"{local(el.tag)} items are not supported by this server.")
            if op.get("SendMeetingInvitations") is None:  # "required for calendar items" (MSDOC createitem)
                raise EwsError("ErrorSendMeetingInvitationsRequired",
                               "The SendMeetingInvitations attribute is required for calendar items.")
            if saved is not None:
                folder = ctx.first_folder(saved, "create")
            else:
                folder = ctx.store.folder(ctx.acting_mailbox().primary, "calendar")
                ctx.require(folder, "create")
            with ctx.store.lock:
                item = ctx.store.add(new_item(ctx, folder, el))
        except EwsError as err:
            msub(add_message(messages, "CreateItemResponseMessage", err), "Items")
            continue
        out = msub(add_message(messages, "CreateItemResponseMessage"), "Items")
        tsub(tsub(out, "CalendarItem"), "ItemId", Id=item.id, ChangeKey=item.change_key)
    return root


def delete_one(ctx, ref, delete_type: str, cancellations: str | None):
    with ctx.store.lock:
        item, master, _folder = resolve(ctx, ref, "delete")
        if cancellations is None:  # required for calendar items (MSDOC deleteitem)
            raise EwsError("ErrorSendMeetingCancellationsRequired",
                           "The SendMeetingCancellations attribute is required for calendar items.")
        if master is not None:  # an occurrence: remember it as deleted in the series
            master.deleted.add(item.original_start)
            master.modified.pop(item.original_start, None)
            ctx.store.touch(master)
        elif delete_type == "MoveToDeletedItems":
            ctx.store.move(item, ctx.store.folder(item.mailbox, "deleteditems"))
        else:
            ctx.store.remove(item)


def delete_item(ctx, op):
    root, messages = response_root("DeleteItem")
    delete_type = op.get("DeleteType", "MoveToDeletedItems")
    for ref in op.find("{*}ItemIds"):
        try:
            ctx.sim.faults.check_item()
            delete_one(ctx, ref, delete_type, op.get("SendMeetingCancellations"))
        except EwsError as err:
            add_message(messages, "DeleteItemResponseMessage", err)
            continue
        add_message(messages, "DeleteItemResponseMessage")
    return root


def move_item(ctx, op):
    root, messages = response_root("MoveItem")
    target_box = op.find("{*}ToFolderId")
    for ref in op.find("{*}ItemIds"):
        try:
            target = ctx.first_folder(target_box, "create")
            with ctx.store.lock:
                item, master, _folder = resolve(ctx, ref, "delete")
                if master is not None:
                    raise EwsError("ErrorCannotMoveOrCopyOccurrenceItem", "You cannot move or copy an occurrence.")
                item = ctx.store.move(item, target)
        except EwsError as err:
            msub(add_message(messages, "MoveItemResponseMessage", err), "Items")
            continue
        out = msub(add_message(messages, "MoveItemResponseMessage"), "Items")
        tsub(tsub(out, "CalendarItem"), "ItemId", Id=item.id, ChangeKey=item.change_key)
    return root
