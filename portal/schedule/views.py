"""Week view (A2, C3, C5) and the appointment page. Staff see their own schedule; admins anyone's."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from ..auth.access import login_required
from ..booking.appointments import absence_label
from ..extensions import db
from ..models import Appointment, ExchangeIntegration, ExternalAbsence, StaffMember, utcnow
from . import bp
from .week import empty_week, place

ABSENCE_KINDS = {"Busy": "absence", "OOF": "absence-oof", "Tentative": "absence-tentative"}
ABSENCE_NOTES = {"Busy": "Exchange", "OOF": "Out of office · Exchange", "Tentative": "Tentative · Exchange"}


@bp.route("/")
@login_required
def home():
    return redirect(url_for("schedule.week"))


def _staff_choices() -> list:
    """(id, name) rows for the picker: no StaffMember objects (nor their eager-loaded locations) for 1,000 staff."""
    return db.session.execute(db.select(StaffMember.id, StaffMember.name).order_by(StaffMember.name)).all()


def _chosen_staff() -> StaffMember | None:
    """Staff users always get themselves (A1); admins pick with ?staff=<id> (default: the first)."""
    if not current_user.is_admin:
        return current_user.staff
    wanted = request.args.get("staff", type=int)
    if wanted is not None:
        return db.get_or_404(StaffMember, wanted)
    return db.session.execute(db.select(StaffMember).order_by(StaffMember.name).limit(1)).scalar_one_or_none()


def _week_date() -> date | None:
    try:
        return date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        return None


def build_staff_week(member: StaffMember, day: date | None, now: datetime | None = None):
    """The Week (see week.py) for one staff member: their booked appointments and absences."""
    now = now or utcnow()
    week = empty_week(member.timezone, day or now.astimezone(ZoneInfo(member.timezone)).date(), now)
    appts = db.session.execute(
        db.select(Appointment).join(Appointment.staff)
        .where(StaffMember.id == member.id, Appointment.status == "booked",
               Appointment.start < week.utc_end, Appointment.end > week.utc_start)
        .options(selectinload(Appointment.service), selectinload(Appointment.staff),
                 selectinload(Appointment.clients))  # one query each, not one per appointment (A2 at scale)
        .order_by(Appointment.start)).unique().scalars().all()
    for a in appts:
        others = [s.name for s in a.staff if s.id != member.id]
        subtitle = ", ".join(c.name for c in a.clients)
        if others:
            subtitle += " · with " + ", ".join(others)
        place(week, "appointment-multi" if others else "appointment", a.service.name, subtitle,
              a.start, a.end, record_id=a.id)
    integration = ExchangeIntegration.get()
    absences = db.session.execute(
        db.select(ExternalAbsence)
        .where(ExternalAbsence.staff_id == member.id, ExternalAbsence.start < week.utc_end,
               ExternalAbsence.end > week.utc_start)
        .order_by(ExternalAbsence.start)).scalars().all()
    for ab in absences:
        place(week, ABSENCE_KINDS.get(ab.free_busy, "absence-free"), absence_label(ab, integration),
              ABSENCE_NOTES.get(ab.free_busy, f"{ab.free_busy} · Exchange"), ab.start, ab.end,
              record_id=ab.id, all_day=ab.is_all_day)
    return week, len(appts), len(absences)


@bp.route("/schedule")
@login_required
def week():
    member = _chosen_staff()
    if member is None:
        return render_template("schedule/no_staff.html"), 200
    week, n_appts, n_absences = build_staff_week(member, _week_date())
    return render_template("schedule/week.html", member=member, week=week, n_appts=n_appts,
                           n_absences=n_absences, staff_choices=_staff_choices() if current_user.is_admin else [],
                           hours=range(24))


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
                           exchange_connected=integration is not None and integration.state == "connected")


@bp.app_template_filter("localtime")
def localtime(value: datetime | None, tz_name: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """{{ appt.start|localtime(member.timezone, '%H:%M') }} — an aware datetime on a local wall clock."""
    return "" if value is None else value.astimezone(ZoneInfo(tz_name or "UTC")).strftime(fmt)
