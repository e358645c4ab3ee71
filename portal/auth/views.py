from functools import cache
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db, limiter
from ..models import User
from . import bp, signin_limits
from .access import login_required, public
from .forms import LoginForm


def _safe_next(target: str | None) -> str | None:
    # Only same-site relative paths: never an open redirect.
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@cache
def _dummy_hash() -> str:
    """A hash made like real ones (same method and cost), checked when no user has the email."""
    return generate_password_hash("sundial-dummy-password")


def _authenticate(email: str, password: str) -> User | None:
    """R3: the password hash runs for unknown and disabled users too, so both take as long as a known one."""
    user = db.session.execute(db.select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
    ok = user.check_password(password) if user is not None else check_password_hash(_dummy_hash(), password)
    return user if ok and user is not None and user.is_enabled else None


def _refused(form, sentence: str, status: int):
    flash(sentence, "error")
    return render_template("auth/login.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(signin_limits.ADDRESS_LIMIT, methods=["POST"], deduct_when=lambda r: r.status_code == 401,
               error_message="Too many failed sign-ins from this address. Wait a minute and try again.")
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("schedule.day"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    email, address = form.email.data.strip().lower(), request.remote_addr or ""
    wait = signin_limits.held_for(email, address)
    if wait:
        return _refused(form, f"Too many failed sign-ins for this account. Try again in {wait} seconds.", 429)
    user = _authenticate(email, form.password.data)
    if user is None:
        signin_limits.record_failure(email, address)
        return _refused(form, "That email and password don't match an account.", 401)
    signin_limits.record_success(email, address)
    login_user(user, remember=form.remember.data)  # get_id() gives a first-time user a session token
    db.session.commit()
    return redirect(_safe_next(request.args.get("next")) or url_for("schedule.day"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    # R1: a new token refuses this session's cookie and its remember-me cookie if anyone replays them.
    current_user.revoke_sessions()
    db.session.commit()
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
