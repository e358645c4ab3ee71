"""Batch loads for the calendar views and the slot finder (P1, P2, P5): a fixed number of queries however
many staff members are shown — one for appointments, one for Exchange absences, one for their sync links."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlalchemy.orm import selectinload

from ..booking.appointments import blocking_statuses
from ..booking.slots import StaffCalendar, parse_hours
from ..extensions import db
from ..models import Appointment, ExchangeLink, ExternalAbsence, StaffMember, appointment_staff, staff_locations


def appointments_by_staff(ids: list[int], utc_start: datetime, utc_end: datetime) -> dict[int, list[Appointment]]:
    rows = db.session.execute(
        db.select(Appointment, appointment_staff.c.staff_id)
        .join(appointment_staff, appointment_staff.c.appointment_id == Appointment.id)
        .where(appointment_staff.c.staff_id.in_(ids), Appointment.status == "booked",
               Appointment.start < utc_end, Appointment.end > utc_start)
        .options(selectinload(Appointment.service))
        .order_by(Appointment.start)).all()
    out: dict[int, list[Appointment]] = defaultdict(list)
    for appt, staff_id in rows:
        out[staff_id].append(appt)
    return out


def absences_by_staff(ids: list[int], utc_start: datetime, utc_end: datetime,
                      statuses: frozenset[str] | None = None) -> dict[int, list[ExternalAbsence]]:
    q = (db.select(ExternalAbsence).where(ExternalAbsence.staff_id.in_(ids), ExternalAbsence.start < utc_end,
                                          ExternalAbsence.end > utc_start).order_by(ExternalAbsence.start))
    if statuses is not None:
        q = q.where(ExternalAbsence.free_busy.in_(sorted(statuses)))
    out: dict[int, list[ExternalAbsence]] = defaultdict(list)
    for ab in db.session.execute(q).scalars():
        out[ab.staff_id].append(ab)
    return out


def overlaps_busy(appt: Appointment, absences: list[ExternalAbsence], blocking: frozenset[str]) -> bool:
    """P5: an appointment overlapping blocking Exchange busy time (made in Outlook, or while unconnected)."""
    return any(ab.free_busy in blocking and ab.start < appt.end and ab.end > appt.start for ab in absences)


def busy_by_staff(utc_start: datetime, utc_end: datetime, ids: list[int] | None = None,
                  location_id: int | None = None) -> dict[int, list]:
    """Staff id → busy intervals (booked appointments + blocking Exchange absences) overlapping [utc_start,
    utc_end): two column-only queries (no ORM objects). For `ids`, or for everyone at `location_id` by a
    sub-query (listing 1,000 ids costs a bound parameter each, rendered and planned on every call)."""
    who = ((ids or []) if location_id is None else
           db.select(staff_locations.c.staff_id).where(staff_locations.c.location_id == location_id).scalar_subquery())
    lo, hi = utc_start, utc_end
    busy: dict[int, list] = defaultdict(list)
    appts = db.session.execute(
        db.select(appointment_staff.c.staff_id, Appointment.start, Appointment.end)
        .join(Appointment, appointment_staff.c.appointment_id == Appointment.id)
        .where(appointment_staff.c.staff_id.in_(who), Appointment.status == "booked",
               Appointment.start < hi, Appointment.end > lo))
    absences = db.session.execute(
        db.select(ExternalAbsence.staff_id, ExternalAbsence.start, ExternalAbsence.end)
        .where(ExternalAbsence.staff_id.in_(who), ExternalAbsence.free_busy.in_(sorted(blocking_statuses())),
               ExternalAbsence.start < hi, ExternalAbsence.end > lo))
    for staff_id, start, end in [*appts, *absences]:
        busy[staff_id].append((start, end))
    return busy


def staff_calendars(staff: list[StaffMember], utc_start: datetime, utc_end: datetime,
                    longest: timedelta = timedelta(days=1), location_id: int | None = None) -> list[StaffCalendar]:
    """Slot-finder input for `staff`: working hours and busy intervals (appointments + blocking absences) that
    can touch a slot starting in [utc_start, utc_end) and lasting at most `longest`.
    Two column-only queries (no ORM objects): the booking form asks this on every change. `location_id`: `staff`
    is everyone at that location (busy_by_staff reads them by a sub-query)."""
    if location_id is not None:
        busy = busy_by_staff(utc_start, utc_end + longest, location_id=location_id)
    else:
        busy = busy_by_staff(utc_start, utc_end + longest, ids=[s.id for s in staff])
    return [StaffCalendar(s.id, s.timezone, parse_hours(s.working_hours), busy.get(s.id, [])) for s in staff]


def change_cursor() -> str:
    """P4: a short fingerprint of everything a calendar view shows; it changes when any row is added, moved,
    edited, cancelled or deleted (counts catch deletions, max ids catch a delete + insert)."""
    a = db.session.execute(db.select(func.count(Appointment.id), func.max(Appointment.id),
                                     func.max(Appointment.updated_at))).one()
    b = db.session.execute(db.select(func.count(ExternalAbsence.id), func.max(ExternalAbsence.id),
                                     func.max(ExternalAbsence.updated_at))).one()
    return "|".join(str(v.timestamp() if isinstance(v, datetime) else v) for v in (*a, *b))


def last_synced(ids: list[int]) -> dict[int, datetime]:
    """P5: absence id → when its Exchange link was last synced."""
    rows = db.session.execute(db.select(ExchangeLink.absence_id, ExchangeLink.synced_at)
                              .where(ExchangeLink.absence_id.in_(ids))).all()
    return {aid: at for aid, at in rows}
