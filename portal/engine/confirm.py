"""G10: a write Exchange answered with success is confirmed before Sundial calls it exported.

Every CreateItem/UpdateItem of an appointment in one burst (one job's writes before its commit) is read back
with one batched GetItem: start, end and busy status must be what Sundial wrote. An independent EWS server
was seen answering an UpdateItem that changed time and attendees together with success while keeping the old
time; on a mismatch Sundial writes the time and busy status once more on their own, reads them back, and if
the item still differs reports it (activity log, User Accounts tab) instead of logging "exported".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..ews_soap.errors import AuthenticationFailed, Throttled
from ..ews_soap.types import CalendarEvent, EventUpdate
from ..extensions import db
from ..models import ExchangeLink, SyncActivity, utcnow
from ..sync.shapes import iso_utc


@dataclass
class Written:
    """One write waiting for its confirmation: what Exchange should now hold, and what to log once it does."""

    row: ExchangeLink
    start: datetime
    end: datetime
    free_busy: str
    time_zone: str | None
    subject: str | None
    rule: str | None
    reason: str


NOT_APPLIED = ("Exchange answered the write with success but kept {held} (Sundial wrote {wanted}); written once "
               "more, Exchange still holds {held}. The item in Outlook shows the wrong time until the appointment is "
               "changed again in Sundial.")
SECOND_WRITE = "; Exchange kept the old time on the first write, so it was written a second time and confirmed"


def _held(ev: CalendarEvent) -> tuple[str, str, str]:
    return iso_utc(ev.start), iso_utc(ev.end), ev.free_busy or "Busy"


def _wanted(w: Written) -> tuple[str, str, str]:
    return iso_utc(w.start), iso_utc(w.end), w.free_busy


def _describe(values: tuple[str, str, str]) -> str:
    start, end, busy = values
    return f"{start[:16].replace('T', ' ')}–{end[11:16]} UTC, {busy}"


def _read(ctx, pending: list[Written]) -> list[CalendarEvent | None]:
    got = ctx.ews.get_items(ctx.mailbox, [w.row.item_id for w in pending])
    return [g if isinstance(g, CalendarEvent) else None for g in got]


def _log(ctx, w: Written, action: str, rule: str | None, reason: str) -> None:
    db.session.add(SyncActivity(staff_id=ctx.staff.id, action=action, rule=rule, reason=reason,
                                subject=(w.subject or "")[:255] or None))
    ctx.count(action)


def _confirmed(ctx, w: Written, ev: CalendarEvent | None, note: str = "") -> None:
    if ev is not None and ev.change_key:
        w.row.change_key = ev.change_key  # the version read back is the one Sundial wrote
    w.row.unconfirmed_at = None
    _log(ctx, w, "exported", w.rule, w.reason + note)


def confirm_writes(ctx) -> None:
    """Read back this burst's writes (one batched GetItem), write mismatches once more, report what stays."""
    pending: list[Written] = list(getattr(ctx, "pending_confirm", []))
    if not pending:
        return
    ctx.pending_confirm.clear()
    wrong = []
    for w, ev in zip(pending, _read(ctx, pending), strict=False):
        if ev is None or _held(ev) == _wanted(w):  # gone meanwhile: the next sync sees the deletion (D3)
            _confirmed(ctx, w, ev)
        else:
            wrong.append(w)
    if not wrong:
        return
    # The time and busy status alone, without the attendees that made the first write lose its time.
    again = ctx.ews.update_events(ctx.mailbox, [EventUpdate(w.row.item_id, None, start=w.start, end=w.end,
                                                                free_busy=w.free_busy, time_zone=w.time_zone)
                                                    for w in wrong])
    for res in again:
        if isinstance(res.error, Throttled | AuthenticationFailed):
            raise res.error
    for w, ev in zip(wrong, _read(ctx, wrong), strict=False):
        if ev is None or _held(ev) == _wanted(w):
            _confirmed(ctx, w, ev, SECOND_WRITE)
            continue
        w.row.change_key = ev.change_key or w.row.change_key  # no loop: the next sync sees no new change
        w.row.unconfirmed_at = utcnow()
        sentence = NOT_APPLIED.format(held=_describe(_held(ev)), wanted=_describe(_wanted(w)))
        _log(ctx, w, "write_not_applied", "G10", sentence)
