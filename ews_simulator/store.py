"""Mailbox contents: folders, calendar items, ChangeKeys and the per-folder change log used by
SyncFolderItems and notifications."""
from __future__ import annotations

import base64
import copy
import os
import struct
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Distinguished folders a fresh on-premises mailbox has (types.xsd DistinguishedFolderIdNameType subset).
STANDARD_FOLDERS = (  # (distinguished id, display name, folder element, folder class, parent)
    ("root", "", "Folder", None, None),
    ("msgfolderroot", "Top of Information Store", "Folder", "IPF.Note", "root"),
    ("calendar", "Calendar", "CalendarFolder", "IPF.Appointment", "msgfolderroot"),
    ("inbox", "Inbox", "Folder", "IPF.Note", "msgfolderroot"),
    ("deleteditems", "Deleted Items", "Folder", "IPF.Note", "msgfolderroot"),
    ("drafts", "Drafts", "Folder", "IPF.Note", "msgfolderroot"),
    ("sentitems", "Sent Items", "Folder", "IPF.Note", "msgfolderroot"),
    ("outbox", "Outbox", "Folder", "IPF.Note", "msgfolderroot"),
    ("contacts", "Contacts", "ContactsFolder", "IPF.Contact", "msgfolderroot"),
    ("tasks", "Tasks", "TasksFolder", "IPF.Task", "msgfolderroot"),
)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_id(prefix: bytes, mailbox: str) -> str:
    # Opaque base64 like Exchange's "AAMkA..." ids; unique per store and never reused.
    return base64.b64encode(b"\x00\x00\x00" + prefix + os.urandom(24) + mailbox.encode()[:16]).decode()


def change_key(version: int, salt: bytes, occurrence_version: int | None = None) -> str:
    tail = struct.pack(">I", version) + (b"" if occurrence_version is None else struct.pack(">I", occurrence_version))
    return base64.b64encode(b"\x0f\x00\x00\x00\x16\x00\x00\x00" + salt + tail).decode()


def occurrence_version_of(key: str | None) -> int | None:
    """The occurrence's own version inside an occurrence ChangeKey (None when not one)."""
    try:
        raw = base64.b64decode(key or "", validate=True)
    except ValueError:
        return None
    return struct.unpack(">I", raw[-4:])[0] if len(raw) == 22 else None


@dataclass
class Folder:
    id: str
    mailbox: str
    name: str
    element: str = "Folder"
    folder_class: str | None = None
    parent_id: str | None = None
    distinguished: str | None = None
    version: int = 1
    salt: bytes = field(default_factory=lambda: os.urandom(6))

    @property
    def change_key(self) -> str:
        return change_key(self.version, self.salt)


@dataclass
class Attendee:
    email: str
    name: str = ""
    response: str = "Unknown"


