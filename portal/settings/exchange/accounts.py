"""User Accounts tab (S8): states, counts, filter, search, live refresh, re-sync / exclude / include / confirm."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for

from ...auth.access import admin_required
from ...engine.record import mark_error, mark_excluded, mark_initializing, mark_not_connected
from ...extensions import db
from ...jobs.after_commit import enqueue_after_commit
from ...models import MAILBOX_STATES, ExchangeIntegration, MailboxState, StaffMember, SyncActivity, utcnow
from . import audit, bp, messages, status
from .forms import ActionForm

ACTIVITY_LIMIT = 300


def _filters():
    state = request.args.get("state") or None
    return (state if state in MAILBOX_STATES else None), (request.args.get("q") or "").strip()[:100]


@bp.route("/accounts")
@admin_required
def accounts():
    state, query = _filters()
    page = max(request.args.get("page", 1, type=int), 1)
    found = status.counts()
    shown = status.matching(state, query)
    return render_template(
        "settings/exchange/accounts.html", integ=ExchangeIntegration.get(), rows=status.rows(state, query, page),
        counts=found, total=sum(found.values()), state=state, query=query, page=page, shown=shown,
        pages=max(1, -(-shown // status.PER_PAGE)), cursor=_cursor_text(status.cursor()),
        badges=messages.STATE_BADGES, delays=status.delays_last_hour(), status=status, form=ActionForm(),
        live=status.live(found), capacity=status.listener_capacity())


def _cursor_text(when: datetime | None) -> str:
    return when.isoformat() if when else ""


def _since() -> datetime | None:
    try:
        when = datetime.fromisoformat(request.args.get("since", ""))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@bp.route("/accounts/states.json")
@admin_required
def account_states():
    """Polled by the tab's script: the state cells of rows changed since the cursor it was given (all rows of the
    first page without one), the counts and the next cursor. The cell template renders without the app's context
    processors, which would otherwise query once per row."""
    state, query = _filters()
    since = _since()
    changed = status.rows(state, query, page=request.args.get("page", 1, type=int), since=since)
    cell = current_app.jinja_env.get_template("settings/exchange/_state_cell.html")
    cells = {str(row.staff.id): {"state": row.state, "html": cell.render(row=row, status=status)} for row in changed}
    found = status.counts()
    delays = status.delays_last_hour()
    return jsonify(rows=cells, counts=found, live=status.live(found), cursor=_cursor_text(status.cursor()),
                   p50=status.delay_text(delays["p50"]), p95=status.delay_text(delays["p95"]))


def _mailbox(staff_id: int) -> tuple[StaffMember, MailboxState]:
    staff = db.session.get(StaffMember, staff_id) or abort(404)
    row = staff.mailbox_state
    if row is None:
        row = MailboxState(staff=staff)
        db.session.add(row)
    return staff, row


def _connected() -> bool:
    integ = ExchangeIntegration.get()
    return integ is not None and integ.state == "connected"


def _enqueue(kind: str, staff: StaffMember) -> None:
    """After commit. A Redis outage becomes a clear warning and an error state, never a crash."""
    job = ("initial_sync", staff.id) if kind == "initial" else ("sync", staff.id, kind)
    if not enqueue_after_commit("the sync", [job]):
        row = db.session.get(MailboxState, staff.id)
        mark_error(row, messages.QUEUE_DOWN_ROW, count=False)
        db.session.commit()


def _back():
    return redirect(url_for(".accounts", state=request.args.get("state") or None, q=request.args.get("q") or None))


def _action(staff_id: int):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    return _mailbox(staff_id)


@bp.route("/accounts/<int:staff_id>/resync", methods=["POST"])
@admin_required
def resync(staff_id: int):
    staff, row = _action(staff_id)
    if row.excluded or not _connected():
        integ = ExchangeIntegration.get()
        why = ("include them first." if row.excluded else
               "Exchange rejected the service account's password; re-authorize on the Configuration tab first."
               if integ is not None and integ.state == "paused" else
               "connect Exchange on the Configuration tab first.")
        flash(f"{staff.name} is not synced: {why}", "warning")
        return _back()
    initial = row.initialized_on is None or row.state in ("not_connected", "mailbox_not_found", "error")
    if initial:
        mark_initializing(row)
    row.last_error, row.failures, row.next_attempt_at = None, 0, None
    audit.record("resync", f"{staff.name} <{staff.email}>")
    db.session.commit()
    flash(f"Re-sync of {staff.name} has started.", "success")
    _enqueue("initial" if initial else "admin", staff)
    return _back()


@bp.route("/accounts/<int:staff_id>/exclude", methods=["POST"])
@admin_required
def exclude(staff_id: int):
    staff, row = _action(staff_id)
    mark_excluded(row)
    audit.record("excluded", f"{staff.name} <{staff.email}>")
    db.session.commit()
    flash(f"{staff.name} is excluded: nothing syncs for them until you include them again. "
          "Nothing was removed.", "success")
    return _back()


@bp.route("/accounts/<int:staff_id>/include", methods=["POST"])
@admin_required
def include(staff_id: int):
    staff, row = _action(staff_id)
    connected = _connected()
    row.excluded = False
    mark_initializing(row, reset_progress=False) if connected else mark_not_connected(row)
    row.last_error = None
    audit.record("included", f"{staff.name} <{staff.email}>")
    db.session.commit()
    flash(f"{staff.name} is included again." + (" Their sync has started." if connected else ""), "success")
    if connected:
        _enqueue("initial", staff)
    return _back()


@bp.route("/accounts/<int:staff_id>/confirm-empty", methods=["POST"])
@admin_required
def confirm_empty(staff_id: int):
    """The empty-calendar guard stopped this mailbox's sync; the admin confirms the calendar really is empty."""
    staff, row = _action(staff_id)
    if row.state != "needs_confirmation":
        flash(f"{staff.name}'s sync is not waiting for a confirmation.", "info")
        return _back()
    # The state stays needs_confirmation until the sync job, run with reason "confirmed", applies the
    # removals it held back (portal/jobs/sync_mailbox.py; docs/CONTRACTS.md).
    row.confirmed_empty_at = utcnow()
    audit.record("confirmed_empty", f"{staff.name} <{staff.email}>: the empty Exchange calendar is real; "
                                    "the sync may apply it.")
    db.session.commit()
    flash(f"Confirmed: {staff.name}'s sync will now apply the empty Exchange calendar.", "success")
    if _connected():
        _enqueue("confirmed", staff)
    return _back()


