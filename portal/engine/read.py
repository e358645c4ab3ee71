"""Reading one mailbox from Exchange into a snapshot for portal/sync/mailbox.py (initial and incremental sync).

Exchange side, per EWS-FACTS §1-2: SyncFolderItems pages (full item shape) give singles and recurring masters;
a master's occurrences and exceptions come from a CalendarView over the sync horizon (U4), their bodies from
GetItem in batches (CalendarView returns none).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from flask import current_app

from ..ews_soap.types import CalendarEvent, ItemError, SyncChange, SyncPage
from ..extensions import db
from ..models import Appointment, ExchangeLink
from ..sync import recurrence
from ..sync.mailbox import Mailbox, Series, Snapshot
from ..sync.plan import LinkState
from ..sync.shapes import series_key
from .context import MailboxContext, appointment_side, link_state


class LinkView(Mapping):
    """The engine's link rows seen as sync values; live, so links the Applier adds or drops count at once."""

    def __init__(self, rows: dict[str, ExchangeLink]):
        self.rows = rows

    def __getitem__(self, key: str) -> LinkState:
        return link_state(self.rows[key])

    def get(self, key: str, default=None):  # Mapping.get would raise and catch a KeyError per new item (G1)
        row = self.rows.get(key)
        return default if row is None else link_state(row)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.rows))

    def __len__(self) -> int:
        return len(self.rows)


def mailbox_of(ctx: MailboxContext, links: dict[str, ExchangeLink]) -> Mailbox:
    def appointment(appointment_id: int):
        return appointment_side(db.session.get(Appointment, appointment_id), ctx.staff)

    return Mailbox(ctx.staff.id, ctx.settings, ctx.ms.calendar_folder_id, LinkView(links), appointment)


def pages(ctx: MailboxContext, state: str | None) -> Iterator[SyncPage]:
    """SyncFolderItems pages from `state` until IncludesLastItemInRange (EWS-FACTS §1), one request at a time."""
    return ctx.ews.sync_all(ctx.mailbox, ctx.ms.calendar_folder_id, state,
                                int(current_app.config["SYNC_MAX_CHANGES"]))


def read_changes(ctx: MailboxContext, sync_state: str | None) -> tuple[dict[str, SyncChange], str]:
    """Every page; the last change of an item wins."""
    changes: dict[str, SyncChange] = {}
    state = sync_state
    for page in pages(ctx, sync_state):
        for ch in page.changes:
            if ch.kind in ("create", "update", "delete"):
                changes[ch.item_id] = ch
        state = page.sync_state
    return changes, state


def snapshot_of(ctx: MailboxContext, changes: dict[str, SyncChange]) -> Snapshot:
    """Deletes as reported; created/updated items (read with GetItem when the change carried none); masters
    expanded over the horizon."""
    snap = Snapshot(deleted=[ch.item_id for ch in changes.values() if ch.kind == "delete"])
    events = [ch.event for ch in changes.values() if ch.kind != "delete" and ch.event is not None]
    missing = [ch.item_id for ch in changes.values() if ch.kind != "delete" and ch.event is None]
    if missing:
        events += [e for e in ctx.ews.get_items(ctx.mailbox, missing) if isinstance(e, CalendarEvent)]
    snap.events = [e for e in events if e.item_type != "RecurringMaster"]
    snap.series = expand(ctx, [e for e in events if e.item_type == "RecurringMaster"])
    return snap


def expand(ctx: MailboxContext, masters: list[CalendarEvent]) -> list[Series]:
    """U4: each series' occurrences and exceptions over [window start, horizon], with their bodies. U6: the
    server's CalendarView occurrences are completed with Sundial's own expansion of the master's pattern when
    the server returned the master instead, or only some occurrences."""
    if not masters:
        return []
    start = ctx.settings.window_start or ctx.now
    view = ctx.ews.calendar_view(ctx.mailbox, start, ctx.horizon_end, ctx.ms.calendar_folder_id)
    wanted = {series_key(m) for m in masters}
    occ = with_bodies(ctx, [e for e in view if e.item_type in ("Occurrence", "Exception")
                            and series_key(e) in wanted])
    patterns = series_patterns(ctx, masters)
    out = []
    for m in masters:
        server = [e for e in occ if series_key(e) == series_key(m)]
        own = recurrence.expand(patterns.get(m.item_id, m), start, ctx.horizon_end)
        mine, path, why = recurrence.complete(server, own)
        out.append(Series(m, exceptions_read(ctx, mine, server), (path, why)))
    return out


def series_patterns(ctx: MailboxContext, masters: list[CalendarEvent]) -> dict[str, CalendarEvent]:
    """The masters with their Recurrence, Modified/DeletedOccurrences and zone (U6): one batched GetItem for
    those not read with the series shape already."""
    have = {m.item_id: m for m in masters if m.series is not None}
    need = [m.item_id for m in masters if m.series is None]
    for got in ctx.ews.get_items(ctx.mailbox, need, series=True) if need else []:
        if isinstance(got, CalendarEvent) and got.series is not None:
            have[got.item_id] = got
    for m in have.values():  # a Windows zone Sundial cannot map: the staff member's own zone is the best guess
        if m.series.time_zone is None and ctx.staff.timezone:
            m.series = replace(m.series, time_zone=ctx.staff.timezone)
    return have


def exceptions_read(ctx: MailboxContext, merged: list[CalendarEvent], server: list[CalendarEvent]):
    """Exceptions Sundial added itself (from ModifiedOccurrences) carry the master's subject, status and body:
    read their own with GetItem (their ItemIds come from ModifiedOccurrences)."""
    ours = [e for e in merged if e.item_type == "Exception" and not any(e is s for s in server)]
    if not ours:
        return merged
    read = {id(e): got for e, got in zip(ours, with_bodies(ctx, ours), strict=False)}
    return [read.get(id(e), e) for e in merged]


def with_bodies(ctx: MailboxContext, events: list[CalendarEvent]) -> list[CalendarEvent]:
    """CalendarView returns no bodies: read them with GetItem (batched by ews_soap)."""
    if not events:
        return []
    full = ctx.ews.get_items(ctx.mailbox, [e.item_id for e in events])
    out = []
    for view_ev, got in zip(events, full, strict=False):
        if isinstance(got, ItemError) or got is None:
            out.append(view_ev)
            continue
        got.uid = got.uid or view_ev.uid
        got.recurrence_id = got.recurrence_id or view_ev.recurrence_id
        got.item_type = got.item_type or view_ev.item_type
        out.append(got)
    return out
