"""P9: each user's preferred zone and clock format; every time labelled with its zone; time inputs follow."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from webtools import login

from portal.extensions import db
from portal.models import Appointment, User

NY_DAY = "2026-03-09"


def test_p9_twenty_four_hours_by_default_everywhere(client, world, admin_user):
    login(client, admin_user)
    day = client.get(f"/day?location={world.loc.id}&date={NY_DAY}").get_data(as_text=True)
    assert "10:00–11:00" in day and "<span>13:00</span>" in day and " AM" not in day
    form = client.get("/appointments/new").get_data(as_text=True)
    assert 'value="09:00"' in form and "24-hour clock" in form and 'type="time"' not in form
    page = client.get(f"/appointments/{world.appt.id}").get_data(as_text=True)
    assert "10:00–11:00 EDT" in page  # labelled with its zone


def test_p9_a_twelve_hour_user_sees_and_types_am_pm(client, world, admin_user, queue_redis):
    login(client, admin_user)
    resp = client.post("/account/preferences", data={"timezone": "", "clock": "12"}, follow_redirects=True)
    assert "on a 12-hour clock" in resp.get_data(as_text=True)
    assert db.session.get(User, admin_user.id).clock == "12"
    day = client.get(f"/day?location={world.loc.id}&date={NY_DAY}").get_data(as_text=True)
    assert "10:00 AM–11:00 AM" in day and "<span>1 PM</span>" in day
    assert 'data-label="10:00–11:00"' in day  # machine-readable values stay 24-hour
    form = client.get("/appointments/new?time=14:30").get_data(as_text=True)
    assert 'value="02:30 PM"' in form and "12-hour clock (AM/PM)" in form
    booked = client.post("/appointments/new", data={
        "service": world.service.id, "location": world.loc.id, "date": "2026-03-10", "time": "2:30 PM",
        "staff": [world.sam.id], "clients": [world.jo.id]})
    assert booked.status_code == 302
    appt = db.session.execute(db.select(Appointment).order_by(Appointment.id.desc()).limit(1)).scalar_one()
    assert appt.start.astimezone(ZoneInfo(world.loc.timezone)).strftime("%H:%M") == "14:30"


def test_p9_a_preferred_zone_relabels_the_appointment_page(client, world, admin_user):
    login(client, admin_user)
    client.post("/account/preferences", data={"timezone": "Europe/London", "clock": "24"})
    page = client.get(f"/appointments/{world.appt.id}").get_data(as_text=True)
    assert "14:00–15:00 GMT" in page  # 10:00 EDT is 14:00 in London on 9 March 2026
    absence = client.get(f"/absences/{world.absence.id}").get_data(as_text=True)
    assert "17:00–18:00 GMT" in absence and "(your preference)" in absence
    bad = client.post("/account/preferences", data={"timezone": "Mars/Olympus", "clock": "24"})
    assert bad.status_code == 200 and "Not a valid choice" in bad.get_data(as_text=True)
    assert db.session.get(User, admin_user.id).timezone == "Europe/London"  # nothing applied


def test_p9_admin_logs_follow_the_viewers_zone_and_clock_and_say_which(client, world, admin_user):
    from datetime import UTC, datetime

    from portal.models import AuditEvent

    db.session.add(AuditEvent(at=datetime(2026, 7, 1, 14, 5, 9, tzinfo=UTC), user_id=admin_user.id,
                              action="settings_changed", detail="P9 probe"))
    db.session.commit()
    login(client, admin_user)
    page = client.get("/settings/integrations/exchange/audit").get_data(as_text=True)
    assert "When (UTC)" in page and "01 Jul 2026 14:05:09 UTC" in page  # no preference: UTC, labelled
    client.post("/account/preferences", data={"timezone": "America/New_York", "clock": "12"})
    page = client.get("/settings/integrations/exchange/audit").get_data(as_text=True)
    assert "When (America/New_York)" in page and "01 Jul 2026 10:05:09 AM EDT" in page
