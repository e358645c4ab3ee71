"""G4: while the integration is paused (credentials rejected), every page an admin opens shows base.html's
re-authorize banner — parametrized over the URL map, so a new page is covered automatically."""
from __future__ import annotations

import lxml.html
import pytest
from flask import url_for
from webtools import add_one_of_everything, endpoint_url, login, url_map_pairs

from portal.extensions import db
from portal.models import ExchangeIntegration

# GET endpoints that are not pages (no base.html): written here, everything else must show the banner.
NOT_PAGES = {"static", "exchange_settings.account_states", "ops.healthz", "ops.readyz", "ops.metrics",
             "schedule.changes", "schedule.slots", "schedule.picker_choices"}  # JSON and machine endpoints

_, PAIRS = url_map_pairs()
PAGES = [e for m, e in PAIRS if m == "GET" and e not in NOT_PAGES]
BANNER_TEXT = "Exchange rejected the service account's password, so syncing is paused for everyone — re-authorize."


def _pause(state="paused"):
    db.session.add(ExchangeIntegration(id=1, username="svc@example.com", server_url="https://mail.example.com/EWS/"
                                       "Exchange.asmx", state=state, paused_reason="HTTP 401 at 10:02"))
    db.session.commit()


def banner(html: str):
    """base.html's banner element (None when absent); fails when there is more than one."""
    found = lxml.html.fromstring(html).xpath('//*[@id="exchange-paused-banner"]')
    assert len(found) <= 1
    return found[0] if found else None


def test_g4_not_pages_and_pages_cover_every_get():
    gets = {e for m, e in PAIRS if m == "GET"}
    assert NOT_PAGES <= gets and set(PAGES) | NOT_PAGES == gets
    assert {"exchange_settings.configuration", "exchange_settings.accounts", "settings.outbox",
            "schedule.week", "schedule.book_appointment"} <= set(PAGES)


@pytest.mark.parametrize("endpoint", PAGES)
def test_g4_every_admin_page_shows_the_reauthorize_banner(app, client, world, admin_user, endpoint):
    add_one_of_everything(world)
    _pause()
    login(client, admin_user)
    resp = client.get(endpoint_url(app, endpoint, world, admin_user.id), follow_redirects=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    element = banner(resp.get_data(as_text=True))
    assert element is not None, f"no re-authorize banner on {endpoint}"
    assert element.getparent().tag == "body"  # base.html's, not a page's own callout
    assert "banner-danger" in element.get("class") and element.get("role") == "alert"
    assert " ".join(element.text_content().split()) == BANNER_TEXT
    links = element.xpath(".//a")
    assert [(a.get("href"), a.text_content()) for a in links] == [
        (url_for("exchange_settings.configuration", _external=False), "re-authorize")]


@pytest.mark.parametrize("state", ["connected", "disconnected"])
def test_g4_no_banner_unless_paused(app, client, world, admin_user, state):
    _pause(state)
    login(client, admin_user)
    for endpoint in ("exchange_settings.configuration", "schedule.week", "settings.outbox"):
        assert banner(client.get(url_for(endpoint)).get_data(as_text=True)) is None, endpoint


def test_g4_staff_never_see_the_admin_banner(app, client, world):
    _pause()
    login(client, world.staff_user)
    html = client.get(url_for("schedule.week")).get_data(as_text=True)
    assert banner(html) is None and "re-authorize" not in html
