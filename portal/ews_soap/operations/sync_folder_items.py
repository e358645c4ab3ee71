"""SyncFolderItems: incremental changes of one folder (EWS-FACTS §1). MaxChangesReturned is 1..512; the
caller keeps the returned SyncState and calls again until IncludesLastItemInRange is true. An idle poll is
one request with no changes. Samples: SyncFolderItems-*-response.xml."""

from __future__ import annotations

from ..errors import ProtocolError
from ..items import item_shape, parse_calendar_item
from ..parse import Reply, child_text, id_pair, single_message
from ..types import SyncChange, SyncPage
from ..xml import M, T
from .common import folder_ref, item_ids

OPERATION = "SyncFolderItems"
MAX_CHANGES = 512
_KINDS = {"Create": "create", "Update": "update", "Delete": "delete", "ReadFlagChange": "read_flag"}


def body(folder_id: str | None, mailbox: str | None, delegate: bool, sync_state: str | None,
         max_changes: int = MAX_CHANGES, ignore: list[str] | None = None) -> dict:
    if not 1 <= max_changes <= MAX_CHANGES:
        raise ValueError("MaxChangesReturned must be 1..512 (MSDOC web-service-reference/maxchangesreturned)")
    value = {"ItemShape": item_shape(full=True), "SyncFolderId": folder_ref(folder_id, mailbox, delegate),
             "MaxChangesReturned": max_changes}
    if sync_state:
        value["SyncState"] = sync_state
    if ignore:
        value["Ignore"] = item_ids((i, None) for i in ignore)
    return value


def parse(reply: Reply) -> SyncPage:
    msg = single_message(reply)
    state = child_text(msg, "SyncState", M)
    if state is None:
        raise ProtocolError("SyncFolderItems reply without SyncState")
    last = (child_text(msg, "IncludesLastItemInRange", M) or "true").strip().lower() == "true"
    changes: list[SyncChange] = []
    holder = msg.find(f"{{{M}}}Changes")
    for change in holder if holder is not None else []:
        if not isinstance(change.tag, str):
            continue
        kind = _KINDS.get(change.tag.rsplit("}", 1)[-1])
        if kind is None:
            continue
        item = next((el for el in change if isinstance(el.tag, str) and el.tag != f"{{{T}}}ItemId"), None)
        if kind in ("create", "update") and item is not None:
            event = parse_calendar_item(item)
            changes.append(SyncChange(kind, event.item_id, event.change_key, event))
        else:
            item_id, change_key = id_pair(change.find(f"{{{T}}}ItemId"))
            changes.append(SyncChange(kind, item_id or "", change_key, None))
    return SyncPage(changes, state.strip(), last)
