"""Helpers for web tests (a plain module: conftest files cannot be imported by name)."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def login(client, user, password="correct horse battery"):
    resp = client.post("/login", data={"email": user.email, "password": password})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


def login_with_csrf(client, user, password="correct horse battery"):
    """Log in through the real form on an app with CSRF on (reads the token from the page)."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


def build_world(staff_user):
    """Sam (staff_user's staff member, New York), Kim (Chicago), a service, three clients, one of each row."""
    from portal.extensions import db
    from portal.models import (
        Appointment,
        Client,
        ExternalAbsence,
        Location,
        OutboxMessage,
        Service,
        StaffMember,
    )

    sam = staff_user.staff
    loc = sam.primary_location
    chicago = Location(name="Chicago Loop", address="120 S LaSalle St", timezone="America/Chicago")
    kim = StaffMember(name="Kim Colleague", email="kim@example.test", timezone="America/Chicago",
                      primary_location=chicago, locations=[chicago, loc])
    service = Service(name="Consultation", duration_minutes=60)
    jo = Client(name="Jo Client", email="jo@client.test", phone="555-0100")
    max_ = Client(name="Max Client", email="max@client.test")
    noemail = Client(name="Pat Phone", phone="555-0199")
    db.session.add_all([chicago, kim, service, jo, max_, noemail])
    db.session.flush()
    start = datetime(2026, 3, 9, 10, 0, tzinfo=NY)
    appt = Appointment(service=service, location=loc, start=start, end=start + timedelta(hours=1),
                       staff=[sam], clients=[jo])
    absence = ExternalAbsence(staff=sam, location=loc, start=start + timedelta(hours=3),
                              end=start + timedelta(hours=4), title="Dentist", free_busy="Busy")
    msg = OutboxMessage(audience="clients", recipient="jo@client.test", subject="Hello", body="Hi")
    db.session.add_all([appt, absence, msg])
    db.session.commit()
    return SimpleNamespace(sam=sam, kim=kim, loc=loc, chicago=chicago, service=service, jo=jo, max=max_,
                           noemail=noemail, appt=appt, absence=absence, msg=msg, staff_user=staff_user)


def add_one_of_everything(world):
    """A row in the remaining tables too, so routes added later with other <int:…_id> arguments find id 1."""
    from portal.extensions import db
    from portal.models import AppointmentChange, AuditEvent, ExchangeLink, MailboxState, SyncActivity

    db.session.add_all([
        AppointmentChange(appointment=world.appt, kind="booked"), MailboxState(staff_id=world.sam.id),
        SyncActivity(staff_id=world.sam.id, action="imported", reason="test"), AuditEvent(action="test"),
        ExchangeLink(staff_id=world.sam.id, item_key="item-1", appointment_id=world.appt.id),
    ])
    db.session.commit()
    return world


def make_staff_user():
    """The same Sam Staff as the shared `staff_user` fixture, for tests on `any_app`/`pg_app`."""
    from portal.extensions import db
    from portal.models import Location, StaffMember, User

    loc = Location(name="Main Street", address="1 Main Street, Springfield", timezone="America/New_York")
    sam = StaffMember(name="Sam Staff", email="sam@example.test", timezone="America/New_York",
                      primary_location=loc, locations=[loc])
    user = User(email="sam@example.test", role="staff", name="Sam Staff", staff=sam)
    user.set_password("correct horse battery")
    db.session.add_all([loc, sam, user])
    db.session.commit()
    return user


STRING_ARGS = {"audience": "clients", "filename": "sundial.css"}


def url_map_pairs():
    """(app, sorted (method, endpoint) pairs) of a throwaway app — for parametrizing over every route at import."""
    from portal import create_app

    old = os.environ.get("SUNDIAL_INSTANCE_PATH")
    instance = tempfile.mkdtemp(prefix="sundial-urlmap-")
    os.environ["SUNDIAL_INSTANCE_PATH"] = instance
    try:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    finally:
        shutil.rmtree(instance, ignore_errors=True)
        if old is None:
            os.environ.pop("SUNDIAL_INSTANCE_PATH", None)
        else:
            os.environ["SUNDIAL_INSTANCE_PATH"] = old
    pairs = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            pairs.add((method, rule.endpoint))
    return app, sorted(pairs)


def endpoint_url(app, endpoint: str, world, admin_id: int) -> str:
    """A URL for any endpoint: its <int:…_id> arguments get the ids of `world`'s rows (add_one_of_everything)."""
    from flask import url_for

    ids = {"appointment_id": world.appt.id, "staff_id": world.sam.id, "message_id": world.msg.id,
           "outbox_id": world.msg.id, "client_id": world.jo.id, "location_id": world.loc.id,
           "service_id": world.service.id, "absence_id": world.absence.id, "user_id": admin_id}
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {}
    for arg in rule.arguments:
        converter = type(rule._converters[arg]).__name__
        values[arg] = ids.get(arg, 1) if converter == "IntegerConverter" else STRING_ARGS.get(arg, "x")
    return url_for(endpoint, **values)
