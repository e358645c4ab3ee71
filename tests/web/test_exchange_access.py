"""S1 for every route of the Exchange settings: anonymous → login, staff → 403, admin → allowed; CSRF refused."""
from __future__ import annotations

import pytest

from tests.conftest import login
from tests.web.exchange_helpers import csrf_token, form_data, login_with_csrf

BASE = "/settings/integrations/exchange"
STAFF = "{staff}"
GET_ROUTES = ["/", "/accounts", "/accounts/states.json", f"/accounts/{STAFF}/activity", "/audit", "/disconnect"]
POST_ROUTES = ["/authorize", "/autodiscover", "/disconnect", f"/accounts/{STAFF}/resync",
               f"/accounts/{STAFF}/exclude", f"/accounts/{STAFF}/include", f"/accounts/{STAFF}/confirm-empty"]


def url(path: str, staff_user) -> str:
    return BASE + path.replace(STAFF, str(staff_user.staff.id))


def test_s1_every_exchange_route_is_listed_and_admin_only(app):
    """A new route in the blueprint must be added to the lists above (and declare admin access)."""
    listed = {BASE + p for p in GET_ROUTES + POST_ROUTES}
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("exchange_settings."):
            assert app.view_functions[rule.endpoint].access == "admin", rule.endpoint
            found.add(rule.rule.replace("<int:staff_id>", STAFF))
    assert found == listed


@pytest.mark.parametrize("path", GET_ROUTES)
def test_s1_get_anonymous_redirected_to_login(client, staff_user, path):
    resp = client.get(url(path, staff_user))
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("path", POST_ROUTES)
def test_s1_post_anonymous_redirected_to_login(client, staff_user, path):
    resp = client.post(url(path, staff_user), data={})
    assert resp.status_code == 302
    assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("path", GET_ROUTES + POST_ROUTES)
def test_s1_staff_gets_403(client, staff_user, path):
    login(client, staff_user)
    method = client.post if path in POST_ROUTES and path not in GET_ROUTES else client.get
    assert method(url(path, staff_user)).status_code == 403
    if path in POST_ROUTES:
        assert client.post(url(path, staff_user), data={}).status_code == 403


@pytest.mark.parametrize("path", GET_ROUTES)
def test_s1_admin_gets_200(client, admin_user, staff_user, path):
    login(client, admin_user)
    resp = client.get(url(path, staff_user))
    assert resp.status_code == 200


def test_s1_state_changes_are_post_only(client, admin_user, staff_user):
    login(client, admin_user)
    for path in POST_ROUTES:
        if path in GET_ROUTES:
            continue
        assert client.get(url(path, staff_user)).status_code == 405, path


@pytest.fixture
def csrf_client(csrf_app, admin_user, staff_user):
    client = csrf_app.test_client()
    return login_with_csrf(client, admin_user)


@pytest.mark.parametrize("path", POST_ROUTES)
def test_s1_post_without_csrf_token_is_refused(csrf_client, staff_user, path):
    from portal.models import AuditEvent, ExchangeIntegration, MailboxState

    data = form_data() if path == "/authorize" else {"username": "svc@example.com"}
    resp = csrf_client.post(url(path, staff_user), data=data)
    assert resp.status_code == 400
    assert ExchangeIntegration.get() is None or ExchangeIntegration.get().state == "disconnected"
    assert MailboxState.query.count() == 0
    assert AuditEvent.query.count() == 0


def test_s1_post_with_csrf_token_is_accepted(csrf_client, staff_user):
    from portal.extensions import db
    from portal.models import MailboxState

    page = csrf_client.get(BASE + "/accounts").get_data(as_text=True)
    resp = csrf_client.post(url(f"/accounts/{STAFF}/exclude", staff_user), data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302
    assert db.session.get(MailboxState, staff_user.staff.id).excluded is True
