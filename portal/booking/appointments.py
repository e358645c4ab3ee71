"""Booking rules (C2, I5): book, reschedule, edit, cancel — plain functions over the session.

None of these functions commits. Each adds its rows to `db.session` (and records an
`AppointmentChange`, the export hook) so the caller commits once, then enqueues the export and
notifications. Datetimes are timezone-aware (any zone; stored as UTC).

    appt = book(service=svc, location=loc, start=aware_dt, staff=[sam], clients=[jo], actor=user)
    db.session.commit()

A refused booking raises `BookingConflict` (a `BookingError`); `.messages` holds one sentence per
conflict, e.g. "Sam Staff is busy Mon 9 Mar 10:00–11:00 EDT with Account opening (Jo Client)."
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..extensions import db
from ..models import (
    Appointment,
    AppointmentChange,
    Client,
    ExchangeIntegration,
    ExternalAbsence,
    Location,
    Service,
    StaffMember,
    utcnow,
)

DEFAULT_BLOCKING = frozenset({"Busy", "OOF", "Tentative"})  # I3 defaults


class BookingError(ValueError):
    """A booking that cannot be made; `.messages` are sentences for the admin."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = list(messages)


class BookingConflict(BookingError):
    def __init__(self, conflicts: list[Conflict]):
        super().__init__([c.message for c in conflicts])
        self.conflicts = conflicts


@dataclass(frozen=True)
class Conflict:
    staff: StaffMember
    start: datetime
    end: datetime
    kind: str  # "appointment" | "absence"
    what: str  # service and clients, or the absence's shown title ("Busy" unless C5 allows the title)
    record_id: int

    @property
    def message(self) -> str:
        tz = ZoneInfo(self.staff.timezone)
        s, e = self.start.astimezone(tz), self.end.astimezone(tz)
        span = f"{s:%a} {s.day} {s:%b} {s:%H:%M}–{e:%H:%M} {e.tzname()}"
        if self.kind == "appointment":
            return f"{self.staff.name} is busy {span} with {self.what}."
        return f"{self.staff.name} has an Exchange absence ({self.what}) {span}."


def absence_label(absence: ExternalAbsence, integration: ExchangeIntegration | None = None) -> str:
    """C5: the title only when the admin shows titles and the event is not private."""
    integration = integration if integration is not None else ExchangeIntegration.get()
    if integration is not None and integration.show_titles and not absence.is_private and absence.title:
        return absence.title
    return "Busy"


def blocking_statuses() -> frozenset[str]:
    integration = ExchangeIntegration.get()
    return integration.blocking_statuses() if integration is not None else DEFAULT_BLOCKING


def describe(appointment: Appointment) -> str:
    names = ", ".join(c.name for c in appointment.clients)
    return f"{appointment.service.name} ({names})" if names else appointment.service.name


def find_conflicts(staff: list[StaffMember], start: datetime, end: datetime,
                   exclude_appointment_id: int | None = None) -> list[Conflict]:
    """Booked appointments and blocking external absences (C2, I3) of any of `staff` overlapping [start, end)."""
    ids = [s.id for s in staff]
    if not ids:
        return []
    by_id = {s.id: s for s in staff}
    q = (db.select(Appointment).join(Appointment.staff)
         .where(StaffMember.id.in_(ids), Appointment.status == "booked",
                Appointment.start < end, Appointment.end > start)
         .order_by(Appointment.start))
    if exclude_appointment_id is not None:
        q = q.where(Appointment.id != exclude_appointment_id)
    found: list[Conflict] = []
    for appt in db.session.execute(q).unique().scalars():
        for member in appt.staff:
            if member.id in by_id:
                found.append(Conflict(by_id[member.id], appt.start, appt.end, "appointment", describe(appt), appt.id))
    integration = ExchangeIntegration.get()
    blocking = integration.blocking_statuses() if integration is not None else DEFAULT_BLOCKING
    absences = db.session.execute(
        db.select(ExternalAbsence)
        .where(ExternalAbsence.staff_id.in_(ids), ExternalAbsence.free_busy.in_(sorted(blocking)),
               ExternalAbsence.start < end, ExternalAbsence.end > start)
        .order_by(ExternalAbsence.start)).scalars()
    for absence in absences:
        found.append(Conflict(by_id[absence.staff_id], absence.start, absence.end, "absence",
                              absence_label(absence, integration), absence.id))
    order = {sid: i for i, sid in enumerate(ids)}
    return sorted(found, key=lambda c: (order[c.staff.id], c.start))


def record_change(appointment: Appointment, kind: str, actor=None, source: str = "sundial") -> AppointmentChange:
    """The export hook: an AppointmentChange row in the caller's transaction; stamps updated_at (E3)."""
    now = utcnow()
    appointment.updated_at = now
    change = AppointmentChange(appointment=appointment, kind=kind, source=source, created_at=now,
                               actor_user_id=getattr(actor, "id", None))
    db.session.add(change)
    return change


def _check(service: Service | None, location: Location | None, start: datetime, end: datetime,
           staff: list[StaffMember], clients: list[Client]) -> None:
    problems = []
    if service is None:
        problems.append("Choose a service.")
    if location is None:
        problems.append("Choose a location.")
    if end <= start:
        problems.append("The appointment must end after it starts.")
    if not staff:
        problems.append("Choose at least one staff member.")
    if not clients:
        problems.append("Choose at least one client.")
    problems += [f"{s.name} does not take appointments." for s in staff if not s.takes_appointments]
    if problems:
        raise BookingError(problems)


