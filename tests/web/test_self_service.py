"""P7: an organisation setting (off by default) lets staff book, reschedule and cancel their own appointments."""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape

from webtools import NY, login

from portal.extensions import db
from portal.models import Appointment, OrganisationSetting


def _turn_on(client, admin_user):
    login(client, admin_user)
    resp = client.post("/admin/staff/self-service", data={"self_service": "1"}, follow_redirects=True)
    assert "Staff can now book, reschedule and cancel their own appointments." in resp.get_data(as_text=True)
    client.post("/logout")


def _form(world, **over):
    data = {"service": world.service.id, "location": world.loc.id, "date": "2026-03-10", "time": "09:30",
            "staff": [world.sam.id], "clients": [world.jo.id], "notes": ""}
    data.update(over)
    return data


def test_p7_off_by_default_staff_get_a_sentence_not_a_form(client, world):
    assert OrganisationSetting.get_bool("staff_self_service", False) is False
    login(client, world.staff_user)
    resp = client.get("/appointments/new")
    assert resp.status_code == 403
    assert "has not turned on self-service for staff" in unescape(resp.get_data(as_text=True))
    assert client.post(f"/appointments/{world.appt.id}/cancel").status_code == 403
    assert db.session.get(Appointment, world.appt.id).status == "booked"
    week = client.get("/schedule?week=2026-03-09").get_data(as_text=True)
    assert "data-book=" not in week and "+ Book appointment" not in week
    assert "Cancel appointment" not in client.get(f"/appointments/{world.appt.id}").get_data(as_text=True)


def test_p7_with_self_service_staff_book_reschedule_and_cancel_their_own(client, world, admin_user, queue_redis):
    _turn_on(client, admin_user)
    login(client, world.staff_user)
    form_page = client.get("/appointments/new").get_data(as_text=True)
    assert re.findall(r'<input[^>]*name="staff"[^>]*value="(\d+)"', form_page) == [str(world.sam.id)]
    assert "data-book=" in client.get("/schedule?week=2026-03-09").get_data(as_text=True)
    assert client.post("/appointments/new", data=_form(world)).status_code == 302
    mine = db.session.execute(db.select(Appointment).order_by(Appointment.id.desc()).limit(1)).scalar_one()
    assert mine.start == datetime(2026, 3, 10, 9, 30, tzinfo=NY) and [s.id for s in mine.staff] == [world.sam.id]
    moved = client.post(f"/appointments/{mine.id}/edit", data=_form(world, time="11:00"))
    assert moved.status_code == 302
    assert db.session.get(Appointment, mine.id).start == datetime(2026, 3, 10, 11, 0, tzinfo=NY)
    assert "Cancel appointment" in client.get(f"/appointments/{mine.id}").get_data(as_text=True)
    assert client.post(f"/appointments/{mine.id}/cancel", data={"notify_present": "1"}).status_code == 302
    assert db.session.get(Appointment, mine.id).status == "cancelled"


def test_p7_self_service_never_reaches_a_colleagues_appointments(client, world, admin_user):
    _turn_on(client, admin_user)
    start = datetime(2026, 3, 11, 10, 0, tzinfo=NY)
    kims = Appointment(service=world.service, location=world.loc, start=start, end=start + timedelta(hours=1),
                       staff=[world.kim], clients=[world.jo])
    db.session.add(kims)
    db.session.commit()
    login(client, world.staff_user)
    refused = client.post("/appointments/new", data=_form(world, staff=[world.kim.id], time="15:00"))
    assert refused.status_code in (403, 200)  # Kim is not a choice for Sam: refused either way
    assert db.session.execute(db.select(Appointment).filter_by(status="booked")).scalars().all() == [world.appt, kims]
    assert client.get(f"/appointments/{kims.id}/edit").status_code == 403
    cancel = client.post(f"/appointments/{kims.id}/cancel")
    assert cancel.status_code == 403 and "only their own appointments" in cancel.get_data(as_text=True)
    assert db.session.get(Appointment, kims.id).status == "booked"
    slots = client.get(f"/appointments/slots?service={world.service.id}&location={world.loc.id}"
                       f"&staff={world.kim.id}&date=2026-03-09").get_json()
    assert all(s["staff_names"] == ["Sam Staff"] for s in slots["slots"])
