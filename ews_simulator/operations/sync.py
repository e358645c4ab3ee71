"""SyncFolderItems: opaque sync states over the per-folder change log (EWS-FACTS section 1)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import zlib

from ..itemxml import parse_shape, write_item
from ..soap import EwsError, add_message, msub, response_root, tsub

MAX_CHANGES = 512  # MSDOC maxchangesreturned: "must be between 1 and 512, inclusive"


def _mac(secret: bytes, payload: bytes) -> str:
    return hmac.new(secret, payload, hashlib.sha256).hexdigest()[:16]


def _short(item_id: str) -> str:
    return hashlib.sha1(item_id.encode()).hexdigest()[:12]


def encode_state(secret: bytes, folder_id: str, base: int, delivered: dict) -> str:
    """Like an ICS state: a baseline change number plus the items already sent in an unfinished pass."""
    body = json.dumps({"v": 1, "f": folder_id, "b": base, "d": delivered}, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(body) + _mac(secret, body).encode()).decode()


def decode_state(secret: bytes, folder_id: str, state: str | None):
    if not state:
        return 0, {}
    try:
        raw = base64.b64decode(state, validate=True)
        body = zlib.decompress(raw[:-16])
        if not hmac.compare_digest(raw[-16:].decode(), _mac(secret, body)):
            raise ValueError
        data = json.loads(body)
        if data["f"] != folder_id:
            raise ValueError
        return int(data["b"]), dict(data["d"])
    except (ValueError, KeyError, TypeError, zlib.error, UnicodeDecodeError):
        raise EwsError("ErrorInvalidSyncStateData",
                       "Synchronization state data is corrupt or otherwise invalid.") from None


def changes_since(store, folder_id: str, base: int, delivered: dict):
    """[(last seq, kind, item id)] with kind Create/Update/Delete relative to what the client holds."""
    first_kind, last = {}, {}
    for seq, item_id, kind in store.log[folder_id]:
        if seq <= base:
            continue
        first_kind.setdefault(item_id, kind)
        last[item_id] = (seq, kind)
    out = []
    for item_id, (seq, kind) in last.items():
        sent = delivered.get(_short(item_id))
        if sent is not None:
            if seq <= sent[0]:
                continue
            existed = sent[1] != "Delete"
        else:
            existed = first_kind[item_id] != "add"
        exists = kind != "remove"
        if exists:
            out.append((seq, "Update" if existed else "Create", item_id))
        elif existed:
            out.append((seq, "Delete", item_id))
    out.sort()
    return out


def sync_folder_items(ctx, op):
    root, messages = response_root("SyncFolderItems")
    shape = parse_shape(op.find("{*}ItemShape"))
    secret = ctx.sim.secret
    try:
        max_changes = int(op.findtext("{*}MaxChangesReturned") or 0)
        if not 1 <= max_changes <= MAX_CHANGES:
            raise EwsError("ErrorInvalidRequest", "MaxChangesReturned must be between 1 and 512.")
        try:
            folder = ctx.first_folder(op.find("{*}SyncFolderId"))
        except EwsError as err:  # MSDOC responsecode: "the folder ID that was specified for the SyncFolderItems
            if err.code != "ErrorFolderNotFound":  # operation could not be found" (EWS-FACTS section 1)
                raise
            raise EwsError("ErrorSyncFolderNotFound", "The specified folder could not be found in the store.") from None
        ignore_el = op.find("{*}Ignore")
        ignore = {el.get("Id") for el in ignore_el} if ignore_el is not None else set()
        with ctx.store.lock:
            base, delivered = decode_state(secret, folder.id, op.findtext("{*}SyncState"))
            changes = changes_since(ctx.store, folder.id, base, delivered)
            page, done = changes[:max_changes], len(changes) <= max_changes
            items = {item_id: ctx.store.get(item_id) for _s, kind, item_id in page if kind != "Delete"}
            if done:
                state = encode_state(secret, folder.id, ctx.store.seq, {})
            else:
                delivered.update({_short(i): [seq, kind] for seq, kind, i in page})
                state = encode_state(secret, folder.id, base, delivered)
            msg = add_message(messages, "SyncFolderItemsResponseMessage")
            msub(msg, "SyncState", state)
            msub(msg, "IncludesLastItemInRange", "true" if done else "false")
            box = msub(msg, "Changes")
            for _seq, kind, item_id in page:
                if item_id in ignore:
                    continue
                change = tsub(box, kind)
                if kind == "Delete":
                    tsub(change, "ItemId", Id=item_id, ChangeKey="AAAAAA==")
                else:
                    write_item(change, items[item_id], shape)
    except EwsError as err:
        msg = add_message(messages, "SyncFolderItemsResponseMessage", err)
        if err.code == "ErrorInvalidSyncStateData":  # sample SyncFolderItems-error-ErrorInvalidSyncStateData.xml
            msub(msg, "SyncState", "")
            msub(msg, "IncludesLastItemInRange", "true")
    return root
