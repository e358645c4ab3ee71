"""Free-slot proposals for the booking form (P2): server-rendered on the form, and a small JSON endpoint the
form's script asks when the service, location, staff or date change. Booking still checks on submit (races)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask_login import current_user

from ..booking.slots import find_joint_slots, find_slots
from ..extensions import db
from ..models import Location, Service, StaffMember, utcnow
from . import bp
from .calendar_data import staff_calendars
from .day import staff_at
from .prefs import clock_format
from .self_service import self_service

HORIZON = timedelta(days=14)
SHOWN = 8


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
    people = staff or staff_at(location)
    if not people:
        return {"slots": [], "sentence": f"Nobody takes appointments at {location.name}."}
    calendars = staff_calendars(people, after, after + HORIZON)
    length = timedelta(minutes=service.duration_minutes)
    finder = find_joint_slots if len(staff) > 1 else find_slots
    found = finder(calendars, length, after, after + HORIZON, limit=SHOWN)
    names = {s.id: s.name for s in people}
    slots = [_slot_json(s, tz, names) for s in found]
    who = " and ".join(s.name for s in staff) if staff else f"anyone at {location.name}"
    sentence = (f"Next free times for {who} ({location.timezone}):" if slots else
                f"No free {service.duration_minutes}-minute time for {who} in the next 14 days within working hours.")
    return {"slots": slots, "sentence": sentence, "tz": location.timezone}


def _slot_json(slot, tz: ZoneInfo, names: dict[int, str]) -> dict:
    local = slot.start.astimezone(tz)
    return {"date": local.date().isoformat(), "time": f"{local:%H:%M}",
            "label": f"{local:%a} {local.day} {local:%b} " + local.strftime(clock_format("%H:%M %Z")),
            "staff_ids": list(slot.staff_ids), "staff_names": [names[i] for i in slot.staff_ids]}


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
