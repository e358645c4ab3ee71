"""Calendar items: the properties Sundial asks for, t:CalendarItem → CalendarEvent, and NewEvent/EventUpdate →
request content. Field URIs: MSDOC web-service-reference/fielduri; element order: CalendarItem reference page.
"""

from __future__ import annotations

from functools import cache

import lxml.html
from lxml import etree

from .parse import child_text, id_pair
from .series import SERIES_FIELDS, parse_series
from .timezones import windows_zone
from .types import CalendarEvent, EventUpdate, NewEvent
from .xml import APPOINTMENT_PROP, Raw, T, ews_datetime, parse_datetime, paths, t, time_zone_definition

# Properties FindItem may return (no Body, no attendee lists: MSDOC web-service-reference/finditem-operation
# Remarks, "FindItem returns only the first 512 bytes of any streamable property" and no recipient collections).
VIEW_FIELDS = [
    "item:Subject", "item:Sensitivity", "item:Categories", "item:ParentFolderId", "item:LastModifiedTime",
    "calendar:Start", "calendar:End", "calendar:IsAllDayEvent", "calendar:LegacyFreeBusyStatus",
    "calendar:Location", "calendar:Organizer", "calendar:CalendarItemType", "calendar:UID",
]
# GetItem / SyncFolderItems add the body (as text, converted by Exchange) and the attendees.
FULL_FIELDS = VIEW_FIELDS + ["item:Body", "calendar:RecurrenceId", "calendar:RequiredAttendees",
                             "calendar:OptionalAttendees"]


def item_shape(full: bool, series: bool = False) -> dict:
    """ItemShape for zeep: IdOnly + the listed properties + Sundial's extended property; `series` adds a
    recurring master's Recurrence, Modified/DeletedOccurrences and StartTimeZone (U6)."""
    shape = {"BaseShape": "IdOnly"}
    if full:
        shape["BodyType"] = "Text"
    shape["AdditionalProperties"] = _properties(full, series)
    return shape


@cache
def _properties(full: bool, series: bool):
    """Built once per kind (four at most): zeep only copies from it, and every request asks for the same."""
    return paths((FULL_FIELDS if full else VIEW_FIELDS) + (SERIES_FIELDS if series else []), [APPOINTMENT_PROP])


def _bool(text: str | None) -> bool:
    return (text or "").strip().lower() == "true"


def html_to_text(html: str) -> str:
    """Plain text from an HTML body (block elements and <br> become line breaks)."""
    try:
        doc = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return html
    # Script, style and head content is never text a person wrote (Outlook bodies carry <style> blocks).
    for junk in doc.xpath("//script|//style|//head|//title"):
        if junk.getparent() is not None:
            junk.drop_tree()
    for br in doc.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in doc.iter("p", "div", "li", "tr", "h1", "h2", "h3"):
        block.tail = "\n" + (block.tail or "")
    # HTML whitespace is insignificant: collapse runs within a line, keep at most one blank line in a row
    out: list[str] = []
    for line in doc.text_content().splitlines():
        line = " ".join(line.split())
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def _mailbox(el: etree._Element | None) -> tuple[str | None, str | None]:
    if el is None:
        return None, None
    return child_text(el, "Name"), child_text(el, "EmailAddress")


_TPREFIX = "{" + T + "}"
_TLEN = len(_TPREFIX)


def _children(item: etree._Element) -> dict[str, etree._Element]:
    """One pass over the item's children (first of each name): a find() per field is O(fields²) per item.
    Only elements are visited (comments and processing instructions have no name)."""
    out: dict[str, etree._Element] = {}
    for el in item.iterchildren(etree.Element):
        tag = el.tag
        if tag.startswith(_TPREFIX):
            name = tag[_TLEN:]
            if name not in out:
                out[name] = el
    return out


def _attendees(kids: dict[str, etree._Element]) -> list[tuple[str | None, str | None]]:
    out = []
    for group in ("RequiredAttendees", "OptionalAttendees"):
        holder = kids.get(group)
        if holder is not None:
            out += [_mailbox(a.find(f"{{{T}}}Mailbox")) for a in holder.findall(f"{{{T}}}Attendee")]
    return out


def _appointment_id(item: etree._Element) -> int | None:
    for prop in item.iterchildren(f"{{{T}}}ExtendedProperty"):
        uri = prop.find(f"{{{T}}}ExtendedFieldURI")
        if uri is not None and uri.get("PropertyName") == APPOINTMENT_PROP["PropertyName"]:
            try:
                return int((child_text(prop, "Value") or "").strip())
            except ValueError:
                return None
    return None


