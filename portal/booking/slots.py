"""Free-slot finder (P2): pure — plain values in, slots out; no database, no clock.

Working hours are wall-clock times in the staff member's own zone, per weekday (Monday = 0). A slot is
free for a staff member when it lies inside that day's working hours and overlaps none of their busy
intervals (booked appointments and Exchange absences with a blocking status, I3 — the caller picks
them). Candidate starts step through each working day on the staff member's wall clock, so a DST
change moves nothing: 09:00 stays 09:00 on a 23- or 25-hour day, and a wall time the clocks skip is
never proposed.

    cal = StaffCalendar(staff_id=7, tz="America/New_York", hours=parse_hours(None), busy=[(s, e), ...])
    find_slots([cal], timedelta(minutes=30), after=now, until=now + timedelta(days=14), limit=8)
"""
from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DEFAULT_HOURS: tuple[tuple[time, time] | None, ...] = ((time(9), time(17)),) * 5 + (None, None)

Interval = tuple[datetime, datetime]


class HoursError(ValueError):
    """Working hours that cannot be used; the message is a sentence for the admin."""


@dataclass
class StaffCalendar:
    staff_id: int
    tz: str
    hours: tuple[tuple[time, time] | None, ...] = DEFAULT_HOURS
    busy: list[Interval] = field(default_factory=list)  # aware datetimes, any order


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime
    staff_ids: tuple[int, ...]  # everyone free for the whole slot, in the calendars' order


def parse_span(text: str, day: str = "") -> tuple[time, time] | None:
    """'09:00-17:00' → (09:00, 17:00); '' → None (not working). Raises HoursError with a sentence."""
    text = (text or "").strip().replace("–", "-")
    if not text:
        return None
    try:
        a, b = (time.fromisoformat(p.strip()) for p in text.split("-"))
    except ValueError:
        raise HoursError(f"{day or 'Working hours'}: write hours like 09:00-17:00, or leave it empty.") from None
    if b <= a:
        raise HoursError(f"{day or 'Working hours'}: the end ({b:%H:%M}) must be after the start ({a:%H:%M}).")
    return a, b


@lru_cache(maxsize=512)
def parse_hours(stored: str | None) -> tuple[tuple[time, time] | None, ...]:
    """The stored JSON list of seven 'HH:MM-HH:MM' strings ('' = day off); None → the default week. Cached: the
    result is immutable, and at a location of 1,000 staff most share a handful of weeks."""
    if not stored:
        return DEFAULT_HOURS
    spans = json.loads(stored)
    return tuple(parse_span(s, WEEKDAYS[i]) for i, s in enumerate(spans[:7]))


def dump_hours(hours: tuple[tuple[time, time] | None, ...]) -> str:
    return json.dumps([f"{h[0]:%H:%M}-{h[1]:%H:%M}" if h else "" for h in hours])


def _wall(day: date, at: time, tz: ZoneInfo) -> datetime | None:
    """The UTC moment of a wall time, or None when the clocks skip it that day."""
    local = datetime.combine(day, at, tz)
    utc = local.astimezone(UTC)
    return utc if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None) else None


def _merged(busy: list[Interval]) -> tuple[list[datetime], list[datetime]]:
    """Busy intervals sorted and merged: parallel lists of starts and ends (for bisect)."""
    starts: list[datetime] = []
    ends: list[datetime] = []
    for s, e in sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in busy):
        if ends and s <= ends[-1]:
            ends[-1] = max(ends[-1], e)
        else:
            starts.append(s)
            ends.append(e)
    return starts, ends


def _blocked_until(starts: list[datetime], ends: list[datetime], s: datetime, e: datetime) -> datetime | None:
    """The end of the merged busy interval that overlaps [s, e), or None when it is free."""
    i = bisect_left(ends, s + timedelta(microseconds=1))  # first merged interval ending after s
    return None if i == len(starts) or starts[i] >= e else ends[i]


def _is_free(starts: list[datetime], ends: list[datetime], s: datetime, e: datetime) -> bool:
    return _blocked_until(starts, ends, s, e) is None


def _prepared(cal: StaffCalendar):
    return cal.hours, ZoneInfo(cal.tz), _merged(cal.busy)


def _starts(hours, tz: ZoneInfo, length, after, until, step) -> list[tuple[datetime, datetime]]:
    """Every (start, end) inside working hours, busy time not considered."""
    found = []
    day, last = after.astimezone(tz).date(), until.astimezone(tz).date()
    while day <= last:
        span = hours[day.weekday()]
        if span:
            found += _day_starts(day, span, tz, length, step, after, until)
        day += timedelta(days=1)
    return found


