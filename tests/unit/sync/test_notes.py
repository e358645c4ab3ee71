"""The marker line (C4, U3, E1) and HTML sanitising."""
from __future__ import annotations

from datetime import timedelta

from portal.sync.notes import MARKER, build_body, html_to_text, notes_above_marker

from .builders import T0, appt


def test_c4_text_above_marker_becomes_notes():
    body = f"Bring passport\nand payslips\n\n{MARKER}\n\nAppointment: Mortgage"
    assert notes_above_marker(body) == "Bring passport\nand payslips"


def test_c4_without_marker_nothing_is_imported():
    assert notes_above_marker("Private thoughts about the client") is None
    assert notes_above_marker(None) is None


def test_c4_html_body_is_converted_and_sanitised():
    html = (f"<html><body><p>Call <b>back</b> &amp; confirm</p><script>alert(1)</script>"
            f"<div>second line</div><p>{MARKER}</p><p>details</p></body></html>")
    assert notes_above_marker(html) == "Call back & confirm\nsecond line"


def test_c4_html_to_text_drops_style_and_lists():
    assert html_to_text("<style>p{color:red}</style><ul><li>one</li><li>two</li></ul>") == "- one\n- two"


def test_u3_crlf_and_trailing_space_normalised():
    assert notes_above_marker(f"note  \r\n\r\n\r\n{MARKER}\r\n") == "note"


def test_e1_body_has_empty_notes_area_marker_then_details():
    a = appt()
    body = build_body("", a.details())
    head, _, tail = body.partition(MARKER)
    assert head.strip() == ""
    assert "Mortgage advice" in tail and "1 Main Street" in tail and "cleo@example.net" in tail
    assert notes_above_marker(body) == ""


def test_e1_details_in_staff_time_zone():
    a = appt(time_zone="Europe/London", start=T0 + timedelta(days=0))
    assert "14:00–15:00 (Europe/London)" in a.details()
