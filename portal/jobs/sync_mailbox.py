"""Incremental sync of one mailbox: SyncFolderItems from the stored state → portal/sync → apply → record.

Idle cost: one SyncFolderItems request (SPEC G2 safety net). An invalid sync state (ErrorInvalidSyncStateData)
triggers a full re-scan that still detects deletions by comparing the calendar with the stored links. A
calendar that suddenly looks empty stops with state needs_confirmation instead of cancelling everything.
"""
from __future__ import annotations

from ..ews_soap.errors import FolderNotFound, ItemNotFound, SyncStateInvalid
from ..ews_soap.types import CalendarEvent, ItemError
from ..extensions import db
from ..models import SyncActivity
from ..sync.plan import linked_units, needs_confirmation, removals
from .apply import Applier
from .context import MailboxContext, content_links, links_of
from .queues import redis_connection, schedule_retry
from .record import commit, mark_synced
from .runner import run_for_mailbox
from .scan import Planner, is_series, plan_changes, read_changes


def sync_mailbox(staff_id: int, reason: str = "periodic") -> str:
    def requeue(wait: float) -> None:
        schedule_retry("sync", "portal.jobs.sync_mailbox.sync_mailbox", (staff_id, "retry"), f"sync-{staff_id}", wait)

    return run_for_mailbox(staff_id, f"sync-{staff_id}", lambda ctx: incremental(ctx, reason), requeue)


def incremental(ctx: MailboxContext, reason: str) -> str:
    ms = ctx.ms
    if ms.state == "needs_confirmation" and reason != "confirmed":
        return "waiting for an admin to confirm the emptied calendar"
    if ms.state == "mailbox_not_found" or not ms.sync_state or not ms.initialized_on or \
            (ms.initialized_email or "").lower() != ctx.staff.email.lower():
        from .initial_sync import initialize

        return initialize(ctx, reason)
    links = links_of(ctx.staff.id)
    planner = Planner(ctx, links)
    try:
        changes, state = read_changes(ctx, ms.sync_state)
        plan_changes(planner, changes)
        confirm_new_items(ctx, planner, links, changes)
        extend_horizon(ctx, planner, links, changes)
    except SyncStateInvalid as exc:
        db.session.add(SyncActivity(staff_id=ctx.staff.id, action="rescan", rule="D1", reason=exc.sentence))
        if isinstance(exc, FolderNotFound):  # ErrorSyncFolderNotFound: look the primary calendar up again
            ms.calendar_folder_id = ctx.session.primary_calendar(ctx.mailbox).folder_id
        changes, state = read_changes(ctx, None)
        planner.items([c.event for c in changes.values() if c.event is not None])
        planner.unseen_gone()
    return finish(ctx, planner, links, state, reason)


def confirm_new_items(ctx: MailboxContext, planner: Planner, links, changes) -> None:
    """Items Sundial created after the stored sync state and not yet reported back by SyncFolderItems: a
    deletion of such an item is never reported (the state never knew it), so check them with GetItem."""
    rows = [r for r in links.values() if r.appointment_id is not None and r.exchange_modified_at is None
            and r.item_id and r.item_id not in changes]
    if not rows:
        return
    for row, got in zip(rows, ctx.session.get_items(ctx.mailbox, [r.item_id for r in rows]), strict=False):
        if isinstance(got, ItemError):
            if isinstance(got.error, ItemNotFound):
                planner.gone(row)
        else:
            planner.event(got)


def horizon_key(staff_id: int) -> str:
    return f"sundial:horizon-extended:{staff_id}"


def extend_horizon(ctx: MailboxContext, planner: Planner, links, changes) -> None:
    """U4: the horizon moves forward every day, so once a day unchanged series are expanded again to bring in
    their newly covered occurrences (mailboxes without series pay nothing)."""
    series = [r for r in links.values() if is_series(r) and r.item_id not in changes]
    if not series or not redis_connection().set(horizon_key(ctx.staff.id), "1", nx=True, ex=86400):
        return
    masters = ctx.session.get_items(ctx.mailbox, [r.item_id for r in series], series=True)
    planner.masters([m for m in masters if isinstance(m, CalendarEvent)])


def finish(ctx: MailboxContext, planner: Planner, links, state: str, reason: str, linked: int | None = None) -> str:
    """Guard, apply, store the new sync state and commit — all or nothing. `linked`: the linked items counted
    before the caller applied anything itself (the initial import applies its pages as they arrive)."""
    acts = planner.actions()
    if linked is None:
        linked = linked_units([r.item_key for r in content_links(links)])
    if reason != "confirmed" and needs_confirmation(linked, removals(acts)):
        ctx.ms.state = "needs_confirmation"
        ctx.ms.last_error = (f"Exchange now shows {removals(acts)} of {linked} synced events as removed; nothing "
                             "was changed until an admin confirms this calendar really was emptied.")
        db.session.add(SyncActivity(staff_id=ctx.staff.id, action="needs_confirmation", rule="D1",
                                    reason=ctx.ms.last_error))
        db.session.commit()
        return "needs confirmation"
    Applier(ctx, links).apply_all(planner.out)
    ctx.ms.sync_state = state
    mark_synced(ctx.ms)
    commit(ctx)
    return f"synced ({sum(len(p.actions) for p in planner.out)} actions)"
