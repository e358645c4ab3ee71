"""Reading one mailbox's changes and asking portal/sync what they mean (shared by initial and incremental sync).

Exchange side, per EWS-FACTS §1-2: SyncFolderItems pages (full item shape) give singles and recurring masters;
a master's occurrences and exceptions come from a CalendarView over the sync horizon (U4), their bodies from
GetItem in batches (CalendarView returns none).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from flask import current_app

from ..ews_soap.types import CalendarEvent, ItemError, SyncChange
from ..extensions import db
from ..models import Appointment, ExchangeLink
from ..sync import recurrence
from ..sync.actions import DropLink, KeepLink, LinkValues
from ..sync.plan import plan_exchange_item, plan_gone, plan_series
from ..sync.shapes import item_key, series_key
from .context import MailboxContext, appointment_side, link_state

# SyncFolderItems reports an item moved to another calendar as a Delete, like a deletion (I2/D2): say both.
GONE = "the event left the primary calendar in Exchange (deleted, or moved to another calendar)"


@dataclass
class Planned:
    actions: list
    modified: object = None
    subject: str | None = None


def read_changes(ctx: MailboxContext, sync_state: str | None) -> tuple[dict[str, SyncChange], str]:
    """All pages until IncludesLastItemInRange; the last change of an item wins."""
    changes: dict[str, SyncChange] = {}
    state = sync_state
    while True:
        page = ctx.session.sync_folder_items(ctx.mailbox, ctx.ms.calendar_folder_id, state,
                                             int(current_app.config.get("SYNC_MAX_CHANGES", 512)))
        for ch in page.changes:
            if ch.kind in ("create", "update", "delete"):
                changes[ch.item_id] = ch
        state = page.sync_state
        if page.includes_last:
            return changes, state


class Planner:
    def __init__(self, ctx: MailboxContext, links: dict[str, ExchangeLink]):
        self.ctx, self.links = ctx, links
        self.by_item_id = {r.item_id: r for r in links.values() if r.item_id}
        self.out: list[Planned] = []
        self.seen: set[str] = set()

    def _appt(self, appointment_id):
        return appointment_side(db.session.get(Appointment, appointment_id), self.ctx.staff) if appointment_id else None

    def event(self, ev: CalendarEvent) -> None:
        key = item_key(ev)
        self.seen.add(key)
        row = self.links.get(key)
        appt = self._appt(ev.appointment_id or (row.appointment_id if row else None))
        acts = plan_exchange_item(ev, link_state(row), appt, self.ctx.staff.id, self.ctx.settings,
                                  self.ctx.ms.calendar_folder_id)
        self.out.append(Planned(acts, ev.last_modified, ev.subject))

    def gone(self, row: ExchangeLink, rule: str = "D1", why: str = GONE) -> None:
        if is_series(row):
            self.series_gone(row)
            return
        acts = plan_gone(link_state(row), self._appt(row.appointment_id), self.ctx.staff.id, rule, why)
        self.out.append(Planned(acts, None, None))

    def series_gone(self, master_row: ExchangeLink) -> None:
        for row in [r for r in self.links.values() if r.master_item_id == master_row.master_item_id
                    and r is not master_row]:
            self.gone(row, "D1", "the recurring series was removed in Exchange")
        self.out.append(Planned([DropLink(master_row.item_key)]))

    def deleted(self, item_id: str) -> None:
        row = self.by_item_id.get(item_id)
        if row is not None:
            self.gone(row)

    def masters(self, masters: list[CalendarEvent]) -> None:
        """U4: re-expand each changed series over [window start, horizon] and plan its occurrences. U6: the
        server's CalendarView occurrences are completed with Sundial's own expansion of the master's pattern
        when the server returned the master instead, or only some occurrences."""
        if not masters:
            return
        start = self.ctx.settings.window_start or self.ctx.now
        view = self.ctx.session.calendar_view(self.ctx.mailbox, start, self.ctx.horizon_end,
                                              self.ctx.ms.calendar_folder_id)
        wanted = {series_key(m) for m in masters}
        occ = [e for e in view if e.item_type in ("Occurrence", "Exception") and series_key(e) in wanted]
        occ = with_bodies(self.ctx, occ)
        patterns = series_patterns(self.ctx, masters)
        for m in masters:
            skey = series_key(m)
            self.seen.add(m.item_id)
            self.out.append(Planned([KeepLink(LinkValues(m.item_id, m.item_id, m.change_key, None, skey,
                                                         m.last_modified))]))
            server = [e for e in occ if series_key(e) == skey]
            own = recurrence.expand(patterns.get(m.item_id, m), start, self.ctx.horizon_end)
            mine, path, why = recurrence.complete(server, own)
            mine = exceptions_read(self.ctx, mine, server)
            rows = [r for r in self.links.values() if r.master_item_id == skey and r.item_key != m.item_id]
            self.seen.update(item_key(e) for e in mine)
            acts = plan_series(m, mine, [link_state(r) for r in rows], self.ctx.staff.id, self.ctx.settings,
                               self.ctx.ms.calendar_folder_id, (path, why))
            self.out.append(Planned(acts, m.last_modified, m.subject))

    def items(self, events: list[CalendarEvent]) -> None:
        masters = [e for e in events if e.item_type == "RecurringMaster"]
        for ev in events:
            if ev.item_type != "RecurringMaster":
                self.event(ev)
        self.masters(masters)

    def unseen_gone(self) -> None:
        """Full re-scan: a linked item the calendar no longer holds was deleted (detects deletions, D1/D3)."""
        for row in list(self.links.values()):
            if row.item_key not in self.seen and (row.absence_id or row.appointment_id or is_series(row)):
                if is_series(row):
                    self.out.append(Planned([DropLink(row.item_key)]))
                else:
                    self.gone(row, "D1", "not in the calendar any more (found by a full re-scan)")

    def actions(self) -> list:
        return [a for p in self.out for a in p.actions]


def is_series(row: ExchangeLink) -> bool:
    return row.item_key == row.item_id and row.master_item_id is not None and row.absence_id is None \
        and row.appointment_id is None and row.content_hash is None


def series_patterns(ctx: MailboxContext, masters: list[CalendarEvent]) -> dict[str, CalendarEvent]:
    """The masters with their Recurrence, Modified/DeletedOccurrences and zone (U6): one batched GetItem for
    those not read with the series shape already."""
    have = {m.item_id: m for m in masters if m.series is not None}
    need = [m.item_id for m in masters if m.series is None]
    for got in ctx.session.get_items(ctx.mailbox, need, series=True) if need else []:
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
    full = ctx.session.get_items(ctx.mailbox, [e.item_id for e in events])
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


def plan_changes(planner: Planner, changes: dict[str, SyncChange]) -> None:
    events = []
    for ch in changes.values():
        if ch.kind == "delete":
            planner.deleted(ch.item_id)
        elif ch.event is not None:
            events.append(ch.event)
    missing = [ch.item_id for ch in changes.values() if ch.kind != "delete" and ch.event is None]
    if missing:
        events += [e for e in planner.ctx.session.get_items(planner.ctx.mailbox, missing)
                   if isinstance(e, CalendarEvent)]
    planner.items(events)
