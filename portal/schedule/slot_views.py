"""Free-slot proposals for the booking form (P2): server-rendered on the form, and a small JSON endpoint the
form's script asks when the service, location, staff or date change. Booking still checks on submit (races)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask_login import current_user

from ..booking.slots import earliest_start, find_joint_slots, find_slots
from ..extensions import db
from ..models import Location, Service, StaffMember, staff_locations, utcnow
from . import bp
from .calendar_data import staff_calendars
from .prefs import clock_format
from .self_service import self_service

HORIZON = timedelta(days=14)
SHOWN = 8
NAMED = 10


def propose(service: Service | None, location: Location | None, staff: list[StaffMember], start_day: date | None,
            now: datetime | None = None) -> dict:
    """The next free slots: for the chosen staff together (I5), or for anyone at the location when none is chosen.
    Times are the location's wall clock, like the form's date and time fields."""
    if service is None or location is None:
        return {"slots": [], "sentence": "Choose a service and a location to see free times."}
    now = now or utcnow()
    tz = ZoneInfo(location.timezone)
    after = now
    if start_day is not None and not 1900 <= start_day.year <= 2999:  # R5: no search from an absurd date
        return {"slots": [], "sentence": "Choose a date between 1900 and 2999 to see free times."}
    if start_day is not None:
        after = max(now, datetime.combine(start_day, time(0), tz).astimezone(UTC))
    people = staff or _people_at(location)
    if not people:
        return {"slots": [], "sentence": f"Nobody takes appointments at {location.name}."}
    found = _search(people, timedelta(minutes=service.duration_minutes), after, joint=len(staff) > 1,
                    location_id=None if staff else location.id)
    names = {s.id: s.name for s in people}
    slots = [_slot_json(s, tz, names) for s in found]
    who = " and ".join(s.name for s in staff) if staff else f"anyone at {location.name}"
    sentence = (f"Next free times for {who} ({location.timezone}):" if slots else
                f"No free {service.duration_minutes}-minute time for {who} in the next 14 days within working hours.")
    return {"slots": slots, "sentence": sentence, "tz": location.timezone}


def _people_at(location: Location):
    """Everyone who takes appointments at the location, as (id, name, timezone, working_hours) rows: at 1,000
    staff, ORM objects (and their eager-loaded locations) were a third of the form's time."""
    return db.session.execute(
        db.select(StaffMember.id, StaffMember.name, StaffMember.timezone, StaffMember.working_hours)
        .join(staff_locations, staff_locations.c.staff_id == StaffMember.id)
        .where(staff_locations.c.location_id == location.id, StaffMember.takes_appointments.is_(True))
        .order_by(StaffMember.name, StaffMember.id)).all()


FIRST_WINDOW = timedelta(hours=3)


def _windows(people, length: timedelta, after: datetime) -> list[tuple[datetime, datetime]]:
    """Where to look, nearest first: the 3 hours from the first working-hours start of anyone (at a large
    location they nearly always hold the SHOWN slots), the rest of that day, the rest of the HORIZON. Busy time
    is loaded one window at a time, so "anyone at the location" of 1,000 staff reads a few hours of their
    appointments, not a whole day's (the booking form's largest cost)."""
    end = after + HORIZON
    first = earliest_start(((p.working_hours, p.timezone) for p in people), length, after, end)
    if first is None:
        return [(after, end)]  # nobody works in the horizon: one load, nothing found, the sentence says so
    cuts = sorted({first, min(first + FIRST_WINDOW, end), min(first + timedelta(days=1), end), end})
    return list(zip(cuts, cuts[1:], strict=False))


def _search(people, length: timedelta, after: datetime, joint: bool, location_id: int | None = None) -> list:
    """The windows of _windows() in order, until SHOWN slots are found: at most six queries. `location_id`:
    `people` is everyone there (_people_at), read by a location sub-query instead of a list of their ids."""
    found: list = []
    for lo, hi in _windows(people, length, after):
        calendars = staff_calendars(people, lo, hi, longest=length, location_id=location_id)
        if joint:
            found += find_joint_slots(calendars, length, lo, hi, limit=SHOWN - len(found))
        else:
            found += find_slots(calendars, length, lo, hi, limit=SHOWN - len(found), named=NAMED + 1)
        if len(found) >= SHOWN:
            break
    return found


def _slot_json(slot, tz: ZoneInfo, names: dict[int, str]) -> dict:
    """At most NAMED staff per slot, and whether others are free too: "anyone" at 1,000 staff is often everyone."""
    local = slot.start.astimezone(tz)
    ids = list(slot.staff_ids[:NAMED])
    return {"date": local.date().isoformat(), "time": f"{local:%H:%M}",
            "label": f"{local:%a} {local.day} {local:%b} " + local.strftime(clock_format("%H:%M %Z")),
            "staff_ids": ids, "staff_names": [names[i] for i in ids], "more": len(slot.staff_ids) > NAMED}


def _arg_day() -> date | None:
    try:
        return date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        return None


@bp.route("/appointments/slots")
@self_service
def slots():
    """JSON: ?service=&location=&staff=<id>…&date=YYYY-MM-DD → the next free slots and a sentence."""
    service = db.session.get(Service, request.args.get("service", type=int) or 0)
    location = db.session.get(Location, request.args.get("location", type=int) or 0)
    ids = [int(i) for i in request.args.getlist("staff") if i.isdigit()]
    if not current_user.is_admin:  # self-service: a staff member's own free times only
        ids = [current_user.staff_id]
    staff = db.session.execute(db.select(StaffMember).where(StaffMember.id.in_(ids))).scalars().all() if ids else []
    return jsonify(propose(service, location, list(staff), _arg_day()))
