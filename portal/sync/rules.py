"""Which Exchange events cross into Sundial, and why not — each decision names its SPEC rule.

The reasons are the answer to "why isn't my meeting in Sundial?" shown in the activity log.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..ews_soap.types import CalendarEvent

ALL_STATUSES = ("Busy", "OOF", "Tentative", "Free", "WorkingElsewhere", "NoData")
NEVER_BLOCKING = frozenset({"Free", "WorkingElsewhere", "NoData"})  # I3
HIDDEN_SENSITIVITIES = frozenset({"Private", "Confidential"})  # C5


@dataclass(frozen=True)
class SyncSettings:
    """What the admin chose (Configuration tab) plus the staff member's window, as plain values."""

    blocking: frozenset[str] = frozenset({"Busy", "OOF", "Tentative"})
    show_titles: bool = False
    window_start: datetime | None = None  # I4: nothing ending before this crosses


@dataclass(frozen=True)
class Verdict:
    crosses: bool
    rule: str | None = None
    reason: str = ""


def window_start(initialized_on: date, time_zone: str = "UTC") -> datetime:
    """I4: midnight (staff member's zone) of the day before the calendar was initialized, in UTC."""
    tz = ZoneInfo(time_zone or "UTC")
    return datetime.combine(initialized_on - timedelta(days=1), time(0, 0), tzinfo=tz).astimezone(UTC)


def blocks_time(free_busy: str | None, blocking: frozenset[str]) -> bool:
    """I3: only statuses the admin marked as blocking do; Free/WorkingElsewhere/NoData never do."""
    status = free_busy or "Busy"
    return status not in NEVER_BLOCKING and status in blocking


def in_primary_calendar(event: CalendarEvent, primary_folder_id: str | None) -> bool:
    """I2: an event whose parent folder is known and is not the primary calendar does not sync."""
    if not primary_folder_id or not event.parent_folder_id:
        return True
    return event.parent_folder_id == primary_folder_id


def import_verdict(event: CalendarEvent, settings: SyncSettings, primary_folder_id: str | None = None) -> Verdict:
    """Does this Exchange-originated event become (or stay) an external absence?"""
    if not in_primary_calendar(event, primary_folder_id):
        return Verdict(False, "I2", "it is not in the staff member's primary calendar")
    if event.item_type == "RecurringMaster":
        return Verdict(False, "U4", "recurring series: its occurrences in the sync horizon are synced one by one")
    if settings.window_start and event.end and event.end <= settings.window_start:
        return Verdict(False, "I4", f"it ends before the sync window starts ({settings.window_start:%Y-%m-%d})")
    status = event.free_busy or "Busy"
    if not blocks_time(status, settings.blocking):
        if status == "Tentative" or (status in ("Busy", "OOF") and status not in settings.blocking):
            why = f"it is marked {status}, and {status} is set not to block time on the Configuration tab"
        else:
            why = f"it is marked {status}, which never blocks time"
        return Verdict(False, "I3", why)
    return Verdict(True, "C1", "busy time in the primary calendar")


def is_hidden(event: CalendarEvent) -> bool:
    """C5: private and confidential events show neither title nor body."""
    return (event.sensitivity or "Normal") in HIDDEN_SENSITIVITIES


def shown_title(event: CalendarEvent, settings: SyncSettings) -> str:
    """C5: the title only when the setting is on and the event is not private/confidential."""
    if is_hidden(event) or not settings.show_titles:
        return ""
    return (event.subject or "")[:255]
