"""``t:CalendarItem`` request XML -> CalendarItem attributes (CreateItem, UpdateItem Set/Append/DeleteItemField)."""
from __future__ import annotations

from datetime import timedelta

from . import recurrence, timezones
from .itemxml import ext_key
from .soap import EwsError, local, text
from .store import Attendee

LEGACY_FB = {"Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData"}
SENSITIVITY = {"Normal", "Personal", "Private", "Confidential"}

# FieldURI -> (attribute, default used by DeleteItemField)
FIELD_ATTRS = {
    "item:Subject": ("subject", ""), "item:Body": ("body", ""), "item:Sensitivity": ("sensitivity", "Normal"),
    "item:Categories": ("categories", []), "item:Importance": ("importance", "Normal"),
    "item:ReminderIsSet": ("reminder_set", False), "item:ReminderMinutesBeforeStart": ("reminder_minutes", 15),
    "calendar:Start": ("start", None), "calendar:End": ("end", None), "calendar:IsAllDayEvent": ("is_all_day", False),
    "calendar:LegacyFreeBusyStatus": ("free_busy", "Busy"), "calendar:Location": ("location", ""),
    "calendar:RequiredAttendees": ("required", []), "calendar:OptionalAttendees": ("optional", []),
    "calendar:Recurrence": ("recurrence", None), "calendar:StartTimeZone": ("start_tz", "UTC"),
    "calendar:EndTimeZone": ("end_tz", "UTC"), "calendar:MeetingTimeZone": ("start_tz", "UTC"),
    "calendar:UID": ("uid", ""),
}


def _bool(value: str) -> bool:
    return value.strip().lower() in ("true", "1")


def _attendees(el) -> list[Attendee]:
    out = []
    for att in el:
        box = att.find("{*}Mailbox")
        if box is None:
            continue
        email = text(box, "t:EmailAddress", "")
        out.append(Attendee(email=email, name=text(box, "t:Name", "") or email))
    return out


def apply(item, el, tz_context: str | None = None, append: bool = False, pending: dict | None = None):
    """Apply every child of a ``t:CalendarItem`` element to item. Start/End are applied after their
    time zones are known (``pending``) so a StartTimeZone sent after Start still counts."""
    own_pending = pending is None
    pending = {} if pending is None else pending
    for child in el:
        name = local(child.tag)
        value = (child.text or "").strip()
        if name == "Subject":
            item.subject = value
        elif name == "Body":
            kind = child.get("BodyType", "Text")
            if append and item.body:
                item.body = item.body + (child.text or "")
            else:
                item.body, item.body_type = child.text or "", kind
        elif name == "Sensitivity":
            _check(value, SENSITIVITY, name)
            item.sensitivity = value
        elif name == "Importance":
            item.importance = value
        elif name == "Categories":
            cats = [(s.text or "") for s in child]
            item.categories = item.categories + cats if append else cats
        elif name == "ReminderIsSet":
            item.reminder_set = _bool(value)
        elif name == "ReminderMinutesBeforeStart":
            item.reminder_minutes = int(value or 0)
        elif name == "ExtendedProperty":
            uri = child.find("{*}ExtendedFieldURI")
            values = child.find("{*}Values")
            stored = [v.text or "" for v in values] if values is not None else text(child, "t:Value", "")
            item.extended[ext_key(dict(uri.attrib))] = stored
        elif name in ("Start", "End"):
            pending[name] = value
        elif name == "IsAllDayEvent":
            item.is_all_day = _bool(value)
        elif name == "LegacyFreeBusyStatus":
            _check(value, LEGACY_FB, name)
            item.free_busy = value
        elif name == "Location":
            item.location = value
        elif name in ("RequiredAttendees", "OptionalAttendees"):
            attr = "required" if name == "RequiredAttendees" else "optional"
            people = _attendees(child)
            setattr(item, attr, getattr(item, attr) + people if append else people)
        elif name == "Recurrence":
            item.recurrence = recurrence.parse(child)
        elif name == "StartTimeZone":
            item.start_tz = child.get("Id") or "UTC"
            if "end_tz_set" not in pending:
                item.end_tz = item.start_tz
        elif name == "EndTimeZone":
            item.end_tz = child.get("Id") or "UTC"
            pending["end_tz_set"] = True
        elif name == "MeetingTimeZone":  # Exchange2007_SP1 clients
            item.start_tz = item.end_tz = child.get("TimeZoneName") or "UTC"
        elif name == "UID":
            item.uid = value
    if own_pending:
        finish(item, pending, tz_context)


def finish(item, pending: dict, tz_context: str | None):
    """Offset-less Start/End are read in the item's time zone when given, else TimeZoneContext, else UTC."""
    zone = item.start_tz if item.start_tz != "UTC" else tz_context
    if "Start" in pending:
        item.start = timezones.parse_dt(pending["Start"], zone)
    if "End" in pending:
        item.end = timezones.parse_dt(pending["End"], zone)
    if item.is_all_day:  # all-day events snap to midnight in the creation time zone (EWS-FACTS section 10)
        tz = timezones.zone(item.start_tz if item.start_tz != "UTC" else tz_context)
        s = item.start.astimezone(tz).replace(hour=0, minute=0, second=0)
        e = item.end.astimezone(tz).replace(hour=0, minute=0, second=0)
        if e <= s:
            e = (s + timedelta(days=1)).replace(tzinfo=None).replace(tzinfo=tz)
        item.start, item.end = timezones.utc(s), timezones.utc(e)
    if item.end < item.start:
        raise EwsError("ErrorCalendarEndDateIsEarlierThanStartDate", "The end date occurs before the start date.")


def reset(item, uri: str):
    """DeleteItemField."""
    if uri not in FIELD_ATTRS:
        raise EwsError("ErrorInvalidPropertyDelete", f"The property {uri} can't be deleted.")
    attr, default = FIELD_ATTRS[uri]
    if default is None and attr in ("start", "end"):
        raise EwsError("ErrorInvalidPropertyDelete", f"The property {uri} can't be deleted.")
    setattr(item, attr, list(default) if isinstance(default, list) else default)


def _check(value, allowed, name):
    if value not in allowed:
        raise EwsError("ErrorSchemaValidation", f"The value '{value}' is invalid for {name}.")
