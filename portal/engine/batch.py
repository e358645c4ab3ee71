"""The per-mailbox frame for many mailboxes in one job (the safety net's batches, SPEC G2, issue 15).

What runner.run_for_mailbox does per job is done here once per batch — the integration check, lifting a stale
pause flag, making sure the safety net ticks, the EWS session — and what it does per mailbox is done per mailbox:

- its mailbox lock, taken without waiting: a mailbox another job holds is handed to its own retry job (as
  run_for_mailbox does when its wait runs out) and the batch moves on;
- its rows read after the lock is taken (the staff member with its MailboxState, one query), so the check never
  works from rows older than the lock;
- staff no longer taking appointments and excluded mailboxes as in run_for_mailbox;
- failures recorded by record.mailbox_failures exactly as for a single job: one mailbox's throttling, error,
  missing mailbox or lost lock does not stop the others;
- a failure of the *server* — a throttling back-off longer than the gate waits out inline, no connection or a
  5xx — stops the batch: the mailbox that met it is recorded as usual, and every mailbox not reached yet gets
  its own retry job after the same wait (the retries R4's recovery runs at once when the server answers again);
- rejected credentials stop the batch (the integration is paused, G4); so does a disconnect or pause seen
  at any mailbox (the integration's state is read with each mailbox's rows, in the same query);
- an unexpected error is recorded on its mailbox, the rest of the batch still runs, and the first such error is
  raised at the end so RQ keeps its traceback (habit 5); RQ's job timeout is recorded the same way but ends the
  batch at once, as it ends a single job.

Nothing here runs a mailbox twice or needs the batch to finish: each mailbox commits on its own, so a worker
killed mid-batch leaves the mailboxes already checked committed and the rest unchecked — R4's recovery runs the
abandoned job again, and the safety net's next tick covers them in any case.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from rq.timeouts import BaseTimeoutException
from sqlalchemy import bindparam

from ..ews_soap.errors import AuthenticationFailed, Throttled
from ..extensions import db
from ..jobs.safety_net import ensure_tick
from ..models import ExchangeIntegration, MailboxState, StaffMember
from .connect import connect
from .context import MailboxContext, integration_ready
from .locks import LockKeeper, lock_seconds, mailbox_lock
from .record import TRANSIENT, TRANSIENT_BASE_S, clear_stale_pause, mailbox_failures, mark_excluded

log = logging.getLogger("portal.jobs")
DISCONNECTED = "integration no longer connected"


@dataclass
class BatchOutcome:
    counts: Counter = field(default_factory=Counter)
    stopped: str | None = None  # why the batch ended before its last mailbox
    left: list[int] = field(default_factory=list)  # mailboxes not reached (each given its own retry)
    error: BaseException | None = None  # the first unexpected error, raised once the batch is done

    def summary(self, total: int) -> str:
        parts = [f"{n} {what}" for what, n in sorted(self.counts.items())]
        text = f"{total} mailboxes: " + (", ".join(parts) or "none checked")
        if self.stopped:
            text += f"; stopped ({self.stopped}), {len(self.left)} left to their own retry"
        return text


# Built once: building an ORM select and finding its cached compilation again cost more CPU than running it.
_ROWS = (db.select(StaffMember, MailboxState,
                   db.select(ExchangeIntegration.state).where(ExchangeIntegration.id == 1).scalar_subquery())
         .outerjoin(MailboxState, MailboxState.staff_id == StaffMember.id)
         .where(StaffMember.id == bindparam("staff_id")).options(db.lazyload(StaffMember.locations)))
_INTEGRATION_STATE = db.select(ExchangeIntegration.state).where(ExchangeIntegration.id == 1)


def rows_of(staff_id: int) -> tuple[StaffMember | None, MailboxState | None, str | None]:
    """The staff member, its MailboxState and the integration's state now, in one query (run_for_mailbox reads
    them with three, plus the staff member's locations, which no sync reads: loaded lazily here if ever)."""
    row = db.session.execute(_ROWS, {"staff_id": staff_id}).first()
    if row is None:
        return None, None, db.session.execute(_INTEGRATION_STATE).scalar()
    return row[0], row[1], row[2]


def run_for_mailboxes(staff_ids: list[int], work: Callable[[MailboxContext], str],
                      retry: Callable[[int, float], None]) -> BatchOutcome:
    """Run `work` for each mailbox of `staff_ids` in turn, holding that mailbox's lock. `retry(staff_id, wait)`
    hands a mailbox to its own job after `wait` seconds (busy, throttled, server trouble)."""
    out = BatchOutcome()
    integ = integration_ready()
    if integ is None:
        out.stopped, out.left = "integration not connected", list(staff_ids)
        return out
    clear_stale_pause(integ)
    ensure_tick()  # after (re-)authorization the safety net starts with the first sync; a no-op otherwise
    ews = connect(integ)
    # The integration as this batch started: its settings (blocking statuses, titles) hold for the whole batch,
    # and no commit expires it (run_for_mailbox read it again for every mailbox). Its state is read again with
    # every mailbox's rows.
    db.session.expunge(integ)
    keeper = LockKeeper(lock_seconds() / 3)
    try:
        return check_all(staff_ids, integ, ews, work, retry, keeper, out)
    finally:
        keeper.close()


