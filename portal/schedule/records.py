"""Admin pages for clients, services and locations: list, new, edit (no delete: appointments reference them).

Renaming something an Exchange item shows (M1 subject = service, M2 location = address, M4 clients as
attendees) records an "edited" change on every future booked appointment that uses it, so the export
(enqueued after the commit, and the safety net otherwise) brings the staff calendars up to date.
"""
from __future__ import annotations

from math import ceil

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func

from ..auth.access import admin_required
from ..booking.appointments import record_change
from ..extensions import db
from ..jobs.after_commit import enqueue_after_commit
from ..models import Appointment, Client, ExchangeIntegration, Location, Service, StaffMember, utcnow
from . import bp
from .forms import ClientForm, LocationForm, ServiceForm, zone_choices

CLIENTS_PER_PAGE = 50
PHONE_PUNCTUATION = " -().+/"


def _digits(column):
    for ch in PHONE_PUNCTUATION:
        column = func.replace(column, ch, "")
    return column


def client_search(q: str):
    """Name, email or phone contains `q` (case-insensitive); phone also ignoring punctuation (555 0100 ~ 555-0100)."""
    like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cond = (func.lower(Client.name).like(like, escape="\\") | func.lower(Client.email).like(like, escape="\\")
            | func.lower(Client.phone).like(like, escape="\\"))
    digits = "".join(ch for ch in q if ch.isdigit())
    if len(digits) >= 3 and all(ch.isdigit() or ch in PHONE_PUNCTUATION for ch in q):
        cond = cond | _digits(Client.phone).like(f"%{digits}%")
    return cond


@bp.route("/admin/clients")
@admin_required
def client_list():
    q = (request.args.get("q") or "").strip()
    stmt = db.select(Client)
    if q:
        stmt = stmt.where(client_search(q))
    total = db.session.execute(db.select(func.count()).select_from(stmt.subquery())).scalar_one()
    pages = max(1, ceil(total / CLIENTS_PER_PAGE))
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    clients = db.session.execute(stmt.order_by(Client.name, Client.id)
                                 .limit(CLIENTS_PER_PAGE).offset((page - 1) * CLIENTS_PER_PAGE)).scalars().all()
    first = (page - 1) * CLIENTS_PER_PAGE + 1 if clients else 0
    return render_template("people/clients.html", clients=clients, q=q, total=total, page=page, pages=pages,
                           first=first, last=first + len(clients) - 1 if clients else 0,
                           settings_section="clients")


def _mark_future(condition) -> list[int]:
    """An "edited" change on each future booked appointment matching `condition`; their ids."""
    appts = db.session.execute(db.select(Appointment).where(
        condition, Appointment.status == "booked", Appointment.end > utcnow())).unique().scalars().all()
    for appt in appts:
        record_change(appt, "edited", current_user)
    return [a.id for a in appts]


def _export(appointment_ids: list[int]) -> None:
    """After the commit: queue the export of the touched appointments (only with a connected integration)."""
    integration = ExchangeIntegration.get()
    if not appointment_ids or integration is None or integration.state != "connected":
        return
    enqueue_after_commit("the update of the staff calendars", [("export", i) for i in appointment_ids])


def _saved(name: str, appointment_ids: list[int], endpoint: str):
    _export(appointment_ids)
    more = (f" {len(appointment_ids)} upcoming appointment{'' if len(appointment_ids) == 1 else 's'} "
            "will show the change in Exchange.") if appointment_ids else ""
    flash(f"Saved {name}.{more}", "success")
    return redirect(url_for(endpoint))


def _save_client(client: Client | None):
    form = ClientForm()
    if request.method == "GET" and client is not None:
        form.name.data, form.email.data, form.phone.data = client.name, client.email, client.phone
    if form.validate_on_submit():
        before = (client.name, client.email) if client else None
        client = client or Client()
        client.name = form.name.data.strip()
        client.email = (form.email.data or "").strip().lower() or None
        client.phone = (form.phone.data or "").strip() or None
        db.session.add(client)
        touched = []
        if before is not None and before != (client.name, client.email):  # M4: the attendee changed
            touched = _mark_future(Appointment.clients.any(Client.id == client.id))
        db.session.commit()
        return _saved(client.name, touched, "schedule.client_list")
    return render_template("people/client_form.html", form=form, client=client, settings_section="clients")


@bp.route("/admin/clients/new", methods=["GET", "POST"])
@admin_required
def client_new():
    return _save_client(None)


@bp.route("/admin/clients/<int:client_id>/edit", methods=["GET", "POST"])
@admin_required
def client_edit(client_id: int):
    return _save_client(db.get_or_404(Client, client_id))


@bp.route("/admin/services")
@admin_required
def service_list():
    rows = db.session.execute(
        db.select(Service, func.count(Appointment.id)).outerjoin(Appointment, Appointment.service_id == Service.id)
        .group_by(Service.id).order_by(Service.name)).all()
    return render_template("people/services.html", rows=rows, settings_section="services")


def _save_service(service: Service | None):
    form = ServiceForm()
    if request.method == "GET":
        form.name.data = service.name if service else None
        form.duration_minutes.data = service.duration_minutes if service else 30
    if form.validate_on_submit():
        renamed = service is not None and service.name != form.name.data.strip()
        service = service or Service()
        service.name, service.duration_minutes = form.name.data.strip(), form.duration_minutes.data
        db.session.add(service)
        touched = _mark_future(Appointment.service_id == service.id) if renamed else []  # M1: the subject
        db.session.commit()
        return _saved(service.name, touched, "schedule.service_list")
    return render_template("people/service_form.html", form=form, service=service, settings_section="services")


@bp.route("/admin/services/new", methods=["GET", "POST"])
@admin_required
def service_new():
    return _save_service(None)


@bp.route("/admin/services/<int:service_id>/edit", methods=["GET", "POST"])
@admin_required
def service_edit(service_id: int):
    return _save_service(db.get_or_404(Service, service_id))


@bp.route("/admin/locations")
@admin_required
def location_list():
    locations = db.session.execute(db.select(Location).order_by(Location.name)).scalars().all()
    staff_counts = dict(db.session.execute(
        db.select(StaffMember.primary_location_id, func.count()).group_by(StaffMember.primary_location_id)).all())
    return render_template("people/locations.html", locations=locations, staff_counts=staff_counts,
                           settings_section="locations")


def _shown(location: Location) -> str:
    """What an Exchange item shows as its location (jobs/context.py: the address, else the name)."""
    return location.address or location.name


def _save_location(location: Location | None):
    form = LocationForm()
    form.timezone.choices = zone_choices()
    if request.method == "GET":
        if location is None:
            form.timezone.data = "America/New_York"
        else:
            form.name.data, form.address.data, form.timezone.data = location.name, location.address, location.timezone
    if form.validate_on_submit():
        before = _shown(location) if location else None
        location = location or Location()
        location.name, location.timezone = form.name.data.strip(), form.timezone.data
        location.address = (form.address.data or "").strip()
        db.session.add(location)
        touched = []
        if before is not None and before != _shown(location):  # M2: the item's location
            touched = _mark_future(Appointment.location_id == location.id)
        db.session.commit()
        return _saved(location.name, touched, "schedule.location_list")
    return render_template("people/location_form.html", form=form, location=location,
                           settings_section="locations")


@bp.route("/admin/locations/new", methods=["GET", "POST"])
@admin_required
def location_new():
    return _save_location(None)


@bp.route("/admin/locations/<int:location_id>/edit", methods=["GET", "POST"])
@admin_required
def location_edit(location_id: int):
    return _save_location(db.get_or_404(Location, location_id))
