"""Browser test (headless Chromium): an admin books, the staff member sees it on their week view (A1, A2, C2)."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.e2e

PASSWORD = "Sundial-Demo-2026!"


def _seed(app):
    from portal.demo import seed
    from portal.extensions import db
    from portal.models import ExternalAbsence, Location, Service, StaffMember

    with app.app_context():
        list(seed())
        olivia = db.session.execute(db.select(StaffMember).filter_by(email="olivia.bennett@sundial-demo.test")).scalar_one()
        tz = ZoneInfo(olivia.timezone)
        today = datetime.now(tz).date()
        noon = datetime.combine(today, time(12), tz)
        db.session.add(ExternalAbsence(staff=olivia, location=olivia.primary_location, start=noon,
                                       end=noon + timedelta(hours=1), title="Dentist", free_busy="Busy"))
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
    page.wait_for_url(base + "/schedule*")


def test_a2_c2_admin_books_and_staff_sees_it(live_server, browser_page, screenshot):
    page, base = browser_page, live_server.url
    seeded = _seed(live_server.app)
    assert seeded["location_tz"] == seeded["tz"]  # the form's times are the location's; same zone here

    page.goto(base + "/schedule")
    assert "/login" in page.url  # anonymous → login (S1)
    screenshot(page, "01-login")
    _login(page, base, "admin@sundial-demo.test")
    assert page.locator(".calendar .block").count() > 0
    screenshot(page, "02-admin-week", full_page=False)

    page.goto(f"{base}/appointments/new?staff={seeded['staff_id']}")
    page.select_option("#service", str(seeded["service_id"]))
    page.fill("#date", seeded["today"].isoformat())
    page.fill("#time", "12:15")
    page.fill("input[data-filter=clients]", "james.smith1@")
    assert page.locator("#clients li:visible").count() == 1  # the filter narrows 200 clients to one
    page.check("#clients li:has-text('james.smith1@') input")
    assert page.is_checked(f"#staff input[value='{seeded['staff_id']}']")  # prefilled from ?staff=
    screenshot(page, "03-booking-form")
    page.click("button:has-text('Book appointment')")
    alert = page.locator(".alert-danger")
    assert "Olivia Bennett has an Exchange absence (Busy)" in alert.inner_text()  # C2, C5: no title shown
    screenshot(page, "04-booking-conflict")

    page.fill("#time", "17:30")
    page.click("button:has-text('Book appointment')")
    page.wait_for_url(base + "/schedule*")
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
