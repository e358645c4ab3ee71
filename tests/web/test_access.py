"""S1/A1: every URL in the URL map, as anonymous, staff and admin — a new route is covered automatically.

The expected access is written down here, not read from the views: a short list of public endpoints, a
short list of endpoints any signed-in user may use, and every other endpoint is admin-only. A new route is
therefore admin-only in this test until someone adds it to a list on purpose.

GET (SQLite and PostgreSQL): anonymous → login page for everything but the public endpoints; staff → 403
on admin-only endpoints; admin → 200 (or the redirect listed below). POST: without a CSRF token → 400 for
everyone; with CSRF off, anonymous → login page and staff → 403 on admin-only endpoints, admin is let in.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import url_for
from webtools import (
    add_one_of_everything,
    build_world,
    endpoint_url,
    login,
    login_with_csrf,
    make_staff_user,
    url_map_pairs,
)

from tests.conftest import make_user

ROLES = ("anonymous", "staff", "admin")

# The access policy (SPEC S1, A1). Everything not listed is admin-only.
PUBLIC = {("GET", "static"), ("GET", "auth.login"), ("POST", "auth.login")}
# For load balancers, supervisors and Prometheus (O1, O2): no session; each checks its own token or address and
# shows details only to admins or configured addresses — proven in tests/ops, left out of the page crawl below.
MACHINE = {("GET", "ops.healthz"), ("GET", "ops.readyz"), ("GET", "ops.metrics")}
SIGNED_IN = {("GET", "schedule.home"), ("GET", "schedule.week"), ("GET", "schedule.appointment"),
             ("GET", "schedule.day"), ("GET", "schedule.changes"), ("GET", "schedule.absence"),
             ("GET", "schedule.preferences"), ("POST", "schedule.preferences"),
             ("POST", "auth.logout")}

# GETs that answer a user they let in with a redirect instead of a page: endpoint → where to.
REDIRECTS = {"auth.login": "schedule.day", "schedule.home": "schedule.day",
             "settings.index": "settings.integrations"}
# GETs that are not HTML pages: endpoint → content type.
NOT_PAGES = {"static": "text/css", "exchange_settings.account_states": "application/json",
             "schedule.changes": "application/json", "schedule.slots": "application/json",
             "schedule.picker_choices": "application/json"}

APP, PAIRS = url_map_pairs()
GETS = [e for m, e in PAIRS if m == "GET" and (m, e) not in MACHINE]
POSTS = [e for m, e in PAIRS if m == "POST"]


def expected_access(method: str, endpoint: str) -> str:
    if (method, endpoint) in PUBLIC:
        return "public"
    if (method, endpoint) in MACHINE:
        return "machine"
    if (method, endpoint) in SIGNED_IN:
        return "signed-in"
    return "admin"


def _people():
    """Sam Staff (a staff login) with one row in every table, and an admin login, on the current app."""
    world = add_one_of_everything(build_world(make_staff_user()))
    return world, make_user("admin@example.test", role="admin", name="Ada Admin")


def _request(app, role, world, admin, method, url, csrf=False):
    """One role's request in an app context of its own: Flask-Login and Flask-WTF keep the signed-in user and
    the CSRF token in `g`, which would otherwise carry over from the previous role (the test holds a context)."""
    with app.app_context():
        client = app.test_client()
        user = {"staff": world.staff_user, "admin": admin}.get(role)
        if user is not None:
            (login_with_csrf if csrf else login)(client, user)
        return client.open(url, method=method, data={} if method == "POST" else None)


def _sent_to_login(resp) -> bool:
    return resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == "/login"


def test_s1_url_map_is_covered():
    assert "schedule.week" in GETS and "settings.integrations" in GETS and "exchange_settings.configuration" in GETS
    assert "schedule.cancel_appointment" in POSTS and "auth.logout" in POSTS
    assert len(GETS) >= 20 and len(POSTS) >= 15


def test_s1_the_written_policy_names_only_real_endpoints():
    listed = PUBLIC | SIGNED_IN | MACHINE
    assert listed <= set(PAIRS), f"listed but not in the URL map: {sorted(listed - set(PAIRS))}"
    assert set(REDIRECTS) | set(NOT_PAGES) <= set(GETS)


def test_s1_views_declare_the_same_access_as_the_policy():
    """The view decorators agree with the written policy (a quick pointer when a behaviour test fails)."""
    declared = {"public": "public", "login": "signed-in", "admin": "admin", "machine": "machine",
                "self_service": "admin"}  # P7: admin-only unless the organisation turns staff self-service on
    wrong = [(m, e, getattr(APP.view_functions[e], "access", None)) for m, e in PAIRS if e != "static"
             and declared.get(getattr(APP.view_functions[e], "access", None)) != expected_access(m, e)]
    assert wrong == []


def _check_get(app, world, admin, endpoint, role):
    access = expected_access("GET", endpoint)
    resp = _request(app, role, world, admin, "GET", endpoint_url(app, endpoint, world, admin.id))
    where = f"{role} GET {endpoint}: {resp.status_code}"
    if role == "anonymous" and access != "public":
        assert _sent_to_login(resp), where
        return
    if role == "staff" and access == "admin":
        assert resp.status_code == 403, where
        return
    if role != "anonymous" and endpoint in REDIRECTS:
        assert resp.status_code == 302, where
        assert urlsplit(resp.headers["Location"]).path == urlsplit(url_for(REDIRECTS[endpoint])).path
        return
    assert resp.status_code == 200, f"{where} {resp.get_data(as_text=True)[:600]}"
    assert resp.mimetype == NOT_PAGES.get(endpoint, "text/html"), where


@pytest.mark.parametrize("endpoint", GETS)
def test_s1_a1_get(any_app, endpoint):
    """Each GET endpoint as anonymous, staff and admin, on SQLite and on PostgreSQL."""
    world, admin = _people()
    for role in ROLES:
        _check_get(any_app, world, admin, endpoint, role)


@pytest.mark.parametrize("endpoint", POSTS)
def test_s1_post_without_csrf_token_refused(csrf_app, endpoint):
    world, admin = _people()
    for role in ROLES:
        url = endpoint_url(csrf_app, endpoint, world, admin.id)
        resp = _request(csrf_app, role, world, admin, "POST", url, csrf=True)
        assert resp.status_code == 400, f"{role} POST {endpoint}: {resp.status_code}"


@pytest.mark.parametrize("endpoint", POSTS)
def test_a1_post_needs_the_right_role(app, queue_redis, endpoint):
    world, admin = _people()
    access = expected_access("POST", endpoint)
    for role in ROLES:
        resp = _request(app, role, world, admin, "POST", endpoint_url(app, endpoint, world, admin.id))
        where = f"{role} POST {endpoint}: {resp.status_code}"
        if role == "anonymous" and access != "public":
            assert _sent_to_login(resp), where
        elif role == "staff" and access == "admin":
            assert resp.status_code == 403, where
        else:  # let in: whatever the (empty) form leads to, never a refusal or a crash
            assert resp.status_code < 500 and resp.status_code != 403, where
            if endpoint != "auth.logout":  # signing out rightly ends on the login page
                assert not _sent_to_login(resp), where
