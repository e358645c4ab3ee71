"""P2: the pure free-slot finder — working hours, appointments and busy time, zones, DST, several staff."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal.booking.slots import (
    DEFAULT_HOURS,
    HoursError,
    StaffCalendar,
    dump_hours,
    find_joint_slots,
    find_slots,
    parse_hours,
    parse_span,
    staff_slots,
)

NY, LON, CHI = ZoneInfo("America/New_York"), ZoneInfo("Europe/London"), ZoneInfo("America/Chicago")
HALF = timedelta(minutes=30)


def local(tz, *args):
    return datetime(*args, tzinfo=tz)


def starts(pairs, tz):
    return [s.astimezone(tz).strftime("%a %H:%M") for s, _ in pairs]


def test_p2_default_working_hours_are_nine_to_five_on_weekdays():
    cal = StaffCalendar(1, "America/New_York")
    mon = local(NY, 2026, 3, 2, 0, 0)  # a Monday
    found = staff_slots(cal, timedelta(hours=1), mon, mon + timedelta(days=7), step=timedelta(hours=1))
    assert starts(found, NY)[:8] == [f"Mon {h:02d}:00" for h in range(9, 17)]
    assert len(found) == 5 * 8  # no Saturday, no Sunday; the last hour starts at 16:00
    assert DEFAULT_HOURS[5] is None and DEFAULT_HOURS[6] is None


def test_p2_appointments_and_busy_time_are_skipped_and_slots_never_overlap_them():
    mon = local(NY, 2026, 3, 2, 0, 0)
    busy = [(local(NY, 2026, 3, 2, 9, 30), local(NY, 2026, 3, 2, 10, 15)),  # an appointment
            (local(NY, 2026, 3, 2, 10, 0), local(NY, 2026, 3, 2, 11, 0))]   # overlapping Exchange busy time
    cal = StaffCalendar(1, "America/New_York", busy=busy)
    found = staff_slots(cal, HALF, mon, mon + timedelta(days=1))
    assert starts(found, NY)[:3] == ["Mon 09:00", "Mon 11:00", "Mon 11:15"]
    for s, e in found:
        assert all(not (s < be and e > bs) for bs, be in busy)


def test_p2_a_slot_ends_within_working_hours_and_not_before_the_search_start():
    cal = StaffCalendar(1, "Europe/London")
    after = local(LON, 2026, 3, 2, 16, 10)
    found = staff_slots(cal, HALF, after, after + timedelta(hours=12))
    assert starts(found, LON) == ["Mon 16:15", "Mon 16:30"]  # 16:45 would end after 17:00


def test_p2_working_hours_are_on_the_staff_members_own_wall_clock_across_dst():
    """Spring forward (8 Mar 2026 in New York) and fall back (1 Nov): 09:00 stays 09:00 local."""
    cal = StaffCalendar(1, "America/New_York", hours=parse_hours(dump_hours((None,) * 6 + ((time(9), time(10)),))))
    for sunday in (local(NY, 2026, 3, 8, 0, 0), local(NY, 2026, 11, 1, 0, 0)):
        found = staff_slots(cal, HALF, sunday, sunday + timedelta(days=1), step=HALF)
        assert starts(found, NY) == ["Sun 09:00", "Sun 09:30"]
    before, after = (staff_slots(cal, HALF, d, d + timedelta(days=1))[0][0] for d in
                     (local(NY, 2026, 3, 1, 0, 0), local(NY, 2026, 3, 8, 0, 0)))
    assert (before.astimezone(UTC).hour, after.astimezone(UTC).hour) == (14, 13)  # EST then EDT


def test_p2_a_wall_time_the_clocks_skip_is_never_proposed():
    cal = StaffCalendar(1, "America/New_York", hours=(None,) * 6 + ((time(1), time(4)),))
    sunday = local(NY, 2026, 3, 8, 0, 0)
    found = staff_slots(cal, HALF, sunday, sunday + timedelta(days=1), step=HALF)
    assert starts(found, NY) == ["Sun 01:00", "Sun 01:30", "Sun 03:00", "Sun 03:30"]  # 02:00-02:59 do not exist


def test_p2_zones_each_staff_member_works_their_own_hours():
    """Any staff member at the location: New York and Chicago staff open an hour apart (in UTC)."""
    ny, chi = StaffCalendar(1, "America/New_York"), StaffCalendar(2, "America/Chicago")
    mon = local(NY, 2026, 3, 2, 0, 0)
    found = find_slots([ny, chi], timedelta(hours=1), mon, mon + timedelta(days=1), step=timedelta(hours=1))
    first, second = found[0], found[1]
    assert (first.start.astimezone(NY).hour, first.staff_ids) == (9, (1,))
    assert (second.start.astimezone(NY).hour, second.staff_ids) == (10, (1, 2))  # 09:00 in Chicago
    assert found[-1].start.astimezone(CHI).hour == 16 and found[-1].staff_ids == (2,)


def test_p2_any_staff_member_gets_the_earliest_free_and_limit_cuts_the_list():
    mon = local(NY, 2026, 3, 2, 0, 0)
    booked = [(local(NY, 2026, 3, 2, 9, 0), local(NY, 2026, 3, 2, 12, 0))]
    cals = [StaffCalendar(1, "America/New_York", busy=booked), StaffCalendar(2, "America/New_York", busy=booked)]
    found = find_slots(cals, HALF, mon, mon + timedelta(days=3), limit=3)
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in found] == ["12:00", "12:15", "12:30"]
    cals[1].busy = []
    assert find_slots(cals, HALF, mon, mon + timedelta(days=3), limit=1)[0].staff_ids == (2,)


def test_p2_i5_joint_slots_need_every_staff_member_free():
    mon = local(NY, 2026, 3, 2, 0, 0)
    a = StaffCalendar(1, "America/New_York", busy=[(local(NY, 2026, 3, 2, 9, 0), local(NY, 2026, 3, 2, 10, 0))])
    b = StaffCalendar(2, "America/New_York", busy=[(local(NY, 2026, 3, 2, 10, 0), local(NY, 2026, 3, 2, 11, 0))])
    found = find_joint_slots([a, b], HALF, mon, mon + timedelta(days=1), limit=2)
    assert [(s.start.astimezone(NY).strftime("%H:%M"), s.staff_ids) for s in found] == [
        ("11:00", (1, 2)), ("11:15", (1, 2))]


@pytest.mark.parametrize("text, message", [
    ("9-5", "write hours like 09:00-17:00"),
    ("17:00-09:00", "must be after the start"),
])
def test_p2_bad_working_hours_get_a_sentence(text, message):
    with pytest.raises(HoursError, match=message):
        parse_span(text, "Mon")


def test_p2_hours_round_trip_through_storage():
    hours = ((time(8, 30), time(12)),) + (None,) * 5 + ((time(10), time(14)),)
    assert parse_hours(dump_hours(hours)) == hours
    assert parse_hours(None) == DEFAULT_HOURS


def test_p2_a_limited_search_gives_the_first_slots_of_the_full_search():
    """The day-by-day early stop must not change which slots come first (zones an hour apart, busy days)."""
    import random

    rng = random.Random(5)
    mon = local(NY, 2026, 3, 2, 0, 0)
    cals = []
    for i, tz in enumerate(["America/New_York", "America/Chicago", "Europe/London"]):
        busy = [(mon + timedelta(days=d, hours=h), mon + timedelta(days=d, hours=h, minutes=45))
                for d in range(5) for h in rng.sample(range(0, 24), 12)]
        cals.append(StaffCalendar(i, tz, busy=busy))
    full = find_slots(cals, HALF, mon, mon + timedelta(days=7))
    for limit in (1, 5, 40, 200):
        assert find_slots(cals, HALF, mon, mon + timedelta(days=7), limit=limit) == full[:limit]


@pytest.mark.parametrize("seed", range(12))
def test_p2_anyone_finder_equals_each_staff_members_own_free_times(seed):
    """find_slots skips a staff member found busy until the interval that blocked them ends: the slots and who is
    named must equal a check of each staff member on their own, across zones, working hours and long blocks."""
    import random

    rng = random.Random(seed)
    after = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # the New York DST change lies inside the window
    until = after + timedelta(days=5)
    cals = []
    for n in range(30):
        busy = []
        for _ in range(rng.randint(0, 12)):
            s = after + timedelta(minutes=15 * rng.randint(0, 4 * 24 * 5))
            busy.append((s, s + timedelta(minutes=rng.choice([15, 30, 45, 90, 240, 600]))))
        hours = parse_hours(rng.choice([None, '["08:00-12:00","08:00-12:00","","13:00-18:00","07:30-19:00","",""]']))
        cals.append(StaffCalendar(100 + n, rng.choice(["America/New_York", "Europe/London", "UTC"]), hours, busy))
    length = timedelta(minutes=rng.choice([15, 30, 60]))
    got = find_slots(cals, length, after, until)
    own = {c.staff_id: set(staff_slots(c, length, after, until)) for c in cals}
    expected = {}
    for c in cals:
        for pair in own[c.staff_id]:
            expected.setdefault(pair, []).append(c.staff_id)
    assert [(s.start, s.end, list(s.staff_ids)) for s in got] == [(s, e, expected[(s, e)]) for s, e in sorted(expected)]
    named = find_slots(cals, length, after, until, limit=5, named=3)
    assert [(s.start, list(s.staff_ids)) for s in named] == [(s, expected[(s, e)][:3]) for s, e in sorted(expected)[:5]]
