"""Browser tests (headless Chromium) for the daily portal: P1 Today, P3 click to book, P2 proposed slots,
P4 live views, P5 Exchange block details, P6 phones. Screenshots at 1440 and 390 px go to test-artifacts/."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.test_booking_e2e import _login, _seed

pytestmark = pytest.mark.e2e
HOUR_PX = 52  # --hour-h in sundial.css


def _location_staff(app, location_id):
    from portal.extensions import db
    from portal.models import Location
    from portal.schedule.day import staff_at

    with app.app_context():
        return [(s.id, s.name) for s in staff_at(db.session.get(Location, location_id))]


def test_p1_p3_p2_admin_lands_on_today_clicks_an_empty_slot_and_books_a_proposed_time(
        live_server, browser_page, screenshot):
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": 1440, "height": 900})
    seeded = _seed(live_server.app)
    _login(page, base, "admin@sundial-demo.test")
    assert re.search(r"/day$", page.url)  # P1: admins land on Today
    assert page.locator("h1").inner_text().startswith("Today")
    assert page.locator(".now-line").count() >= 1
    page.select_option("#location-select", str(seeded["location_id"]))
    page.wait_for_url(re.compile(rf".*location={seeded['location_id']}.*"))
    staff = _location_staff(live_server.app, seeded["location_id"])
    assert page.locator(".staff-head .staff-name").all_inner_texts() == [name for _, name in staff]
    screenshot(page, "p1-today-1440", full_page=False)
    page.goto(base + "/day")  # the location choice is remembered
    assert page.locator("#location-select").input_value() == str(seeded["location_id"])
    page.click("a[aria-label='Next day']")
    assert "Today" not in page.locator("h1").inner_text()
    page.click("a.btn:has-text('Today')")

    olivia = page.locator(f".cal-day[data-col='{seeded['staff_id']}']")
    assert olivia.locator(".block", has_text="Busy").filter(has_text="12:00–13:00").count() == 1
    olivia.click(position={"x": 8, "y": 7 * HOUR_PX + 4})  # P3: an empty 07:00 slot
    page.wait_for_url("**/appointments/new?*")
    assert page.input_value("#time") == "07:00" and page.input_value("#date") == seeded["today"].isoformat()
    assert page.is_checked(f"#staff input[value='{seeded['staff_id']}']")
    assert page.input_value("#location") == str(seeded["location_id"])

    proposals = page.locator("#slots .slot-list button")  # P2: next free times for Olivia
    assert proposals.count() > 0
    assert page.locator("#slots .slots-sentence").inner_text().startswith("Next free times for Olivia Bennett")
    page.check(f"#staff input[value='{seeded['staff_id']}']")
    first = proposals.first
    when_date, when_time = first.get_attribute("data-date"), first.get_attribute("data-time")
    first.click()
    assert (page.input_value("#date"), page.input_value("#time")) == (when_date, when_time)
    page.fill("input[data-picker-search=clients]", "james.smith1@")
    page.check("#clients li:has-text('james.smith1@') input")
    screenshot(page, "p2-booking-form-proposals-1440")
    page.click("button:has-text('Book appointment')")
    page.wait_for_url(re.compile(r".*/schedule\?.*"))
    assert "Booked Account opening" in page.locator(".flash-success").inner_text()


def test_p4_p5_open_day_view_follows_a_sync_and_another_admin_without_reload(
        live_server, browser_page, chromium, screenshot):
    page, base = browser_page, live_server.url
    seeded = _seed(live_server.app)
    _login(page, base, "admin@sundial-demo.test")
    page.goto(f"{base}/day?location={seeded['location_id']}")
    page.evaluate("window.__noReload = true")
    tz = ZoneInfo(seeded["tz"])

    with live_server.app.app_context():  # a sync imports Exchange busy time (as the engine would write it)
        from portal.extensions import db
        from portal.models import ExternalAbsence, StaffMember

        olivia = db.session.get(StaffMember, seeded["staff_id"])
        start = datetime.combine(seeded["today"], time(6, 0), tz)
        absence = ExternalAbsence(staff=olivia, location=olivia.primary_location, start=start,
                                  end=start + timedelta(minutes=45), title="Early call", free_busy="Busy")
        db.session.add(absence)
        db.session.commit()
        absence_id = absence.id
    block = page.locator(f".block[data-key='x{absence_id}']")
    block.wait_for(timeout=10000)
    assert "is-changed" in block.get_attribute("class")  # highlighted for a moment
    assert page.evaluate("window.__noReload") is True  # the same page: no reload
    assert block.get_attribute("data-label") == "06:00–06:45"
    screenshot(page, "p4-live-sync-1440", full_page=False)

    other = chromium.new_context(viewport={"width": 1400, "height": 900})  # another admin cancels an appointment
    try:
        second = other.new_page()
        _login(second, base, "admin@sundial-demo.test")
        appt = page.locator(f".cal-day[data-col='{seeded['staff_id']}'] a.block[data-key^='a']").first
        key = appt.get_attribute("data-key")
        second.goto(base + appt.get_attribute("href"))
        second.click("button:has-text('Cancel appointment')")
        dialog = second.locator("dialog#cancel-dialog")
        assert dialog.is_visible()  # P8: an in-page dialog, not the browser's confirm box
        dialog.locator("button[type=submit]").click()
        second.wait_for_url(re.compile(r".*/schedule\?.*"))
    finally:
        other.close()
    column = f".cal-day[data-col='{seeded['staff_id']}']"
    page.locator(f"{column} .block[data-key='{key}']").wait_for(state="detached", timeout=10000)
    assert page.evaluate("window.__noReload") is True

    block.click()  # P5: the busy block opens its details
    page.wait_for_url(f"**/absences/{absence_id}")
    details = page.locator("#absence-details").inner_text()
    assert "06:00–06:45" in details and "Busy" in details and seeded["tz"] in details
    assert page.locator("#absence-title").inner_text() == "Busy"  # C5: titles are off
    screenshot(page, "p5-absence-details-1440")


def test_p6_p1_phone_lands_on_the_day_view_and_the_schedule_fits(live_server, chromium, screenshot):
    seeded = _seed(live_server.app)
    context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True,
                                   has_touch=True)
    try:
        page = context.new_page()
        _login(page, live_server.url, "olivia.bennett@sundial-demo.test")
        assert re.search(r"/day$", page.url)  # staff land on their own day
        assert page.locator(".staff-head .staff-name").all_inner_texts() == ["Olivia Bennett"]
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.locator("button:has-text('Sign out')").is_visible()
        screenshot(page, "p6-staff-day-390", full_page=False)
        page.click("a.btn:has-text('Everyone here')")
        assert page.locator(".staff-head").count() == len(_location_staff(live_server.app, seeded["location_id"]))
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        screenshot(page, "p6-staff-location-day-390", full_page=False)
    finally:
        context.close()


def test_p7_p8_p10_staff_self_service_cancel_dialog_and_the_outbox_message(live_server, browser_page, screenshot):
    page, base = browser_page, live_server.url
    seeded = _seed(live_server.app)
    _login(page, base, "admin@sundial-demo.test")
    page.goto(base + "/admin/staff")
    page.click("#self-service-toggle")  # P7: off by default; the admin turns it on
    assert "Staff can now book" in page.locator(".flash-success").inner_text()
    page.click("button:has-text('Sign out')")

    _login(page, base, "olivia.bennett@sundial-demo.test")
    own = page.locator(f".cal-day[data-col='{seeded['staff_id']}']")
    own.click(position={"x": 8, "y": 7 * HOUR_PX + 4})  # her own empty 07:00
    page.wait_for_url("**/appointments/new?*")
    assert page.locator("#staff input").count() == 1  # only herself
    page.fill("input[data-picker-search=clients]", "james.smith1@")
    page.check("#clients li:has-text('james.smith1@') input")
    page.click("button:has-text('Book appointment')")
    page.wait_for_url(re.compile(r".*/schedule\?.*"))
    page.locator(".block", has_text="07:00").first.click()
    page.wait_for_url("**/appointments/*")

    page.click("button:has-text('Cancel appointment')")  # P8: reason + notify the client
    dialog = page.locator("dialog#cancel-dialog")
    assert dialog.is_visible() and page.is_checked("#cancel-notify")
    page.fill("#cancel-reason", "Branch closed for training")
    screenshot(page, "p8-cancel-dialog-1440", full_page=False)
    dialog.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/schedule\?.*"))
    page.goto(page.url)  # history on the appointment page
    page.click("button:has-text('Sign out')")

    _login(page, base, "admin@sundial-demo.test")
    page.goto(base + "/settings/notifications/outbox")
    assert page.locator("#no-smtp").is_visible()  # P10: no SMTP server configured here
    row = page.locator("table.table tbody tr", has_text="james.smith1@").filter(has_text="Cancelled: Account opening")
    row.locator("a").first.click()
    body = page.locator("#message-body").inner_text()
    assert "Reason: Branch closed for training" in body and "Hello James Smith" in body
    screenshot(page, "p10-outbox-message-1440")
    page.goto(base + "/settings/notifications/clients")
    assert page.locator("#no-smtp").is_visible() and page.input_value("#reminder_hours") == "24"
