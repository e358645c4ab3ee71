"""Recurring series (SPEC U4) across daylight-saving changes in two time zones: expansion over the horizon,
a moved occurrence, a deleted occurrence, a pattern change, a series with no end, the series deleted."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .conftest import future

NY, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")


def next_weekday(weekday: int, tz, hour: int) -> datetime:
    """The next given weekday (Mon=0) at `hour` local time, as an aware local datetime."""
    today = future(1).astimezone(tz).date()
    d = today + timedelta(days=(weekday - today.weekday()) % 7)
    return datetime(d.year, d.month, d.day, hour, 0, tzinfo=tz)


def local_starts(world, who, tz):
    return [a.start.astimezone(tz) for a in world.absences(who)]


def test_u4_weekly_series_without_end_keeps_local_time_across_dst_in_two_zones(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 200  # spans the next spring-forward in both zones
    start_ny = next_weekday(0, NY, 9)
    world.outlook(world.alice).create_recurring("Team sync", start_ny, start_ny + timedelta(hours=1),
                                                tz="America/New_York", days=["Monday"])
    start_ldn = next_weekday(2, LONDON, 9)
    world.outlook(world.bob).create_recurring("Surgery", start_ldn, start_ldn + timedelta(hours=1),
                                              tz="Europe/London", days=["Wednesday"], count=30)
    world.initial()
    ny = local_starts(world, world.alice, NY)
    ldn = local_starts(world, world.bob, LONDON)
    assert len(ny) >= 27 and len(ldn) >= 27
    assert {(s.weekday(), s.hour, s.minute) for s in ny} == {(0, 9, 0)}
    assert {(s.weekday(), s.hour, s.minute) for s in ldn} == {(2, 9, 0)}
    utc_hours = {s.utcoffset() for s in ny}
    assert len(utc_hours) == 2  # both EST and EDT occurrences: the series crosses a DST change
    assert len({s.utcoffset() for s in ldn}) == 2


def _series(world, who):
    return next(i for i in world.items(who) if i.recurrence)


def test_u4_moved_and_deleted_occurrence_sync(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 60
    start = next_weekday(1, NY, 14)
    ol = world.outlook(world.alice)
    ol.create_recurring("Rounds", start, start + timedelta(hours=1), tz="America/New_York", days=["Tuesday"])
    world.initial(world.alice)
    before = local_starts(world, world.alice, NY)
    series = _series(world, world.alice).id
    second, third = before[1], before[2]
    ol.move_occurrence(series, second, second + timedelta(hours=3), second + timedelta(hours=4))
    ol.delete_occurrence(series, third)
    world.sync(world.alice)
    after = local_starts(world, world.alice, NY)
    assert len(after) == len(before) - 1
    assert second + timedelta(hours=3) in after and second not in after and third not in after
    assert world.activity(world.alice, "U4")


def test_u4_pattern_change_resyncs_the_series_and_deleting_it_removes_all(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 60
    start = next_weekday(0, LONDON, 11)
    ol = world.outlook(world.bob)
    ol.create_recurring("Clinic", start, start + timedelta(hours=1), tz="Europe/London", days=["Monday"],
                        until=(start + timedelta(days=50)).date())
    world.initial(world.bob)
    assert {s.weekday() for s in local_starts(world, world.bob, LONDON)} == {0}
    series = _series(world, world.bob).id
    ol.change_recurrence(series, days=["Monday", "Thursday"], until=(start + timedelta(days=50)).date())
    world.sync(world.bob)
    starts = local_starts(world, world.bob, LONDON)
    assert {s.weekday() for s in starts} == {0, 3} and {s.hour for s in starts} == {11}
    ol.delete(series)
    world.sync(world.bob)
    assert world.absences(world.bob) == []
    _ = date


def test_u4_occurrences_entering_the_moving_horizon_are_added_daily(world):
    world.app.config["SYNC_HORIZON_DAYS"] = 21
    start = next_weekday(3, NY, 10)
    world.outlook(world.alice).create_recurring("Weekly", start, start + timedelta(hours=1),
                                                tz="America/New_York", days=["Thursday"])
    world.initial(world.alice)
    first = len(world.absences(world.alice))
    world.sync(world.alice)
    assert len(world.absences(world.alice)) == first  # within the day: no re-expansion, no extra cost
    world.app.config["SYNC_HORIZON_DAYS"] = 42  # as if three weeks had passed
    world.redis.delete(f"sundial:horizon-extended:{world.alice.id}")  # … and the daily mark had expired
    world.sync(world.alice)
    assert len(world.absences(world.alice)) == first + 3
