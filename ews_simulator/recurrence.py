"""Recurrence patterns (EWS RecurrenceType) and their expansion into occurrences with dateutil.rrule.

Occurrences are computed in the series' start time zone, so a 09:00 weekly meeting stays at 09:00 local
across daylight-saving changes, as in Exchange.
"""
from __future__ import annotations

import base64
import struct
from datetime import UTC, date, datetime, time, timedelta

from dateutil import rrule

from . import timezones
from .soap import T, local, tsub

DAYS = {"Monday": rrule.MO, "Tuesday": rrule.TU, "Wednesday": rrule.WE, "Thursday": rrule.TH,
        "Friday": rrule.FR, "Saturday": rrule.SA, "Sunday": rrule.SU}
GROUPS = {"Day": list(DAYS.values()), "Weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
          "WeekendDay": [rrule.SA, rrule.SU]}
INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
FREQ = {"DailyRecurrence": rrule.DAILY, "WeeklyRecurrence": rrule.WEEKLY,
        "AbsoluteMonthlyRecurrence": rrule.MONTHLY, "RelativeMonthlyRecurrence": rrule.MONTHLY,
        "AbsoluteYearlyRecurrence": rrule.YEARLY, "RelativeYearlyRecurrence": rrule.YEARLY}
RANGES = ("NoEndRecurrence", "EndDateRecurrence", "NumberedRecurrence")
MAX_OCCURRENCES = 5000


def parse(el) -> dict:
    """``t:Recurrence`` element -> {"pattern", "fields", "range", "range_fields"} (order kept as sent)."""
    out = {"pattern": None, "fields": [], "range": None, "range_fields": []}
    for child in el:
        name = local(child.tag)
        pairs = [(local(c.tag), (c.text or "").strip()) for c in child]
        if name in RANGES:
            out["range"], out["range_fields"] = name, pairs
        else:
            out["pattern"], out["fields"] = name, pairs
    return out


def write(parent, rec: dict, name: str = "Recurrence", windows_tz: str | None = None):
    """Range dates go out with the series' UTC offset, as Exchange writes them
    (ews-samples/GetItem-RecurringMaster-response.xml: ``<t:StartDate>2014-03-08-08:00</t:StartDate>``)."""
    el = tsub(parent, name)
    for kind, fields in ((rec["pattern"], rec["fields"]), (rec["range"], rec["range_fields"])):
        box = tsub(el, kind)
        for key, value in fields:
            if key in ("StartDate", "EndDate") and windows_tz is not None:
                value = _with_offset(value, windows_tz)
            tsub(box, key, value)
    return el


