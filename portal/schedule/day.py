"""Calendar contents (P1, P5, A2): one staff member's blocks in a grid, and the day view of a location.

Both views share `fill`: appointments (flagged when they overlap blocking Exchange busy time, P5) and
Exchange absences (title only under C5), each block linking to its page. The day view loads all its
columns with the batch queries of calendar_data, so its query count does not grow with the staff.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from math import ceil

from flask import url_for
from sqlalchemy import func

from ..booking.appointments import absence_label, blocking_statuses
from ..extensions import db
from ..models import Appointment, ExchangeIntegration, ExternalAbsence, Location, StaffMember, staff_locations
from .calendar_data import absences_by_staff, appointments_by_staff, overlaps_busy
from .week import Week, one_day, place

ABSENCE_KINDS = {"Busy": "absence", "OOF": "absence-oof", "Tentative": "absence-tentative"}
ABSENCE_NOTES = {"Busy": "Exchange", "OOF": "Out of office · Exchange", "Tentative": "Tentative · Exchange"}
OVERLAP_FLAG = "Overlaps Exchange busy time"


@dataclass
class Column:
    member: StaffMember
    grid: Week  # one day on the location's wall clock


def fill(week: Week, member: StaffMember, appts: list[Appointment], absences: list[ExternalAbsence],
         integration: ExchangeIntegration | None, blocking: frozenset[str]) -> None:
    for a in appts:
        others = [s.name for s in a.staff if s.id != member.id]
        subtitle = ", ".join(c.name for c in a.clients)
        if others:
            subtitle += " · with " + ", ".join(others)
        place(week, "appointment-multi" if others else "appointment", a.service.name, subtitle, a.start, a.end,
              record_id=a.id, href=url_for("schedule.appointment", appointment_id=a.id),
              flag=OVERLAP_FLAG if overlaps_busy(a, absences, blocking) else None)
    for ab in absences:
        place(week, ABSENCE_KINDS.get(ab.free_busy, "absence-free"), shown_title(ab, integration),
              ABSENCE_NOTES.get(ab.free_busy, f"{ab.free_busy} · Exchange"), ab.start, ab.end,
              record_id=ab.id, all_day=ab.is_all_day, href=url_for("schedule.absence", absence_id=ab.id))


def shown_title(absence: ExternalAbsence, integration: ExchangeIntegration | None) -> str:
    """C5 without a query per block (absence_label looks the integration up again when there is none)."""
    return absence_label(absence, integration) if integration is not None else "Busy"


def staff_at(location: Location, only: StaffMember | None = None) -> list[StaffMember]:
    """Who gets a column: everyone who takes appointments at the location (or just `only`)."""
    if only is not None:
        return [only]
    return db.session.execute(
        db.select(StaffMember).join(staff_locations, staff_locations.c.staff_id == StaffMember.id)
        .where(staff_locations.c.location_id == location.id, StaffMember.takes_appointments.is_(True))
        .order_by(StaffMember.name)).scalars().all()


def like_pattern(q: str) -> str:
    """`q` as a case-insensitive LIKE "contains" pattern (with `escape="\\"`): % and _ match themselves."""
    return "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass
class StaffPage:
    members: list[StaffMember]
    total: int  # everyone at the location who matches the search
    page: int
    pages: int
    first: int  # 1-based position of members[0] (0 when empty)


def staff_page(location: Location, q: str, page: int, per_page: int) -> StaffPage:
    """P1 at 1,000 staff: one page of the location's columns (by name), optionally those whose name or email
    contains `q`. Two queries (count + page) however large the location."""
    cond = [staff_locations.c.location_id == location.id, StaffMember.takes_appointments.is_(True)]
    if q:
        like = like_pattern(q)
        cond.append(func.lower(StaffMember.name).like(like, escape="\\")
                    | func.lower(StaffMember.email).like(like, escape="\\"))
    base = db.select(StaffMember).join(staff_locations, staff_locations.c.staff_id == StaffMember.id).where(*cond)
    total = db.session.execute(db.select(func.count()).select_from(base.subquery())).scalar_one()
    pages = max(1, ceil(total / per_page))
    page = min(max(page, 1), pages)
    members = db.session.execute(base.order_by(StaffMember.name, StaffMember.id)
                                 .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return StaffPage(list(members), total, page, pages, (page - 1) * per_page + 1 if members else 0)


def build_day(location: Location, day: date, staff: list[StaffMember], now: datetime) -> list[Column]:
    """One column per staff member on the location's wall clock; three queries in all."""
    tz = location.timezone
    probe = one_day(tz, day, now)
    ids = [s.id for s in staff]
    appts = appointments_by_staff(ids, probe.utc_start, probe.utc_end)
    absences = absences_by_staff(ids, probe.utc_start, probe.utc_end)
    integration, blocking = ExchangeIntegration.get(), blocking_statuses()
    columns = []
    for member in staff:
        grid = one_day(tz, day, now)
        fill(grid, member, appts.get(member.id, []), absences.get(member.id, []), integration, blocking)
        columns.append(Column(member, grid))
    return columns
