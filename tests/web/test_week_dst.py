"""A2, C3: the week grid is drawn on each staff member's own wall clock, right across DST changes."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from webtools import login

from portal.extensions import db
from portal.models import Appointment, ExchangeIntegration, ExternalAbsence, StaffMember
from portal.schedule.views import build_staff_week
from portal.schedule.week import empty_week, place

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)


def _blocks(week, day):
    d = next(x for x in week.days if x.date == day)
    return [(b.title, b.label, b.top, b.height) for b in d.blocks]


@pytest.mark.parametrize("tz, dst_day, before, after", [
    ("America/New_York", date(2026, 3, 8), "EST", "EDT"),
    ("America/Chicago", date(2026, 3, 8), "CST", "CDT"),
    ("Europe/London", date(2026, 3, 29), "GMT", "BST"),
])
def test_c3_spring_forward_day_has_23_hours_and_blocks_stay_on_the_wall_clock(tz, dst_day, before, after):
    zone = ZoneInfo(tz)
    week = empty_week(tz, dst_day, NOW)
    hours = {d.date: d.hours for d in week.days}
    assert hours[dst_day] == 23 and hours[dst_day - timedelta(days=1)] == 24
    change = next(d for d in week.days if d.date == dst_day).clock_change
    assert change == f"Clocks go forward ({before} → {after})"
    for day in (dst_day - timedelta(days=1), dst_day):  # 10:00 local on both sides of the change
        start = datetime(day.year, day.month, day.day, 10, 0, tzinfo=zone).astimezone(UTC)
        place(week, "appointment", "Consultation", "", start, start + timedelta(hours=1))
    place(week, "absence", "Busy", "",  # 00:30 → 04:30 wall clock is 3 real hours that night
          datetime(dst_day.year, dst_day.month, dst_day.day, 0, 30, tzinfo=zone),
          datetime(dst_day.year, dst_day.month, dst_day.day, 4, 30, tzinfo=zone))
    assert _blocks(week, dst_day) == [("Busy", "00:30–04:30", 30, 240), ("Consultation", "10:00–11:00", 600, 60)]
    assert _blocks(week, dst_day - timedelta(days=1)) == [("Consultation", "10:00–11:00", 600, 60)]
    assert before in week.zone_abbrevs and after in week.zone_abbrevs
    skipped = {"America/New_York": (120, 60), "America/Chicago": (120, 60), "Europe/London": (60, 60)}[tz]
    assert next(d for d in week.days if d.date == dst_day).dst_band == (*skipped, "skipped")
    assert all(d.dst_band is None for d in week.days if d.date != dst_day)


def test_c3_fall_back_day_has_25_hours_and_a_block_inside_the_repeated_hour_keeps_its_length():
    tz = ZoneInfo("America/New_York")
    week = empty_week("America/New_York", date(2026, 11, 1), NOW)
    sunday = week.days[-1]
    assert (sunday.date, sunday.hours, sunday.clock_change) == (date(2026, 11, 1), 25, "Clocks go back (EDT → EST)")
    assert sunday.dst_band == (60, 60, "repeated")  # 01:00–02:00 happens twice
    first_0130 = datetime(2026, 11, 1, 1, 30, tzinfo=tz)  # fold=0: the EDT one
    assert first_0130.utcoffset() == timedelta(hours=-4)
    ends = first_0130.astimezone(UTC) + timedelta(minutes=45)  # 01:15 EST (aware local + timedelta is wall time)
    place(week, "appointment", "Early", "", first_0130, ends)
    place(week, "appointment", "Late", "", datetime(2026, 11, 1, 16, 0, tzinfo=tz),
          datetime(2026, 11, 1, 17, 0, tzinfo=tz))
    assert _blocks(week, date(2026, 11, 1)) == [("Early", "01:30–01:15", 90, 45), ("Late", "16:00–17:00", 960, 60)]


def test_c3_event_across_midnight_is_cut_per_day_and_overlaps_share_the_width():
    tz = ZoneInfo("America/New_York")
    week = empty_week("America/New_York", date(2026, 3, 9), NOW)
    place(week, "absence", "Busy", "", datetime(2026, 3, 9, 22, 0, tzinfo=tz), datetime(2026, 3, 10, 2, 0, tzinfo=tz))
    place(week, "appointment", "A", "", datetime(2026, 3, 10, 1, 0, tzinfo=tz), datetime(2026, 3, 10, 3, 0, tzinfo=tz))
    mon, tue = week.days[0], week.days[1]
    assert [(b.top, b.height, b.continues_after) for b in mon.blocks] == [(1320, 120, True)]
    assert [(b.top, b.height, b.continues_before) for b in tue.blocks] == [(0, 120, True), (60, 120, False)]
    assert [(b.lane, b.lanes) for b in tue.blocks] == [(0, 2), (1, 2)]


def test_c3_today_and_now_line_in_the_staff_members_zone():
    # 03:30 UTC on Thu 5 Mar is still Wed 4 Mar 19:30 in Los Angeles (PST)
    now = datetime(2026, 3, 5, 3, 30, tzinfo=UTC)
    week = empty_week("America/Los_Angeles", date(2026, 3, 4), now)
    today = [d for d in week.days if d.is_today]
    assert [(d.date, d.now_minute) for d in today] == [(date(2026, 3, 4), 19 * 60 + 30)]
    assert week.utc_start == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _seed_two_zones(world):
    """One multi-staff appointment (Sam in New York, Kim in Chicago) on the US DST Sunday, plus a private absence."""
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 8, 11, 0, tzinfo=ny)
    db.session.add(Appointment(service=world.service, location=world.loc, start=start,
                               end=start + timedelta(minutes=90), staff=[world.sam, world.kim], clients=[world.jo]))
    db.session.add(ExternalAbsence(staff=world.sam, start=datetime(2026, 3, 7, 9, 0, tzinfo=ny),
                                   end=datetime(2026, 3, 7, 10, 0, tzinfo=ny), title="Gym", free_busy="OOF"))
    db.session.add(ExternalAbsence(staff=world.sam, start=datetime(2026, 3, 6, 9, 0, tzinfo=ny),
                                   end=datetime(2026, 3, 6, 10, 0, tzinfo=ny), title="Therapy", is_private=True))
    db.session.commit()


def _rendered_blocks(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-top-min="(\d+)" data-len-min="\d+" data-label="([^"]+)"', html)


def test_a2_c3_week_page_in_two_zones_across_the_dst_change(client, world, admin_user):
    _seed_two_zones(world)
    login(client, admin_user)
    sam_page = client.get(f"/schedule?staff={world.sam.id}&week=2026-03-04").get_data(as_text=True)
    kim_page = client.get(f"/schedule?staff={world.kim.id}&week=2026-03-04").get_data(as_text=True)
    assert "America/New_York · EST / EDT" in sam_page and "America/Chicago · CST / CDT" in kim_page
    assert "Clocks go forward (EST → EDT)" in sam_page and "Clocks go forward (CST → CDT)" in kim_page
    assert 'data-date="2026-03-08" data-hours="23"' in sam_page
    assert 'data-dst="skipped" data-top-min="120" data-len-min="60"' in sam_page
    # the same appointment: 11:00 for Sam, 10:00 for Kim; each on their own wall clock
    assert ("660", "11:00–12:30") in _rendered_blocks(sam_page)
    assert ("600", "10:00–11:30") in _rendered_blocks(kim_page)
    assert "with Kim Colleague" in sam_page and "with Sam Staff" in kim_page


def test_c5_absences_show_busy_unless_titles_are_on_and_not_private(client, world, admin_user):
    _seed_two_zones(world)
    login(client, admin_user)
    url = f"/schedule?staff={world.sam.id}&week=2026-03-04"
    page = client.get(url).get_data(as_text=True)
    assert "Gym" not in page and "Therapy" not in page and "block-absence-oof" in page
    db.session.add(ExchangeIntegration(id=1, show_titles=True))
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "Gym" in page and "Therapy" not in page


def test_a2_staff_member_sees_their_week_in_their_zone_on_both_databases(any_app):
    from webtools import build_world, make_staff_user

    w = build_world(make_staff_user())
    _seed_two_zones(w)
    kim = db.session.get(StaffMember, w.kim.id)
    week, n_appts, n_absences = build_staff_week(kim, date(2026, 3, 8), now=NOW)
    assert (n_appts, n_absences) == (1, 0)
    assert _blocks(week, date(2026, 3, 8)) == [("Consultation", "10:00–11:30", 600, 90)]


def test_s8_admin_sees_the_mailbox_state_on_the_week(client, world, admin_user):
    from portal.models import MailboxState

    db.session.add(MailboxState(staff_id=world.sam.id, state="mailbox_not_found"))
    db.session.commit()
    login(client, admin_user)
    page = client.get(f"/schedule?staff={world.sam.id}").get_data(as_text=True)
    assert "Exchange · mailbox not found" in page and "badge-danger head-badge" in page


@pytest.mark.parametrize("tz, day, hours, band", [
    ("Australia/Sydney", date(2026, 4, 5), 25, (120, 60, "repeated")),      # southern hemisphere, clocks back
    ("Australia/Lord_Howe", date(2026, 4, 5), 24.5, (90, 30, "repeated")),  # a half-hour DST shift
    ("Asia/Kolkata", date(2026, 3, 8), 24, None),                           # no DST at all
])
def test_c3_other_zones_dst_bands(tz, day, hours, band):
    d = next(x for x in empty_week(tz, day, NOW).days if x.date == day)
    assert (d.hours, d.dst_band) == (hours, band)
