"""A recurring master's t:Recurrence, ModifiedOccurrences, DeletedOccurrences and StartTimeZone → SeriesPattern
(SPEC U6: Sundial expands a series itself when the server's CalendarView does not).

Element names: MSDOC web-service-reference/recurrence-recurrencetype, modifiedoccurrences, deletedoccurrences,
starttimezone; shape: ews-samples/GetItem-RecurringMaster-response.xml. A range's StartDate/EndDate is an
xs:date that Exchange writes with the series' UTC offset ("2014-03-08-08:00"): the date part is the local date.
"""

from __future__ import annotations

from datetime import date

from lxml import etree

from .parse import child_text, id_pair
from .timezones import iana_zone
from .types import ModifiedOccurrence, SeriesPattern
from .xml import T, parse_datetime

# The fields Sundial reads with GetItem to expand a master (never asked of FindItem: MSDOC finditem-operation).
SERIES_FIELDS = ["calendar:Recurrence", "calendar:ModifiedOccurrences", "calendar:DeletedOccurrences",
                 "calendar:StartTimeZone"]
RANGES = ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence")


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text.strip()[:10]) if text else None
    except ValueError:
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text.strip()) if text else None
    except ValueError:
        return None


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _modified(holder: etree._Element | None) -> tuple[ModifiedOccurrence, ...]:
    out = []
    for occ in holder.iterfind(f"{{{T}}}Occurrence") if holder is not None else ():
        original, start, end = (parse_datetime(child_text(occ, n)) for n in ("OriginalStart", "Start", "End"))
        if original and start and end:
            item_id, change_key = id_pair(occ.find(f"{{{T}}}ItemId"))
            out.append(ModifiedOccurrence(original, start, end, item_id, change_key))
    return tuple(out)


def _deleted(holder: etree._Element | None) -> tuple:
    found = (parse_datetime(child_text(d, "Start")) for d in (holder if holder is not None else ()))
    return tuple(d for d in found if d is not None)


def parse_series(kids: dict[str, etree._Element]) -> SeriesPattern | None:
    """From a CalendarItem's children (first of each name); None without a Recurrence element."""
    rec = kids.get("Recurrence")
    parts = [el for el in rec if isinstance(el.tag, str)] if rec is not None else []
    pattern = next((el for el in parts if _local(el) not in RANGES), None)
    span = next((el for el in parts if _local(el) in RANGES), None)
    if pattern is None or span is None:
        return None
    days = (child_text(pattern, "DaysOfWeek") or "").split()
    zone = kids.get("StartTimeZone")
    return SeriesPattern(
        pattern=_local(pattern), interval=_int(child_text(pattern, "Interval")) or 1, days_of_week=tuple(days),
        day_of_week_index=child_text(pattern, "DayOfWeekIndex"), day_of_month=_int(child_text(pattern, "DayOfMonth")),
        month=child_text(pattern, "Month"), first_day_of_week=child_text(pattern, "FirstDayOfWeek"),
        range=_local(span), start_date=_date(child_text(span, "StartDate")),
        end_date=_date(child_text(span, "EndDate")), count=_int(child_text(span, "NumberOfOccurrences")),
        time_zone=iana_zone(zone.get("Id")) if zone is not None else None,
        modified=_modified(kids.get("ModifiedOccurrences")), deleted=_deleted(kids.get("DeletedOccurrences")))
