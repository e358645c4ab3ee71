"""Calendar item features exchangelib (unchanged) round-trips through the simulator: yearly recurrences
(absolute and relative), recurrences with an end date, Categories, optional attendees; and the Text → HTML
body conversion Exchange does when a client asks for BodyType HTML (MSDOC web-service-reference/bodytype)."""
from __future__ import annotations

import re
from datetime import date

import requests
from exchangelib import Attendee, CalendarItem, EWSDateTime, EWSTimeZone, Mailbox
from exchangelib.recurrence import (
    AbsoluteYearlyPattern,
    DailyPattern,
    Recurrence,
    RelativeYearlyPattern,
)
from sim_helpers import ALICE, BOB, CAROL, account

TZ = EWSTimeZone("America/New_York")


def at(y, mo, d, h=10, mi=0):
    return EWSDateTime(y, mo, d, h, mi, tzinfo=TZ)


def _save(item):
    item.save(send_meeting_invitations="SendToNone")
    return item


def _starts(acc, subject, start, end):
    return [i.start.astimezone(TZ) for i in acc.calendar.view(start=start, end=end) if i.subject == subject]


def test_u4_absolute_yearly_recurrence_with_end_date(sim):
    acc = account(sim, ALICE)
    pattern = AbsoluteYearlyPattern(day_of_month=15, month=3)
    series = _save(CalendarItem(account=acc, folder=acc.calendar, subject="Licence renewal", start=at(2027, 3, 15),
                                end=at(2027, 3, 15, 11),
                                recurrence=Recurrence(pattern=pattern, start=date(2027, 3, 15), end=date(2029, 3, 15))))
    # a CalendarView may span at most two years (ErrorCalendarViewRangeTooBig beyond): two windows
    starts = _starts(acc, "Licence renewal", at(2027, 1, 1), at(2028, 12, 31))
    starts += _starts(acc, "Licence renewal", at(2029, 1, 1), at(2030, 12, 31))
    assert starts == [at(2027, 3, 15), at(2028, 3, 15), at(2029, 3, 15)]  # the end date is inclusive
    master = acc.calendar.get(id=series.id)
    assert isinstance(master.recurrence.pattern, AbsoluteYearlyPattern)
    assert (master.recurrence.pattern.day_of_month, master.recurrence.pattern.month) == (15, 3)
    assert master.recurrence.boundary.end == date(2029, 3, 15)
    stored = sim.store.get(series.id).recurrence
    assert (stored["pattern"], stored["range"]) == ("AbsoluteYearlyRecurrence", "EndDateRecurrence")
    assert master.last_occurrence.start.astimezone(TZ) == at(2029, 3, 15)
    series.delete(send_meeting_cancellations="SendToNone")


def test_u4_relative_yearly_recurrence_numbered(sim):
    acc = account(sim, ALICE)
    # the last Monday of May (exchangelib: weekday 1 = Monday, week_number 5 = Last, month 5 = May)
    pattern = RelativeYearlyPattern(weekday=1, week_number=5, month=5)
    series = _save(CalendarItem(account=acc, folder=acc.calendar, subject="Memorial Day", start=at(2027, 5, 31),
                                end=at(2027, 5, 31, 11),
                                recurrence=Recurrence(pattern=pattern, start=date(2027, 5, 31), number=3)))
    starts = _starts(acc, "Memorial Day", at(2027, 1, 1), at(2028, 12, 31))
    starts += _starts(acc, "Memorial Day", at(2029, 1, 1), at(2030, 12, 31))
    assert starts == [at(2027, 5, 31), at(2028, 5, 29), at(2029, 5, 28)]
    master = acc.calendar.get(id=series.id)
    assert isinstance(master.recurrence.pattern, RelativeYearlyPattern)
    assert (master.recurrence.pattern.weekday, master.recurrence.pattern.week_number,
            master.recurrence.pattern.month) == (1, 5, 5)
    assert master.recurrence.boundary.number == 3
    stored = sim.store.get(series.id).recurrence
    assert (stored["pattern"], dict(stored["fields"])) == (
        "RelativeYearlyRecurrence", {"DaysOfWeek": "Monday", "DayOfWeekIndex": "Last", "Month": "May"})
    series.delete(send_meeting_cancellations="SendToNone")