def _utc(moment: datetime | None) -> datetime | None:
    """Arithmetic on an aware local datetime is wall-clock arithmetic (wrong across DST): work in UTC."""
    if moment is not None and moment.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    return None if moment is None else moment.astimezone(UTC)


def _end(service: Service | None, start: datetime, end: datetime | None) -> datetime:
    if end is not None:
        return end
    return start + timedelta(minutes=service.duration_minutes if service else 0)


def _lock_staff(staff: list[StaffMember]) -> None:
    """Serialize bookings per staff member: two admins booking the same person at once cannot both pass the
    conflict check. PostgreSQL: row locks in id order (no deadlocks). SQLite ignores FOR UPDATE, so a no-op
    write takes its database write lock instead; a second booking waits there (up to the driver's busy
    timeout) and then reads the first one's committed appointment."""
    ids = sorted(s.id for s in staff if s.id is not None)
    if not ids:
        return
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(db.update(StaffMember).where(StaffMember.id.in_(ids))
                           .values(id=StaffMember.id, updated_at=StaffMember.updated_at))  # changes nothing
        return
    db.session.execute(db.select(StaffMember.id).where(StaffMember.id.in_(ids))
                       .order_by(StaffMember.id).with_for_update())


def _refuse_conflicts(staff, start, end, exclude=None) -> None:
    _lock_staff(staff)
    conflicts = find_conflicts(staff, start, end, exclude_appointment_id=exclude)
    if conflicts:
        raise BookingConflict(conflicts)


def book(*, service: Service, location: Location, start: datetime, staff: list[StaffMember],
         clients: list[Client], notes: str = "", end: datetime | None = None, actor=None) -> Appointment:
    """Book a new appointment (end defaults to start + the service's duration). Refuses conflicts."""
    start = _utc(start)
    end = _end(service, start, _utc(end))
    staff, clients = _unique(staff), _unique(clients)
    _check(service, location, start, end, staff, clients)
    _refuse_conflicts(staff, start, end)
    appt = Appointment(service=service, location=location, start=start, end=end, staff=staff,
                       clients=clients, notes=notes or "", status="booked", origin="sundial")
    db.session.add(appt)
    db.session.flush()
    record_change(appt, "booked", actor)
    return appt


def reschedule(appointment: Appointment, start: datetime, end: datetime | None = None, actor=None) -> Appointment:
    """Move an appointment; keeps its length unless `end` is given. Refuses conflicts."""
    if appointment.status != "booked":
        raise BookingError(["A cancelled appointment cannot be rescheduled."])
    start, end = _utc(start), _utc(end)
    end = end if end is not None else start + (appointment.end - appointment.start)
    _check(appointment.service, appointment.location, start, end, appointment.staff, appointment.clients)
    _refuse_conflicts(appointment.staff, start, end, exclude=appointment.id)
    appointment.start, appointment.end = start, end
    record_change(appointment, "rescheduled", actor)
    return appointment


def edit(appointment: Appointment, *, service: Service | None = None, location: Location | None = None,
         start: datetime | None = None, end: datetime | None = None, staff: list[StaffMember] | None = None,
         clients: list[Client] | None = None, notes: str | None = None, actor=None) -> list[str]:
    """Change any fields (None = keep). Returns the change kinds recorded ("rescheduled", "edited",
    "staff_removed"); an edit that changes nothing records nothing."""
    if appointment.status != "booked":
        raise BookingError(["A cancelled appointment cannot be edited."])
    start, end = _utc(start), _utc(end)
    new = {
        "service": service or appointment.service, "location": location or appointment.location,
        "start": start or appointment.start, "staff": _unique(staff) if staff is not None else list(appointment.staff),
        "clients": _unique(clients) if clients is not None else list(appointment.clients),
        "notes": appointment.notes if notes is None else notes,
    }
    if end is None:  # a new service brings its duration; otherwise the length is kept
        changed_service = service is not None and service is not appointment.service
        length = (timedelta(minutes=service.duration_minutes) if changed_service
                  else appointment.end - appointment.start)
        end = new["start"] + length
    new["end"] = end
    _check(new["service"], new["location"], new["start"], new["end"], new["staff"], new["clients"])
    moved = (new["start"], new["end"]) != (appointment.start, appointment.end)
    old_staff = {s.id for s in appointment.staff}
    new_staff = {s.id for s in new["staff"]}
    if moved or new_staff - old_staff:
        _refuse_conflicts(new["staff"], new["start"], new["end"], exclude=appointment.id)
    edited = (new["service"] is not appointment.service or new["location"] is not appointment.location
              or new_staff != old_staff or {c.id for c in new["clients"]} != {c.id for c in appointment.clients}
              or new["notes"] != appointment.notes)
    for key, value in new.items():
        setattr(appointment, key, value)
    kinds = (["rescheduled"] if moved else []) + (["edited"] if edited else [])
    kinds += ["staff_removed"] if old_staff - new_staff else []
    for kind in kinds:
        record_change(appointment, kind, actor)
    return kinds


def cancel(appointment: Appointment, actor=None, note: str | None = None) -> Appointment:
    """P8: `note` (the reason, and whether the clients were told) is kept in the history."""
    if appointment.status == "cancelled":
        raise BookingError(["This appointment is already cancelled."])
    appointment.status = "cancelled"
    record_change(appointment, "cancelled", actor).note = note or None
    return appointment


def _unique(rows: list) -> list:
    seen, out = set(), []
    for row in rows:
        if row.id not in seen:
            seen.add(row.id)
            out.append(row)
    return out
