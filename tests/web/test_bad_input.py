"""R5: bad input gets a clear sentence — never a 500, never a stored absurdity (dates out of range, control
characters in names, oversized notes)."""
from __future__ import annotations

import pytest
from webtools import login

from portal.extensions import db
from portal.models import Appointment, Client, Location, Service, StaffMember

CONTROL_NAMES = ["Eve\r\nBcc: all@example.test", "Tab\there", "Nul\x00l", "Bell\x07", "C1\x85next-line"]


@pytest.mark.parametrize("week", ["9999-12-30", "0001-01-01", "1899-12-31", "3000-01-06", "not-a-date"])
def test_r5_week_out_of_range_redirects_with_a_sentence(client, world, admin_user, week):
    login(client, admin_user)
    resp = client.get(f"/schedule?staff={world.sam.id}&week={week}")
    assert resp.status_code == 302 and f"staff={world.sam.id}" in resp.headers["Location"]
    assert "week=" not in resp.headers["Location"]
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200 and "not a week Sundial can show" in page.get_data(as_text=True)


def test_r5_week_edges_inside_the_range_still_show(client, world, admin_user):
    login(client, admin_user)
    for week in ("1900-01-01", "2999-12-31", "2026-03-09"):
        assert client.get(f"/schedule?staff={world.sam.id}&week={week}").status_code == 200, week


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_r5_booking_form_refuses_absurd_dates(client, world, admin_user, queue_redis, day):
    login(client, admin_user)
    assert client.get(f"/appointments/new?date={day}&staff={world.sam.id}").status_code == 200
    data = {"service": world.service.id, "location": world.loc.id, "date": day, "time": "09:30",
            "staff": [world.sam.id], "clients": [world.jo.id]}
    resp = client.post("/appointments/new", data=data)
    assert resp.status_code == 200 and "Choose a date between 1900 and 2999" in resp.get_data(as_text=True)
    assert db.session.query(Appointment).count() == 1  # only the world's own appointment


FORMS = {
    "client": ("/admin/clients/new", lambda w, name: {"name": name}, Client),
    "service": ("/admin/services/new", lambda w, name: {"name": name, "duration_minutes": 30}, Service),
    "location": ("/admin/locations/new", lambda w, name: {"name": name, "timezone": "UTC"}, Location),
    "staff": ("/admin/staff/new", lambda w, name: {"name": name, "email": "new@example.test", "timezone": "UTC",
                                                   "locations": [w.loc.id], "primary_location": w.loc.id},
              StaffMember),
}


@pytest.mark.parametrize("kind", sorted(FORMS))
@pytest.mark.parametrize("name", CONTROL_NAMES)
def test_r5_control_characters_in_names_are_refused_at_input(client, world, admin_user, kind, name):
    url, data, model = FORMS[kind]
    login(client, admin_user)
    before = db.session.query(model).count()
    resp = client.post(url, data=data(world, name))
    assert resp.status_code == 200, resp.status_code
    assert "control characters are not allowed" in resp.get_data(as_text=True)
    assert db.session.query(model).count() == before


@pytest.mark.parametrize("kind", sorted(FORMS))
def test_r5_ordinary_names_still_save(client, world, admin_user, kind):
    url, data, model = FORMS[kind]
    login(client, admin_user)
    before = db.session.query(model).count()
    resp = client.post(url, data=data(world, "Zoë O'Brien-Smith & Co. (Main)"))
    assert resp.status_code == 302
    assert db.session.query(model).count() == before + 1


def test_r5_walk_in_client_name_with_a_line_break_is_refused(client, world, admin_user, queue_redis):
    login(client, admin_user)
    data = {"service": world.service.id, "location": world.loc.id, "date": "2026-03-10", "time": "09:30",
            "staff": [world.sam.id], "new_client_name": "Mallory\nBcc: everyone@example.test"}
    resp = client.post("/appointments/new", data=data)
    assert resp.status_code == 200 and "control characters are not allowed" in resp.get_data(as_text=True)
    assert db.session.query(Appointment).count() == 1


def test_r5_oversized_bodies_get_a_sentence_not_a_500(client, world, admin_user):
    login(client, admin_user)
    before = db.session.query(Client).count()
    resp = client.post("/admin/clients/new", data={"name": "x" * (3 * 1024 * 1024)})
    assert resp.status_code == 413 and "too much to send" in resp.get_data(as_text=True)
    resp = client.post("/admin/clients/new", data={"name": "x" * (600 * 1024)})  # under the cap: the form says
    assert resp.status_code == 200 and "cannot be longer than 120 characters" in resp.get_data(as_text=True)
    assert db.session.query(Client).count() == before
