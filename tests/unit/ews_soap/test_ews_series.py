"""U6: the client reads a recurring master's Recurrence, ModifiedOccurrences, DeletedOccurrences and zone with
GetItem (Microsoft's published sample, and the request validates against Microsoft's schema)."""
from __future__ import annotations

from datetime import UTC, date, datetime

from ews_testkit import sample
from lxml import etree

from portal.ews_soap.items import parse_calendar_item
from portal.ews_soap.operations import get_item
from portal.ews_soap.parse import read_reply
from portal.ews_soap.series import SERIES_FIELDS
from portal.ews_soap.xml import T

MASTER = f"""<t:CalendarItem xmlns:t="{T}"><t:ItemId Id="M" ChangeKey="c"/><t:Subject>Clinic</t:Subject>
<t:Start>2026-03-02T14:00:00Z</t:Start><t:End>2026-03-02T15:00:00Z</t:End>
<t:CalendarItemType>RecurringMaster</t:CalendarItemType>
<t:Recurrence><t:RelativeMonthlyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek>
<t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>
<t:EndDateRecurrence><t:StartDate>2026-03-02-05:00</t:StartDate><t:EndDate>2026-12-31-05:00</t:EndDate>
</t:EndDateRecurrence></t:Recurrence>
<t:ModifiedOccurrences><t:Occurrence><t:ItemId Id="X1" ChangeKey="k1"/><t:Start>2026-05-29T16:00:00Z</t:Start>
<t:End>2026-05-29T17:00:00Z</t:End><t:OriginalStart>2026-05-29T13:00:00Z</t:OriginalStart></t:Occurrence>
</t:ModifiedOccurrences>
<t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2026-07-31T13:00:00Z</t:Start></t:DeletedOccurrence>
</t:DeletedOccurrences>
<t:StartTimeZone Id="Eastern Standard Time" Name="(UTC-05:00) Eastern Time (US &amp; Canada)"/>
</t:CalendarItem>"""


def test_u6_recurring_master_sample_is_read_with_its_pattern():
    reply = read_reply(sample("GetItem-RecurringMaster-response.xml"), expect="GetItemResponse")
    (ev,) = get_item.parse(reply)
    s = ev.series
    assert ev.item_type == "RecurringMaster" and s.pattern == "WeeklyRecurrence"
    assert (s.interval, s.days_of_week, s.range, s.count) == (1, ("Saturday",), "NumberedRecurrence", 10)
    assert s.start_date == date(2014, 3, 8)  # "2014-03-08-08:00": the local date, offset ignored


def test_u6_every_series_field_is_parsed():
    ev = parse_calendar_item(etree.fromstring(MASTER))
    s = ev.series
    assert (s.pattern, s.interval, s.days_of_week, s.day_of_week_index) == (
        "RelativeMonthlyRecurrence", 2, ("Weekday",), "Last")
    assert (s.range, s.start_date, s.end_date, s.time_zone) == (
        "EndDateRecurrence", date(2026, 3, 2), date(2026, 12, 31), "America/New_York")
    (mod,) = s.modified
    assert (mod.item_id, mod.change_key, mod.original_start) == ("X1", "k1", datetime(2026, 5, 29, 13, tzinfo=UTC))
    assert s.deleted == (datetime(2026, 7, 31, 13, tzinfo=UTC),)


def test_u6_series_get_item_request_asks_for_the_pattern():
    """(Schema validity of this request: test_ews_request_schema.py walks every body of ews_requests.bodies.)"""
    from ews_requests import build_all

    envelope = build_all("sundial", True)["GetItem-series"]
    for uri in SERIES_FIELDS:
        assert f'FieldURI="{uri}"'.encode() in envelope
