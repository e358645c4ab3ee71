"""Access decorators (S1, A1): anonymous → login page; staff on an admin page → 403.

Every view declares its access level; tests/web/test_access.py reads `view.access` for every
endpoint in the URL map, so a new route is covered (and must declare itself) automatically.
"""
from __future__ import annotations

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_login import current_user


def _mark(view, level: str):
    view.access = level
    return view


def public(view):
    return _mark(view, "public")


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        return view(*args, **kwargs)

    return _mark(wrapper, "login")


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return _mark(wrapper, "admin")


def install_login_manager(login_manager) -> None:
    from ..extensions import db
    from ..models import User

    login_manager.login_view = "auth.login"

    @login_manager.user_loader
    def load_user(cookie_id: str):
        # R1: the cookie carries "<id>:<session token>"; a revoked token (logout, new password, "sign out
        # everywhere") or an old-style bare id loads nobody, so a replayed cookie is refused.
        user_id, _, token = cookie_id.partition(":")
        if not user_id.isdigit() or not token:
            return None
        user = db.session.get(User, int(user_id))
        return user if user is not None and user.is_enabled and user.token_matches(token) else None
