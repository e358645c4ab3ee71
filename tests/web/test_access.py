"""S1/A1: every URL in the URL map, as anonymous, staff and admin — a new route is covered automatically.

GET: anonymous → login page for login/admin views; staff → 403 on admin views; admin → 200 or a
redirect. POST: without a CSRF token → 400 for everyone (csrf_app); with CSRF off, anonymous →
login and staff → 403 on admin views.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from flask import url_for
from webtools import add_one_of_everything, build_world, login, login_with_csrf

ROLES = ("anonymous", "staff", "admin")
STRING_ARGS = {"audience": "clients", "filename": "sundial.css"}


def _rules():
    """(method, endpoint) pairs from a throwaway app, collected at import."""
    from portal import create_app

    old = os.environ.get("SUNDIAL_INSTANCE_PATH")
    instance = tempfile.mkdtemp(prefix="sundial-access-")
    os.environ["SUNDIAL_INSTANCE_PATH"] = instance
    try:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    finally:
        shutil.rmtree(instance, ignore_errors=True)
        if old is None:
            os.environ.pop("SUNDIAL_INSTANCE_PATH", None)
        else:
            os.environ["SUNDIAL_INSTANCE_PATH"] = old
    pairs = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            pairs.add((method, rule.endpoint))
    return app, sorted(pairs)


APP, PAIRS = _rules()
GETS = [e for m, e in PAIRS if m == "GET"]
POSTS = [e for m, e in PAIRS if m == "POST"]


def _access(endpoint: str) -> str:
    return "public" if endpoint == "static" else APP.view_functions[endpoint].access


def _url(app, endpoint: str, world, admin_id: int = 1) -> str:
    ids = {"appointment_id": world.appt.id, "staff_id": world.sam.id, "message_id": world.msg.id,
           "outbox_id": world.msg.id, "client_id": world.jo.id, "location_id": world.loc.id,
           "service_id": world.service.id, "absence_id": world.absence.id, "user_id": admin_id}
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {}
    for arg in rule.arguments:
        converter = type(rule._converters[arg]).__name__
        values[arg] = ids.get(arg, 1) if converter == "IntegerConverter" else STRING_ARGS.get(arg, "x")
    return url_for(endpoint, **values)


def _client_as(app, role, world, admin_user, csrf=False):
    client = app.test_client()
    user = {"staff": world.staff_user, "admin": admin_user}.get(role)
    if user is not None:
        (login_with_csrf if csrf else login)(client, user)
    return client


def test_s1_every_endpoint_declares_its_access():
    missing = [e for e, view in APP.view_functions.items()
               if e != "static" and getattr(view, "access", None) not in {"public", "login", "admin"}]
    assert missing == [], f"views without @public/@login_required/@admin_required: {missing}"


def test_s1_url_map_is_covered():
    assert "schedule.week" in GETS and "settings.integrations" in GETS and "exchange_settings.configuration" in GETS
    assert "schedule.cancel_appointment" in POSTS and "auth.logout" in POSTS


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", GETS)
def test_s1_a1_get(app, world, admin_user, role, endpoint):
    add_one_of_everything(world)
    access = _access(endpoint)
    client = _client_as(app, role, world, admin_user)
    resp = client.get(_url(app, endpoint, world, admin_user.id))
    if role == "anonymous" and access in {"login", "admin"}:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    elif role == "staff" and access == "admin":
        assert resp.status_code == 403
    else:
        assert resp.status_code in {200, 302}, resp.get_data(as_text=True)[:800]
        if resp.status_code == 302 and access != "public":
            assert "/login" not in resp.headers["Location"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", POSTS)
def test_s1_post_without_csrf_token_refused(csrf_app, staff_user, admin_user, role, endpoint):
    world = add_one_of_everything(build_world(staff_user))
    client = _client_as(csrf_app, role, world, admin_user, csrf=True)
    resp = client.post(_url(csrf_app, endpoint, world, admin_user.id), data={})
    assert resp.status_code == 400


@pytest.mark.parametrize("role", ("anonymous", "staff"))
@pytest.mark.parametrize("endpoint", POSTS)
def test_a1_post_needs_the_right_role(app, world, admin_user, role, endpoint):
    add_one_of_everything(world)
    access = _access(endpoint)
    client = _client_as(app, role, world, admin_user)
    resp = client.post(_url(app, endpoint, world, admin_user.id), data={})
    if role == "anonymous" and access in {"login", "admin"}:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    elif role == "staff" and access == "admin":
        assert resp.status_code == 403
    else:
        assert resp.status_code < 500
