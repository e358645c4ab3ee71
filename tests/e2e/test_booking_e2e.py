"""Browser test (headless Chromium): an admin books, the staff member sees it on their week view (A1, A2, C2)."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PASSWORD = "Sundial-Demo-2026!"


def _seed(app):
    from portal.demo import seed
    from portal.extensions import db
    from portal.models import ExternalAbsence, Location, Service, StaffMember

    with app.app_context():
        list(seed())
        olivia = db.session.execute(
            db.select(StaffMember).filter_by(email="olivia.bennett@sundial-demo.test")).scalar_one()
        tz = ZoneInfo(olivia.timezone)
        today = datetime.now(tz).date()
        noon = datetime.combine(today, time(12), tz)
        db.session.add(ExternalAbsence(staff=olivia, location=olivia.primary_location, start=noon,
                                       end=noon + timedelta(hours=1), title="Dentist", free_busy="Busy"))
        db.session.add_all([  # overlapping (two lanes), tentative and all-day absences for the screenshots
            ExternalAbsence(staff=olivia, start=noon + timedelta(minutes=30), end=noon + timedelta(hours=2),
                            title="Conference", free_busy="OOF"),
            ExternalAbsence(staff=olivia, start=noon + timedelta(hours=3), end=noon + timedelta(hours=4),
                            title="Maybe", free_busy="Tentative"),
            ExternalAbsence(staff=olivia, start=datetime.combine(today - timedelta(days=1 if today.weekday() else -1),
                                                                 time(0), tz),
                            end=datetime.combine(today + timedelta(days=0 if today.weekday() else 2), time(0), tz),
                            title="Vacation", free_busy="OOF", is_all_day=True),
        ])
        db.session.commit()
        service = db.session.execute(db.select(Service).filter_by(name="Account opening")).scalar_one()
        return {"staff_id": olivia.id, "tz": olivia.timezone, "today": today, "service_id": service.id,
                "location_id": olivia.primary_location_id,
                "location_tz": db.session.get(Location, olivia.primary_location_id).timezone}


def _login(page, base, email):
    page.goto(base + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(day|schedule)\b.*"))


def test_a2_c2_admin_books_and_staff_sees_it(live_server, browser_page, screenshot):
    page, base = browser_page, live_server.url
    seeded = _seed(live_server.app)
    assert seeded["location_tz"] == seeded["tz"]  # the form's times are the location's; same zone here

    page.goto(base + "/schedule")
    assert "/login" in page.url  # anonymous → login (S1)
    screenshot(page, "01-login")
    page.fill("#email", "admin@sundial-demo.test")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert "don't match an account" in page.locator(".flash-error").inner_text()
    screenshot(page, "01b-login-refused")
    _login(page, base, "admin@sundial-demo.test")
    assert page.locator(".calendar .block").count() > 0
    screenshot(page, "02-admin-week", full_page=False)

    page.goto(f"{base}/appointments/new?staff={seeded['staff_id']}")
    page.select_option("#service", str(seeded["service_id"]))
    page.fill("#date", seeded["today"].isoformat())
    page.fill("#time", "12:15")
    page.fill("input[data-picker-search=clients]", "james.smith1@")
    # the server search (picker.py) narrows 200 clients to one as you type
    expect(page.locator("#clients li")).to_have_count(1)
    assert "1 match" in page.locator("[data-picker=clients] [data-picker-count]").inner_text()
    page.check("#clients li:has-text('james.smith1@') input")
    assert page.is_checked(f"#staff input[value='{seeded['staff_id']}']")  # prefilled from ?staff=
    screenshot(page, "03-booking-form")
    page.click("button:has-text('Book appointment')")
    alert = page.locator(".alert-danger")
    assert "Olivia Bennett has an Exchange absence (Busy)" in alert.inner_text()  # C2, C5: no title shown
    screenshot(page, "04-booking-conflict")

    page.fill("#time", "17:30")
    page.click("button:has-text('Book appointment')")
    page.wait_for_url(re.compile(r".*/(day|schedule)\b.*"))
    assert "Booked Account opening for James Smith" in page.locator(".flash-success").inner_text()
    screenshot(page, "05-booked", full_page=False)

    page.click("button:has-text('Sign out')")
    page.wait_for_url(base + "/login*")
    _login(page, base, "olivia.bennett@sundial-demo.test")
    assert page.locator(".staff-picker").count() == 0  # staff see only their own schedule (A1)
    column = page.locator(f".cal-day[data-date='{seeded['today'].isoformat()}']")
    block = column.locator(".block", has_text="Account opening").filter(has_text="17:30–18:15")
    assert block.count() == 1
    assert block.get_attribute("data-top-min") == str(17 * 60 + 30)
    assert column.locator(".block", has_text="Busy").filter(has_text="12:00–13:00").count() == 1
    assert "America/New_York" in page.locator(".tz-chip").inner_text()
    block.scroll_into_view_if_needed()
    screenshot(page, "06-staff-week", full_page=False)

    block.click()
    page.wait_for_url(base + "/appointments/*")
    assert "James Smith" in page.inner_text("main")
    assert page.locator("text=Cancel appointment").count() == 0  # staff cannot cancel
    screenshot(page, "07-staff-appointment")


def test_s1_g6_settings_pages_and_a_dst_week(live_server, browser_page, screenshot):
    """Admin walks through Settings (Integrations, Notifications, Outbox, Staff) and a week with a DST change."""
    page, base = browser_page, live_server.url
    seeded = _seed(live_server.app)
    _login(page, base, "admin@sundial-demo.test")

    page.click("nav.topnav >> text=Settings")
    page.wait_for_url(base + "/settings/integrations")
    card = page.locator(".card.integration")
    assert "Microsoft Exchange" in card.inner_text() and "Not connected" in card.inner_text()
    screenshot(page, "08-settings-integrations")

    page.click(".side-nav >> text=Staff")
    page.wait_for_url(base + "/settings/notifications/staff")
    page.click("label.switch")  # turn staff notifications off
    page.click("button:has-text('Save')")
    assert "Notifications to staff are off." in page.locator(".flash-success").inner_text()
    assert page.locator(".page-head .badge").inner_text().strip() == "Off"
    screenshot(page, "09-settings-notifications-staff")

    page.goto(f"{base}/appointments/new?staff={seeded['staff_id']}&date={seeded['today'].isoformat()}&time=07:15")
    page.fill("input[data-picker-search=clients]", "mary.smith")
    page.check("#clients li:has-text('mary.smith2@') input")
    page.click("button:has-text('Book appointment')")
    page.wait_for_url(re.compile(r".*/(day|schedule)\b.*"))
    page.goto(base + "/settings/notifications/outbox")
    rows = page.locator("table.table tbody tr")
    assert rows.count() == 1  # the client's confirmation only: staff notifications are off
    assert "mary.smith2@clients.sundial-demo.test" in rows.first.inner_text()
    assert rows.first.locator("[data-status]").get_attribute("data-status") in {"pending", "undelivered"}
    screenshot(page, "10-settings-outbox")

    page.goto(base + "/admin/staff")
    assert page.locator("table.table tbody tr").count() == 25
    screenshot(page, "11-staff-list", full_page=False)
    page.click("table.table tbody tr:first-child >> text=Edit")
    screenshot(page, "12-staff-edit")

    with live_server.app.app_context():  # 10:00 on the Saturday (EDT) and on the 25-hour Sunday (EST)
        from portal.extensions import db
        from portal.models import Appointment, Client, Location, Service, StaffMember

        olivia, jo = db.session.get(StaffMember, seeded["staff_id"]), db.session.get(Client, 1)
        svc, loc = db.session.get(Service, seeded["service_id"]), db.session.get(Location, seeded["location_id"])
        tz = ZoneInfo(seeded["tz"])
        for day in (31, 1):
            start = datetime(2026, 10 if day == 31 else 11, day, 10, 0, tzinfo=tz)
            db.session.add(Appointment(service=svc, location=loc, start=start, end=start + timedelta(minutes=45),
                                       staff=[olivia], clients=[jo]))
        db.session.commit()
    page.goto(f"{base}/schedule?staff={seeded['staff_id']}&week=2026-11-01")
    for day in ("2026-10-31", "2026-11-01"):
        block = page.locator(f".cal-day[data-date='{day}'] .block")
        assert block.get_attribute("data-top-min") == "600" and block.get_attribute("data-label") == "10:00–10:45"
    sunday = page.locator(".cal-dayhead[data-date='2026-11-01']")
    assert "Clocks go back (EDT → EST)" in sunday.inner_text()
    assert "EDT / EST" in page.locator(".tz-chip").inner_text()
    screenshot(page, "13-week-dst-fall-back", full_page=False)
    band = page.locator(".cal-day[data-date='2026-11-01'] .dst-band")
    assert (band.get_attribute("data-dst"), band.get_attribute("data-top-min")) == ("repeated", "60")
    page.evaluate("document.getElementById('cal-scroll').scrollTop = 0")  # the night of the change
    screenshot(page, "14-week-dst-repeated-hour", full_page=False)

    hour_px = page.locator(".hour-label[data-hour='7']").bounding_box()["height"]
    page.locator(".cal-day[data-date='2026-11-01']").click(position={"x": 30, "y": 14.5 * hour_px + 2})
    page.wait_for_url("**/appointments/new*")  # clicking an empty slot starts a booking there
    assert "date=2026-11-01" in page.url and "time=14:30" in page.url
    assert page.input_value("#time") == "14:30" and page.input_value("#date") == "2026-11-01"
