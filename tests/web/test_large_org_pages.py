"""P1, P2, S8 at 1,000 staff (issue 15): the day view, the booking form's pickers and the staff list show a page
of people and search the rest in SQL, instead of rendering everyone."""
from __future__ import annotations

import re

from portal.extensions import db
from portal.models import Appointment
from tests.conftest import login, make_user
from tests.web.org_scale import grow, week_start


def _admin(app):
    client = app.test_client()
    login(client, make_user("admin@example.com", role="admin"))
    return client


def _checkboxes(html: str, name: str) -> dict[int, bool]:
    """value → checked, for the checkboxes called `name`."""
    out = {}
    for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>', html):
        if 'type="checkbox"' in tag:
            out[int(re.search(r'value="(\d+)"', tag).group(1))] = "checked" in tag
    return out


def test_p1_day_view_shows_a_page_of_columns_and_finds_the_others(app):
    client = _admin(app)
    grow(45)
    monday = week_start().date().isoformat()
    first = client.get(f"/day?location=1&date={monday}").get_data(as_text=True)
    assert first.count('class="cal-day ') == 20 and "1–20 of 45 staff members" in first
    assert "Staff 00000" in first and "Staff 00020" not in first and "Page 1 of 3" in first
    last = client.get(f"/day?location=1&date={monday}&page=3").get_data(as_text=True)
    assert last.count('class="cal-day ') == 5 and "Staff 00044" in last and "41–45 of 45" in last
    # the previous/next day links keep the page
    assert "page=3" in re.search(r'<a class="btn" href="([^"]+)" aria-label="Next day"', last).group(1)
    found = client.get(f"/day?location=1&date={monday}&q=staff0004").get_data(as_text=True)
    names = set(re.findall(r'class="staff-name"[^>]*>(Staff \d+)<', found))
    assert names == {f"Staff 0004{i}" for i in range(5)} and "matching “staff0004”" in found
    none = client.get(f"/day?location=1&date={monday}&q=nobody").get_data(as_text=True)
    assert "Nobody at HQ matches “nobody”." in none


def test_p2_booking_form_lists_the_chosen_and_the_first_matches_not_everyone(app):
    client = _admin(app)
    grow(100)
    html = client.get("/appointments/new?staff=78").get_data(as_text=True)
    staff = _checkboxes(html, "staff")
    assert len(staff) == 31 and staff[78] is True and sum(staff.values()) == 1  # the chosen one + 30 matches
    assert list(staff)[0] == 78  # chosen first
    assert "Showing 30 of 100: type a name to find others." in html
    assert len(_checkboxes(html, "clients")) == 30


def test_p2_staff_search_without_javascript_keeps_what_was_typed_and_books_nothing(app):
    client = _admin(app)
    grow(100)
    form = {"service": "1", "location": "1", "date": "2031-01-06", "time": "10:00", "staff": ["78"],
            "clients": ["5"], "notes": "keep me", "staff_q": "staff0009", "staff_q_shown": "", "find": "staff"}
    resp = client.post("/appointments/new", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and db.session.execute(db.select(db.func.count(Appointment.id))).scalar() == 300
    staff = _checkboxes(html, "staff")
    assert staff == {78: True, **{n: False for n in range(91, 101)}}  # Staff 00090 … 00099 (staff00090@ …)
    assert "10 match “staff0009”." in html and "keep me" in html and _checkboxes(html, "clients")[5] is True
    # a search typed but not run yet, then Enter (the form's default button): the search runs, nothing is booked
    typed = dict(form, find="", staff_q="staff0001", staff_q_shown="staff0009")
    assert "10 match “staff0001”." in client.post("/appointments/new", data=typed).get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count(Appointment.id))).scalar() == 300


