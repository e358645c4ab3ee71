"""Initial sync of one staff member (SPEC G1): resolve the mailbox (I1), record the initialization date,
import busy events from one day before it (I4) with series expanded over the horizon (U4), take the
SyncFolderItems state incremental sync continues from, export the staff member's future appointments (E1).

The item dump that yields the sync state also carries every item's Sundial extended property, so existing
copies of appointments are found before anything is created: a crash after CreateItem never duplicates.
"""
from __future__ import annotations

from ..engine.apply import Applier
from ..engine.bulk import keep_loaded, paused_gc
from ..engine.context import MailboxContext, appointment_side, link_state, links_of
from ..engine.read import LinkView, expand, mailbox_of, pages
from ..engine.record import commit, mark_initializing, mark_synced
from ..engine.runner import run_for_mailbox
from ..ews_soap.errors import NotPrimaryAddress
from ..extensions import db, redis_connection
from ..models import Appointment, ExchangeLink, ExternalAbsence, StaffMember, appointment_staff
from ..sync.mailbox import MailboxPlanner, Planned, linked_count
from ..sync.plan import plan_export
from .queues import schedule_retry
from .specs import SPECS
from .sync_mailbox import finish, horizon_key


def initial_sync(staff_id: int) -> str:
    def requeue(wait: float) -> None:
        schedule_retry("initial_sync", staff_id, delay=wait)

    return run_for_mailbox(staff_id, SPECS["initial_sync"].job_id(staff_id), initialize, requeue)


def initialize(ctx: MailboxContext, reason: str = "initial") -> str:
    with keep_loaded(), paused_gc():  # G1: the import's commits do not make it re-read every row it wrote
        return _initialize(ctx, reason)


def _initialize(ctx: MailboxContext, reason: str) -> str:
    staff, ms = ctx.staff, ctx.ms
    mark_initializing(ms)
    ms.tried_address = staff.email
    db.session.commit()
    resolved = ctx.ews.resolve_mailbox(staff.email)
    if resolved.primary_smtp.lower() != staff.email.lower():  # I1: only the primary SMTP address counts
        raise NotPrimaryAddress(address=staff.email, primary=resolved.primary_smtp)
    folder = ctx.ews.primary_calendar(resolved.primary_smtp)
    if ms.initialized_email and ms.initialized_email.lower() != staff.email.lower():
        forget_old_mailbox(staff.id)  # G7: another mailbox now; its old events are not this one's
        ms.initialized_on = None
    ms.primary_smtp, ms.calendar_folder_id = resolved.primary_smtp, folder.folder_id
    ms.initialized_on = ms.initialized_on or ctx.now.date()
    ms.initialized_email = staff.email
    ms.progress_total = folder.total_count  # items in the calendar: the tab's percentage while importing
    db.session.commit()

    links = links_of(staff.id)
    linked = linked_count(LinkView(links))
    planned, state = import_pages(ctx, links)
    outcome = finish(ctx, planned, links, state, "confirmed" if reason == "confirmed" else "initial", linked)
    redis_connection().set(horizon_key(staff.id), "1", ex=86400)  # just expanded: the daily extension waits
    if outcome == "needs confirmation":
        return outcome
    mark_initializing(ms, reset_progress=False)
    ms.progress_imported = ctx.counts.get("imported", 0)
    db.session.commit()
    export_future(ctx)
    mark_synced(ms)
    commit(ctx)
    return f"initialized: {ms.progress_imported} imported, {ms.progress_exported} exported"


def import_pages(ctx: MailboxContext, links) -> tuple[list[Planned], str]:
    """G1's import, page by page: each SyncFolderItems page's single events are applied and committed as the
    page arrives, with the count imported so far (S8: the User Accounts tab shows progress during a long
    import). What waits for the last page is decided by portal/sync/mailbox.py (held removals, series,
    items deleted after an earlier page listed them); finish() guards it and applies it with the sync state.
    An interrupted import starts again without a sync state and finds what it committed by its links."""
    planner, applier = MailboxPlanner(mailbox_of(ctx, links)), Applier(ctx, links)
    masters: dict[str, object] = {}
    deleted: set[str] = set()
    state, found = None, 0
    for page in pages(ctx, None):
        events = []
        for ch in page.changes:
            if ch.kind == "delete":
                deleted.add(ch.item_id)
                masters.pop(ch.item_id, None)
            elif ch.kind in ("create", "update") and ch.event is not None:
                events.append(ch.event)
        found += len(events)
        masters.update((ev.item_id, ev) for ev in events if ev.item_type == "RecurringMaster")
        applier.apply_all(planner.import_page([ev for ev in events if ev.item_type != "RecurringMaster"]))
        ctx.ms.progress_imported = ctx.counts.get("imported", 0)
        ctx.ms.progress_total = max(ctx.ms.progress_total or 0, found)
        commit(ctx)
        state = page.sync_state
    planned = planner.end_of_listing(expand(ctx, list(masters.values())), deleted)
    ctx.ms.progress_total = found
    return planned, state


def export_future(ctx: MailboxContext) -> None:
    """E1 for every future booked appointment of this staff member; existing copies were linked by the scan."""
    staff = ctx.staff
    appts = db.session.execute(
        db.select(Appointment).join(appointment_staff).where(
            appointment_staff.c.staff_id == staff.id, Appointment.status == "booked", Appointment.end > ctx.now)
        .order_by(Appointment.start)).scalars().all()
    links = links_of(staff.id)
    by_appt = {r.appointment_id: r for r in links.values() if r.appointment_id is not None}
    applier = Applier(ctx, links)
    for n, appt in enumerate(appts, 1):
        acts = plan_export(appointment_side(appt, staff), staff.id, link_state(by_appt.get(appt.id)), [])
        applier.apply(acts)
        if n % 20 == 0:
            commit(ctx)


def forget_old_mailbox(staff_id: int) -> None:
    rows = db.session.execute(db.select(ExchangeLink).where(ExchangeLink.staff_id == staff_id)).scalars().all()
    for row in rows:
        if row.absence_id:
            absence = db.session.get(ExternalAbsence, row.absence_id)
            if absence is not None:
                db.session.delete(absence)
        db.session.delete(row)
    ms_staff = db.session.get(StaffMember, staff_id)
    ms_staff.mailbox_state.sync_state = None
