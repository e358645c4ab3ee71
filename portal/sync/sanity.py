"""G11/R5: an Exchange item too absurd to plan is skipped with a sentence for the activity log.

A real mailbox can hold schema-valid but impossible events (year-0001 dates from imported .ics files or
MAPI tools, events that end before they start). One such item must never stop its mailbox's sync, and
an inverted event is never stored inverted.
"""
from __future__ import annotations

from ..ews_soap.types import CalendarEvent

FIRST_YEAR, LAST_YEAR = 1900, 2999  # what a booking portal can show; anything else is damaged data
FIX = "Fix or delete it in Outlook; the rest of the calendar syncs."


def item_problem(event: CalendarEvent) -> str | None:
    """Why this item cannot be planned (a sentence), or None when it can."""
    if event.unreadable:
        return f"Exchange sent this item in a form Sundial cannot read ({event.unreadable}). {FIX}"
    if event.start is None or event.end is None:
        return f"This item has no start or end time. {FIX}"
    if not all(FIRST_YEAR <= d.year <= LAST_YEAR for d in (event.start, event.end)):
        return (f"This item's dates are outside the years {FIRST_YEAR}–{LAST_YEAR} (it starts "
                f"{event.start.date().isoformat()}, ends {event.end.date().isoformat()}). {FIX}")
    if event.end < event.start:
        return (f"This item ends before it starts ({event.start.isoformat()} → {event.end.isoformat()}), so it was "
                f"not stored. {FIX}")
    return None