def test_u4_daily_recurrence_ends_on_its_end_date(sim):
    acc = account(sim, ALICE)
    series = _save(CalendarItem(account=acc, folder=acc.calendar, subject="Course week", start=at(2027, 9, 6, 8),
                                end=at(2027, 9, 6, 9), recurrence=Recurrence(
                                    pattern=DailyPattern(interval=1), start=date(2027, 9, 6), end=date(2027, 9, 9))))
    starts = _starts(acc, "Course week", at(2027, 9, 1), at(2027, 9, 30))
    assert [s.day for s in starts] == [6, 7, 8, 9]
    series.delete(send_meeting_cancellations="SendToNone")


def test_categories_round_trip_and_update(sim):
    acc = account(sim, ALICE)
    item = _save(CalendarItem(account=acc, folder=acc.calendar, subject="Tagged", start=at(2027, 10, 4),
                              end=at(2027, 10, 4, 11), categories=["Sundial", "Blue category"]))
    assert acc.calendar.get(id=item.id).categories == ["Sundial", "Blue category"]
    item.categories = ["Green category"]
    item.save(update_fields=["categories"], send_meeting_invitations="SendToNone")
    assert acc.calendar.get(id=item.id).categories == ["Green category"]
    assert [i.subject for i in acc.calendar.filter(categories__contains=["Green category"])] == ["Tagged"]
    item.delete(send_meeting_cancellations="SendToNone")


def test_m4_required_and_optional_attendees_are_kept_apart(sim):
    acc = account(sim, ALICE)
    item = _save(CalendarItem(account=acc, folder=acc.calendar, subject="Case review", start=at(2027, 10, 5),
                              end=at(2027, 10, 5, 11),
                              required_attendees=[Attendee(mailbox=Mailbox(email_address=BOB))],
                              optional_attendees=[Attendee(mailbox=Mailbox(name="Carol White", email_address=CAROL)),
                                                  Attendee(mailbox=Mailbox(email_address="guest@client.test"))]))
    got = acc.calendar.get(id=item.id)
    assert [a.mailbox.email_address for a in got.required_attendees] == [BOB]
    assert [a.mailbox.email_address for a in got.optional_attendees] == [CAROL, "guest@client.test"]
    assert got.optional_attendees[0].mailbox.name == "Carol White"
    got.optional_attendees = [Attendee(mailbox=Mailbox(email_address=CAROL))]
    got.save(update_fields=["optional_attendees"], send_meeting_invitations="SendToNone")
    again = acc.calendar.get(id=item.id)
    assert [a.mailbox.email_address for a in again.optional_attendees] == [CAROL]
    assert [a.mailbox.email_address for a in again.required_attendees] == [BOB]
    item.delete(send_meeting_cancellations="SendToNone")


def test_c4_text_body_is_converted_to_html_on_request(sim):
    item_id = sim.outlook(ALICE).create("Plain notes", at(2027, 10, 6), at(2027, 10, 6, 11),
                                        body="Bring <forms> & ID\nSecond line")
    envelope = ('<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
                'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>'
                '<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetItem><m:ItemShape>'
                '<t:BaseShape>IdOnly</t:BaseShape><t:BodyType>{}</t:BodyType><t:AdditionalProperties>'
                '<t:FieldURI FieldURI="item:Body"/></t:AdditionalProperties></m:ItemShape><m:ItemIds>'
                f'<t:ItemId Id="{item_id}"/></m:ItemIds></m:GetItem></s:Body></s:Envelope>')

    def body(kind):
        r = requests.post(sim.url, data=envelope.format(kind).encode(), auth=(ALICE, "Password1!"), timeout=10)
        assert r.status_code == 200
        return re.search(r'<t:Body BodyType="(\w+)"[^>]*>(.*?)</t:Body>', r.text, re.S).groups()

    assert body("Text") == ("Text", "Bring &lt;forms&gt; &amp; ID\nSecond line")
    assert body("Best") == ("Text", "Bring &lt;forms&gt; &amp; ID\nSecond line")  # stored as text
    kind, html = body("HTML")
    assert kind == "HTML" and html.startswith("&lt;html&gt;")
    # the text is escaped once as HTML (&lt;forms&gt; → &amp;lt;forms&amp;gt; in the XML) and lines become <br>
    assert "&lt;div&gt;Bring &amp;lt;forms&amp;gt; &amp;amp; ID&lt;br&gt;" in html and "Second line" in html
    assert sim.store.get(item_id).body_type == "Text"  # converting on read never changes the item
