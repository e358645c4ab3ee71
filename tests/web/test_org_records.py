"""Admin pages for clients, services and locations (new, edit, search, pages; S1 access; no delete) and the
booking form's inline new client (C2)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import Queue
from webtools import build_world, login, login_with_csrf

from portal.extensions import db
from portal.models import Appointment, AppointmentChange, Client, ExchangeIntegration, Location, Service, utcnow

NEW_AND_EDIT = [  # (url template, form data) — {id} is filled with the world's row
    ("/admin/clients/new", {"name": "Nia Walker", "email": "nia@client.test", "phone": "555-0142"}),
    ("/admin/clients/{jo}/edit", {"name": "Jo Client-Smith", "email": "jo@client.test", "phone": ""}),
    ("/admin/services/new", {"name": "Mortgage advice", "duration_minutes": "45"}),
    ("/admin/services/{service}/edit", {"name": "Consultation", "duration_minutes": "90"}),
    ("/admin/locations/new", {"name": "Denver", "address": "1 Larimer St", "timezone": "America/Denver"}),
    ("/admin/locations/{chicago}/edit", {"name": "Chicago Loop", "address": "", "timezone": "America/Chicago"}),
]


def _url(template, w):
    return template.format(jo=w.jo.id, service=w.service.id, chicago=w.chicago.id)


def _count(model):
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()


def _page(resp):
    return resp.get_data(as_text=True)


# ---- clients -------------------------------------------------------------------------------------------

def test_org_admin_creates_and_edits_a_client(client, world, admin_user):
    login(client, admin_user)
    page = _page(client.get("/admin/clients"))
    assert 'href="/admin/clients/new"' in page and f'href="/admin/clients/{world.jo.id}/edit"' in page
    assert "cannot be deleted" in page
    resp = client.post("/admin/clients/new", data={"name": "  Nia Walker ", "email": "Nia@Client.TEST", "phone": ""})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/clients")
    nia = db.session.execute(db.select(Client).filter_by(name="Nia Walker")).scalar_one()
    assert (nia.email, nia.phone) == ("nia@client.test", None)
    assert "Saved Nia Walker." in _page(client.get("/admin/clients"))

    assert 'value="Jo Client"' in _page(client.get(f"/admin/clients/{world.jo.id}/edit"))  # the form is filled
    resp = client.post(f"/admin/clients/{world.jo.id}/edit",
                       data={"name": "Jo Client-Smith", "email": "", "phone": "555 0101"})
    assert resp.status_code == 302
    jo = db.session.get(Client, world.jo.id)
    assert (jo.name, jo.email, jo.phone) == ("Jo Client-Smith", None, "555 0101")
    assert _count(Client) == 4  # the world's three and Nia


@pytest.mark.parametrize("data, message", [
    ({"name": "", "email": "a@b.test"}, "This field is required."),
    ({"name": "   ", "email": ""}, "This field is required."),
    ({"name": "Bad Email", "email": "not-an-email"}, "Enter an email address like name@example.org."),
    ({"name": "x" * 121, "email": ""}, "Field cannot be longer than 120 characters."),
    ({"name": "Long Phone", "phone": "5" * 41}, "Field cannot be longer than 40 characters."),
])
def test_org_client_form_refuses_bad_input_and_saves_nothing(client, world, admin_user, data, message):
    login(client, admin_user)
    resp = client.post("/admin/clients/new", data=data)
    assert resp.status_code == 200 and message in _page(resp)
    assert _count(Client) == 3
    resp = client.post(f"/admin/clients/{world.jo.id}/edit", data=data)
    assert resp.status_code == 200 and message in _page(resp)
    db.session.expire_all()
    assert (world.jo.name, world.jo.email) == ("Jo Client", "jo@client.test")


def test_org_client_search_by_name_email_or_phone(client, world, admin_user):
    login(client, admin_user)

    def names(q):
        page = _page(client.get("/admin/clients", query_string={"q": q}))
        return {n for n in ("Jo Client", "Max Client", "Pat Phone") if n in page}

    assert names("JO") == {"Jo Client"}
    assert names("MAX@CLIENT") == {"Max Client"}
    assert names("client.test") == {"Jo Client", "Max Client"}
    assert names("0199") == {"Pat Phone"}
    assert names("(555) 0199") == {"Pat Phone"}  # punctuation in phone numbers does not matter
    assert names("%") == set() and names("_") == set()  # LIKE wildcards are searched for literally
    assert "No client matches" in _page(client.get("/admin/clients?q=nobody"))


def test_org_client_list_is_paginated_50_per_page(client, world, admin_user):
    db.session.add_all(Client(name=f"Walk-in {i:03d}", email=f"w{i:03d}@client.test") for i in range(117))
    db.session.commit()  # 120 clients with the world's three
    login(client, admin_user)
    first = _page(client.get("/admin/clients"))
    assert first.count("/edit\">Edit</a>") == 50 and "1–50 of 120" in first and "Page 1 of 3" in first
    assert 'href="/admin/clients?page=2"' in first
    last = _page(client.get("/admin/clients?page=3"))
    assert last.count("/edit\">Edit</a>") == 20 and "101–120 of 120" in last and "Walk-in 116" in last
    assert _page(client.get("/admin/clients?page=99")).count("/edit\">Edit</a>") == 20  # past the end: last page
    found = _page(client.get("/admin/clients?q=walk-in 1"))  # the search is paginated too, and kept in the links
    assert "1–50 of 117" not in found and "17 clients matching" in found and "pager" not in found
    found = _page(client.get("/admin/clients?q=walk-in&page=2"))
    assert "51–100 of 117" in found and 'href="/admin/clients?q=walk-in&amp;page=3"' in found


# ---- services and locations ----------------------------------------------------------------------------

def test_org_admin_creates_and_edits_a_service(client, world, admin_user):
    login(client, admin_user)
    page = _page(client.get("/admin/services"))
    assert 'href="/admin/services/new"' in page and f'href="/admin/services/{world.service.id}/edit"' in page
    resp = client.post("/admin/services/new", data={"name": "Mortgage advice", "duration_minutes": "45"})
    assert resp.status_code == 302
    svc = db.session.execute(db.select(Service).filter_by(name="Mortgage advice")).scalar_one()
    assert svc.duration_minutes == 45
    resp = client.post(f"/admin/services/{svc.id}/edit", data={"name": "Mortgage review", "duration_minutes": "1440"})
    assert resp.status_code == 302
    assert (db.session.get(Service, svc.id).name, db.session.get(Service, svc.id).duration_minutes) == (
        "Mortgage review", 1440)
    assert "Saved Mortgage review." in _page(client.get("/admin/services"))


@pytest.mark.parametrize("minutes, message", [("4", "Enter a length from 5 to 1440 minutes."),
                                              ("1441", "Enter a length from 5 to 1440 minutes."),
                                              ("", "Enter the length in minutes."),
                                              ("half an hour", "Not a valid integer value.")])
def test_org_service_length_must_be_5_to_1440_minutes(client, world, admin_user, minutes, message):
    login(client, admin_user)
    resp = client.post("/admin/services/new", data={"name": "Quick chat", "duration_minutes": minutes})
    assert resp.status_code == 200 and message in _page(resp)
    resp = client.post(f"/admin/services/{world.service.id}/edit",
                       data={"name": "Renamed", "duration_minutes": minutes})
    assert resp.status_code == 200 and message in _page(resp)
    db.session.expire_all()
    assert _count(Service) == 1 and (world.service.name, world.service.duration_minutes) == ("Consultation", 60)


def test_org_admin_creates_and_edits_a_location(client, world, admin_user):
    login(client, admin_user)
    page = _page(client.get("/admin/locations"))
    assert 'href="/admin/locations/new"' in page and f'href="/admin/locations/{world.loc.id}/edit"' in page
    form = _page(client.get("/admin/locations/new"))
    assert '<option selected value="America/New_York">' in form and '<option value="Europe/Zurich">' in form
    data = {"name": "Denver", "address": "1 Larimer St, Denver", "timezone": "America/Denver"}
    assert client.post("/admin/locations/new", data=data).status_code == 302
    denver = db.session.execute(db.select(Location).filter_by(name="Denver")).scalar_one()
    assert (denver.address, denver.timezone) == ("1 Larimer St, Denver", "America/Denver")
    data.update(name="Denver Downtown", timezone="America/Phoenix", address="")
    assert client.post(f"/admin/locations/{denver.id}/edit", data=data).status_code == 302
    denver = db.session.get(Location, denver.id)
    assert (denver.name, denver.address, denver.timezone) == ("Denver Downtown", "", "America/Phoenix")


@pytest.mark.parametrize("data, message", [
    ({"name": "Mars", "address": "", "timezone": "Mars/Olympus_Mons"}, "Not a valid choice."),
    ({"name": "", "address": "x", "timezone": "UTC"}, "This field is required."),
    ({"name": "Far", "address": "x" * 301, "timezone": "UTC"}, "Field cannot be longer than 300 characters."),
])
def test_org_location_form_refuses_bad_input_and_saves_nothing(client, world, admin_user, data, message):
    login(client, admin_user)
    resp = client.post("/admin/locations/new", data=data)
    assert resp.status_code == 200 and message in _page(resp)
    resp = client.post(f"/admin/locations/{world.chicago.id}/edit", data=data)
    assert resp.status_code == 200 and message in _page(resp)
    db.session.expire_all()
    assert _count(Location) == 2 and (world.chicago.name, world.chicago.timezone) == ("Chicago Loop", "America/Chicago")


def test_org_unknown_record_is_404(client, world, admin_user):
    login(client, admin_user)
    for url in ("/admin/clients/9999/edit", "/admin/services/9999/edit", "/admin/locations/9999/edit"):
        assert client.get(url).status_code == 404


# ---- access (S1): also covered for every URL by test_access.py ----------------------------------------------

@pytest.mark.parametrize("template, data", NEW_AND_EDIT)
def test_s1_record_pages_refuse_a_post_without_csrf_token(csrf_app, staff_user, admin_user, template, data):
    world = build_world(staff_user)
    client = login_with_csrf(csrf_app.test_client(), admin_user)
    counts = [_count(m) for m in (Client, Service, Location)]
    resp = client.post(_url(template, world), data=data)
    assert resp.status_code == 400
    db.session.expire_all()
    assert [_count(m) for m in (Client, Service, Location)] == counts
    assert (world.jo.name, world.service.duration_minutes, world.chicago.address) == (
        "Jo Client", 60, "120 S LaSalle St")


@pytest.mark.parametrize("template, data", NEW_AND_EDIT)
def test_s1_record_pages_are_admin_only(app, world, template, data):
    url = _url(template, world)
    anonymous = app.test_client()
    for resp in (anonymous.get(url), anonymous.post(url, data=data)):
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    staff = login(app.test_client(), world.staff_user)
    assert staff.get(url).status_code == 403 and staff.post(url, data=data).status_code == 403
    db.session.expire_all()
    assert _count(Client) == 3 and _count(Service) == 1 and _count(Location) == 2
    assert (world.jo.name, world.service.duration_minutes, world.chicago.address) == (
        "Jo Client", 60, "120 S LaSalle St")


# ---- renaming what an Exchange item shows (M1, M2, M4) -----------------------------------------------------

@pytest.fixture
def future_and_past(world):
    soon = utcnow().replace(microsecond=0) + timedelta(days=2)
    future = Appointment(service=world.service, location=world.chicago, start=soon, end=soon + timedelta(hours=1),
                         staff=[world.kim], clients=[world.max])
    db.session.add(future)
    db.session.commit()
    return future, world.appt  # the world's appointment (March 2026) is over


def _edited(appt):
    return db.session.execute(db.select(AppointmentChange.kind).filter_by(appointment_id=appt.id)).scalars().all()


def test_m1_m2_m4_renames_reach_the_upcoming_exchange_items(client, world, admin_user, future_and_past, queue_redis):
    future, past = future_and_past
    db.session.add(ExchangeIntegration(id=1, state="connected"))
    db.session.commit()
    login(client, admin_user)
    client.post(f"/admin/services/{world.service.id}/edit", data={"name": "Consultation", "duration_minutes": "30"})
    assert _edited(future) == []  # only the length changed: existing items keep theirs, nothing to export
    resp = client.post(f"/admin/services/{world.service.id}/edit",
                       data={"name": "Financial review", "duration_minutes": "30"})
    assert "1 upcoming appointment will show the change in Exchange." in _page(client.get(resp.headers["Location"]))
    assert _edited(future) == ["edited"] and _edited(past) == []
    assert [j.args for j in Queue("export", connection=queue_redis).get_jobs()] == [(future.id,)]
    client.post(f"/admin/locations/{world.chicago.id}/edit",
                data={"name": "Chicago Loop", "address": "1 Wacker Dr", "timezone": "America/Chicago"})
    client.post(f"/admin/clients/{world.max.id}/edit", data={"name": "Max Client", "email": "max@new.test"})
    client.post(f"/admin/clients/{world.max.id}/edit", data={"name": "Max Client", "email": "max@new.test",
                                                             "phone": "555"})  # the phone is not on the item
    assert _edited(future) == ["edited"] * 3


# ---- booking with an inline new client (C2) -------------------------------------------------------------------

def _booking(w, **over):
    data = {"service": w.service.id, "location": w.loc.id, "date": "2026-12-01", "time": "09:30",
            "staff": [w.sam.id], "notes": "walk-in"}
    data.update(over)
    return data


def test_c2_booking_with_an_inline_new_client(client, world, admin_user, queue_redis):
    login(client, admin_user)
    form = _page(client.get("/appointments/new"))
    assert 'id="new_client_name"' in form and 'id="new_client_email"' in form and 'id="new_client_phone"' in form
    resp = client.post("/appointments/new", data=_booking(world, clients=[world.jo.id], new_client_name=" Walk In ",
                                                          new_client_email="Walk@In.test", new_client_phone="555-0177"))
    assert resp.status_code == 302
    assert _count(Client) == 4
    walk = db.session.execute(db.select(Client).filter_by(name="Walk In")).scalar_one()
    assert (walk.email, walk.phone) == ("walk@in.test", "555-0177")
    appt = db.session.execute(db.select(Appointment).filter_by(notes="walk-in")).scalar_one()
    assert [c.name for c in appt.clients] == ["Jo Client", "Walk In"]
    assert "Booked Consultation for Jo Client, Walk In." in _page(client.get(resp.headers["Location"]))


def test_c2_the_new_client_alone_is_enough(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post("/appointments/new", data=_booking(world, new_client_name="Solo Walker"))
    assert resp.status_code == 302
    appt = db.session.execute(db.select(Appointment).filter_by(notes="walk-in")).scalar_one()
    assert [(c.name, c.email, c.phone) for c in appt.clients] == [("Solo Walker", None, None)]
    assert _count(Client) == 4


@pytest.mark.parametrize("over, message", [
    ({}, "Choose at least one client, or enter a new client&#39;s name."),
    ({"new_client_name": "Walk In", "new_client_email": "walk-at-in"}, "Enter an email address like name@example.org."),
    ({"clients": "jo", "new_client_name": "Walk In", "new_client_email": "walk-at-in"},
     "Enter an email address like name@example.org."),
    ({"new_client_email": "walk@in.test"}, "Enter the new client&#39;s name (or clear their email and phone)."),
    ({"new_client_name": "x" * 121}, "Field cannot be longer than 120 characters."),
])
def test_c2_bad_inline_client_input_saves_nothing(client, world, admin_user, queue_redis, over, message):
    login(client, admin_user)
    if over.get("clients") == "jo":
        over = {**over, "clients": [world.jo.id]}
    resp = client.post("/appointments/new", data=_booking(world, **over))
    assert resp.status_code == 200 and message in _page(resp)
    assert _count(Client) == 3 and _count(Appointment) == 1


def test_c2_a_refused_booking_creates_no_client(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post("/appointments/new", data=_booking(world, date="2026-03-09", time="10:30",
                                                          new_client_name="Walk In"))
    assert resp.status_code == 422 and "Sam Staff is busy" in _page(resp)
    assert 'value="Walk In"' in _page(resp)  # kept in the form for another try
    assert _count(Client) == 3 and _count(Appointment) == 1


def test_c2_an_inline_new_client_joins_an_existing_appointment(client, world, admin_user, queue_redis):
    login(client, admin_user)
    data = _booking(world, date="2026-03-09", time="10:00", clients=[world.jo.id], new_client_name="Partner",
                    notes="")
    resp = client.post(f"/appointments/{world.appt.id}/edit", data=data)
    assert resp.status_code == 302
    assert [c.name for c in db.session.get(Appointment, world.appt.id).clients] == ["Jo Client", "Partner"]
