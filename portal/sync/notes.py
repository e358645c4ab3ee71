"""The notes marker line (SPEC C4, U3, E1) and HTML bodies turned into sanitised plain text.

Text above `Edits above this line will be synced` is the part of an Exchange body that Sundial
imports as internal notes; everything below it belongs to Sundial (the appointment's details).
"""
from __future__ import annotations

import html as htmllib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import nh3

MARKER = "Edits above this line will be synced"
# R5: notes imported from an Exchange body are capped (a pasted e-mail thread can be megabytes).
NOTES_CAP = 10_000  # characters
CUT_MARK = "[… cut by Sundial: the notes in Exchange are longer than 10,000 characters]"

_BLOCK_END = re.compile(r"(?i)<\s*(br\s*/?|/p|/div|/tr|/h[1-6]|/blockquote|/pre|/table)\s*>")
_LI = re.compile(r"(?i)<\s*li(\s[^>]*)?>")
_HTML_HINT = re.compile(r"(?is)<\s*(html|body|div|p|br|span|table|font|b|i|ul|ol|li)\b")


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text or ""))


def html_to_text(html: str) -> str:
    """HTML → plain text: block ends become newlines, every tag is removed by nh3 (script/style with content)."""
    marked = _LI.sub("\n- ", _BLOCK_END.sub("\n", html))
    stripped = nh3.clean(marked, tags=set(), attributes={})
    text = htmllib.unescape(stripped).replace("\xa0", " ")
    return normalise(text)


def normalise(text: str) -> str:
    """Line endings to \\n, trailing spaces dropped, runs of blank lines collapsed, outer blank lines removed."""
    lines = [ln.rstrip() for ln in (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for ln in lines:
        if ln == "" and out and out[-1] == "":
            continue
        out.append(ln)
    return "\n".join(out).strip("\n").strip()


def notes_above_marker(body: str | None) -> str | None:
    """The text above the marker line (C4/U3), or None when the body has no marker (nothing is imported)."""
    if not body:
        return None
    text = html_to_text(body) if looks_like_html(body) else body.replace("\r\n", "\n")
    idx = text.find(MARKER)
    if idx < 0:
        return None
    return cap_notes(normalise(text[:idx]))


def cap_notes(text: str) -> str:
    """At most NOTES_CAP characters, plus a line saying the rest was cut."""
    if len(text) <= NOTES_CAP:
        return text
    return text[:NOTES_CAP].rstrip() + "\n" + CUT_MARK


def appointment_details(*, appointment_id: int, service: str, start: datetime, end: datetime, time_zone: str,
                        location: str | None, clients: list[tuple[str | None, str | None]]) -> str:
    """The part below the marker: what the appointment is, in the staff member's time zone (C3)."""
    tz = ZoneInfo(time_zone or "UTC")
    s, e = start.astimezone(tz), end.astimezone(tz)
    people = ", ".join(f"{n} <{m}>" if n and m else (n or m or "") for n, m in clients) or "none"
    return "\n".join([
        f"Appointment: {service}",
        f"When: {s:%A %d %B %Y %H:%M}–{e:%H:%M} ({time_zone or 'UTC'})",
        f"Where: {location or 'no address'}",
        f"Clients: {people}",
        f"Booked in Sundial (appointment #{appointment_id}). Text below the line is rewritten by Sundial.",
    ])


def build_body(notes: str | None, details: str) -> str:
    """E1: the notes area (empty for a new booking), the marker line, then the appointment's details."""
    area = normalise(notes or "")
    return f"{area}\n\n{MARKER}\n\n{details}\n" if area else f"\n\n{MARKER}\n\n{details}\n"