def _with_offset(value: str, windows_tz: str) -> str:
    day = _date(value)
    offset = datetime.combine(day, time(12)).replace(tzinfo=timezones.zone(windows_tz)).utcoffset()
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return f"{day.isoformat()}Z"
    sign = "-" if minutes < 0 else "+"
    return f"{day.isoformat()}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def build(pattern: str, range_: str, start: date, interval: int = 1, days=(), day_of_month=None,
          index=None, month=None, end: date | None = None, count: int | None = None) -> dict:
    """Make a recurrence dict from Python values (used by the Outlook API and the demo seed)."""
    fields = []
    if pattern not in ("AbsoluteYearlyRecurrence", "RelativeYearlyRecurrence"):
        fields.append(("Interval", str(interval)))
    if pattern in ("WeeklyRecurrence", "RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        fields.append(("DaysOfWeek", " ".join(days)))
    if pattern in ("RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        fields.append(("DayOfWeekIndex", index or "First"))
    if pattern in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        fields.append(("DayOfMonth", str(day_of_month or start.day)))
    if pattern in ("AbsoluteYearlyRecurrence", "RelativeYearlyRecurrence"):
        fields.append(("Month", month or MONTHS[start.month - 1]))
    range_fields = [("StartDate", start.isoformat())]
    if range_ == "EndDateRecurrence":
        range_fields.append(("EndDate", (end or start).isoformat()))
    elif range_ == "NumberedRecurrence":
        range_fields.append(("NumberOfOccurrences", str(count or 1)))
    return {"pattern": pattern, "fields": fields, "range": range_, "range_fields": range_fields}


def _date(value: str) -> date:
    return date.fromisoformat(value[:10])  # xs:date may carry a zone suffix ("2014-07-01Z")


def _rule(item, rec: dict, until_local: datetime | None):
    f = dict(rec["fields"])
    r = dict(rec["range_fields"])
    tz = timezones.zone(item.start_tz)
    local_start = item.start.astimezone(tz)
    dtstart = datetime.combine(_date(r["StartDate"]), local_start.time())
    kw = {"interval": int(f.get("Interval", 1) or 1), "dtstart": dtstart, "cache": False}
    days = f.get("DaysOfWeek", "").split()
    pattern = rec["pattern"]
    if pattern == "WeeklyRecurrence":
        kw["byweekday"] = [DAYS[d] for d in days if d in DAYS] or [DAYS[local_start.strftime("%A")]]
        kw["wkst"] = DAYS.get(f.get("FirstDayOfWeek", "Sunday"), rrule.SU)
    elif pattern in ("RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        day = days[0] if days else "Monday"
        kw["byweekday"] = GROUPS.get(day, [DAYS.get(day, rrule.MO)])
        kw["bysetpos"] = INDEX.get(f.get("DayOfWeekIndex", "First"), 1)
    if pattern in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        # A DayOfMonth a month does not have falls on its last day, as in Outlook/Exchange: the last existing
        # day among 28..DayOfMonth.
        day = int(f.get("DayOfMonth", local_start.day))
        if day > 28:
            kw["bymonthday"], kw["bysetpos"] = tuple(range(28, day + 1)), -1
        else:
            kw["bymonthday"] = day
    if pattern in ("AbsoluteYearlyRecurrence", "RelativeYearlyRecurrence"):
        kw["bymonth"] = MONTHS.index(f.get("Month", MONTHS[local_start.month - 1])) + 1
    if rec["range"] == "NumberedRecurrence":
        kw["count"] = min(int(r.get("NumberOfOccurrences", 1)), MAX_OCCURRENCES)
    elif rec["range"] == "EndDateRecurrence":
        kw["until"] = datetime.combine(_date(r["EndDate"]), time(23, 59, 59))
    elif until_local is not None:
        kw["until"] = until_local
    return rrule.rrule(FREQ[pattern], **kw), tz


def original_starts(item, window_end: datetime | None = None):
    """Yield (index, original start in UTC) for every occurrence of the series up to window_end."""
    rec = item.recurrence
    if not rec or rec.get("pattern") not in FREQ:
        return
    tz = timezones.zone(item.start_tz)
    until_local = None
    if window_end is not None:
        until_local = window_end.astimezone(tz).replace(tzinfo=None)
    rule, tz = _rule(item, rec, until_local)
    for index, naive in enumerate(rule, start=1):
        start = naive.replace(tzinfo=tz).astimezone(UTC)
        if window_end is not None and start >= window_end or index > MAX_OCCURRENCES:
            return
        yield index, start


def last_start(item):
    """Original start of the last occurrence, or None for a series without end."""
    if not item.recurrence or item.recurrence["range"] == "NoEndRecurrence":
        return None
    last = None
    for last in original_starts(item):  # noqa: B007
        pass
    return last


# -- occurrence ids -------------------------------------------------------------------------------
_OCC = b"\x01OCC"


def occurrence_id(master_id: str, original_start: datetime) -> str:
    raw = base64.b64decode(master_id)
    return base64.b64encode(_OCC + struct.pack(">qH", int(original_start.timestamp()), len(raw)) + raw).decode()


def split_occurrence_id(item_id: str):
    """Return (master id, original start UTC) for an occurrence id, else None."""
    try:
        raw = base64.b64decode(item_id, validate=True)
    except (ValueError, TypeError):
        return None
    if not raw.startswith(_OCC) or len(raw) < 14:
        return None
    stamp, size = struct.unpack(">qH", raw[4:14])
    master = base64.b64encode(raw[14:14 + size]).decode()
    return master, datetime.fromtimestamp(stamp, UTC)


def duration(item) -> timedelta:
    return item.end - item.start


__all__ = ["parse", "write", "build", "original_starts", "occurrence_id", "split_occurrence_id", "T"]