def test_p2_a_staff_member_found_by_search_can_be_booked(app, queue_redis):
    """Choices validate against the submitted ids, not only the 30 listed."""
    client = _admin(app)
    grow(100)
    resp = client.post("/appointments/new", data={
        "service": "1", "location": "1", "date": "2031-01-06", "time": "10:00", "staff": ["99", "100"],
        "clients": ["97"], "notes": "found", "staff_q": "", "staff_q_shown": "", "clients_q": "",
        "clients_q_shown": ""})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    appt = db.session.execute(db.select(Appointment).filter_by(notes="found")).scalar_one()
    assert sorted(s.id for s in appt.staff) == [99, 100] and [c.id for c in appt.clients] == [97]
    bad = client.post("/appointments/new", data={
        "service": "1", "location": "1", "date": "2031-01-07", "time": "10:00", "staff": ["4242"],
        "clients": ["97"], "staff_q": "", "staff_q_shown": ""})
    assert bad.status_code == 200 and "not a valid choice" in bad.get_data(as_text=True).lower()


def test_p2_picker_json_searches_as_you_type(app):
    client = _admin(app)
    grow(60)
    data = client.get("/appointments/choices?kind=staff&q=STAFF0005&chosen=52").get_json()
    assert [i["label"] for i in data["items"]] == [f"Staff 0005{n}" for n in range(10) if n != 1]  # 52 is chosen
    assert data["total"] == 10 and data["sentence"] == "10 match “STAFF0005”."
    clients = client.get("/appointments/choices?kind=clients&q=client5").get_json()
    assert clients["items"][0] == {"id": 6, "label": "Client 5 · client5@example.net"} and clients["total"] == 11
    assert client.get("/appointments/choices?kind=other").status_code == 400


def test_p2_staff_user_picker_is_only_themselves(app):
    from portal.models import StaffMember
    from portal.schedule.self_service import set_staff_self_service

    grow(40)
    set_staff_self_service(True)
    db.session.commit()
    me = db.session.get(StaffMember, 7)
    client = app.test_client()
    login(client, make_user(me.email, role="staff", staff=me))
    html = client.get("/appointments/new").get_data(as_text=True)
    assert _checkboxes(html, "staff") == {7: True}
    data = client.get("/appointments/choices?kind=staff&q=staff").get_json()
    assert [i["id"] for i in data["items"]] == [7]


def test_s8_staff_list_is_paged_and_searchable(app):
    client = _admin(app)
    grow(120)
    first = client.get("/admin/staff").get_data(as_text=True)
    assert first.count("/sign-out-everywhere") == 0 and first.count('title="Open their week"') == 50
    assert "1–50 of 120" in first and "Page 1 of 3" in first and "Staff 00050" not in first
    third = client.get("/admin/staff?page=3").get_data(as_text=True)
    assert third.count('title="Open their week"') == 20 and "Staff 00119" in third
    found = client.get("/admin/staff?q=STAFF00117@").get_data(as_text=True)
    assert found.count('title="Open their week"') == 1 and "1 person matching" in found
    assert "No staff member matches “zz”." in client.get("/admin/staff?q=zz").get_data(as_text=True)


def test_p2_anyone_at_a_large_location_names_a_few_free_staff_per_slot(app):
    from datetime import timedelta

    from portal.booking.slots import DEFAULT_HOURS, StaffCalendar, find_slots
    from portal.models import utcnow

    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=7)
    while start.weekday() != 1:  # a Tuesday: working hours 09:00–17:00 by default
        start += timedelta(days=1)
    cals = [StaffCalendar(n, "UTC", DEFAULT_HOURS, []) for n in range(1, 301)]
    full = find_slots(cals, timedelta(minutes=30), start, start + timedelta(days=1), limit=3)
    capped = find_slots(cals, timedelta(minutes=30), start, start + timedelta(days=1), limit=3, named=11)
    assert [s.start for s in full] == [s.start for s in capped] and len(full[0].staff_ids) == 300
    assert capped[0].staff_ids == tuple(range(1, 12))
    client = _admin(app)
    grow(300)
    slots = client.get(f"/appointments/slots?service=1&location=1&date={start.date().isoformat()}").get_json()
    assert len(slots["slots"]) == 8 and all(len(s["staff_ids"]) == 10 and s["more"] for s in slots["slots"])

