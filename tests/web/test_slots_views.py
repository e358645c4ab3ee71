"""P2: working hours on the staff page, free-slot proposals on the booking form and its JSON endpoint."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from webtools import NY, login

from portal.booking.slots import parse_hours
from portal.extensions import db
from portal.models import StaffMember, utcnow
from portal.schedule.slot_views import propose

MONDAY = date(2026, 3, 9)
EARLY = datetime(2026, 3, 9, 8, 0, tzinfo=NY)


def _times(result, day="2026-03-09"):
    return [s["time"] for s in result["slots"] if s["date"] == day]


def test_p2_proposals_skip_appointments_and_exchange_busy_time(app, world):
    """Sam has Consultation 10:00–11:00 and Exchange busy 13:00–14:00 (New York) on Monday 9 March."""
    result = propose(world.service, world.loc, [world.sam], MONDAY, now=EARLY)
    assert _times(result) == ["09:00", "11:00", "11:15", "11:30", "11:45", "12:00", "14:00", "14:15"]
    assert result["sentence"] == "Next free times for Sam Staff (America/New_York):"
    assert result["slots"][0]["label"] == "Mon 9 Mar 09:00 EDT"


def test_p2_any_staff_member_at_the_location_names_who_is_free(app, world):
    result = propose(world.service, world.loc, [], MONDAY, now=EARLY)
    first, second = result["slots"][:2]
    assert (first["time"], first["staff_names"]) == ("09:00", ["Sam Staff"])  # Kim starts 09:00 Chicago = 10:00
    assert (second["time"], second["staff_names"]) == ("10:00", ["Kim Colleague"])  # Sam is booked 10:00-11:00
    at_eleven = next(s for s in result["slots"] if s["time"] == "11:00")
    assert at_eleven["staff_names"] == ["Kim Colleague", "Sam Staff"]


def test_p2_i5_several_staff_get_times_when_all_are_free(app, world):
    result = propose(world.service, world.loc, [world.sam, world.kim], MONDAY, now=EARLY)
    assert _times(result)[:3] == ["11:00", "11:15", "11:30"]  # Kim from 10:00, Sam busy until 11:00
    assert result["slots"][0]["staff_names"] == ["Sam Staff", "Kim Colleague"]


def test_p2_working_hours_limit_the_proposals(app, world):
    world.sam.working_hours = json.dumps(["07:00-08:00"] + [""] * 6)  # Mondays 07:00–08:00 only
    db.session.commit()
    result = propose(world.service, world.loc, [world.sam], MONDAY, now=EARLY - timedelta(hours=2))
    assert [(s["date"], s["time"]) for s in result["slots"]] == [  # 14 days: 23 March is just outside
        ("2026-03-09", "07:00"), ("2026-03-16", "07:00")]
    world.sam.working_hours = json.dumps([""] * 7)
    db.session.commit()
    none = propose(world.service, world.loc, [world.sam], MONDAY, now=EARLY)
    assert none["slots"] == [] and "No free 60-minute time for Sam Staff in the next 14 days" in none["sentence"]


def test_p2_the_booking_form_shows_proposals_and_the_endpoint_follows_choices(client, world, admin_user):
    login(client, admin_user)
    day = (utcnow().astimezone(NY) + timedelta(days=7)).date()
    page = client.get(f"/appointments/new?staff={world.sam.id}&date={day.isoformat()}").get_data(as_text=True)
    assert 'id="slots"' in page and "Next free times for Sam Staff" in page
    assert page.count('data-time="') == 8
    data = client.get(f"/appointments/slots?service={world.service.id}&location={world.loc.id}"
                      f"&staff={world.kim.id}&date={day.isoformat()}").get_json()
    assert len(data["slots"]) == 8 and all(s["staff_names"] == ["Kim Colleague"] for s in data["slots"])
    assert all(s["date"] >= day.isoformat() for s in data["slots"])
    empty = client.get("/appointments/slots").get_json()
    assert empty == {"slots": [], "sentence": "Choose a service and a location to see free times."}


def test_p2_staff_page_edits_working_hours_with_a_sentence_for_bad_input(client, world, admin_user):
    login(client, admin_user)
    data = {"name": "Sam Staff", "email": "sam@example.test", "timezone": "America/New_York",
            "takes_appointments": "y", "locations": [world.loc.id], "primary_location": world.loc.id,
            **{f"hours_{i}": "09:00-17:00" for i in range(5)}, "hours_5": "10:00-14:00", "hours_6": ""}
    assert "09:00-17:00" in client.get(f"/admin/staff/{world.sam.id}/edit").get_data(as_text=True)
    assert client.post(f"/admin/staff/{world.sam.id}/edit", data=data).status_code == 302
    hours = parse_hours(db.session.get(StaffMember, world.sam.id).working_hours)
    assert [f"{h[0]:%H:%M}-{h[1]:%H:%M}" if h else "" for h in hours][4:] == ["09:00-17:00", "10:00-14:00", ""]
    data["hours_2"] = "9-5"
    resp = client.post(f"/admin/staff/{world.sam.id}/edit", data=data)
    assert resp.status_code == 200 and "Wed: write hours like 09:00-17:00, or leave it empty." in resp.get_data(
        as_text=True)
    assert parse_hours(db.session.get(StaffMember, world.sam.id).working_hours)[2] is not None  # nothing applied


def test_p2_anyone_at_the_location_reads_busy_time_a_window_at_a_time_and_finds_the_same_slots(app, world,
                                                                                               monkeypatch):
    """At 1,000 staff, a whole day of everyone's appointments was the form's largest cost. Busy time is now read
    for the 3 hours from the first working start, then the rest of the day, then the horizon — and the slots
    are exactly those one load of the whole horizon gives."""
    from portal.booking.slots import find_slots
    from portal.schedule import slot_views
    from portal.schedule.calendar_data import staff_calendars

    loads = []

    def counting(people, lo, hi, longest, location_id=None):
        loads.append((lo, hi, location_id))
        return staff_calendars(people, lo, hi, longest=longest, location_id=location_id)

    monkeypatch.setattr(slot_views, "staff_calendars", counting)
    night = EARLY - timedelta(hours=6)  # 02:00 in New York: nobody works for hours
    result = propose(world.service, world.loc, [], MONDAY, now=night)
    assert loads[0][0] == EARLY + timedelta(hours=1)  # Sam's 09:00 New York, not 02:00
    assert loads[0][1] - loads[0][0] == timedelta(hours=3)
    assert loads[0][2] == world.loc.id  # everyone there, by a sub-query: no list of 1,000 ids
    people = slot_views._people_at(world.loc)
    length = timedelta(minutes=world.service.duration_minutes)
    whole = find_slots(staff_calendars(people, night, night + slot_views.HORIZON, longest=length), length, night,
                       night + slot_views.HORIZON, limit=slot_views.SHOWN, named=slot_views.NAMED + 1)
    assert [(s["date"], s["time"], s["staff_ids"]) for s in result["slots"]] == \
        [(s.start.astimezone(NY).date().isoformat(), f"{s.start.astimezone(NY):%H:%M}", list(s.staff_ids))
         for s in whole]