def check_all(staff_ids, integ, ews, work, retry, keeper: LockKeeper, out: BatchOutcome) -> BatchOutcome:
    for n, staff_id in enumerate(staff_ids):
        got = one_mailbox(staff_id, integ, ews, work, retry, keeper)
        if got.outcome == DISCONNECTED:
            out.stopped, out.left = DISCONNECTED, list(staff_ids[n:])
            return out  # nothing to retry: the first sync after re-authorization starts the safety net again
        out.counts[got.outcome] += 1
        if got.unexpected and out.error is None:
            out.error = got.failure
        if isinstance(got.failure, AuthenticationFailed):
            out.stopped, out.left = "credentials rejected; syncing paused", list(staff_ids[n + 1:])
            return out
        why = server_trouble(got.failure, ews)
        if why is not None:
            out.stopped, out.left = why, list(staff_ids[n + 1:])
            wait = max(got.wait or 0.0, server_backoff(ews), TRANSIENT_BASE_S)
            for rest in out.left:
                retry(rest, wait)
            return out
    return out


@dataclass
class Checked:
    outcome: str
    failure: BaseException | None = None  # what the frame recorded on the mailbox
    wait: float | None = None  # the retry delay the frame asked for
    unexpected: bool = False  # not an Exchange or lock failure: re-raised after the batch


def one_mailbox(staff_id: int, integ, ews, work, retry, keeper: LockKeeper | None = None) -> Checked:
    asked: list[float] = []

    def requeue(wait: float) -> None:
        asked.append(wait)
        retry(staff_id, wait)

    with mailbox_lock(staff_id, wait=0, keeper=keeper) as got:
        if not got:  # another job syncs or exports it right now: never waited on inside a batch
            requeue(10.0)
            return Checked("busy; retried shortly")
        staff, ms, integration_state = rows_of(staff_id)
        if integration_state != "connected":  # disconnected or paused since the batch started
            db.session.rollback()
            return Checked(DISCONNECTED)
        if staff is None or not staff.takes_appointments:
            db.session.rollback()
            return Checked("not taking appointments")
        if ms is None:
            ms = MailboxState(staff_id=staff_id)
            db.session.add(ms)
            db.session.flush()
        if ms.excluded:
            mark_excluded(ms)
            db.session.commit()
            return Checked("excluded")
        failure: BaseException | None = None
        try:
            with mailbox_failures(staff_id, requeue):
                try:
                    return Checked(short(work(MailboxContext(staff, ms, integ, ews=ews, lock=got))))
                except BaseException as exc:
                    failure = exc
                    raise
        except BaseTimeoutException:  # RQ's job timeout: recorded on this mailbox; the batch ends as a job would
            raise
        except Exception as exc:  # noqa: BLE001 - recorded on the mailbox by the frame; raised after the batch
            log.exception("staff-%s: unexpected error in a safety-net batch; the batch goes on", staff_id)
            return Checked("failed", exc, unexpected=True)
    return Checked("failed", failure, asked[-1] if asked else None)


def short(outcome: str) -> str:
    """"synced (0 actions)" and "synced (3 actions)" count as one kind of outcome in the batch's summary."""
    return outcome.split(" (")[0]


def server_trouble(failure: BaseException | None, ews) -> str | None:
    """Why the server as a whole cannot be asked now, or None when only this mailbox failed (or none did)."""
    if isinstance(failure, Throttled) and server_backoff(ews) > inline_wait(ews):
        return "the server asks Sundial to back off"
    if isinstance(failure, TRANSIENT) and not failure.mailbox_state:
        return "the server does not answer"
    return None


def server_backoff(ews) -> float:
    """Seconds left of the server's back-off in the shared gate (engine/throttle.py); 0 without a gate."""
    remaining = getattr(_gate(ews), "backoff_remaining", None)
    return remaining() if remaining is not None else 0.0


def inline_wait(ews) -> float:
    """A back-off up to this long is slept out before the next request (the gate's own rule), so it does not
    stop a batch: only the mailbox that met it is recorded as throttled and retried on its own."""
    return float(getattr(_gate(ews), "max_inline_wait", 0.0))


def _gate(ews):
    return getattr(getattr(ews, "client", None), "gate", None)