@bp.route("/accounts/<int:staff_id>/activity")
@admin_required
def activity(staff_id: int):
    """The per-staff "why isn't my meeting in Sundial?" log, searchable by event title and action."""
    staff = db.session.get(StaffMember, staff_id) or abort(404)
    query = (request.args.get("q") or "").strip()[:100]
    action = (request.args.get("action") or "").strip()[:40]
    stmt = db.select(SyncActivity).where(SyncActivity.staff_id == staff_id)
    if query:
        stmt = stmt.where(SyncActivity.subject.ilike(f"%{query}%"))
    if action:
        stmt = stmt.where(SyncActivity.action == action)
    entries = list(db.session.execute(
        stmt.order_by(SyncActivity.at.desc(), SyncActivity.id.desc()).limit(ACTIVITY_LIMIT)).scalars())
    actions = sorted(db.session.execute(db.select(SyncActivity.action).where(SyncActivity.staff_id == staff_id)
                                        .distinct()).scalars())
    row = status.Row(staff, staff.mailbox_state, status.unconfirmed_writes(staff_id).get(staff_id, 0))
    window = row.mailbox.initialized_on - timedelta(days=1) if row.mailbox and row.mailbox.initialized_on else None
    return render_template("settings/exchange/activity.html", staff=staff, entries=entries, row=row, status=status,
                           delays=status.delays_last_hour(staff_id=staff_id), integ=ExchangeIntegration.get(),
                           query=query, action=action, actions=actions, window=window, limit=ACTIVITY_LIMIT)
