"""parse_calendar_item reads each field from one pass over the item's children: the first of each name counts,
comments and processing instructions between them are skipped, other namespaces are not EWS fields."""
from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from portal.ews_soap.items import parse_calendar_item
from portal.ews_soap.xml import T

ITEM = f"""<t:CalendarItem xmlns:t="{T}" xmlns:x="urn:other">
  <!-- a proxy's comment --><?pi something?>
  <t:ItemId Id="AAA=" ChangeKey="CK1"/>
  <t:Subject>Board meeting</t:Subject>
  <x:Subject>not an EWS field</x:Subject>
  <t:Start>2026-03-02T09:00:00Z</t:Start>
  <!-- between fields -->
  <t:End>2026-03-02T10:00:00Z</t:End>
  <t:LegacyFreeBusyStatus>Tentative</t:LegacyFreeBusyStatus>
  <t:Location>Room 1</t:Location>
  <t:Organizer><t:Mailbox><t:Name>Ann</t:Name><t:EmailAddress>ann@example.com</t:EmailAddress></t:Mailbox></t:Organizer>
  <t:Subject>a second Subject is ignored</t:Subject>
</t:CalendarItem>"""


def test_g1_fields_from_one_pass_skip_comments_and_foreign_names():
    ev = parse_calendar_item(etree.fromstring(ITEM))
    assert (ev.item_id, ev.change_key, ev.subject) == ("AAA=", "CK1", "Board meeting")
    assert ev.start == datetime(2026, 3, 2, 9, tzinfo=UTC) and ev.end == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert (ev.free_busy, ev.location, ev.organizer, ev.item_type) == ("Tentative", "Room 1", "ann@example.com",
                                                                        "Single")
    assert ev.unreadable is None
