"""GetFolder: the primary calendar of a mailbox (MSDOC web-service-reference/getfolder-operation;
samples GetFolder-calendar-*.xml, GetFolder-delegate-mailbox-*.xml)."""

from __future__ import annotations

from ..errors import ProtocolError
from ..parse import Reply, child_text, id_pair, single_message
from ..types import FolderInfo
from ..xml import T, paths
from .common import folder_ids, folder_ref

OPERATION = "GetFolder"


def body(mailbox: str | None, delegate: bool, name: str = "calendar") -> dict:
    return {"FolderShape": {"BaseShape": "IdOnly",
                            "AdditionalProperties": paths(["folder:DisplayName", "folder:TotalCount"])},
            "FolderIds": folder_ids(None, mailbox, delegate, name)}


def body_many(mailboxes: list[str]) -> dict:
    """Delegate access: one request for several mailboxes' calendars (one DistinguishedFolderId with a Mailbox
    each); the reply has one ResponseMessage per folder, in order (MSDOC getfolder-operation)."""
    out = body(None, True)
    out["FolderIds"] = {"_value_1": [folder_ref(None, m, True) for m in mailboxes]}
    return out


def parse(reply: Reply) -> FolderInfo:
    msg = single_message(reply)
    folder = next((el for el in msg.iterfind("{*}Folders/*") if isinstance(el.tag, str)), None)
    if folder is None:
        raise ProtocolError("GetFolder reply without a folder")
    folder_id, change_key = id_pair(folder.find(f"{{{T}}}FolderId"))
    total = child_text(folder, "TotalCount")
    return FolderInfo(folder_id=folder_id or "", change_key=change_key,
                      total_count=int(total) if total and total.strip().isdigit() else None,
                      display_name=child_text(folder, "DisplayName"))

