"""Job functions the warm-worker tests enqueue (RQ imports them by name inside the in-process worker)."""
from __future__ import annotations

import time

from flask import g
from rq import get_current_job

from portal.extensions import db, redis_connection
from portal.models import Location


def leave_state_behind(tag: str) -> dict:
    """Leaves an uncommitted row in the session and a value on `g`: the next job must see neither."""
    seen = {"pending": [o.name for o in db.session.new], "g": getattr(g, "warm_test_tag", None)}
    db.session.add(Location(name=f"uncommitted {tag}", address="nowhere", timezone="UTC"))
    g.warm_test_tag = tag
    return seen


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def heartbeat_age_after(seconds: float) -> float:
    """Run `seconds`, then report how old this job's worker's last heartbeat is (seconds)."""
    from datetime import UTC, datetime

    from rq.utils import utcparse

    time.sleep(seconds)
    name = get_current_job().worker_name
    beat = redis_connection().hget(f"rq:worker:{name}", "last_heartbeat").decode()
    return (datetime.now(UTC) - utcparse(beat).replace(tzinfo=UTC)).total_seconds()


def stuck(seconds: float) -> str:
    """Stuck outside RQ's reach: SIGALRM (the job timeout's death penalty) is blocked, as in a C call that never
    returns to the interpreter."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    time.sleep(seconds)
    return "never"
