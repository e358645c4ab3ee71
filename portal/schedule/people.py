"""Admin pages for staff members (G7 hook). Clients, services and locations: records.py."""
from __future__ import annotations

from math import ceil

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func

from ..auth.access import admin_required
from ..booking.slots import DEFAULT_HOURS, dump_hours, parse_hours, parse_span
from ..extensions import db
from ..jobs.after_commit import staff_changed_after_commit
from ..models import Location, StaffMember, User
from . import bp
from .day import like_pattern
from .forms import StaffForm, zone_choices
from .self_service import set_staff_self_service, staff_self_service

STAFF_PER_PAGE = 50


def _locations():
    return db.session.execute(db.select(Location).order_by(Location.name)).scalars().all()


@bp.route("/admin/staff")
@admin_required
def staff_list():
    """Paged (STAFF_PER_PAGE) and searched by name or email in SQL: a fixed number of queries at any size."""
    q = " ".join((request.args.get("q") or "").split())[:100]
    stmt = db.select(StaffMember)
    if q:
        like = like_pattern(q)
        stmt = stmt.where(func.lower(StaffMember.name).like(like, escape="\\")
                          | func.lower(StaffMember.email).like(like, escape="\\"))
    total = db.session.execute(db.select(func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, ceil(total / STAFF_PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    staff = db.session.execute(stmt.order_by(StaffMember.name, StaffMember.id).limit(STAFF_PER_PAGE)
                               .offset((page - 1) * STAFF_PER_PAGE)).scalars().all()
    with_login = set(db.session.execute(db.select(User.staff_id).where(
        User.staff_id.in_([s.id for s in staff] or [0]))).scalars())
    first = (page - 1) * STAFF_PER_PAGE + 1 if staff else 0
    return render_template("people/staff_list.html", staff=staff, with_login=with_login, settings_section="staff",
                           self_service=staff_self_service(), q=q, total=total, page=page, pages=pages,
                           first=first, last=first + len(staff) - 1 if staff else 0)


@bp.route("/admin/staff/self-service", methods=["POST"])
@admin_required
def staff_self_service_switch():
    """P7: the organisation setting that lets staff book, reschedule and cancel their own appointments."""
    on = request.form.get("self_service") == "1"
    set_staff_self_service(on)
    db.session.commit()
    flash("Staff can now book, reschedule and cancel their own appointments." if on else
          "Only administrators book, reschedule and cancel now; staff see their schedules read-only.", "success")
    return redirect(url_for("schedule.staff_list"))


def _staff_form(member: StaffMember | None) -> StaffForm:
    form = StaffForm(obj=None)
    form.timezone.choices = zone_choices()
    form.locations.choices = form.primary_location.choices = [(loc.id, loc.name) for loc in _locations()]
    if request.method == "GET":
        if member is None:
            form.takes_appointments.data = True
            form.timezone.data = "America/New_York"
        else:
            form.name.data, form.email.data, form.timezone.data = member.name, member.email, member.timezone
            form.takes_appointments.data = member.takes_appointments
            form.locations.data = [loc.id for loc in member.locations]
            form.primary_location.data = member.primary_location_id
        hours = parse_hours(member.working_hours if member else None)
        for i, span in enumerate(hours):
            getattr(form, f"hours_{i}").data = f"{span[0]:%H:%M}-{span[1]:%H:%M}" if span else ""
    return form


def _hours_of(form: StaffForm, member: StaffMember | None) -> str | None:
    """The stored form of the week's hours (None when it is the default week); a post without the hours
    fields (an older form) keeps the hours as they are."""
    if not any(f"hours_{i}" in request.form for i in range(7)):
        return member.working_hours if member is not None else None
    hours = tuple(parse_span(getattr(form, f"hours_{i}").data or "") for i in range(7))
    return None if hours == DEFAULT_HOURS else dump_hours(hours)


def _email_taken(email: str, member: StaffMember | None) -> bool:
    other = db.session.execute(db.select(StaffMember).where(func.lower(StaffMember.email) == email)).scalars().first()
    return other is not None and (member is None or other.id != member.id)


def _login_of(member: StaffMember, old_email: str | None) -> User | None:
    linked = db.session.execute(db.select(User).where(User.staff_id == member.id)).scalars().first()
    if linked is not None:
        return linked
    user = db.session.execute(db.select(User).where(func.lower(User.email) == (old_email or member.email))
                              ).scalars().first()
    return user if user is not None and user.staff_id is None else None


def _sync_login(member: StaffMember, old_email: str | None, password: str | None) -> str | None:
    """Keep the staff member's Sundial login (User with staff_id) in step: same email; a password sets or
    resets it (write-only). Returns a problem sentence, or None."""
    user = _login_of(member, old_email)
    if user is None and not password:
        return None
    clash = db.session.execute(db.select(User).where(func.lower(User.email) == member.email)).scalars().first()
    if clash is not None and clash is not user:
        return f"Another login already uses {member.email}; the staff member's login was not changed."
    if user is None:
        user = User(email=member.email, name=member.name, role="staff")
        db.session.add(user)
    user.email, user.staff = member.email, member
    if password:
        user.set_password(password)
    return None


def _save_staff(member: StaffMember | None):
    form = _staff_form(member)
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if _email_taken(email, member):
            form.email.errors.append("Another staff member already has this email.")
        else:
            hours = _hours_of(form, member)
            old_email = member.email if member else None
            old_takes = member.takes_appointments if member else None
            member = member or StaffMember()
            member.name, member.email, member.timezone = form.name.data.strip(), email, form.timezone.data
            member.takes_appointments = bool(form.takes_appointments.data)
            member.locations = db.session.execute(
                db.select(Location).where(Location.id.in_(form.locations.data))).scalars().all()
            member.primary_location_id = form.primary_location.data
            member.working_hours = hours
            db.session.add(member)
            db.session.flush()
            problem = _sync_login(member, old_email, form.login_password.data or None)
            if problem:
                flash(problem, "warning")
            db.session.commit()
            staff_changed_after_commit(member.id, old_email, old_takes)
            flash(f"Saved {member.name}.", "success")
            return redirect(url_for("schedule.staff_list"))
    login = _login_of(member, None) if member is not None and member.id else None
    return render_template("people/staff_form.html", form=form, member=member, login=login,
                           settings_section="staff")


@bp.route("/admin/staff/new", methods=["GET", "POST"])
@admin_required
def staff_new():
    return _save_staff(None)


@bp.route("/admin/staff/<int:staff_id>/edit", methods=["GET", "POST"])
@admin_required
def staff_edit(staff_id: int):
    return _save_staff(db.get_or_404(StaffMember, staff_id))


@bp.route("/admin/staff/<int:staff_id>/sign-out-everywhere", methods=["POST"])
@admin_required
def staff_sign_out_everywhere(staff_id: int):
    """R1: revoke every session and remember-me cookie of this staff member's login."""
    member = db.get_or_404(StaffMember, staff_id)
    login = _login_of(member, None)
    if login is None:
        flash(f"{member.name} has no Sundial login, so there is nothing to sign out.", "info")
    else:
        login.revoke_sessions()
        db.session.commit()
        flash(f"{member.name} is signed out on every browser and device.", "success")
    return redirect(url_for("schedule.staff_edit", staff_id=staff_id))
