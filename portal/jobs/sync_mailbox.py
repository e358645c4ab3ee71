"""Incremental sync of one mailbox: SyncFolderItems from the stored state → portal/sync → apply → record.

Idle cost: one SyncFolderItems request (SPEC G2 safety net). An invalid sync state (ErrorInvalidSyncStateData)
triggers a full re-scan that still detects deletions by comparing the calendar with the stored links. A
calendar that suddenly looks empty stops with state needs_confirmation instead of cancelling everything.
"""
from __future__ import annotations

from ..engine.apply import Applier
from ..engine.context import MailboxContext, links_of
from ..engine.read import LinkView, expand, mailbox_of, read_changes, snapshot_of
from ..engine.record import commit, mark_needs_confirmation, mark_synced
from ..engine.runner import run_for_mailbox
from ..ews_soap.errors import FolderNotFound, ItemNotFound, SyncStateInvalid
from ..ews_soap.types import CalendarEvent, ItemError
from ..extensions import db, redis_connection
from ..models import SyncActivity
from ..sync.mailbox import MailboxPlanner, Planned, Snapshot, guard, linked_count, unchanged_series, unconfirmed
from .queues import schedule_retry
from .specs import SPECS


def sync_mailbox(staff_id: int, reason: str = "periodic") -> str:
    def requeue(wait: float) -> None:
        schedule_retry("sync", staff_id, "retry", delay=wait)

    return run_for_mailbox(staff_id, SPECS["sync"].job_id(staff_id), lambda ctx: incremental(ctx, reason), requeue)


def incremental(ctx: MailboxContext, reason: str) -> str:
    ms = ctx.ms
    if ms.state == "needs_confirmation" and reason != "confirmed":
        return "waiting for an admin to confirm the emptied calendar"
    if needs_import(ctx):
        from .initial_sync import initialize

        return initialize(ctx, reason)
    links = links_of(ctx.staff.id)
    try:
        changes, state = read_changes(ctx, ms.sync_state)
        snap = snapshot_of(ctx, changes)
        confirm_new_items(ctx, links, set(changes), snap)
        extend_horizon(ctx, links, set(changes), snap)
    except SyncStateInvalid as exc:
        db.session.add(SyncActivity(staff_id=ctx.staff.id, action="rescan", rule="D1", reason=exc.sentence))
        if isinstance(exc, FolderNotFound):  # ErrorSyncFolderNotFound: look the primary calendar up again
            ms.calendar_folder_id = ctx.ews.primary_calendar(ctx.mailbox).folder_id
        changes, state = read_changes(ctx, None)
        snap = snapshot_of(ctx, {k: c for k, c in changes.items() if c.event is not None and c.kind != "delete"})
        snap.complete = True
    planned = MailboxPlanner(mailbox_of(ctx, links)).plan(snap)
    return finish(ctx, planned, links, state, reason)


def needs_import(ctx: MailboxContext) -> bool:
    """No usable sync state: never imported, looked up under another address (G7), or not found before (I1)."""
    ms = ctx.ms
    return ms.state == "mailbox_not_found" or not ms.sync_state or not ms.initialized_on or \
        (ms.initialized_email or "").lower() != ctx.staff.email.lower()


def confirm_new_items(ctx: MailboxContext, links, changed: set[str], snap: Snapshot) -> None:
    """Items Sundial created that the sync state never reported: GetItem says whether they still exist."""
    rows = unconfirmed(LinkView(links), changed)
    if not rows:
        return
    for row, got in zip(rows, ctx.ews.get_items(ctx.mailbox, [r.item_id for r in rows]), strict=False):
        if isinstance(got, ItemError):
            if isinstance(got.error, ItemNotFound):
                snap.deleted.append(row.item_id)
        else:
            snap.events.append(got)


def horizon_key(staff_id: int) -> str:
    return f"sundial:horizon-extended:{staff_id}"


def extend_horizon(ctx: MailboxContext, links, changed: set[str], snap: Snapshot) -> None:
    """U4: the horizon moves forward every day, so once a day unchanged series are expanded again to bring in
    their newly covered occurrences (mailboxes without series pay nothing)."""
    series = unchanged_series(LinkView(links), changed)
    if not series or not redis_connection().set(horizon_key(ctx.staff.id), "1", nx=True, ex=86400):
        return
    masters = ctx.ews.get_items(ctx.mailbox, [r.item_id for r in series], series=True)
    snap.series += expand(ctx, [m for m in masters if isinstance(m, CalendarEvent)])


def finish(ctx: MailboxContext, planned: list[Planned], links, state: str, reason: str,
           linked: int | None = None) -> str:
    """Guard, apply, store the new sync state and commit — all or nothing. `linked`: the linked items counted
    before the caller applied anything itself (the initial import applies its pages as they arrive)."""
    stop = guard(planned, linked_count(LinkView(links)) if linked is None else linked, reason == "confirmed")
    if stop is not None:
        mark_needs_confirmation(ctx.ms, stop)
        db.session.add(SyncActivity(staff_id=ctx.staff.id, action="needs_confirmation", rule="D1",
                                    reason=ctx.ms.last_error))
        db.session.commit()
        return "needs confirmation"
    Applier(ctx, links).apply_all(planned)
    ctx.ms.sync_state = state
    mark_synced(ctx.ms)
    commit(ctx)
    return f"synced ({sum(len(p.actions) for p in planned)} actions)"
