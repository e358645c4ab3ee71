"""Build appointment messages for each audience whose general-notifications switch is on (G6)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from ..extensions import db
from ..models import Appointment, NotificationSetting, OutboxMessage
from ..validators import CONTROL

# kind -> (subject verb, sentence); {what} is the service, {when} the local start.
KINDS = {
    "booked": ("Confirmed", "Your appointment is booked."),
    "rescheduled": ("Rescheduled", "Your appointment has moved to a new time."),
    "changed": ("Updated", "The details of your appointment have changed."),
    "changed_in_exchange": ("Rescheduled", "Your appointment was changed in the staff calendar."),
    "cancelled": ("Cancelled", "Your appointment has been cancelled."),
    "cancelled_in_exchange": ("Cancelled", "Your appointment was cancelled in the staff calendar."),
    "staff_removed": ("Removed", "You are no longer on this appointment; the others keep it."),
    "reminder": ("Reminder", "A reminder of your appointment."),
}


def _when(appointment: Appointment, tz_name: str) -> str:
    tz = ZoneInfo(tz_name or "UTC")
    s, e = appointment.start.astimezone(tz), appointment.end.astimezone(tz)
    return f"{s:%A} {s.day} {s:%B %Y}, {s:%H:%M}–{e:%H:%M} {s.tzname()}"


def _body(appointment: Appointment, kind: str, greeting: str, tz_name: str, reason: str = "") -> str:
    _verb, sentence = KINDS[kind]
    loc = appointment.location
    lines = [
        f"Hello {greeting},", "", sentence, *([f"Reason: {reason}"] if reason else []), "",
        f"Service:  {appointment.service.name}",
        f"When:     {_when(appointment, tz_name)}",
        f"Where:    {loc.name}" + (f", {loc.address}" if loc.address else ""),
        f"With:     {', '.join(s.name for s in appointment.staff)}",
    ]
    if len(appointment.clients) > 1 or greeting in {s.name for s in appointment.staff}:
        lines.append(f"Clients:  {', '.join(c.name for c in appointment.clients)}")
    lines += ["", "— Sundial"]
    return "\n".join(lines)


def _subject(appointment: Appointment, kind: str, tz_name: str) -> str:
    verb, _ = KINDS[kind]
    s = appointment.start.astimezone(ZoneInfo(tz_name or "UTC"))
    # R5: names are checked at input; rows from before that check must still give a one-line subject.
    service = CONTROL.sub(" ", appointment.service.name)
    return f"{verb}: {service} on {s:%a} {s.day} {s:%b} at {s:%H:%M} {s.tzname()}"


def notify_appointment(appointment: Appointment, kind: str, staff=None,
                       audiences: tuple[str, ...] = ("clients", "staff"), reason: str = "") -> list[OutboxMessage]:
    """Add one OutboxMessage per recipient for each audience whose switch is on; does not commit.

    `staff` limits the staff audience (e.g. D3: only the staff member whose Exchange item was
    removed); by default every staff member on the appointment is told. `audiences` narrows who is
    told at all (e.g. ("staff",) for "staff_removed"). Clients are told in the location's time zone,
    staff in their own.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    out: list[OutboxMessage] = []
    loc_tz = appointment.location.timezone if appointment.location else "UTC"
    if "clients" in audiences and NotificationSetting.is_enabled("clients"):
        for client in appointment.clients:
            if client.email:
                out.append(OutboxMessage(audience="clients", recipient=client.email, appointment_id=appointment.id,
                                         subject=_subject(appointment, kind, loc_tz),
                                         body=_body(appointment, kind, client.name, loc_tz, reason)))
    if "staff" in audiences and NotificationSetting.is_enabled("staff"):
        for member in (staff if staff is not None else appointment.staff):
            out.append(OutboxMessage(audience="staff", recipient=member.email, appointment_id=appointment.id,
                                     subject=_subject(appointment, kind, member.timezone),
                                     body=_body(appointment, kind, member.name, member.timezone, reason)))
    db.session.add_all(out)
    return out

