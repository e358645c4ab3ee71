"""Per-request context: who is calling, which mailbox they act as, and access checks."""
from __future__ import annotations

import base64
import binascii

from .directory import RANK
from .soap import EwsError, local, text


def _malformed():
    return EwsError("ErrorInvalidIdMalformed", "Id is malformed.")


def check_id(value: str | None) -> str:
    if not value:
        raise _malformed()
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _malformed() from None
    return value


class Ctx:
    def __init__(self, sim, account, version: str, impersonated=None, tz_context: str | None = None):
        self.sim, self.account, self.version = sim, account, version
        self.directory, self.store = sim.directory, sim.store
        self.impersonated = impersonated
        self.tz_context = tz_context
        self.mailboxes_touched: set[str] = set()

    # -- which mailbox -------------------------------------------------------------------------------
    @property
    def delegate(self) -> bool:
        return self.impersonated is None

    def acting_mailbox(self):
        mbx = self.impersonated or self.directory.own_mailbox(self.account)
        if mbx is None:
            raise EwsError(self.directory.missing_code, self.directory.missing_text(),
                           {"SmtpAddress": self.account.upn})
        return mbx

    def mailbox_from(self, el):
        """``t:Mailbox`` child of a DistinguishedFolderId (delegate access) or the acting mailbox."""
        box = el.find("{*}Mailbox") if el is not None else None
        if box is None:
            return self.acting_mailbox()
        address = text(box, "t:EmailAddress", "")
        return self.directory.resolve(address)

    def right(self, mailbox) -> str:
        if self.impersonated is not None and self.impersonated.primary.lower() == mailbox.primary.lower():
            return "owner"
        return self.directory.right(self.account, mailbox)

    # -- access checks -----------------------------------------------------------------------------------
    def require(self, folder, need: str, item=None):
        """need: read | create | edit | delete. Rights model from Outlook's permission levels:
        reviewer reads, author also creates and edits/deletes own items, editor edits everything."""
        mbx = self.directory.mailbox(folder.mailbox)
        self.mailboxes_touched.add(mbx.primary.lower())
        if mbx.unavailable:
            raise EwsError("ErrorMailboxStoreUnavailable", "The mailbox database is temporarily unavailable.")
        right = self.right(mbx)
        if right == "owner":
            return
        if folder.element != "CalendarFolder":
            # Folder-visible on the mailbox root lets a delegate open shared calendars (Outlook sets it).
            if need == "read" and folder.distinguished in ("root", "msgfolderroot") and RANK[right] >= 1:
                return
            raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        ok = {"read": RANK[right] >= RANK["reviewer"], "create": RANK[right] >= RANK["author"]}.get(need)
        if need in ("edit", "delete"):
            own = item is not None and item.created_by == self.account.upn.lower()
            ok = RANK[right] >= RANK["editor"] or (right == "author" and own)
        if not ok:
            raise EwsError("ErrorAccessDenied", "Access is denied. Check credentials and try again.")

    # -- folder ids ---------------------------------------------------------------------------------------
    def folder(self, el, need: str = "read"):
        """``t:FolderId`` or ``t:DistinguishedFolderId`` -> Folder (checked)."""
        name = local(el.tag)
        if name == "DistinguishedFolderId":
            mbx = self.mailbox_from(el)
            dist = el.get("Id")
            self.store.ensure_mailbox(mbx.primary)
            folder_id = self.store.distinguished.get((mbx.primary.lower(), dist))
            if folder_id is None:
                raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
            folder = self.store.folders[folder_id]
        else:
            folder = self.store.folders.get(check_id(el.get("Id")))
            if folder is None:
                raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")
        self.require(folder, need)
        return folder

    def first_folder(self, parent, need: str = "read"):
        for child in parent:
            if local(child.tag) in ("FolderId", "DistinguishedFolderId"):
                return self.folder(child, need)
        raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.")

    def version_at_least(self, name: str) -> bool:
        from .versions import RANK
        return RANK.get(self.version, 0) >= RANK[name]
