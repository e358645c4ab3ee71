"""Display preferences (P9): each user's zone and clock format, and the template filters that honour them.

The zone applies to pages about one appointment or event (appointment, Exchange block, outbox); the day and
week grids keep their own labelled zones (the location's, the staff member's: A2, C3). The clock applies to
every time printed through `localtime` and `clock`, and to the booking form's time field.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ..auth.access import login_required
from ..extensions import db
from . import bp
from .forms import PreferencesForm, zone_choices


def twelve_hour() -> bool:
    return bool(getattr(current_user, "is_authenticated", False) and current_user.clock == "12")


def clock_format(fmt: str) -> str:
    """A strftime format in the viewer's clock: %H:%M becomes %-I:%M %p for 12-hour users."""
    return fmt.replace("%H:%M:%S", "%-I:%M:%S %p").replace("%H:%M", "%-I:%M %p") if twelve_hour() else fmt


def viewer_zone(default: str) -> str:
    preferred = getattr(current_user, "timezone", None) if getattr(current_user, "is_authenticated", False) else None
    return preferred or default


@bp.app_template_filter("clock")
def clock(value: datetime | None) -> str:
    """{{ block.start|clock }} — an already-local time in the viewer's clock format."""
    return "" if value is None else value.strftime(clock_format("%H:%M"))


@bp.app_template_filter("hour_label")
def hour_label(hour: int) -> str:
    if not twelve_hour():
        return f"{hour:02d}:00"
    return f"{(hour % 12) or 12} {'AM' if hour < 12 else 'PM'}"


@bp.app_template_filter("localtime")
def localtime(value: datetime | None, tz_name: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """{{ appt.start|localtime(zone, '%H:%M') }} — an aware datetime on a local wall clock, viewer's clock."""
    return "" if value is None else value.astimezone(ZoneInfo(tz_name or "UTC")).strftime(clock_format(fmt))


def admin_zone() -> str:
    """The zone admin logs are shown in (P9): the viewer's preference, else their own staff zone, else UTC."""
    staff = getattr(current_user, "staff", None) if getattr(current_user, "is_authenticated", False) else None
    return viewer_zone(getattr(staff, "timezone", None) or "UTC")


@bp.app_template_global("log_zone")
def log_zone() -> str:
    """{{ log_zone() }} — the zone name admin logs are labelled with."""
    return admin_zone()


@bp.app_template_filter("logtime")
def logtime(value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    """{{ e.at|logtime('%d %b %H:%M:%S') }} — a stored UTC time in the viewer's zone and clock, zone labelled."""
    return localtime(value, admin_zone(), fmt + " %Z")


@bp.route("/account/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    form = PreferencesForm()
    form.timezone.choices = [("", "Default: the staff member's or the location's zone")] + zone_choices()
    if form.validate_on_submit():
        current_user.timezone = form.timezone.data or None
        current_user.clock = form.clock.data
        db.session.commit()
        flash("Saved: times are shown " + (f"in {current_user.timezone}" if current_user.timezone else
              "in each page's own zone") + f" on a {current_user.clock}-hour clock.", "success")
        return redirect(url_for("schedule.preferences"))
    if not form.is_submitted():
        form.timezone.data, form.clock.data = current_user.timezone or "", current_user.clock or "24"
    return render_template("schedule/preferences.html", form=form)