@dataclass
class CalendarItem:
    id: str
    folder_id: str
    mailbox: str
    subject: str = ""
    body: str = ""
    body_type: str = "HTML"
    start: datetime = field(default_factory=now)
    end: datetime = field(default_factory=now)
    start_tz: str = "UTC"
    end_tz: str = "UTC"
    is_all_day: bool = False
    free_busy: str = "Busy"
    sensitivity: str = "Normal"
    importance: str = "Normal"
    location: str = ""
    organizer: Attendee | None = None
    required: list[Attendee] = field(default_factory=list)
    optional: list[Attendee] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    reminder_set: bool = True
    reminder_minutes: int = 15
    extended: dict = field(default_factory=dict)  # (set id, name or tag, type) -> str | list[str]
    recurrence: dict | None = None
    modified: dict = field(default_factory=dict)  # original start (UTC datetime) -> overrides dict
    deleted: set = field(default_factory=set)  # original starts (UTC datetimes)
    uid: str = ""
    created: datetime = field(default_factory=now)
    last_modified: datetime = field(default_factory=now)
    created_by: str = ""
    sequence: int = 0
    version: int = 1
    salt: bytes = field(default_factory=lambda: os.urandom(6))
    # set on expanded views only
    item_type: str = "Single"
    original_start: datetime | None = None
    master_id: str | None = None
    instance_index: int | None = None
    occurrence_version: int | None = None
    # faults.poison_item: (Start, End) written on the wire instead of the stored times (None: the stored ones)
    wire_dates: tuple[str, str] | None = None

    @property
    def change_key(self) -> str:
        return change_key(self.version, self.salt, self.occurrence_version)

    @property
    def is_meeting(self) -> bool:
        return bool(self.required or self.optional)

    def calendar_item_type(self) -> str:
        if self.item_type != "Single":
            return self.item_type
        return "RecurringMaster" if self.recurrence else "Single"

    def clone(self) -> CalendarItem:
        return copy.deepcopy(self)


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.folders: dict[str, Folder] = {}
        self.distinguished: dict[tuple[str, str], str] = {}  # (mailbox, name) -> folder id
        self.items: dict[str, CalendarItem] = {}
        self.by_folder: dict[str, dict[str, CalendarItem]] = {}
        self.log: dict[str, list[tuple[int, str, str]]] = {}  # folder id -> [(seq, item id, add|mod|remove)]
        self.seq = 0
        self.listeners: list = []  # callables(kind, item_id, folder_id, old_item_id, old_folder_id, mailbox)
        self.dirty = False

    # -- folders ----------------------------------------------------------------------------------
    def ensure_mailbox(self, mailbox: str) -> None:
        mailbox = mailbox.lower()
        with self.lock:
            if (mailbox, "root") in self.distinguished:
                return
            for dist, name, element, cls, parent in STANDARD_FOLDERS:
                parent_id = self.distinguished.get((mailbox, parent)) if parent else None
                folder = Folder(new_id(b"F", mailbox), mailbox, name, element, cls, parent_id, dist)
                self._add_folder(folder)

    def _add_folder(self, folder: Folder) -> Folder:
        self.folders[folder.id] = folder
        self.by_folder[folder.id] = {}
        self.log[folder.id] = []
        if folder.distinguished:
            self.distinguished[(folder.mailbox, folder.distinguished)] = folder.id
        self.dirty = True
        return folder

    def add_calendar(self, mailbox: str, name: str) -> Folder:
        mailbox = mailbox.lower()
        with self.lock:
            self.ensure_mailbox(mailbox)
            parent = self.distinguished[(mailbox, "calendar")]
            return self._add_folder(Folder(new_id(b"F", mailbox), mailbox, name, "CalendarFolder",
                                           "IPF.Appointment", parent))

    def delete_calendar(self, mailbox: str, name: str) -> None:
        """A person deletes a secondary calendar (hard delete): its items and its folder id are gone."""
        with self.lock:
            folder = next(f for f in self.calendars(mailbox) if f.name.lower() == name.lower() and not f.distinguished)
            for item in list(self.by_folder[folder.id].values()):
                self.remove(item)
            for table in (self.folders, self.by_folder, self.log):
                table.pop(folder.id, None)
            self.dirty = True

    def folder(self, mailbox: str, distinguished: str) -> Folder:
        self.ensure_mailbox(mailbox)
        return self.folders[self.distinguished[(mailbox.lower(), distinguished)]]

    def calendars(self, mailbox: str) -> list[Folder]:
        return [f for f in self.folders.values() if f.mailbox == mailbox.lower() and f.element == "CalendarFolder"]

    def children(self, folder_id: str) -> list[Folder]:
        return [f for f in self.folders.values() if f.parent_id == folder_id]

    def find_calendar(self, mailbox: str, name: str) -> Folder:
        for f in self.calendars(mailbox):
            if f.name.lower() == name.lower() or (f.distinguished or "") == name.lower():
                return f
        return self.add_calendar(mailbox, name)

    # -- items ------------------------------------------------------------------------------------
    def _record(self, folder_id: str, item_id: str, kind: str) -> None:
        self.seq += 1
        self.log[folder_id].append((self.seq, item_id, kind))
        folder = self.folders[folder_id]
        folder.version += 1
        self.dirty = True

    def _notify(self, kind, item, old_id=None, old_folder=None):
        for listener in list(self.listeners):
            listener(kind, item.id, item.folder_id, old_id, old_folder, item.mailbox)

    def add(self, item: CalendarItem) -> CalendarItem:
        with self.lock:
            item.uid = item.uid or base64.b16encode(os.urandom(16)).decode()
            self.items[item.id] = item
            self.by_folder[item.folder_id][item.id] = item
            self._record(item.folder_id, item.id, "add")
            self._notify("Created", item)
        return item

    def touch(self, item: CalendarItem) -> CalendarItem:
        """Record a change to an item: new ChangeKey, LastModifiedTime, log entry, ModifiedEvent."""
        with self.lock:
            item.version += 1
            item.last_modified = now()
            self._record(item.folder_id, item.id, "mod")
            self._notify("Modified", item)
        return item

    def remove(self, item: CalendarItem) -> None:
        with self.lock:
            self.items.pop(item.id, None)
            self.by_folder[item.folder_id].pop(item.id, None)
            self._record(item.folder_id, item.id, "remove")
            self._notify("Deleted", item)

    def move(self, item: CalendarItem, folder: Folder) -> CalendarItem:
        """MoveItem gives the item a new ItemId, as Exchange does (store entry ids change between folders)."""
        with self.lock:
            old_id, old_folder = item.id, item.folder_id
            self.items.pop(old_id, None)
            self.by_folder[old_folder].pop(old_id, None)
            self._record(old_folder, old_id, "remove")
            item.id = new_id(b"I", folder.mailbox)
            item.folder_id, item.mailbox = folder.id, folder.mailbox
            item.version += 1
            item.last_modified = now()
            self.items[item.id] = item
            self.by_folder[folder.id][item.id] = item
            self._record(folder.id, item.id, "add")
            self._notify("Moved", item, old_id, old_folder)
        return item

    def get(self, item_id: str) -> CalendarItem | None:
        return self.items.get(item_id)

    def folder_items(self, folder_id: str) -> list[CalendarItem]:
        return list(self.by_folder.get(folder_id, {}).values())

    def snapshot(self) -> dict:
        return {k: getattr(self, k) for k in ("folders", "distinguished", "items", "by_folder", "log", "seq")}

    def restore(self, data: dict) -> None:
        for key, value in data.items():
            setattr(self, key, value)
