"""GetFolder and FindFolder."""
from __future__ import annotations

from ..soap import EwsError, add_message, local, msub, response_root, tsub

FOLDER_FIELDS = ("folder:FolderId", "folder:ParentFolderId", "folder:FolderClass", "folder:DisplayName",
                 "folder:TotalCount", "folder:ChildFolderCount", "folder:EffectiveRights",
                 "folder:DistinguishedFolderId", "folder:UnreadCount")
DEFAULT = {"folder:FolderId", "folder:DisplayName", "folder:TotalCount", "folder:ChildFolderCount",
           "folder:UnreadCount"}
ALL = DEFAULT | {"folder:ParentFolderId", "folder:FolderClass", "folder:EffectiveRights"}
HAS_UNREAD = ("Folder", "TasksFolder", "SearchFolder")


def parse_folder_shape(el) -> set:
    wanted = {"folder:FolderId"}
    if el is None:
        return wanted | DEFAULT
    base = (el.findtext("{*}BaseShape") or "Default").strip()
    wanted |= {"Default": DEFAULT, "AllProperties": ALL}.get(base, set())
    props = el.find("{*}AdditionalProperties")
    for prop in props if props is not None else ():
        if local(prop.tag) == "FieldURI":
            wanted.add(prop.get("FieldURI"))
    return wanted


def _rights(parent, ctx, folder):
    right = ctx.right(ctx.directory.mailbox(folder.mailbox))
    edit = right in ("editor", "owner")
    box = tsub(parent, "EffectiveRights")
    for name, value in (("CreateAssociated", right == "owner"), ("CreateContents", right != "reviewer"),
                        ("CreateHierarchy", right == "owner"), ("Delete", edit), ("Modify", edit),
                        ("Read", True), ("ViewPrivateItems", right == "owner")):
        tsub(box, name, "true" if value else "false")


def write_folder(parent, ctx, folder, wanted: set):
    el = tsub(parent, folder.element)
    store = ctx.store
    writers = {
        "folder:FolderId": lambda: tsub(el, "FolderId", Id=folder.id, ChangeKey=folder.change_key),
        "folder:ParentFolderId": lambda: folder.parent_id and tsub(
            el, "ParentFolderId", Id=folder.parent_id, ChangeKey=store.folders[folder.parent_id].change_key),
        "folder:FolderClass": lambda: folder.folder_class and tsub(el, "FolderClass", folder.folder_class),
        "folder:DisplayName": lambda: tsub(el, "DisplayName", folder.name),
        "folder:TotalCount": lambda: tsub(el, "TotalCount", str(len(store.by_folder[folder.id]))),
        "folder:ChildFolderCount": lambda: tsub(el, "ChildFolderCount", str(len(store.children(folder.id)))),
        "folder:EffectiveRights": lambda: _rights(el, ctx, folder),
        "folder:DistinguishedFolderId": lambda: folder.distinguished and ctx.version_at_least("Exchange2013")
        and tsub(el, "DistinguishedFolderId", folder.distinguished),
        "folder:UnreadCount": lambda: folder.element in HAS_UNREAD and tsub(el, "UnreadCount", "0"),
    }
    for uri in FOLDER_FIELDS:
        if uri in wanted:
            writers[uri]()
    return el


def get_folder(ctx, op):
    root, messages = response_root("GetFolder")
    wanted = parse_folder_shape(op.find("{*}FolderShape"))
    for ref in op.find("{*}FolderIds"):
        try:
            folder = ctx.folder(ref)
        except EwsError as err:
            msg = add_message(messages, "GetFolderResponseMessage", err)
            msub(msg, "Folders")
            continue
        msg = add_message(messages, "GetFolderResponseMessage")
        write_folder(msub(msg, "Folders"), ctx, folder, wanted)
    return root


def _visible(ctx, folder) -> bool:
    try:
        ctx.require(folder, "read")
    except EwsError:
        return False
    return True


def find_folder(ctx, op):
    root, messages = response_root("FindFolder")
    wanted = parse_folder_shape(op.find("{*}FolderShape"))
    deep = op.get("Traversal", "Shallow") == "Deep"
    view = op.find("{*}IndexedPageFolderView")
    offset = int(view.get("Offset", 0)) if view is not None else 0
    limit = int(view.get("MaxEntriesReturned", 0) or 0) if view is not None else 0
    for ref in op.find("{*}ParentFolderIds"):
        try:
            parent = ctx.folder(ref)
        except EwsError as err:
            add_message(messages, "FindFolderResponseMessage", err)
            continue
        found, todo = [], list(ctx.store.children(parent.id))
        while todo:
            folder = todo.pop(0)
            if _visible(ctx, folder):
                found.append(folder)
            if deep:
                todo.extend(ctx.store.children(folder.id))
        page = found[offset:offset + limit] if limit else found[offset:]
        msg = add_message(messages, "FindFolderResponseMessage")
        last = offset + len(page) >= len(found)
        box = msub(msg, "RootFolder", IndexedPagingOffset=offset + len(page), TotalItemsInView=len(found),
                   IncludesLastItemInRange="true" if last else "false")
        folders = tsub(box, "Folders")
        for folder in page:
            write_folder(folders, ctx, folder, wanted)
    return root
