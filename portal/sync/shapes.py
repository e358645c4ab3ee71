"""The comparable content of each side, and the hashes a link stores (three-way merge bookkeeping).

A link's `content_hash` is 64 hex characters: for an appointment link the first half hashes the
fields that flow both ways (time and the notes above the marker), the second half the fields only
Sundial owns (service, location, clients, status). An absence link stores the Exchange content hash.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ..ews_soap.types import CalendarEvent
from .notes import appointment_details, normalise, notes_above_marker
from .rules import SyncSettings, blocks_time, is_hidden


def _h(*parts: object) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def iso_utc(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class AppointmentSide:
    """Sundial's side of one appointment, as plain values (loaded by the job)."""

    id: int
    status: str  # booked | cancelled
    start: datetime
    end: datetime
    notes: str
    service: str
    location: str | None
    clients: tuple[tuple[str | None, str | None], ...] = ()
    staff_ids: frozenset[int] = field(default_factory=frozenset)
    time_zone: str = "UTC"

    def shared_hash(self) -> str:
        return shared_hash(self.start, self.end, self.notes)

    def owned_hash(self) -> str:
        people = sorted((n or "", (m or "").lower()) for n, m in self.clients)
        return _h(self.service, self.location, people, self.status)

    def content_hash(self) -> str:
        return self.shared_hash() + self.owned_hash()

    def details(self) -> str:
        return appointment_details(appointment_id=self.id, service=self.service, start=self.start, end=self.end,
                                   time_zone=self.time_zone, location=self.location, clients=list(self.clients))


def shared_hash(start: datetime | None, end: datetime | None, notes: str | None) -> str:
    return _h(iso_utc(start), iso_utc(end), normalise(notes or ""))


def event_shared_hash(event: CalendarEvent, fallback_notes: str) -> str:
    """The both-ways content of an exported item as Exchange holds it; no marker → notes unchanged (C4)."""
    notes = notes_above_marker(event.body_text)
    return shared_hash(event.start, event.end, fallback_notes if notes is None else notes)


def absence_hash(event: CalendarEvent, settings: SyncSettings) -> str:
    """Everything of an Exchange event that shows in its absence (time, busy, title, notes, privacy)."""
    return _h("absence", iso_utc(event.start), iso_utc(event.end), event.is_all_day,
              blocks_time(event.free_busy, settings.blocking), event.free_busy, event.subject,
              notes_above_marker(event.body_text), is_hidden(event), settings.show_titles)


def split_hash(content_hash: str | None) -> tuple[str | None, str | None]:
    if not content_hash or len(content_hash) != 64:
        return None, None
    return content_hash[:32], content_hash[32:]


def item_key(event: CalendarEvent) -> str:
    """Stable key of one Exchange item: the ItemId, or "<series>|<original start>" for an occurrence."""
    if event.item_type in ("Occurrence", "Exception") and series_key(event):
        return f"{series_key(event)}|{iso_utc(event.recurrence_id or event.start)}"
    return event.item_id


def series_key(event: CalendarEvent) -> str | None:
    """The series an occurrence/master belongs to: its iCalendar UID (shared by master and occurrences),
    else the master's ItemId. CalendarView occurrences do not always name their master (EWS-FACTS §2)."""
    if event.uid:
        return f"uid:{event.uid}"
    if event.item_type == "RecurringMaster":
        return event.item_id
    return event.master_item_id
