"""CalendarItem -> ``t:CalendarItem`` XML for a requested ItemShape, in types.xsd element order."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import calendar, recurrence, timezones
from .bodies import body_as
from .soap import T, local, tsub

DEFAULT = ("item:ItemId", "item:Subject", "item:ResponseObjects", "calendar:Start", "calendar:End",
           "calendar:Location",
           "calendar:LegacyFreeBusyStatus", "calendar:CalendarItemType", "calendar:Organizer")
ALL = ("item:ItemId", "item:ParentFolderId", "item:ItemClass", "item:Subject", "item:Sensitivity", "item:Body",
       "item:DateTimeReceived", "item:Size", "item:Categories", "item:Importance", "item:IsSubmitted",
       "item:IsDraft", "item:IsFromMe", "item:IsResend", "item:IsUnmodified", "item:DateTimeSent",
       "item:DateTimeCreated", "item:ResponseObjects", "item:ReminderDueBy", "item:ReminderIsSet",
       "item:ReminderMinutesBeforeStart",
       "item:DisplayCc", "item:DisplayTo", "item:HasAttachments", "item:Culture", "item:LastModifiedName",
       "item:LastModifiedTime", "calendar:UID", "calendar:Start", "calendar:End", "calendar:OriginalStart",
       "calendar:IsAllDayEvent", "calendar:LegacyFreeBusyStatus", "calendar:Location", "calendar:IsMeeting",
       "calendar:IsCancelled", "calendar:IsRecurring", "calendar:MeetingRequestWasSent",
       "calendar:IsResponseRequested", "calendar:CalendarItemType", "calendar:MyResponseType",
       "calendar:Organizer", "calendar:RequiredAttendees", "calendar:OptionalAttendees",
       "calendar:ConflictingMeetingCount", "calendar:AdjacentMeetingCount", "calendar:Duration",
       "calendar:TimeZone", "calendar:AppointmentSequenceNumber", "calendar:AppointmentState",
       "calendar:Recurrence", "calendar:FirstOccurrence", "calendar:LastOccurrence",
       "calendar:ModifiedOccurrences", "calendar:DeletedOccurrences", "calendar:StartTimeZone",
       "calendar:EndTimeZone")
# FindItem returns no streamable/recipient-list properties (MSDOC web-service-reference/finditem: "FindItem
# returns only the first 512 bytes of any streamable property"); we omit these instead.
FIND_OMITS = {"item:Body", "item:UniqueBody", "item:ResponseObjects", "item:Attachments", "item:MimeContent",
              "calendar:RequiredAttendees",
              "calendar:OptionalAttendees", "calendar:Resources", "calendar:ModifiedOccurrences",
              "calendar:DeletedOccurrences", "calendar:ConflictingMeetings", "calendar:AdjacentMeetings"}


@dataclass
class Shape:
    base: str = "AllProperties"
    fields: set = field(default_factory=set)
    extended: list = field(default_factory=list)  # list of attribute dicts
    body_type: str = "Best"
    find: bool = False


def _mailbox(parent, att, tag="Mailbox"):
    box = tsub(parent, tag)
    tsub(box, "Name", att.name or att.email)
    tsub(box, "EmailAddress", att.email)
    tsub(box, "RoutingType", "SMTP")
    tsub(box, "MailboxType", "Mailbox")
    return box


def _attendees(parent, name, people):
    if people:
        box = tsub(parent, name)
        for person in people:
            att = tsub(box, "Attendee")
            _mailbox(att, person)
            tsub(att, "ResponseType", person.response)


def _occ_info(parent, name, view):
    if view is None:
        return
    box = tsub(parent, name)
    tsub(box, "ItemId", Id=view.id, ChangeKey=view.change_key)
    tsub(box, "Start", timezones.fmt(view.start))
    tsub(box, "End", timezones.fmt(view.end))
    tsub(box, "OriginalStart", timezones.fmt(view.original_start))


def _modified(parent, item, _shape):
    if item.recurrence and item.modified:
        box = tsub(parent, "ModifiedOccurrences")
        for orig in sorted(item.modified):
            _occ_info(box, "Occurrence", calendar.occurrence_view(item, orig, None))


def _deleted(parent, item, _shape):
    if item.recurrence and item.deleted:
        box = tsub(parent, "DeletedOccurrences")
        for orig in sorted(item.deleted):
            tsub(tsub(box, "DeletedOccurrence"), "Start", timezones.fmt(orig))


def _first_last(which):
    def write(parent, item, _shape):
        if item.recurrence:
            first, last = calendar.first_last(item)
            _occ_info(parent, which, first if which == "FirstOccurrence" else last)
    return write


def _body(parent, item, shape):
    kind, value = body_as(item, shape.body_type)
    tsub(parent, "Body", value, BodyType=kind)


def _tz(which):
    def write(parent, item, _shape):
        win = item.start_tz if which == "StartTimeZone" else item.end_tz
        tsub(parent, which, Id=win, Name=win)
    return write


def _duration(item) -> str:
    seconds = int((item.end - item.start).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "P" + (f"{days}D" if days else "")
    tail = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{secs}S" if secs else "")
    return out + ("T" + tail if tail else ("" if days else "T0S"))


def _simple(name, get):
    def write(parent, item, _shape):
        value = get(item)
        if value is None or value == "":
            return
        if isinstance(value, bool):
            value = "true" if value else "false"
        tsub(parent, name, str(value))
    return write


def _always(name, get):
    """Exchange sends DisplayTo/DisplayCc even when empty (ews-samples/GetItem-response-AllProperties.xml)."""
    return lambda parent, item, _shape: tsub(parent, name, get(item) or None)


def _response_objects(parent, item, _shape):
    # What the mailbox owner may do with an appointment (ews-samples/GetItem-response-Default.xml).
    box = tsub(parent, "ResponseObjects")
    if item.is_meeting:
        tsub(box, "CancelCalendarItem")
    tsub(box, "ForwardItem")


def _dt(item_attr):
    return lambda item: timezones.fmt(getattr(item, item_attr)) if getattr(item, item_attr) else None


def _wire(index, item_attr):
    """Start/End as stored, unless faults.poison_item planted other values for the wire."""
    stored = _dt(item_attr)
    return lambda item: item.wire_dates[index] if getattr(item, "wire_dates", None) else stored(item)


def _organizer(parent, item, _shape):
    if item.organizer:
        _mailbox(tsub(parent, "Organizer"), item.organizer)


def _categories(parent, item, _shape):
    if item.categories:
        box = tsub(parent, "Categories")
        for cat in item.categories:
            tsub(box, "String", cat)


def _recurrence(parent, item, _shape):
    if item.recurrence:
        recurrence.write(parent, item.recurrence, windows_tz=item.start_tz)


def _display(attendees):
    return lambda item: "; ".join(a.name or a.email for a in attendees(item)) or None


WRITERS = {
    "item:ItemId": lambda p, i, s: tsub(p, "ItemId", Id=i.id, ChangeKey=i.change_key),
    "item:ParentFolderId": lambda p, i, s: tsub(p, "ParentFolderId", Id=i.folder_id, ChangeKey="AQAAAA=="),
    "item:ItemClass": _simple("ItemClass", lambda i: "IPM.Appointment"),
    "item:Subject": _simple("Subject", lambda i: i.subject),
    "item:Sensitivity": _simple("Sensitivity", lambda i: i.sensitivity),
    "item:Body": _body,
    "item:DateTimeReceived": _simple("DateTimeReceived", _dt("created")),
    "item:Size": _simple("Size", lambda i: 1024 + len(i.body) + len(i.subject)),
    "item:Categories": _categories,
    "item:Importance": _simple("Importance", lambda i: i.importance),
    "item:IsSubmitted": _simple("IsSubmitted", lambda i: False),
    "item:IsDraft": _simple("IsDraft", lambda i: False),
    "item:IsFromMe": _simple("IsFromMe", lambda i: False),
    "item:IsResend": _simple("IsResend", lambda i: False),
    "item:IsUnmodified": _simple("IsUnmodified", lambda i: False),
    "item:DateTimeSent": _simple("DateTimeSent", _dt("created")),
    "item:DateTimeCreated": _simple("DateTimeCreated", _dt("created")),
    "item:ResponseObjects": _response_objects,
    "item:ReminderDueBy": _simple("ReminderDueBy", _dt("start")),
    "item:ReminderIsSet": _simple("ReminderIsSet", lambda i: i.reminder_set),
    "item:ReminderMinutesBeforeStart": _simple("ReminderMinutesBeforeStart", lambda i: i.reminder_minutes),
    "item:DisplayCc": _always("DisplayCc", _display(lambda i: i.optional)),
    "item:DisplayTo": _always("DisplayTo", _display(lambda i: i.required)),
    "item:HasAttachments": _simple("HasAttachments", lambda i: False),
    "item:Culture": _simple("Culture", lambda i: "en-US"),
    "item:LastModifiedName": _simple("LastModifiedName", lambda i: i.organizer.name if i.organizer else None),
    "item:LastModifiedTime": _simple("LastModifiedTime", _dt("last_modified")),
    "calendar:UID": _simple("UID", lambda i: i.uid),
    "calendar:RecurrenceId": _simple("RecurrenceId", _dt("original_start")),
    "calendar:DateTimeStamp": _simple("DateTimeStamp", _dt("last_modified")),
    "calendar:Start": _simple("Start", _wire(0, "start")),
    "calendar:End": _simple("End", _wire(1, "end")),
    "calendar:OriginalStart": _simple("OriginalStart", _dt("original_start")),
    "calendar:IsAllDayEvent": _simple("IsAllDayEvent", lambda i: i.is_all_day),
    "calendar:LegacyFreeBusyStatus": _simple("LegacyFreeBusyStatus", lambda i: i.free_busy),
    "calendar:Location": _simple("Location", lambda i: i.location),
    "calendar:IsMeeting": _simple("IsMeeting", lambda i: i.is_meeting),
    "calendar:IsCancelled": _simple("IsCancelled", lambda i: False),
    "calendar:IsRecurring": _simple("IsRecurring", lambda i: i.item_type in ("Occurrence", "Exception")),
    "calendar:MeetingRequestWasSent": _simple("MeetingRequestWasSent", lambda i: False),
    "calendar:IsResponseRequested": _simple("IsResponseRequested", lambda i: i.is_meeting),
    "calendar:CalendarItemType": _simple("CalendarItemType", lambda i: i.calendar_item_type()),
    "calendar:MyResponseType": _simple("MyResponseType", lambda i: "Organizer"),
    "calendar:Organizer": _organizer,
    "calendar:RequiredAttendees": lambda p, i, s: _attendees(p, "RequiredAttendees", i.required),
    "calendar:OptionalAttendees": lambda p, i, s: _attendees(p, "OptionalAttendees", i.optional),
    "calendar:ConflictingMeetingCount": _simple("ConflictingMeetingCount", lambda i: 0),
    "calendar:AdjacentMeetingCount": _simple("AdjacentMeetingCount", lambda i: 0),
    "calendar:Duration": _simple("Duration", _duration),
    "calendar:TimeZone": _simple("TimeZone", lambda i: i.start_tz),
    "calendar:AppointmentReplyTime": _simple("AppointmentReplyTime", lambda i: None),
    "calendar:AppointmentSequenceNumber": _simple("AppointmentSequenceNumber", lambda i: i.sequence),
    "calendar:AppointmentState": _simple("AppointmentState", lambda i: 1 if i.is_meeting else 0),
    "calendar:Recurrence": _recurrence,
    "calendar:FirstOccurrence": _first_last("FirstOccurrence"),
    "calendar:LastOccurrence": _first_last("LastOccurrence"),
    "calendar:ModifiedOccurrences": _modified,
    "calendar:DeletedOccurrences": _deleted,
    "calendar:StartTimeZone": _tz("StartTimeZone"),
    "calendar:EndTimeZone": _tz("EndTimeZone"),
    "calendar:ConferenceType": _simple("ConferenceType", lambda i: 0),
    "calendar:AllowNewTimeProposal": _simple("AllowNewTimeProposal", lambda i: True),
    "calendar:IsOnlineMeeting": _simple("IsOnlineMeeting", lambda i: False),
    "calendar:StartTimeZoneId": _simple("StartTimeZoneId", lambda i: i.start_tz),
    "calendar:EndTimeZoneId": _simple("EndTimeZoneId", lambda i: i.end_tz),
    "calendar:IsOrganizer": _simple("IsOrganizer", lambda i: True),
}
ORDER = list(WRITERS)
# ExtendedProperty sits between HasAttachments and Culture in ItemType's sequence (types.xsd).
EXTENDED_AFTER = ORDER.index("item:HasAttachments")


def ext_key(attrs: dict) -> tuple:
    return tuple(sorted((k, v.lower() if k == "PropertyTag" else v) for k, v in attrs.items()))


def write_item(parent, item, shape: Shape):
    el = tsub(parent, "CalendarItem")
    wanted = {"item:ItemId"}
    if shape.base == "Default":
        wanted.update(DEFAULT)
    elif shape.base == "AllProperties":
        wanted.update(ALL)
    wanted |= shape.fields
    if shape.find:
        wanted -= FIND_OMITS
    for pos, uri in enumerate(ORDER):
        if uri in wanted:
            WRITERS[uri](el, item, shape)
        if pos == EXTENDED_AFTER:
            _extended(el, item, shape)
    return el


def _extended(el, item, shape):
    for attrs in shape.extended:
        value = item.extended.get(ext_key(attrs))
        if value is None:
            continue
        prop = tsub(el, "ExtendedProperty")
        tsub(prop, "ExtendedFieldURI", **attrs)
        if isinstance(value, list):
            box = tsub(prop, "Values")
            for v in value:
                tsub(box, "Value", v)
        else:
            tsub(prop, "Value", value)


def parse_shape(el, find: bool = False) -> Shape:
    """``m:ItemShape`` -> Shape."""
    shape = Shape(find=find)
    if el is None:
        return shape
    for child in el:
        name = local(child.tag)
        if name == "BaseShape":
            shape.base = (child.text or "").strip()
        elif name == "BodyType":
            shape.body_type = (child.text or "Best").strip()
        elif name == "AdditionalProperties":
            for prop in child:
                if local(prop.tag) == "FieldURI":
                    shape.fields.add(prop.get("FieldURI"))
                elif local(prop.tag) == "ExtendedFieldURI":
                    shape.extended.append(dict(prop.attrib))
    return shape


__all__ = ["Shape", "write_item", "parse_shape", "ext_key", "T"]
