"""Admin booking pages (C2, I5): validate → commit → enqueue export + notifications → flash → redirect."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..booking.appointments import BookingError, book, cancel, edit
from ..extensions import db
from ..jobs.after_commit import enqueue_after_commit
from ..models import Appointment, AppointmentChange, Client, ExchangeIntegration, Location, Service, StaffMember
from ..notifications import notify_appointment
from ..validators import plausible_day
from . import bp
from .forms import AppointmentForm
from .picker import PICKER_SHOWN, Picker, client_picker, search_text, staff_picker
from .prefs import twelve_hour
from .self_service import own_only, self_service
from .slot_views import propose


def changes_of(appt: Appointment) -> list[AppointmentChange]:
    return db.session.execute(db.select(AppointmentChange).where(AppointmentChange.appointment_id == appt.id)
                              .order_by(AppointmentChange.id)).scalars().all()


def _fill_choices(form: AppointmentForm) -> None:
    """Services and locations: columns, not ORM rows (building every object was most of the form's time)."""
    ex = db.session.execute
    form.service.choices = [(i, f"{name} · {minutes} min") for i, name, minutes in
                            ex(db.select(Service.id, Service.name, Service.duration_minutes).order_by(Service.name))]
    form.location.choices = [(i, f"{name} · {tz}") for i, name, tz in
                             ex(db.select(Location.id, Location.name, Location.timezone).order_by(Location.name))]


def _fill_people(form: AppointmentForm, appt: Appointment | None = None, listing: bool = True) -> dict[str, Picker]:
    """Staff and clients: the chosen ones and the first matches of each picker's search (picker.py), never
    everyone. A POST is validated against the chosen ones alone (`listing` False); the matches are added only
    when the form is shown again."""
    current = {s.id for s in appt.staff} if appt else set()
    limit = PICKER_SHOWN if listing else 0
    pickers = {"staff": staff_picker(search_text(request.values.get("staff_q")), form.staff.data or [], current,
                                     limit=limit),
               "clients": client_picker(search_text(request.values.get("clients_q")), form.clients.data or [],
                                        limit=limit)}
    form.staff.choices, form.clients.choices = pickers["staff"].choices, pickers["clients"].choices
    return pickers


def _finding() -> bool:
    """The no-JavaScript search: a picker's Find button (or a search typed but not yet run, then Enter or
    Book) posts the form to show the matches, booking nothing."""
    if request.method != "POST":
        return False
    form = request.form
    return form.get("find") in ("staff", "clients") or any(
        f"{name}_q_shown" in form and search_text(form.get(f"{name}_q")) != search_text(form.get(f"{name}_q_shown"))
        for name in ("staff", "clients"))


def local_start(day: date, at: time, tz_name: str) -> datetime:
    """The aware start for a wall-clock date and time; refuses a time skipped by a DST change.

    A time that happens twice (clocks go back) means its first occurrence (fold=0).
    """
    tz = ZoneInfo(tz_name)
    wanted = datetime.combine(day, at, tz)
    back = wanted.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != wanted.replace(tzinfo=None):
        raise BookingError([f"{at:%H:%M} does not exist on {day:%a} {day.day} {day:%b %Y} in {tz_name} "
                            "(the clocks go forward); choose another time."])
    return wanted


def _rows(model, ids):
    rows = db.session.execute(db.select(model).where(model.id.in_(ids or []))).scalars().all()
    order = {i: n for n, i in enumerate(ids or [])}
    return sorted(rows, key=lambda r: order[r.id])


def _new_client(form: AppointmentForm) -> list[Client]:
    """A walk-in typed into the form: added (and flushed) in the booking's transaction, so a refused booking's
    rollback removes it too."""
    name = (form.new_client_name.data or "").strip()
    if not name:
        return []
    client = Client(name=name, email=(form.new_client_email.data or "").strip().lower() or None,
                    phone=(form.new_client_phone.data or "").strip() or None)
    db.session.add(client)
    db.session.flush()
    return [client]


def _form_values(form: AppointmentForm) -> dict:
    service, location = db.session.get(Service, form.service.data), db.session.get(Location, form.location.data)
    start = local_start(form.date.data, form.time.data, location.timezone if location else "UTC").astimezone(UTC)
    end = start + timedelta(minutes=form.duration.data) if form.duration.data else None
    return {"service": service, "location": location, "start": start, "end": end,
            "staff": _rows(StaffMember, form.staff.data),
            "clients": _rows(Client, form.clients.data) + _new_client(form),
            "notes": (form.notes.data or "").strip()}


def after_commit(appt: Appointment, messages) -> None:
    """Enqueue the export (only with a connected integration) and the notifications, after the commit.

    A Redis outage never loses the booking: its AppointmentChange and OutboxMessage rows stay pending.
    """
    integration = ExchangeIntegration.get()
    connected = integration is not None and integration.state == "connected"
    jobs = ([("export", appt.id)] if connected else []) + [("notify", m.id) for m in messages]
    what = " and ".join(w for w, on in (("the Exchange export", connected),
                                        ("the notification emails", bool(messages))) if on)
    if jobs:
        enqueue_after_commit(what, jobs)


def _week_url(appt: Appointment, staff: StaffMember | None = None):
    member = staff or appt.staff[0]
    day = appt.start.astimezone(ZoneInfo(member.timezone)).date()
    return url_for("schedule.week", staff=member.id, week=day.isoformat())


def _prefill(form: AppointmentForm) -> None:
    """P3: ?staff=&location=&date=&time= from a click on an empty slot (or the Book buttons)."""
    staff_id = request.args.get("staff", type=int)
    member = db.session.get(StaffMember, staff_id) if staff_id else None
    if member:
        form.staff.data = [member.id]
        if member.primary_location_id:
            form.location.data = member.primary_location_id
    if not current_user.is_admin:  # self-service: always their own booking
        form.staff.data = [current_user.staff_id]
    location_id = request.args.get("location", type=int)
    if location_id and location_id in {value for value, _ in form.location.choices}:
        form.location.data = location_id
    try:
        form.date.data = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        form.date.data = None
    if not plausible_day(form.date.data):  # R5: ?date=0001-01-01 pre-fills nothing
        form.date.data = None
    try:
        form.time.data = time.fromisoformat(request.args.get("time", ""))
    except ValueError:
        form.time.data = time(9)


def _viewer_clock(form: AppointmentForm) -> None:
    """P9: show the time field in the viewer's clock (both formats are always accepted)."""
    if twelve_hour():
        form.time.format = ["%I:%M %p", "%H:%M", "%I:%M%p"]


def _proposals(form: AppointmentForm) -> dict:
    """P2: free slots for what the form holds now (the first service and location when none is chosen)."""
    def chosen(field):
        return field.data if field.data is not None else (field.choices[0][0] if field.choices else None)

    service = db.session.get(Service, chosen(form.service) or 0)
    location = db.session.get(Location, chosen(form.location) or 0)
    return propose(service, location, _rows(StaffMember, form.staff.data or []), form.date.data)


@bp.route("/appointments/new", methods=["GET", "POST"])
@self_service
def book_appointment():
    form = AppointmentForm()
    _fill_choices(form)
    _viewer_clock(form)
    if request.method == "GET":
        _prefill(form)
    listing = request.method == "GET" or _finding()
    pickers = _fill_people(form, listing=listing)
    errors: list[str] = []
    if not _finding() and form.validate_on_submit():
        own_only(form.staff.data)
        try:
            appt = book(**_form_values(form), actor=current_user)
            messages = notify_appointment(appt, "booked")
            db.session.commit()
        except BookingError as exc:
            db.session.rollback()
            errors = exc.messages
        else:
            after_commit(appt, messages)
            flash(f"Booked {appt.service.name} for {', '.join(c.name for c in appt.clients)}.", "success")
            return redirect(_week_url(appt))
    if not listing:
        pickers = _fill_people(form)
    return render_template("schedule/form.html", form=form, errors=errors, appt=None, pickers=pickers,
                           proposals=_proposals(form)), 422 if errors else 200


def _snapshot(appt: Appointment):
    return (appt.service_id, appt.location_id, sorted(s.id for s in appt.staff), sorted(c.id for c in appt.clients))


@bp.route("/appointments/<int:appointment_id>/edit", methods=["GET", "POST"])
@self_service
def edit_appointment(appointment_id: int):
    appt = db.get_or_404(Appointment, appointment_id)
    own_only([s.id for s in appt.staff])
    if appt.status != "booked":
        flash("This appointment is cancelled; it can no longer be changed.", "info")
        return redirect(url_for("schedule.appointment", appointment_id=appt.id))
    form = AppointmentForm(obj=None)
    _fill_choices(form)
    _viewer_clock(form)
    if request.method == "GET":
        start = appt.start.astimezone(ZoneInfo(appt.location.timezone))
        form.service.data, form.location.data = appt.service_id, appt.location_id
        form.date.data, form.time.data = start.date(), start.time().replace(second=0, microsecond=0)
        length = int((appt.end - appt.start).total_seconds() // 60)
        form.duration.data = length if length != appt.service.duration_minutes else None  # empty: the service's
        form.staff.data = [s.id for s in appt.staff]
        form.clients.data = [c.id for c in appt.clients]
        form.notes.data = appt.notes
    listing = request.method == "GET" or _finding()
    pickers = _fill_people(form, appt, listing=listing)
    errors: list[str] = []
    if not _finding() and form.validate_on_submit():
        own_only(form.staff.data)
        before, old_staff = _snapshot(appt), list(appt.staff)
        try:
            kinds = edit(appt, **_form_values(form), actor=current_user)
            changed = "rescheduled" if "rescheduled" in kinds else (
                "changed" if kinds and _snapshot(appt) != before else None)
            messages = notify_appointment(appt, changed) if changed else []
            removed = [s for s in old_staff if s not in appt.staff]
            if removed:
                messages += notify_appointment(appt, "staff_removed", staff=removed, audiences=("staff",))
            db.session.commit()
        except BookingError as exc:
            db.session.rollback()
            errors = exc.messages
        else:
            after_commit(appt, messages)
            flash("Appointment updated." if kinds else "Nothing changed.", "success" if kinds else "info")
            return redirect(_week_url(appt))
    if not listing:
        pickers = _fill_people(form, appt)
    return render_template("schedule/form.html", form=form, errors=errors, appt=appt, pickers=pickers,
                           proposals=_proposals(form)), 422 if errors else 200


def _cancel_note(reason: str, notify_clients: bool, has_clients: bool) -> str | None:
    parts = [f"Reason: {reason}"] if reason else []
    if has_clients:
        parts.append("Clients were notified." if notify_clients else "Clients were not notified.")
    return " ".join(parts) or None


@bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@self_service
def cancel_appointment(appointment_id: int):
    """P8: the in-page dialog posts an optional reason and whether to tell the clients; both go into the
    history, the reason into every email."""
    appt = db.get_or_404(Appointment, appointment_id)
    own_only([s.id for s in appt.staff])
    reason = " ".join((request.form.get("reason") or "").split())[:500]
    notify_clients = request.form.get("notify_clients") == "1" if "notify_present" in request.form else True
    audiences = ("clients", "staff") if notify_clients else ("staff",)
    try:
        cancel(appt, actor=current_user,
               note=_cancel_note(reason, notify_clients, any(c.email for c in appt.clients)))
        messages = notify_appointment(appt, "cancelled", audiences=audiences, reason=reason)
        db.session.commit()
    except BookingError as exc:
        db.session.rollback()
        flash(" ".join(exc.messages), "info")
        return redirect(url_for("schedule.appointment", appointment_id=appt.id))
    after_commit(appt, messages)
    when = appt.start.astimezone(ZoneInfo(appt.location.timezone))
    flash(f"Cancelled {appt.service.name} on {when:%a %d %b %H:%M %Z}."
          + ("" if notify_clients else " The clients were not notified."), "success")
    return redirect(_week_url(appt))
