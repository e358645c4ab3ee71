"""Folder and item id values shared by the operations (zeep keyword form).

Delegate access addresses another mailbox through t:Mailbox inside t:DistinguishedFolderId; impersonation
uses the SOAP header instead (EWS-FACTS §6; samples FindItem-delegate-calendar-request.xml,
CreateItem-impersonation-request.xml).
"""

from __future__ import annotations

from collections.abc import Iterable


def distinguished(name: str, mailbox: str | None, delegate: bool) -> dict:
    folder = {"Id": name}
    if delegate and mailbox:
        folder["Mailbox"] = {"EmailAddress": mailbox}
    return folder


def folder_ref(folder_id: str | None, mailbox: str | None, delegate: bool, name: str = "calendar") -> dict:
    """One choice entry: {'FolderId': …} or {'DistinguishedFolderId': …}."""
    if folder_id:
        return {"FolderId": {"Id": folder_id}}
    return {"DistinguishedFolderId": distinguished(name, mailbox, delegate)}


def folder_ids(folder_id: str | None, mailbox: str | None, delegate: bool, name: str = "calendar") -> dict:
    """NonEmptyArrayOfBaseFolderIdsType (a repeated choice in the schema)."""
    return {"_value_1": [folder_ref(folder_id, mailbox, delegate, name)]}


def item_ids(refs: Iterable[tuple[str, str | None]]) -> dict:
    """NonEmptyArrayOfBaseItemIdsType from (id, change_key) pairs."""
    out = []
    for item_id, change_key in refs:
        ident = {"Id": item_id}
        if change_key:
            ident["ChangeKey"] = change_key
        out.append({"ItemId": ident})
    return {"_value_1": out}


def chunks(seq: list, size: int) -> Iterable[list]:
    for start in range(0, len(seq), size):
        yield seq[start:start + size]
