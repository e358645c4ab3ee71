"""Sundial's own expansion of a recurring series (SPEC U6), for servers whose CalendarView returns the master
instead of its occurrences, or only some occurrences.

Pure: a master CalendarEvent carrying its SeriesPattern (Recurrence, ModifiedOccurrences, DeletedOccurrences,
StartTimeZone) and a window in, occurrences out. Occurrences are computed in the series' time zone, so a 09:00
series stays at 09:00 local across daylight-saving changes, as Exchange keeps it. Pattern semantics follow
MSDOC web-service-reference/recurrence-recurrencetype and its pattern pages:
- a Numbered range counts deleted occurrences too (they are still occurrences of the pattern, only deleted);
- an EndDate range includes its end date;
- an absolute monthly/yearly day beyond the month's last day falls on the last day (Outlook's behaviour).
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule

from ..ews_soap.types import CalendarEvent, SeriesPattern
from .shapes import iso_utc

DAYS = {"Monday": rrule.MO, "Tuesday": rrule.TU, "Wednesday": rrule.WE, "Thursday": rrule.TH,
        "Friday": rrule.FR, "Saturday": rrule.SA, "Sunday": rrule.SU}
DAY_GROUPS = {"Day": tuple(DAYS.values()), "Weekday": (rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR),
              "WeekendDay": (rrule.SA, rrule.SU)}
WEEK_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
FREQUENCY = {"DailyRecurrence": rrule.DAILY, "WeeklyRecurrence": rrule.WEEKLY,
             "AbsoluteMonthlyRecurrence": rrule.MONTHLY, "RelativeMonthlyRecurrence": rrule.MONTHLY,
             "AbsoluteYearlyRecurrence": rrule.YEARLY, "RelativeYearlyRecurrence": rrule.YEARLY}
# Outlook limits a series to 999 occurrences when it has an end; a no-end series is cut at the window anyway.
MAX_OCCURRENCES = 5000

# What the activity log says about each expansion path (which one was taken, and never "expanded" for nothing).
PATH_REASONS = {
    "server": "recurring series expanded by Exchange: {n} occurrence{s} in the sync horizon",
    "sundial": ("Exchange returned the recurring series without its occurrences; Sundial expanded it from its "
                "recurrence pattern: {n} occurrence{s} in the sync horizon"),
    "partial": ("Exchange returned only {k} of {n} occurrences of the recurring series; Sundial expanded the "
                "other {m} from its recurrence pattern"),
    "none": "recurring series has no occurrence in the sync horizon; nothing to import",
}


def zone(name: str | None):
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _month_day(day: int) -> dict:
    """DayOfMonth 29–31 in a shorter month falls on its last day: take the last existing day ≤ `day`."""
    if day <= 28:
        return {"bymonthday": day}
    return {"bymonthday": tuple(range(28, day + 1)), "bysetpos": -1}


def _weekdays(names: tuple[str, ...]) -> tuple:
    out: list = []
    for name in names:
        out += DAY_GROUPS.get(name, (DAYS[name],) if name in DAYS else ())
    return tuple(out)


def rule_options(series: SeriesPattern, local_first: datetime) -> dict:
    """rrule keyword arguments for the pattern part of a Recurrence (table-driven per pattern name)."""
    kind = series.pattern
    opts: dict = {"interval": max(series.interval or 1, 1)}
    if kind.endswith("YearlyRecurrence"):
        opts["interval"] = 1  # yearly patterns carry no Interval in EWS
        month = series.month if series.month in MONTHS else MONTHS[local_first.month - 1]
        opts["bymonth"] = MONTHS.index(month) + 1
    if kind == "WeeklyRecurrence":
        opts["byweekday"] = _weekdays(series.days_of_week) or (DAYS[local_first.strftime("%A")],)
        opts["wkst"] = DAYS.get(series.first_day_of_week or "Sunday", rrule.SU)
    elif kind.startswith("Relative"):
        opts["byweekday"] = _weekdays(series.days_of_week[:1]) or (rrule.MO,)
        opts["bysetpos"] = WEEK_INDEX.get(series.day_of_week_index or "First", 1)
    elif kind.startswith("Absolute"):
        opts.update(_month_day(series.day_of_month or local_first.day))
    return opts


def original_starts(series: SeriesPattern, first_start: datetime, until: datetime) -> list[datetime]:
    """Original start (UTC) of every occurrence of the pattern that starts before `until`, deleted ones included.

    `first_start` is the master's Start (the first occurrence): its wall-clock time in the series' zone is the
    time of every occurrence."""
    if series.pattern not in FREQUENCY:
        return []
    tz = zone(series.time_zone)
    local_first = first_start.astimezone(tz)
    begin = series.start_date or local_first.date()
    opts = rule_options(series, local_first)
    opts["dtstart"] = datetime.combine(begin, local_first.time())
    if series.range == "NumberedRecurrence":
        opts["count"] = min(max(series.count or 1, 1), MAX_OCCURRENCES)
    elif series.range == "EndDateRecurrence" and series.end_date is not None:
        opts["until"] = datetime.combine(series.end_date, time(23, 59, 59))
    out = []
    for naive in rrule.rrule(FREQUENCY[series.pattern], cache=False, **opts):
        start = naive.replace(tzinfo=tz).astimezone(UTC)
        if start >= until or len(out) >= MAX_OCCURRENCES:
            break
        out.append(start)
    return out


def expand(master: CalendarEvent, window_start: datetime, window_end: datetime) -> list[CalendarEvent]:
    """The occurrences and exceptions of `master` overlapping [window_start, window_end), oldest first.

    Plain occurrences copy the master's fields; exceptions take their own times and ItemId from
    ModifiedOccurrences (their other fields are read with GetItem by the caller). Deleted ones are left out."""
    series = master.series
    if series is None or master.start is None or master.end is None:
        return []
    length = master.end - master.start
    modified = {iso_utc(m.original_start): m for m in series.modified}
    deleted = {iso_utc(d) for d in series.deleted}
    earlier = [m.original_start - m.start for m in series.modified if m.start < m.original_start]
    until = window_end + length + (max(earlier) if earlier else timedelta(0))
    out = []
    for original in original_starts(series, master.start, until):
        key = iso_utc(original)
        if key in deleted:
            continue
        mod = modified.get(key)
        start, end = (mod.start, mod.end) if mod else (original, original + length)
        if end > window_start and start < window_end or (start == end and window_start <= start < window_end):
            out.append(occurrence(master, original, start, end, mod))
    return sorted(out, key=lambda e: e.start)


def occurrence(master: CalendarEvent, original: datetime, start: datetime, end: datetime, mod=None) -> CalendarEvent:
    # A plain occurrence has no ItemId of its own here: its id is derived from the master's and never sent back
    # to Exchange (occurrences of Exchange series are only ever imported, E4).
    item_id = mod.item_id if mod and mod.item_id else f"{master.item_id}@{iso_utc(original)}"
    return replace(master, item_id=item_id, change_key=(mod.change_key if mod else None) or master.change_key,
                   item_type="Exception" if mod else "Occurrence", start=start, end=end, recurrence_id=original,
                   master_item_id=master.item_id, series=None, attendees=list(master.attendees),
                   categories=list(master.categories))


def original_key(event: CalendarEvent) -> str:
    return iso_utc(event.recurrence_id or event.start)


def complete(server: list[CalendarEvent], own: list[CalendarEvent]) -> tuple[list[CalendarEvent], str, str]:
    """Server occurrences completed with Sundial's own: (occurrences, path, activity reason).

    path is "server" (the server expanded the whole series), "sundial" (it returned none: Sundial expanded it),
    "partial" (Sundial added the occurrences the server left out) or "none" (no occurrence in the window).
    Occurrences are only added when every one the server did return is also in Sundial's expansion."""
    have = {original_key(e) for e in server}
    if server and not have <= {original_key(e) for e in own}:
        own = []  # Sundial's expansion disagrees with the server's own (an unknown zone …): trust the server
    missing = [e for e in own if original_key(e) not in have]
    merged = server + missing
    if not merged:
        path = "none"
    elif not missing:
        path = "server"
    else:
        path = "partial" if server else "sundial"
    n = len(merged)
    reason = PATH_REASONS[path].format(n=n, s="" if n == 1 else "s", k=len(server), m=len(missing))
    return sorted(merged, key=lambda e: e.start), path, reason
