"""R1: logout, a new password and an admin's "sign out everywhere" revoke sessions on the server.

Real cookies: the Set-Cookie values a browser got are replayed from a fresh client (a stolen cookie jar),
session cookie and remember-me cookie separately.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import make_user

SESSION, REMEMBER = "session", "remember_token"
PASSWORD = "correct horse battery"


@pytest.fixture
def web(app_factory):
    """An app with no application context held open between requests: Flask-Login keeps the signed-in
    user on `g`, which a shared app context would carry from one client's request to the next."""
    return app_factory(WTF_CSRF_ENABLED=False)


def _user(app, email, role="admin", staff=False):
    from portal.extensions import db
    from portal.models import Location, StaffMember

    with app.app_context():
        member = None
        if staff:
            loc = Location(name="Main Street", timezone="America/New_York")
            member = StaffMember(name="Sam Staff", email=email, timezone="America/New_York",
                                 primary_location=loc, locations=[loc])
            db.session.add_all([loc, member])
        user = make_user(email, role=role, staff=member)
        return user.id, (member.id if member else None)


def login(client, email, password=PASSWORD):
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    return client


def _signed_in_with_remember(app, email, password=PASSWORD):
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": password, "remember": "y"})
    assert resp.status_code == 302
    cookies = {name: client.get_cookie(name, domain="sundial.test") for name in (SESSION, REMEMBER)}
    assert cookies[SESSION] is not None and cookies[REMEMBER] is not None
    return client, cookies


def _replay(app, name, cookie):
    """A browser that only has this one stolen cookie."""
    thief = app.test_client()
    thief.set_cookie(name, cookie.value, domain=cookie.domain)
    return thief.get("/admin/staff")


def _opens(resp) -> bool:
    return resp.status_code == 200


def test_r1_replayed_cookies_work_before_revocation(web):
    _user(web, "admin@example.test")
    _, cookies = _signed_in_with_remember(web, "admin@example.test")
    assert _opens(_replay(web, SESSION, cookies[SESSION]))
    assert _opens(_replay(web, REMEMBER, cookies[REMEMBER]))  # the test's replay really signs in


def test_r1_logout_refuses_replayed_session_and_remember_cookies(web):
    _user(web, "admin@example.test")
    client, cookies = _signed_in_with_remember(web, "admin@example.test")
    assert client.post("/logout").status_code == 302
    for name in (SESSION, REMEMBER):
        resp = _replay(web, name, cookies[name])
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], name


def test_r1_password_change_revokes_other_sessions(web):
    from portal.extensions import db
    from portal.models import User

    user_id, _ = _user(web, "admin@example.test")
    _, cookies = _signed_in_with_remember(web, "admin@example.test")
    with web.app_context():
        db.session.get(User, user_id).set_password("a brand new passphrase")
        db.session.commit()
    for name in (SESSION, REMEMBER):
        assert _replay(web, name, cookies[name]).status_code == 302, name
    fresh = login(web.test_client(), "admin@example.test", "a brand new passphrase")
    assert _opens(fresh.get("/admin/staff"))


def test_r1_admin_sign_out_everywhere_revokes_a_staff_login(web):
    _user(web, "admin@example.test")
    _, staff_id = _user(web, "sam@example.test", role="staff", staff=True)
    staff_client, cookies = _signed_in_with_remember(web, "sam@example.test")
    assert staff_client.get("/schedule").status_code == 200
    assert _replay(web, REMEMBER, cookies[REMEMBER]).status_code == 403  # signed in (staff: admin page 403)
    admin = login(web.test_client(), "admin@example.test")
    page = admin.get(f"/admin/staff/{staff_id}/edit").get_data(as_text=True)
    assert 'id="sign-out-everywhere"' in page
    resp = admin.post(f"/admin/staff/{staff_id}/sign-out-everywhere", follow_redirects=True)
    assert "is signed out on every browser and device" in resp.get_data(as_text=True)
    assert staff_client.get("/schedule").status_code == 302  # the open browser is out too
    for name in (SESSION, REMEMBER):
        resp = _replay(web, name, cookies[name])
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], name
    assert _opens(admin.get("/admin/staff"))  # the admin's own session is untouched


def test_r1_sign_out_everywhere_needs_csrf(app_factory):
    from webtools import login_with_csrf

    web = app_factory(WTF_CSRF_ENABLED=True)
    _user(web, "boss@example.test")
    _, staff_id = _user(web, "sam@example.test", role="staff", staff=True)
    client = web.test_client()
    with web.app_context():
        from portal.models import User

        boss = User.query.filter_by(email="boss@example.test").one()
    login_with_csrf(client, boss)
    assert client.post(f"/admin/staff/{staff_id}/sign-out-everywhere").status_code == 400


def test_r1_remember_me_lasts_at_most_30_days(web):
    _user(web, "admin@example.test")
    _, cookies = _signed_in_with_remember(web, "admin@example.test")
    expires = cookies[REMEMBER].expires
    assert expires is not None
    days = (expires - datetime.now(UTC)).total_seconds() / 86400
    assert 29 < days <= 30


def test_r1_cookie_from_before_the_upgrade_is_refused(web):
    """A cookie holding only the numeric id (issued before session tokens) no longer signs anyone in."""
    from flask.sessions import SecureCookieSessionInterface

    user_id, _ = _user(web, "admin@example.test")
    serializer = SecureCookieSessionInterface().get_signing_serializer(web)
    old = serializer.dumps({"_user_id": str(user_id), "_fresh": True})
    thief = web.test_client()
    thief.set_cookie(SESSION, old, domain="sundial.test")
    assert thief.get("/admin/staff").status_code == 302
