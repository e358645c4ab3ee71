"""Plain-value builders for the pure sync tests (no database, no network)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.ews_soap.types import CalendarEvent
from portal.sync.plan import LinkState
from portal.sync.shapes import AppointmentSide

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def event(item_id="AAA1", ck="ck1", start=T0, minutes=60, **kw) -> CalendarEvent:
    kw.setdefault("subject", "Dentist")
    kw.setdefault("parent_folder_id", "CAL")
    return CalendarEvent(item_id=item_id, change_key=ck, start=start, end=start + timedelta(minutes=minutes), **kw)


def appt(id=7, start=T0, minutes=60, staff=(1,), **kw) -> AppointmentSide:
    kw.setdefault("status", "booked")
    kw.setdefault("notes", "")
    kw.setdefault("service", "Mortgage advice")
    kw.setdefault("location", "1 Main Street")
    kw.setdefault("clients", (("Cleo Client", "cleo@example.net"),))
    return AppointmentSide(id=id, start=start, end=start + timedelta(minutes=minutes), staff_ids=frozenset(staff), **kw)


def link(key="AAA1", ck="ck1", content_hash=None, **kw) -> LinkState:
    return LinkState(item_key=key, item_id=kw.pop("item_id", key), change_key=ck, content_hash=content_hash, **kw)