def earliest_start(weeks: Iterable[tuple[str | None, str]], length: timedelta, after: datetime, until: datetime,
                   step: timedelta = timedelta(minutes=15)) -> datetime | None:
    """The first start inside anyone's working hours in [after, until), busy time not considered, for
    (stored working hours, time zone) pairs; None when nobody works then. Each distinct pair is looked at once,
    and at most a week ahead: working hours repeat weekly."""
    until = min(until, after + timedelta(days=8))
    first = None
    for stored, tz in set(weeks):
        starts = _starts(parse_hours(stored), ZoneInfo(tz), length, after, until, step)
        if starts and (first is None or starts[0][0] < first):
            first = starts[0][0]
    return first


def _slots_in(prepared, length, after, until, step) -> list[tuple[datetime, datetime]]:
    hours, tz, (starts, ends) = prepared
    return [(s, e) for s, e in _starts(hours, tz, length, after, until, step) if _is_free(starts, ends, s, e)]


def staff_slots(cal: StaffCalendar, length: timedelta, after: datetime, until: datetime,
                step: timedelta = timedelta(minutes=15)) -> list[tuple[datetime, datetime]]:
    """Free (start, end) pairs for one staff member, starting at or after `after` and before `until`."""
    return _slots_in(_prepared(cal), length, after, until, step)


def _day_starts(day, span, tz, length, step, after, until):
    out = []
    wall, close = datetime.combine(day, span[0]), datetime.combine(day, span[1])
    close_utc = datetime.combine(day, span[1], tz).astimezone(UTC)  # a skipped closing time reads as after
    while wall < close:
        s = _wall(day, wall.time(), tz)
        wall += step
        if s is None or s < after or s >= until:
            continue
        e = s + length
        if e > close_utc:
            break
        out.append((s, e))
    return out


def find_slots(calendars: list[StaffCalendar], length: timedelta, after: datetime, until: datetime,
               limit: int | None = None, step: timedelta = timedelta(minutes=15),
               named: int | None = None) -> list[Slot]:
    """Free slots for any of `calendars` ("any staff member at this location"), earliest first.

    Each slot names every staff member free for all of it (the first `named` of them when given: at 1,000 staff
    the form shows a few names, not everyone); `limit` cuts the list after that many starts. The
    search walks the window one day at a time, earliest start first, and stops as soon as `limit` starts are
    found. Staff sharing a zone and working hours share their candidate starts (computed once), so a location
    of 1,000 staff costs a busy-time lookup per staff member and start, not a wall-clock conversion.
    """
    groups: dict[tuple, list[int]] = {}
    for n, cal in enumerate(calendars):
        groups.setdefault((cal.hours, ZoneInfo(cal.tz)), []).append(n)
    merged: dict[int, tuple[list[datetime], list[datetime]]] = {}  # busy time merged when first asked
    # Starts are visited in time order and every slot has the same length, so a staff member found busy at a
    # start stays busy for every start before the end of the interval that blocked it: the next starts skip
    # them with one comparison instead of a search. At 1,000 staff, a start when everyone is busy (a
    # company-wide meeting) costs one comparison per staff member and start, not a search.
    blocked_until: dict[int, datetime] = {}

    def free_at(n: int, s: datetime, e: datetime) -> bool:
        until = blocked_until.get(n)
        if until is not None and s < until:
            return False
        if n not in merged:
            merged[n] = _merged(calendars[n].busy)
        until = _blocked_until(*merged[n], s, e)
        if until is None:
            return True
        blocked_until[n] = until
        return False

    found: list[Slot] = []
    window = after
    while window < until and not (limit and len(found) >= limit):
        window_end = min(window + timedelta(days=1), until)
        candidates: dict[tuple[datetime, datetime], list[int]] = {}
        for (hours, tz), members in groups.items():
            for pair in _starts(hours, tz, length, window, window_end, step):
                candidates.setdefault(pair, []).extend(members)
        single = len(groups) == 1  # one group's members are already in calendar order
        for s, e in sorted(candidates):
            free = []
            for n in (candidates[(s, e)] if single else sorted(candidates[(s, e)])):
                if free_at(n, s, e):
                    free.append(n)
                    if named and len(free) >= named:
                        break
            if free:
                found.append(Slot(s, e, tuple(calendars[n].staff_id for n in free)))
                if limit and len(found) >= limit:
                    break
        window = window_end
    return found


def find_joint_slots(calendars: list[StaffCalendar], length: timedelta, after: datetime, until: datetime,
                     limit: int | None = None, step: timedelta = timedelta(minutes=15)) -> list[Slot]:
    """Slots where every calendar is free at once (a multi-staff appointment, I5)."""
    if not calendars:
        return []
    ids = tuple(c.staff_id for c in calendars)
    common = set(staff_slots(calendars[0], length, after, until, step))
    for cal in calendars[1:]:
        common &= set(staff_slots(cal, length, after, until, step))
    pairs = sorted(common)[:limit] if limit else sorted(common)
    return [Slot(s, e, ids) for s, e in pairs]
