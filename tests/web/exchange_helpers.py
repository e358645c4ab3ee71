"""Helpers shared by tests/web/test_exchange_*.py: staff, form data, a fake probe, CSRF logins."""
from __future__ import annotations

import re

from portal.ews_soap.types import ProbeResult

PASSWORD = "Sup3r-Secret-Pa55!"


def add_staff(name: str, email: str, takes=True):
    from portal.extensions import db
    from portal.models import StaffMember

    staff = StaffMember(name=name, email=email, timezone="Europe/London", takes_appointments=takes)
    db.session.add(staff)
    db.session.commit()
    return staff


def form_data(**over) -> dict:
    data = {
        "auth_type": "ntlm", "username": "svc-sundial@example.com", "password": PASSWORD,
        "version": "2016", "server_url": "https://mail.example.com/EWS/Exchange.asmx",
        "server_url_source": "autodiscover", "display_name": "Bank Exchange", "impersonation": "y",
        "block_busy": "y", "block_oof": "y", "block_tentative": "y", "sync_interval_minutes": "5",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


class FakeProbe:
    """Stands in for portal.ews_soap.probe in tests of pure behaviour; records what it was given."""

    def __init__(self, error=None, server_version="15.1.2176.12", suggested=None):
        self.error, self.server_version, self.suggested = error, server_version, suggested
        self.calls = []

    def __call__(self, config, impersonate=None, staff=()):
        self.calls.append((config, impersonate, staff))
        if self.error is not None:
            raise self.error
        return ProbeResult(server_version=self.server_version, version_header="Exchange2016",
                           version_label=config.version, suggested_version=self.suggested)


def install_probe(monkeypatch, probe: FakeProbe) -> FakeProbe:
    from portal.settings.exchange import connection

    monkeypatch.setattr(connection, "run_probe", probe)
    return probe


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login_with_csrf(client, user, password="correct horse battery"):
    page = client.get("/login")
    resp = client.post("/login", data={"email": user.email, "password": password,
                                       "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert resp.status_code == 302, resp.data[:300]
    return client
