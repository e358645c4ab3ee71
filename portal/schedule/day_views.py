"""Today (P1): a location's day, one column per staff member; Exchange block details (P5); the change cursor
the open calendars poll (P4)."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import abort, jsonify, render_template, request, session, url_for
from flask_login import current_user

from ..auth.access import login_required
from ..booking.appointments import absence_label, blocking_statuses
from ..extensions import db
from ..models import ExchangeIntegration, ExchangeLink, ExternalAbsence, Location, SyncActivity, utcnow
from . import bp
from .calendar_data import change_cursor
from .day import StaffPage, build_day, staff_page
from .self_service import can_book
from .views import forbidden

DAY_COLUMNS = 20  # staff columns a page (P1 at 1,000 staff: a page of columns, searchable, never all of them)
NOT_YOUR_LOCATION = "{name} is not one of your locations; staff members see the day view of their own locations."


def _locations() -> list[Location]:
    return db.session.execute(db.select(Location).order_by(Location.name)).scalars().all()


def _location(choices: list[Location]) -> Location | None:
    """?location=<id>, else the one this browser chose last (remembered in the session), else the first.
    Staff default to their primary location and may open only their own locations."""
    wanted = request.args.get("location", type=int)
    staff = None if current_user.is_admin else current_user.staff
    if wanted is None:
        wanted = session.get("day_location") if staff is None else getattr(staff, "primary_location_id", None)
    chosen = next((loc for loc in choices if loc.id == wanted), None)
    if staff is not None and chosen is None and wanted is not None:
        other = db.session.get(Location, wanted)
        if other is not None:
            abort(forbidden(NOT_YOUR_LOCATION.format(name=other.name)))
    chosen = chosen or (choices[0] if choices else None)
    if chosen is not None and staff is None:
        session["day_location"] = chosen.id
    return chosen


def _day(tz: str) -> date:
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return utcnow().astimezone(ZoneInfo(tz)).date()


@bp.route("/day")
@login_required
def day():
    staff = None if current_user.is_admin else current_user.staff
    if not current_user.is_admin and staff is None:
        return render_template("schedule/no_staff.html"), 200
    choices = _locations() if staff is None else sorted(staff.locations, key=lambda loc: loc.name)
    location = _location(choices)
    if location is None:
        return render_template("schedule/no_staff.html"), 200
    when = _day(location.timezone)
    everyone = current_user.is_admin or request.args.get("everyone") == "1"  # staff: their own day first
    q = " ".join((request.args.get("q") or "").split())[:100]
    cursor = change_cursor()  # before the reads: a change in between shows on the first poll
    if everyone:
        shown = staff_page(location, q, request.args.get("page", 1, type=int), DAY_COLUMNS)
    else:
        shown = StaffPage([staff], 1, 1, 1, 1)
    columns = build_day(location, when, shown.members, utcnow())
    return render_template("schedule/day.html", location=location, locations=choices, day=when,
                           columns=columns, everyone=everyone, hours=range(24), cursor=cursor, q=q, shown=shown,
                           prev=when - timedelta(days=1), next=when + timedelta(days=1),
                           bookable={c.member.id for c in columns if can_book(c.member)})


@bp.route("/schedule/changes")
@login_required
def changes():
    """P4: the open day and week views poll this; a different cursor means "fetch the page again"."""
    return jsonify(cursor=change_cursor())


@bp.route("/absences/<int:absence_id>")
@login_required
def absence(absence_id: int):
    """P5: an Exchange busy block's details, in the staff member's zone; the title only under C5."""
    ab = db.get_or_404(ExternalAbsence, absence_id)
    if not current_user.is_admin and ab.staff_id != current_user.staff_id:
        allowed = {loc.id for loc in current_user.staff.locations} if current_user.staff else set()
        if ab.staff.primary_location_id not in allowed:
            abort(forbidden("This busy time belongs to a staff member at another location."))
    link = db.session.execute(db.select(ExchangeLink).where(ExchangeLink.absence_id == ab.id)).scalars().first()
    activity = db.session.execute(
        db.select(SyncActivity).where(SyncActivity.staff_id == ab.staff_id, SyncActivity.subject == ab.title)
        .order_by(SyncActivity.at.desc()).limit(1)).scalars().first() if ab.title else None
    activity_url = None
    if current_user.is_admin:  # the activity log is an admin page; it searches by event subject
        activity_url = url_for("exchange_settings.activity", staff_id=ab.staff_id,
                               q=activity.subject if activity else None)
    return render_template("schedule/absence.html", ab=ab, title=absence_label(ab, ExchangeIntegration.get()),
                           blocks=ab.free_busy in blocking_statuses(), link=link, activity=activity,
                           activity_url=activity_url)
