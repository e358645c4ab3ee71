"""Every GET page of the URL map in headless Chromium, as an admin and as a staff member:
P6 — at 390×844 no page scrolls sideways; P11 — axe-core (npm, injected) finds no serious or critical violation.

New routes are covered automatically (the list comes from the app's URL map); JSON endpoints are skipped.
axe-core is installed into ./node_modules by scripts/test.sh (make test)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.e2e.test_booking_e2e import PASSWORD, _seed

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))
from webtools import endpoint_url  # noqa: E402

pytestmark = pytest.mark.e2e
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
NOT_PAGES = {"static", "schedule.changes", "schedule.slots", "schedule.picker_choices",
             "exchange_settings.account_states",
             "ops.healthz", "ops.readyz", "ops.metrics"}  # JSON and plain-text machine endpoints (O1, O2)
STAFF_PAGES = {"schedule.home", "schedule.day", "schedule.week", "schedule.appointment", "schedule.absence"}


def _pages(app, seeded):
    """(name, url) of every GET page for the admin, and the staff member's own pages."""
    from flask import url_for

    from portal.extensions import db
    from portal.models import Appointment, Client, ExternalAbsence, Location, OutboxMessage, Service, StaffMember, User

    with app.test_request_context():
        olivia = db.session.get(StaffMember, seeded["staff_id"])
        appt = db.session.execute(db.select(Appointment).join(Appointment.staff)
                                  .where(StaffMember.id == olivia.id).limit(1)).scalar_one()
        msg = OutboxMessage(audience="clients", recipient="jo@client.test", subject="Hello", body="Hi there")
        db.session.add(msg)
        db.session.commit()
        world = SimpleNamespace(
            appt=appt, sam=olivia, msg=msg, jo=db.session.execute(db.select(Client).limit(1)).scalar_one(),
            loc=db.session.get(Location, seeded["location_id"]), service=db.session.get(Service, seeded["service_id"]),
            absence=db.session.execute(db.select(ExternalAbsence).filter_by(staff_id=olivia.id).limit(1)).scalar_one())
        admin_id = db.session.execute(db.select(User.id).filter_by(role="admin")).scalar_one()
        endpoints = sorted({r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods} - NOT_PAGES)
        pages = [(e, endpoint_url(app, e, world, admin_id)) for e in endpoints]
        return pages, url_for("auth.login")


def _visit_all(live_server, chromium, viewport, check):
    seeded = _seed(live_server.app)
    pages, login_url = _pages(live_server.app, seeded)
    problems = []
    for who, email in (("admin", "admin@sundial-demo.test"), ("staff", "olivia.bennett@sundial-demo.test")):
        # axe is injected as a script tag, which the pages' CSP (R2, tests/e2e/test_csp_e2e.py) rightly refuses
        context = chromium.new_context(viewport=viewport, locale="en-US", bypass_csp=True)
        try:
            page = context.new_page()
            page.goto(live_server.url + login_url)
            problems += check(page, f"anonymous {login_url}")
            page.fill("#email", email)
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state()
            for endpoint, url in pages:
                if who == "staff" and endpoint not in STAFF_PAGES:
                    continue
                page.goto(live_server.url + url)
                problems += check(page, f"{who} {url}")
        finally:
            context.close()
    return problems, len(pages)


WIDEST = """() => Array.from(document.querySelectorAll('body *'))
    .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5).slice(-3)
    .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
         + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().replace(/\\s+/g, '.') : ''))"""


def _overflow(page, where):
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width[0] <= width[1]:
        return []
    return [f"{where}: {width[0]} px wide in a {width[1]} px window (e.g. {', '.join(page.evaluate(WIDEST))})"]


def test_p6_no_page_scrolls_sideways_on_a_390px_phone(live_server, chromium):
    problems, count = _visit_all(live_server, chromium, {"width": 390, "height": 844}, _overflow)
    assert count >= 25
    assert problems == [], "\n".join(problems)


def _axe(page, where):
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ' (' + v.impact + '): '
                     + v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + (n.any[0] || {}).message).join(' | '));
    }""")
    return [f"{where}: {v}" for v in found]


def test_p11_no_serious_or_critical_axe_violation_on_any_page(live_server, chromium):
    if not AXE.exists():
        pytest.fail(f"axe-core is not installed at {AXE}: run `make test` (scripts/test.sh installs it with npm)")
    problems, _ = _visit_all(live_server, chromium, {"width": 1440, "height": 900}, _axe)
    assert problems == [], "\n".join(problems)
