"""Recurring series (SPEC U4) across daylight-saving changes in two time zones: expansion over the horizon,
a moved occurrence, a deleted occurrence, a pattern change, a series with no end, the series deleted.

Date-independent: each zone's next DST change is computed with zoneinfo and the horizon is sized to reach
it, and every series falls on a weekday other than today's, so no occurrence ever sits near the horizon's
edge (now + N days, at today's time of day) whatever the date and time the suite runs.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

NY, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def local_start(tz, days_ahead: int, hour: int) -> datetime:
    """`hour` o'clock local time, `days_ahead` (2..6) local days from today: never today's weekday."""
    assert 2 <= days_ahead <= 6
    d = datetime.now(tz).date() + timedelta(days=days_ahead)
    return datetime(d.year, d.month, d.day, hour, 0, tzinfo=tz)


def day_name(dt: datetime) -> str:
    return DAY_NAMES[dt.weekday()]


def _noon_offset(tz, d: date) -> timedelta:
    return datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset()


@cache
def _dst_changes(tz, year: int) -> tuple[date, ...]:
    """Local dates in `year` whose noon UTC offset differs from the day before's."""
    days = [date(year, 1, 1) + timedelta(days=n) for n in range(366)]
    return tuple(d for d in days if d.year == year and _noon_offset(tz, d) != _noon_offset(tz, d - timedelta(days=1)))


def next_dst_change(tz, at_least_days: int = 10, today: date | None = None) -> date:
    """The first local date, `at_least_days` or more from today, whose UTC offset differs from the day
    before (far enough ahead that a series starting this week begins before it)."""
    earliest = (today or datetime.now(tz).date()) + timedelta(days=at_least_days)
    for year in (earliest.year, earliest.year + 1):
        for change in _dst_changes(tz, year):
            if change >= earliest:
                return change
    raise AssertionError(f"{tz} has no DST change within a year")


def weekly(start: datetime, until: datetime, count: int | None = None) -> list[datetime]:
    """The model: the same local wall-clock time every 7 days (zoneinfo adds days in local time)."""
    out, at = [], start
    while at.astimezone(UTC) < until and (count is None or len(out) < count):
        out.append(at)
        at = at + timedelta(days=7)
    return out


def local_starts(world, who, tz):
    return [a.start.astimezone(tz) for a in world.absences(who)]


def test_u4_the_dst_arrangement_holds_whatever_the_date():
    """For every day of a year: the series start (2-3 days ahead) precedes the next DST change it looks for,
    and the horizon that reaches it stays within CalendarView's two-year limit (EWS-FACTS §2)."""
    first = datetime.now(UTC).date()
    for today in (first + timedelta(days=n) for n in range(366)):
        changes = [next_dst_change(tz, today=today) for tz in (NY, LONDON)]
        for tz, change in zip((NY, LONDON), changes, strict=True):
            assert abs(_noon_offset(tz, change) - _noon_offset(tz, change - timedelta(days=1))) == timedelta(hours=1)
            assert today + timedelta(days=3) < change
        assert (max(changes) - today).days + 21 < 2 * 365


