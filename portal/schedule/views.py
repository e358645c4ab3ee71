"""Week view (A2, C3, C5) and the appointment page. Staff see their own schedule; admins anyone's."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.access import login_required
from ..booking.appointments import blocking_statuses
from ..extensions import db
from ..models import Appointment, ExchangeIntegration, NotificationSetting, StaffMember, utcnow
from ..validators import plausible_day
from . import bp
from .calendar_data import absences_by_staff, appointments_by_staff, change_cursor
from .day import fill
from .self_service import can_book, staff_self_service
from .week import empty_week

OTHER_STAFF = "This is {name}'s schedule; staff members can open only their own (and their location's day view)."


@bp.route("/")
@login_required
def home():
    """P1: everyone lands on Today (admins: a location's day; staff: their own day)."""
    return redirect(url_for("schedule.day"))


def _staff_choices() -> list:
    """(id, name) rows for the picker: no StaffMember objects (nor their eager-loaded locations) for 1,000 staff."""
    return db.session.execute(db.select(StaffMember.id, StaffMember.name).order_by(StaffMember.name)).all()


def forbidden(sentence: str):
    """A 403 page that says why (P7); usable with abort()."""
    return make_response(render_template("schedule/forbidden.html", sentence=sentence), 403)


def _chosen_staff() -> StaffMember | None:
    """Staff users get themselves (A1; another staff member's id → 403, P7); admins pick with ?staff=<id>."""
    wanted = request.args.get("staff", type=int)
    if not current_user.is_admin:
        if wanted is not None and wanted != current_user.staff_id:
            abort(forbidden(OTHER_STAFF.format(name=db.get_or_404(StaffMember, wanted).name)))
        return current_user.staff
    if wanted is not None:
        return db.get_or_404(StaffMember, wanted)
    return db.session.execute(db.select(StaffMember).order_by(StaffMember.name).limit(1)).scalar_one_or_none()


def _week_date() -> date | None:
    try:
        day = date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        return None
    return day if plausible_day(day) else None  # R5: no week of year 1 or 9999 (its neighbours overflow)


def build_staff_week(member: StaffMember, day: date | None, now: datetime | None = None):
    """The Week (see week.py) for one staff member: their booked appointments and absences."""
    now = now or utcnow()
    week = empty_week(member.timezone, day or now.astimezone(ZoneInfo(member.timezone)).date(), now)
    appts = appointments_by_staff([member.id], week.utc_start, week.utc_end).get(member.id, [])
    absences = absences_by_staff([member.id], week.utc_start, week.utc_end).get(member.id, [])
    fill(week, member, appts, absences, ExchangeIntegration.get(), blocking_statuses())
    return week, len(appts), len(absences)


@bp.route("/schedule")
@login_required
def week():
    member = _chosen_staff()
    if member is None:
        return render_template("schedule/no_staff.html"), 200
    day = _week_date()
    if day is None and request.args.get("week"):
        flash("That is not a week Sundial can show (use a date between 1900 and 2999); here is this week.", "warning")
        return redirect(url_for("schedule.week", staff=request.args.get("staff", type=int)))
    cursor = change_cursor()  # before the reads: a change in between shows on the first poll (P4)
    week, n_appts, n_absences = build_staff_week(member, day)
    return render_template("schedule/week.html", member=member, week=week, n_appts=n_appts,
                           n_absences=n_absences, staff_choices=_staff_choices() if current_user.is_admin else [],
                           hours=range(24), can_book=can_book(member), cursor=cursor)


@bp.route("/appointments/<int:appointment_id>")
@login_required
def appointment(appointment_id: int):
    appt = db.get_or_404(Appointment, appointment_id)
    if not current_user.is_admin and current_user.staff_id not in {s.id for s in appt.staff}:
        abort(403)
    from .booking_views import changes_of

    viewer = current_user.staff if not current_user.is_admin else None
    member = viewer or (appt.staff[0] if appt.staff else None)
    back = url_for("schedule.week")
    if member is not None:
        day = appt.start.astimezone(ZoneInfo(member.timezone)).date().isoformat()
        back = url_for("schedule.week", week=day, staff=None if viewer else member.id)
    integration = ExchangeIntegration.get()
    return render_template("schedule/appointment.html", appt=appt, changes=changes_of(appt), back_url=back,
                           exchange_connected=integration is not None and integration.state == "connected",
                           client_notifications=NotificationSetting.is_enabled("clients"),
                           may_change=_may_change(appt))


def _may_change(appt: Appointment) -> bool:
    """Admins; or (P7, self-service on) the one staff member on it."""
    mine = {s.id for s in appt.staff} == {current_user.staff_id}
    return current_user.is_admin or (mine and staff_self_service())
