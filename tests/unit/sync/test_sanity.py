"""G11/R5: what makes an Exchange item unplannable, and reading a damaged item without failing its page."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from portal.ews_soap.items import parse_calendar_item
from portal.ews_soap.types import CalendarEvent
from portal.ews_soap.xml import T
from portal.sync.sanity import item_problem

START = datetime(2026, 3, 9, 15, tzinfo=UTC)


def _ev(start, end, **kw):
    return CalendarEvent(item_id="i1", subject="S", start=start, end=end, **kw)


def test_g11_r5_plausible_items_pass():
    assert item_problem(_ev(START, START + timedelta(hours=1))) is None
    assert item_problem(_ev(START, START)) is None  # zero-length events exist in Outlook


def test_g11_r5_absurd_items_are_explained():
    assert "ends before it starts" in item_problem(_ev(START, START - timedelta(hours=1)))
    assert "outside the years" in item_problem(_ev(datetime(1, 1, 1, tzinfo=UTC), datetime(1, 1, 1, 1, tzinfo=UTC)))
    assert "outside the years" in item_problem(_ev(START, datetime(9999, 12, 31, tzinfo=UTC)))
    assert "no start or end" in item_problem(_ev(None, START))
    assert "cannot read" in item_problem(_ev(START, START, unreadable="Start 'x' is not a usable date"))


def _item_xml(start: str, end: str) -> etree._Element:
    el = etree.Element(f"{{{T}}}CalendarItem")
    etree.SubElement(el, f"{{{T}}}ItemId", Id="AAA=", ChangeKey="CK")
    etree.SubElement(el, f"{{{T}}}Subject").text = "Damaged"
    etree.SubElement(el, f"{{{T}}}Start").text = start
    etree.SubElement(el, f"{{{T}}}End").text = end
    return el


def test_g11_r5_a_garbage_date_marks_the_item_unreadable_instead_of_failing():
    ev = parse_calendar_item(_item_xml("garbage", "2026-03-09T16:00:00Z"))
    assert ev.item_id == "AAA=" and ev.start is None and "Start 'garbage'" in ev.unreadable
    assert "cannot read" in item_problem(ev)


def test_g11_r5_a_year_0001_date_east_of_utc_does_not_overflow():
    ev = parse_calendar_item(_item_xml("0001-01-01T00:00:00+05:00", "0001-01-01T01:00:00+05:00"))
    assert ev.unreadable and item_problem(ev)
    ok = parse_calendar_item(_item_xml("2026-03-09T15:00:00Z", "2026-03-09T16:00:00Z"))
    assert ok.unreadable is None and item_problem(ok) is None


def test_r5_notes_from_exchange_are_capped_and_marked_as_cut():
    from portal.sync.notes import CUT_MARK, MARKER, NOTES_CAP, notes_above_marker

    long_body = ("A pasted e-mail thread. " * 2000) + "\n" + MARKER + "\nAppointment: x"
    notes = notes_above_marker(long_body)
    assert len(notes) <= NOTES_CAP + len(CUT_MARK) + 1 and notes.endswith(CUT_MARK)
    assert notes_above_marker("Short note\n" + MARKER) == "Short note"  # short notes untouched