def parse_calendar_item(item: etree._Element) -> CalendarEvent:
    """t:CalendarItem (or any t:*Item carrying calendar fields) → CalendarEvent."""
    kids = _children(item)

    def text(name: str) -> str | None:
        el = kids.get(name)
        return el.text if el is not None else None

    problems: list[str] = []

    def when(name: str, fallback: str | None = None):
        value = text(name) or (text(fallback) if fallback else None)
        try:
            return parse_datetime(value)
        except (ValueError, OverflowError):  # G11: one unreadable date skips this item, not the whole page
            problems.append(f"{name} {value!r} is not a usable date")
            return None

    item_id, change_key = id_pair(kids.get("ItemId"))
    body_el = kids.get("Body")
    body = None
    if body_el is not None and body_el.text is not None:
        body = html_to_text(body_el.text) if body_el.get("BodyType") == "HTML" else body_el.text
    organizer = kids.get("Organizer")
    organizer_name, organizer_email = _mailbox(organizer.find(f"{{{T}}}Mailbox") if organizer is not None else None)
    categories = kids.get("Categories")
    return CalendarEvent(
        item_id=item_id or "",
        change_key=change_key,
        subject=text("Subject"),
        start=when("Start"),
        end=when("End"),
        is_all_day=_bool(text("IsAllDayEvent")),
        free_busy=(text("LegacyFreeBusyStatus") or "Busy").strip(),
        sensitivity=(text("Sensitivity") or "Normal").strip(),
        location=text("Location"),
        organizer=organizer_email or organizer_name,
        body_text=body,
        categories=[s.text for s in categories.findall(f"{{{T}}}String") if s.text] if categories is not None else [],
        item_type=(text("CalendarItemType") or "Single").strip(),
        uid=text("UID"),
        recurrence_id=when("RecurrenceId", "OriginalStart"),
        appointment_id=_appointment_id(item) if "ExtendedProperty" in kids else None,
        parent_folder_id=id_pair(kids.get("ParentFolderId"))[0],
        last_modified=when("LastModifiedTime"),
        attendees=_attendees(kids),
        unreadable="; ".join(problems) or None,
        series=parse_series(kids) if "Recurrence" in kids else None,
    )


def _attendee_list(attendees) -> dict:
    return {"Attendee": [{"Mailbox": {"Name": name, "EmailAddress": email}} for name, email in attendees]}


def new_calendar_item(ev: NewEvent) -> dict:
    """zeep value for one t:CalendarItem of CreateItem (schema order is zeep's job)."""
    item = {"Subject": ev.subject, "ReminderIsSet": False,
            "Start": ews_datetime(ev.start), "End": ews_datetime(ev.end),
            "LegacyFreeBusyStatus": ev.free_busy}
    if ev.body_text is not None:
        item["Body"] = {"_value_1": ev.body_text, "BodyType": "Text"}
    if ev.appointment_id is not None:
        item["ExtendedProperty"] = [{"ExtendedFieldURI": dict(APPOINTMENT_PROP), "Value": str(ev.appointment_id)}]
    if ev.is_all_day:
        item["IsAllDayEvent"] = True
    if ev.location:
        item["Location"] = ev.location
    if ev.attendees:
        item["RequiredAttendees"] = _attendee_list(ev.attendees)
    zone = windows_zone(ev.time_zone)
    if zone:  # Exchange2010+ (EWS-FACTS §10); all versions Sundial offers are 2010 or later
        item["StartTimeZone"] = time_zone_definition(zone)
        item["EndTimeZone"] = time_zone_definition(zone)
    return item


def _set(updates: etree._Element, field_uri: str, build) -> None:
    """<t:SetItemField><t:FieldURI/><t:CalendarItem>…</t:CalendarItem></t:SetItemField>."""
    change = t("SetItemField", updates)
    t("FieldURI", change, FieldURI=field_uri)
    build(t("CalendarItem", change))


def update_changes(up: EventUpdate) -> Raw:
    """t:Updates content for one EventUpdate; only fields that are not None are touched."""
    updates = t("Updates")
    zone = windows_zone(up.time_zone)
    if zone:
        _set(updates, "calendar:StartTimeZone", lambda ci: t("StartTimeZone", ci, Id=zone))
        _set(updates, "calendar:EndTimeZone", lambda ci: t("EndTimeZone", ci, Id=zone))
    if up.subject is not None:
        _set(updates, "item:Subject", lambda ci: t("Subject", ci, up.subject))
    if up.body_text is not None:
        _set(updates, "item:Body", lambda ci: t("Body", ci, up.body_text, BodyType="Text"))
    if up.appointment_id is not None:
        change = t("SetItemField", updates)
        t("ExtendedFieldURI", change, **APPOINTMENT_PROP)
        prop = t("ExtendedProperty", t("CalendarItem", change))
        t("ExtendedFieldURI", prop, **APPOINTMENT_PROP)
        t("Value", prop, str(up.appointment_id))
    if up.start is not None:
        _set(updates, "calendar:Start", lambda ci: t("Start", ci, ews_datetime(up.start)))
    if up.end is not None:
        _set(updates, "calendar:End", lambda ci: t("End", ci, ews_datetime(up.end)))
    if up.free_busy is not None:
        _set(updates, "calendar:LegacyFreeBusyStatus", lambda ci: t("LegacyFreeBusyStatus", ci, up.free_busy))
    if up.location is not None:
        if up.location:
            _set(updates, "calendar:Location", lambda ci: t("Location", ci, up.location))
        else:
            t("FieldURI", t("DeleteItemField", updates), FieldURI="calendar:Location")
    if up.attendees is not None:
        if up.attendees:
            def _build(ci):
                holder = t("RequiredAttendees", ci)
                for name, email in up.attendees:
                    box = t("Mailbox", t("Attendee", holder))
                    if name:
                        t("Name", box, name)
                    t("EmailAddress", box, email)
            _set(updates, "calendar:RequiredAttendees", _build)
        else:
            t("FieldURI", t("DeleteItemField", updates), FieldURI="calendar:RequiredAttendees")
    return Raw(updates)
