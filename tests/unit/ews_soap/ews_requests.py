"""Every request shape Sundial sends, built without a network (shared by the schema and WSDL tests)."""

from __future__ import annotations

from datetime import UTC, datetime

from ews_testkit import config
from lxml import etree

from portal.ews_soap.client import EwsClient
from portal.ews_soap.operations import (
    create_item,
    delete_item,
    find_item,
    get_events,
    get_folder,
    get_item,
    get_streaming_events,
    resolve_names,
    subscribe,
    sync_folder_items,
    unsubscribe,
    update_item,
)
from portal.ews_soap.types import EventUpdate, ItemRef, NewEvent

UTC = UTC
START, END = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC)
ALICE = "alice@example.com"


def bodies(delegate: bool) -> dict[str, tuple[str, dict, str | None]]:
    """name → (operation, zeep body, time zone)"""
    ev = NewEvent("Consultation", START, END, location="1 Main St", body_text="notes\n-- Edits above --",
                  attendees=[("Bob Client", "bob@client.test"), (None, "c@client.test")], appointment_id=42,
                  time_zone="Europe/Berlin")
    allday = NewEvent("Holiday", START, START, is_all_day=True, free_busy="OOF")
    full = EventUpdate("AAMkID", "CK1", subject="New", start=START, end=END, location="", body_text="b",
                       attendees=[("A", "a@x.test")], appointment_id=7, free_busy="Busy", time_zone="America/New_York")
    times = EventUpdate("AAMkID2", None, start=START, end=END)
    return {
        "GetFolder-calendar": (get_folder.OPERATION, get_folder.body(ALICE, delegate), None),
        "FindItem-CalendarView": (find_item.OPERATION,
                                  find_item.calendar_view_body(None, ALICE, delegate, START, END), None),
        "FindItem-CalendarView-folder": (find_item.OPERATION,
                                         find_item.calendar_view_body("AAMkFolder", ALICE, delegate, START, END), None),
        "FindItem-appointment-id": (find_item.OPERATION,
                                    find_item.by_appointment_body(None, ALICE, delegate, 42), None),
        "GetItem-batch": (get_item.OPERATION, get_item.body(["id1", "id2", "id3"]), None),
        "GetItem-series": (get_item.OPERATION, get_item.body(["id1", "id2"], series=True), None),
        "GetFolder-staff-sample": (get_folder.OPERATION, get_folder.body_many([ALICE, "bob@example.com"]), None),
        "CreateItem-batch": (create_item.OPERATION, create_item.body([ev, allday], None, ALICE, delegate),
                             "Europe/Berlin"),
        "UpdateItem-batch": (update_item.OPERATION, update_item.body([full, times]), "America/New_York"),
        "DeleteItem-batch": (delete_item.OPERATION, delete_item.body([ItemRef("id1", "ck"), ItemRef("id2")]), None),
        "SyncFolderItems-initial": (sync_folder_items.OPERATION,
                                    sync_folder_items.body("AAMkFolder", ALICE, delegate, None), None),
        "SyncFolderItems-incremental": (sync_folder_items.OPERATION,
                                        sync_folder_items.body(None, ALICE, delegate, "H4sIAAA=", 100, ["ign1"]),
                                        None),
        "ResolveNames": (resolve_names.OPERATION, resolve_names.body(ALICE), None),
        "Subscribe-streaming": (subscribe.OPERATION, subscribe.streaming_body(None, ALICE, delegate), None),
        "Subscribe-pull": (subscribe.OPERATION, subscribe.pull_body(None, ALICE, delegate, 30, "AAAAWM="), None),
        "GetEvents": (get_events.OPERATION, get_events.body("sub1", "AAAAWM="), None),
        "GetStreamingEvents": (get_streaming_events.OPERATION,
                               get_streaming_events.body(["sub1", "sub2"], 30), None),
        "Unsubscribe": (unsubscribe.OPERATION, unsubscribe.body("sub1"), None),
    }


NAMES = sorted(bodies(True))


def build_all(wsdl: str, impersonation: bool) -> dict[str, bytes]:
    client = EwsClient(config(wsdl=wsdl, impersonation=impersonation))
    out = {}
    for name, (operation, body, tz) in bodies(not impersonation).items():
        data, _headers = client.build(operation, body, impersonate=ALICE if impersonation else None, time_zone=tz)
        out[name] = data
    return out


def without_xsi_type(data: bytes) -> bytes:
    """Canonical XML without zeep's redundant xsi:type="t:CalendarItemType" on CreateItem items (see xml.Typed),
    the one difference Microsoft's WSDL makes."""
    root = etree.fromstring(data)
    for el in root.iter():
        el.attrib.pop("{http://www.w3.org/2001/XMLSchema-instance}type", None)
    etree.cleanup_namespaces(root)
    return etree.tostring(root, method="c14n")
