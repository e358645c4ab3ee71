"""The one door from a web view to the jobs: call after the commit that saved the change.

When Redis is down the view still succeeds (the change is saved) and the admin reads one sentence; the work is
not lost, because what the jobs would do is recorded on rows the safety net's tick goes through: pending
AppointmentChange rows (exports), pending outbox messages (emails), mailboxes in error (syncs).
"""
from __future__ import annotations

from flask import flash
from redis.exceptions import RedisError

from . import hooks
from .queues import enqueue_all, log
from .safety_net import ensure_tick

QUEUE_DOWN = ("Saved, but the background job queue (Redis) is not reachable: {what} will follow once it is "
              "back (the next safety-net run picks it up).")


def enqueue_after_commit(what: str, jobs: list[tuple], safety_net: bool = False) -> bool:
    """Enqueue `(job name, *args)` from jobs/specs.py; `safety_net` also starts the periodic tick. `what` names
    the work for the warning ("the Exchange export"). False when Redis is down (the warning is flashed)."""
    ok = enqueue_all(jobs)
    if ok and safety_net:
        try:
            ensure_tick()
        except RedisError as exc:
            log.warning("could not start the safety net: %s", exc)
            ok = False
    if not ok:
        flash(QUEUE_DOWN.format(what=what), "warning")
    return ok


def enqueue_quietly_after_commit(jobs: list[tuple]) -> bool:
    """Work nobody waits for (an early alert re-check): on a Redis outage it is only logged, because the
    safety net's next tick does the same work."""
    return enqueue_all(jobs)


def staff_changed_after_commit(staff_id: int, old_email: str | None, old_takes: bool | None) -> bool:
    """G7: a staff member's email or "takes appointments" changed; the sync (re)initializes or stops them."""
    try:
        hooks.staff_changed(staff_id, old_email, old_takes)
    except RedisError as exc:
        log.warning("staff change of %s not passed to the sync: %s", staff_id, exc)
        flash(QUEUE_DOWN.format(what="the Exchange sync of this staff member"), "warning")
        return False
    return True
