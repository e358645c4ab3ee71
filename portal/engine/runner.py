"""The frame every per-mailbox job runs in: integration check, mailbox lock, failure recording, re-runs."""
from __future__ import annotations

from collections.abc import Callable

from ..extensions import db
from ..jobs.queues import take_rerun
from ..jobs.safety_net import ensure_tick
from ..models import StaffMember
from .connect import connect
from .context import MailboxContext, integration_ready, mailbox_state
from .locks import mailbox_lock
from .record import clear_stale_pause, mailbox_failures, mark_excluded


def run_for_mailbox(staff_id: int, job_id: str, work: Callable[[MailboxContext], str],
                    requeue: Callable[[float], None], lock_wait: float = 20.0) -> str:
    """Run `work` for one mailbox, holding its lock. Returns a short outcome for RQ's result."""
    outcome = "nothing to do"
    for _ in range(3):  # a run requested while this one ran happens right after it
        integ = integration_ready()
        if integ is None:
            return "integration not connected"
        clear_stale_pause(integ)
        ensure_tick()  # after (re-)authorization the safety net starts with the first sync; a no-op otherwise
        staff = db.session.get(StaffMember, staff_id)
        if staff is None or not staff.takes_appointments:
            return "staff member does not take appointments"
        ms = mailbox_state(staff_id)
        if ms.excluded:
            mark_excluded(ms)
            db.session.commit()
            return "excluded"
        with mailbox_lock(staff_id, wait=lock_wait) as got:
            if not got:
                requeue(10.0)
                return "mailbox busy; retried shortly"
            outcome = "failed"
            with mailbox_failures(staff_id, requeue):
                ctx = MailboxContext(staff, ms, integ, ews=connect(integ), lock=got)
                outcome = work(ctx)
        if not take_rerun(job_id):
            break
    return outcome