def test_u4_weekly_series_without_end_keeps_local_time_across_dst_in_two_zones(world):
    change_ny, change_ldn = next_dst_change(NY), next_dst_change(LONDON)
    today = datetime.now(UTC).date()
    horizon_days = (max(change_ny, change_ldn) - today).days + 21
    world.app.config["SYNC_HORIZON_DAYS"] = horizon_days  # reaches three weeks past both DST changes
    start_ny = local_start(NY, 2, 9)
    world.outlook(world.alice).create_recurring("Team sync", start_ny, start_ny + timedelta(hours=1),
                                                tz="America/New_York", days=[day_name(start_ny)])
    start_ldn = local_start(LONDON, 3, 9)
    count = (change_ldn - start_ldn.date()).days // 7 + 3  # ends two or three weeks after London's change
    world.outlook(world.bob).create_recurring("Surgery", start_ldn, start_ldn + timedelta(hours=1),
                                              tz="Europe/London", days=[day_name(start_ldn)], count=count)
    world.initial()
    horizon_end = datetime.now(UTC) + timedelta(days=horizon_days)
    ny, ldn = local_starts(world, world.alice, NY), local_starts(world, world.bob, LONDON)
    assert ny == weekly(start_ny, horizon_end)  # no end: every occurrence up to the horizon, none beyond
    assert ldn == weekly(start_ldn, horizon_end, count) and len(ldn) == count  # numbered: exactly `count`
    assert {(s.weekday(), s.hour, s.minute) for s in ny} == {(start_ny.weekday(), 9, 0)}
    assert {(s.weekday(), s.hour, s.minute) for s in ldn} == {(start_ldn.weekday(), 9, 0)}
    for starts, change in ((ny, change_ny), (ldn, change_ldn)):  # the series really crosses the change …
        assert starts[0].date() < change <= starts[-1].date()
        assert len({s.utcoffset() for s in starts}) == 2  # … and keeps 09:00 local on both sides of it


def _series(world, who):
    return next(i for i in world.items(who) if i.recurrence)


def test_u4_moved_and_deleted_occurrence_sync(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 63  # a whole number of weeks: no occurrence on the horizon's edge
    start = local_start(NY, 4, 14)
    ol = world.outlook(world.alice)
    ol.create_recurring("Rounds", start, start + timedelta(hours=1), tz="America/New_York", days=[day_name(start)])
    world.initial(world.alice)
    before = local_starts(world, world.alice, NY)
    assert before == weekly(start, datetime.now(UTC) + timedelta(days=63))
    series = _series(world, world.alice).id
    second, third = before[1], before[2]
    ol.move_occurrence(series, second, second + timedelta(hours=3), second + timedelta(hours=4))
    ol.delete_occurrence(series, third)
    world.sync(world.alice)
    after = local_starts(world, world.alice, NY)
    assert after == sorted([s for s in before if s not in (second, third)] + [second + timedelta(hours=3)])
    assert world.activity(world.alice, "U4")


def test_u4_pattern_change_resyncs_the_series_and_deleting_it_removes_all(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 63
    start = local_start(LONDON, 2, 11)
    other = start + timedelta(days=3)
    until = (start + timedelta(days=50)).date()
    ol = world.outlook(world.bob)
    ol.create_recurring("Clinic", start, start + timedelta(hours=1), tz="Europe/London", days=[day_name(start)],
                        until=until)
    world.initial(world.bob)
    assert {s.weekday() for s in local_starts(world, world.bob, LONDON)} == {start.weekday()}
    series = _series(world, world.bob).id
    ol.change_recurrence(series, days=[day_name(start), day_name(other)], until=until)
    world.sync(world.bob)
    starts = local_starts(world, world.bob, LONDON)
    assert {s.weekday() for s in starts} == {start.weekday(), other.weekday()} and {s.hour for s in starts} == {11}
    horizon_end = datetime.now(UTC) + timedelta(days=63)
    assert starts == sorted(s for s in weekly(start, horizon_end) + weekly(other, horizon_end) if s.date() <= until)
    ol.delete(series)
    world.sync(world.bob)
    assert world.absences(world.bob) == []


def test_u4_occurrences_entering_the_moving_horizon_are_added_daily(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 21
    start = local_start(NY, 3, 10)
    world.outlook(world.alice).create_recurring("Weekly", start, start + timedelta(hours=1),
                                                tz="America/New_York", days=[day_name(start)])
    world.initial(world.alice)
    first = len(world.absences(world.alice))
    assert first == len(weekly(start, datetime.now(UTC) + timedelta(days=21)))
    world.sync(world.alice)
    assert len(world.absences(world.alice)) == first  # within the day: no re-expansion, no extra cost
    world.app.config["SYNC_HORIZON_DAYS"] = 42  # as if three weeks had passed
    world.redis.delete(f"sundial:horizon-extended:{world.alice.id}")  # … and the daily mark had expired
    world.sync(world.alice)
    assert len(world.absences(world.alice)) == first + 3
