"""The mailbox owner editing an appointment from their own mail client: a raw EWS UpdateItem sent over NTLM with
the owner's credentials (not Sundial's client, not the simulator's in-process API), shaped like Microsoft's
sample ews-samples/UpdateItem-meeting-request.xml — SetItemField for location and times, AppendToItemField to
add an attendee."""
from __future__ import annotations

from datetime import UTC, datetime
from xml.sax.saxutils import escape

import requests
from requests_ntlm import HttpNtlmAuth

ENVELOPE = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
    xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header>
  <soap:Body>
    <m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AutoResolve"
        SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy">
      <m:ItemChanges><t:ItemChange>
        <t:ItemId Id="{item_id}" ChangeKey="{change_key}"/>
        <t:Updates>{updates}</t:Updates>
      </t:ItemChange></m:ItemChanges>
    </m:UpdateItem>
  </soap:Body>
</soap:Envelope>"""


def _set(field: str, element: str) -> str:
    return (f'<t:SetItemField><t:FieldURI FieldURI="{field}"/><t:CalendarItem>{element}</t:CalendarItem>'
            '</t:SetItemField>')


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def owner_edits(sim, email: str, item_id: str, *, password: str = "Password1!", location: str | None = None,
                add_attendee: tuple[str, str] | None = None, start: datetime | None = None,
                end: datetime | None = None) -> str:
    """Send the owner's UpdateItem; returns the item's new ChangeKey (raises when Exchange refused it)."""
    updates = []
    if add_attendee is not None:
        name, address = (escape(v) for v in add_attendee)
        updates.append('<t:AppendToItemField><t:FieldURI FieldURI="calendar:RequiredAttendees"/><t:CalendarItem>'
                       f'<t:RequiredAttendees><t:Attendee><t:Mailbox><t:Name>{name}</t:Name><t:EmailAddress>'
                       f'{address}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:Attendee>'
                       '</t:RequiredAttendees></t:CalendarItem></t:AppendToItemField>')
    if location is not None:
        updates.append(_set("calendar:Location", f"<t:Location>{escape(location)}</t:Location>"))
    if start is not None:
        updates.append(_set("calendar:Start", f"<t:Start>{_time(start)}</t:Start>"))
    if end is not None:
        updates.append(_set("calendar:End", f"<t:End>{_time(end)}</t:End>"))
    change_key = sim.outlook(email).get(item_id).change_key
    body = ENVELOPE.format(item_id=escape(item_id), change_key=escape(change_key), updates="".join(updates))
    with requests.Session() as http:  # NTLM authenticates the connection: one keep-alive session
        http.auth = HttpNtlmAuth(email, password)
        resp = http.post(sim.url, data=body.encode(), timeout=10,
                         headers={"Content-Type": "text/xml; charset=utf-8"})
    assert resp.status_code == 200 and 'ResponseClass="Success"' in resp.text, resp.text[:2000]
    return sim.outlook(email).get(item_id).change_key
