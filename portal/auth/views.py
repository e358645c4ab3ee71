from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func

from ..extensions import db, limiter
from ..models import User
from . import bp
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


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"],
               error_message="Too many sign-in attempts. Wait a minute and try again.")
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("schedule.day"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.execute(db.select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
        if user is None or not user.check_password(form.password.data) or not user.is_enabled:
            flash("That email and password don't match an account.", "error")
            return render_template("auth/login.html", form=form), 401
        login_user(user, remember=form.remember.data)
        return redirect(_safe_next(request.args.get("next")) or url_for("schedule.day"))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
